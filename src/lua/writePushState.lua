--[[
writePushState: every write to a SKU's pushstate hash (src/pushers/pushStateWrite.ts), with
its idle expiry in the same step: fields deleted, fields set, then the key expires
`idle ms` after this write (PEXPIRE), unless it holds `alloc:keep` (the bounded allocation
keeps a compare-and-set channel's unseen sales, which have no time bound: PERSIST). So a
SKU nobody touches for that long loses its transient push state (docs/pushers.md,
"Channel state at rest"), and no writer can put a TTL on state that must not expire, nor
take one off state that must.

KEYS[1] the SKU's pushstate hash (`<prefix>:pushstate:{p<N>}:<SKU>`)
ARGV[1] idle ms (integer > 0)
ARGV[2] n, how many fields to delete (integer >= 0)
ARGV[3 .. 2+n] the fields to delete
ARGV[3+n ..] field, value pairs to set

Returns { status }
Status codes: APPLIED, BAD_ARGUMENT
(APPLIED also when the key ends empty, hence deleted: nothing to expire.
BAD_ARGUMENT: idle ms or n not a whole number, or an odd field/value list: nothing changed.)
]]
local key = KEYS[1]
local idleMs = tonumber(ARGV[1])
local deleted = tonumber(ARGV[2])

--- @include "isWholeNumber"

if not isWholeNumber(idleMs, 1, 9007199254740991) or not isWholeNumber(deleted, 0, #ARGV - 2) or (#ARGV - 2 - deleted) % 2 ~= 0 then
  return { 'BAD_ARGUMENT' }
end
if deleted > 0 then
  redis.call('HDEL', key, unpack(ARGV, 3, 2 + deleted))
end
if #ARGV > 2 + deleted then
  redis.call('HSET', key, unpack(ARGV, 3 + deleted, #ARGV))
end
if redis.call('HEXISTS', key, 'alloc:keep') == 1 then
  redis.call('PERSIST', key)
else
  redis.call('PEXPIRE', key, idleMs)
end
return { 'APPLIED' }
