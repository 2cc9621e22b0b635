--[[
releaseChannelItem: remove one field of the catalogue's reverse index (channel item -> SKU,
src/catalog/catalog.ts) only if it still maps to the SKU giving the item up; another SKU
may have taken the item over meanwhile.

KEYS[1] catalogue channel-items hash
ARGV[1] the field (`shopify:<inventory item gid>` or `amazon:<seller SKU>`)
ARGV[2] the SKU giving it up

Returns 1 when the field was removed, 0 when it maps to another SKU or to none.
Status codes: none (1 or 0)
]]
local channelItemsKey = KEYS[1]
local field = ARGV[1]
local sku = ARGV[2]
if redis.call('HGET', channelItemsKey, field) == sku then
  return redis.call('HDEL', channelItemsKey, field)
end
return 0
