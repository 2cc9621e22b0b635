--[[
recordPushed: remember the push a channel acknowledged for a SKU (what the pushers measure
"changed" against): one entry of the SKU's packed channel state, its field of the `chan`
layout bucket. Read-modify-write of that one field in one script, because the ledger
(recordObservation.lua) and the other channel's lane write the same field. The new level
is not yet confirmed in effect (confirmApplied.lua).

KEYS[1] the SKU's `chan` bucket hash (`<prefix>:chan-bucket:{p<N>}:<bucket>`)
ARGV[1] SKU (the bucket's field)
ARGV[2] channel (shopify, amazon or 2-64 of [A-Za-z0-9_-])
ARGV[3] quantity (integer)
ARGV[4] acknowledged at (ms >= 0, our clock)
ARGV[5] the ledger version the quantity was computed from (integer >= 0)

Returns { status }
Status codes: APPLIED, BAD_ARGUMENT
(BAD_ARGUMENT also when the stored field is not packed channel state: nothing changed.)
]]
local bucketKey = KEYS[1]
local sku = ARGV[1]
local channel = ARGV[2]
local quantity = tonumber(ARGV[3])
local atMs = tonumber(ARGV[4])
local version = tonumber(ARGV[5])

--- @include "isWholeNumber"
--- @include "isChannelName"
--- @include "decodeChannelState"
--- @include "loadChannelState"
--- @include "encodeChannelState"

if not isChannelName(channel) or not isWholeNumber(quantity, -9007199254740991, 9007199254740991)
  or not isWholeNumber(atMs, 0, 9007199254740991) or not isWholeNumber(version, 0, 9007199254740991) then
  return { 'BAD_ARGUMENT' }
end
local state = loadChannelState(bucketKey, sku)
if not state then
  return { 'BAD_ARGUMENT' }
end
state.P[channel] = { q = quantity, t = atMs, v = version, applied = false }
redis.call('HSET', bucketKey, sku, encodeChannelState(state))
return { 'APPLIED' }
