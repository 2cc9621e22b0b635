--[[
closeHold: decide the outcome of one checkout hold (release it, or keep its lines as
plain reservations) in one step on the expiry index, before any of its lines is touched.

The decision is written as the index entry's score (see includes/closingScore), not by
removing the entry: the entry stays until the clean-up has finished, so a crash at any
later step leaves a closing hold that a retry or the reaper finds and completes
(issue 11 §3). Cancel, confirm and the reaper all go through here, so whoever closes an
open hold first owns its outcome: an expired hold is never confirmed once the reaper
closed it, and a confirmed one is never released. A hold already closing keeps its
outcome and is reported again, so a retry resumes the clean-up.

KEYS[1] hold expiry index (sorted set `<prefix>:holds`: order id → expiry ms, or a closing mark)
ARGV[1] order id
ARGV[2] action: `cancel`, `confirm`, or `expire` (the reaper: only once the expiry has passed)
ARGV[3] now (ms, injected clock)

Returns { status }
Status codes: RELEASING, CONFIRMING, NOT_DUE, NO_HOLD, BAD_ARGUMENT
(RELEASING: release the lines, then remove the entry. CONFIRMING: keep the lines, remove the
entry. Either may have been decided by an earlier call. NOT_DUE: `expire` on an open hold
whose expiry has not passed; nothing changed. NO_HOLD: no entry for the order id.)
]]
local holdExpiriesKey = KEYS[1]
local orderId = ARGV[1]
local action = ARGV[2]
local nowMs = tonumber(ARGV[3])

--- @include "isWholeNumber"
--- @include "closingScore"

if orderId == nil or orderId == '' or not isWholeNumber(nowMs, 0, 2^53)
  or (action ~= 'cancel' and action ~= 'confirm' and action ~= 'expire') then
  return { 'BAD_ARGUMENT' }
end
local score = redis.call('ZSCORE', holdExpiriesKey, orderId)
if score == false then
  return { 'NO_HOLD' }
end
score = tonumber(score)
if score == closingScore('RELEASING') then
  return { 'RELEASING' }
end
if score == closingScore('CONFIRMING') then
  return { 'CONFIRMING' }
end
if action == 'expire' and score > nowMs then
  return { 'NOT_DUE' }
end
local decided = 'RELEASING'
if action == 'confirm' then
  decided = 'CONFIRMING'
end
redis.call('ZADD', holdExpiriesKey, 'XX', closingScore(decided), orderId)
return { decided }
