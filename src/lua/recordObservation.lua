--[[
recordObservation: remember what a channel last said about a SKU (its sellable level, or
its FBA stock), keeping only the newest observation: deliveries arrive out of order, and
an older one must not overwrite a newer one.

KEYS[1] observations hash of the SKU (`<prefix>:chan:{p<N>}:<SKU>` or `<prefix>:fba:{p<N>}:<SKU>`)
ARGV[1] field (channel name, or marketplace id for FBA)
ARGV[2] observed at (ms, from the channel's own timestamp)
ARGV[3] quantity (integer)
ARGV[4] event id

Returns { status }
Status codes: APPLIED, STALE, BAD_ARGUMENT
(STALE: a newer observation is already stored; nothing changed.)
]]
local observationsKey = KEYS[1]
local field = ARGV[1]
local observedAtMs = tonumber(ARGV[2])
local quantity = tonumber(ARGV[3])
local eventId = ARGV[4]

if field == nil or field == '' or observedAtMs == nil or quantity == nil or quantity ~= math.floor(quantity)
  or eventId == nil or eventId == '' then
  return { 'BAD_ARGUMENT' }
end
local stored = redis.call('HGET', observationsKey, field)
if stored then
  local previous = cjson.decode(stored)
  if previous.at > observedAtMs then
    return { 'STALE' }
  end
end
redis.call('HSET', observationsKey, field, cjson.encode({ at = observedAtMs, q = quantity, e = eventId }))
return { 'APPLIED' }
