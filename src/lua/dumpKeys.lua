--[[
dumpKeys: the content of some keys of one SKU (one slot), read atomically, for a snapshot
(src/reconcile/snapshot.ts). Writes nothing.

KEYS[1] .. KEYS[n] the keys, all in the SKU's slot
ARGV: none

Returns one { type, content } per key, in KEYS order: type is none, hash, stream, set,
zset, string or list; content is HGETALL / XRANGE - + / SMEMBERS / ZRANGE 0 -1 WITHSCORES /
{ GET } / LRANGE 0 -1 ({} for none). A key of another type is an error reply.
Status codes: none (a read)
]]
local result = {}
for index, key in ipairs(KEYS) do
  local keyType = redis.call('TYPE', key)['ok']
  local content = {}
  if keyType == 'hash' then content = redis.call('HGETALL', key)
  elseif keyType == 'stream' then content = redis.call('XRANGE', key, '-', '+')
  elseif keyType == 'set' then content = redis.call('SMEMBERS', key)
  elseif keyType == 'zset' then content = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif keyType == 'string' then content = { redis.call('GET', key) }
  elseif keyType == 'list' then content = redis.call('LRANGE', key, 0, -1)
  elseif keyType ~= 'none' then return redis.error_reply('dumpKeys: unsupported type ' .. keyType .. ' of ' .. key)
  end
  result[index] = { keyType, content }
end
return result
