--[[
confirmApplied: a channel reported a quantity for a SKU; when it is the quantity of the
last push the channel acknowledged, and its time is not before that acknowledgement (less
the slack: a channel with no apply lag applies before we see its answer), that push is in
effect: it is marked confirmed (`Q` in the SKU's packed channel state, its field of the
`chan` layout bucket) and the apply lag is returned, once per push. Check and mark in one
script: two replicas seeing the same report count it once.

KEYS[1] the SKU's `chan` bucket hash (`<prefix>:chan-bucket:{p<N>}:<bucket>`)
ARGV[1] SKU (the bucket's field)
ARGV[2] channel (shopify, amazon or 2-64 of [A-Za-z0-9_-])
ARGV[3] the reported quantity (integer)
ARGV[4] the report's time (ms >= 0, the channel's own)
ARGV[5] slack (ms >= 0)

Returns { status, lag ms } (lag only for APPLIED: the report's time less the push's, never negative)
Status codes: APPLIED, UNCHANGED, BAD_ARGUMENT
(UNCHANGED: no push, another quantity, already confirmed, or a report from before the push.
BAD_ARGUMENT also when the stored field is not packed channel state: nothing changed.)
]]
local bucketKey = KEYS[1]
local sku = ARGV[1]
local channel = ARGV[2]
local quantity = tonumber(ARGV[3])
local observedAtMs = tonumber(ARGV[4])
local slackMs = tonumber(ARGV[5])

--- @include "isWholeNumber"
--- @include "isChannelName"
--- @include "decodeChannelState"
--- @include "loadChannelState"
--- @include "encodeChannelState"

if not isChannelName(channel) or not isWholeNumber(quantity, -9007199254740991, 9007199254740991)
  or not isWholeNumber(observedAtMs, 0, 9007199254740991) or not isWholeNumber(slackMs, 0, 9007199254740991) then
  return { 'BAD_ARGUMENT' }
end
local state = loadChannelState(bucketKey, sku)
if not state then
  return { 'BAD_ARGUMENT' }
end
local pushed = state.P[channel]
if not pushed or pushed.q ~= quantity or pushed.applied or observedAtMs < pushed.t - slackMs then
  return { 'UNCHANGED' }
end
pushed.applied = true
redis.call('HSET', bucketKey, sku, encodeChannelState(state))
return { 'APPLIED', math.max(0, observedAtMs - pushed.t) }
