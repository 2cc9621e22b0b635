--[[
removeHold: the last step of closing a checkout hold: remove its expiry-index entry, but
only while it still carries the closing mark the caller finished (see closeHold.lua), so
a late or duplicate clean-up can never remove an entry that means something else.

KEYS[1] hold expiry index (sorted set `<prefix>:holds`)
ARGV[1] order id
ARGV[2] the closing state that was completed: `RELEASING` or `CONFIRMING`

Returns { status }
Status codes: APPLIED, UNCHANGED, BAD_ARGUMENT
(UNCHANGED: no entry, or an entry without that mark; nothing removed.)
]]
local holdExpiriesKey = KEYS[1]
local orderId = ARGV[1]
local state = ARGV[2]

--- @include "closingScore"

local expected = closingScore(state)
if orderId == nil or orderId == '' or expected == nil then
  return { 'BAD_ARGUMENT' }
end
local score = redis.call('ZSCORE', holdExpiriesKey, orderId)
if score == false or tonumber(score) ~= expected then
  return { 'UNCHANGED' }
end
redis.call('ZREM', holdExpiriesKey, orderId)
return { 'APPLIED' }
