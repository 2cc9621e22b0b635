--[[
recordObservation: remember what a channel last said about a SKU (its sellable level, or
its FBA stock), keeping only the newest observation: deliveries arrive out of order, and
an older one must not overwrite a newer one. The observation is one entry of the SKU's
packed channel state, its field of the `chan` layout bucket (decodeChannelState.lua; the
pushers write the same field's pushed levels, hence the read-modify-write in one script).
The event id is not kept (docs/ledger.md, "Channel observations").

KEYS[1] the SKU's `chan` bucket hash (`<prefix>:chan-bucket:{p<N>}:<bucket>`)
ARGV[1] SKU (the bucket's field)
ARGV[2] kind: O (a channel's sellable level) or F (an Amazon marketplace's FBA stock)
ARGV[3] name (channel, or marketplace id for FBA: shopify, amazon or 2-64 of [A-Za-z0-9_-])
ARGV[4] observed at (ms >= 0, from the channel's own timestamp)
ARGV[5] quantity (integer)

Returns { status }
Status codes: APPLIED, STALE, BAD_ARGUMENT
(STALE: a newer observation is already stored; nothing changed. BAD_ARGUMENT also when the
stored field is not packed channel state: nothing changed.)
]]
local bucketKey = KEYS[1]
local sku = ARGV[1]
local kind = ARGV[2]
local name = ARGV[3]
local observedAtMs = tonumber(ARGV[4])
local quantity = tonumber(ARGV[5])

--- @include "isWholeNumber"
--- @include "isChannelName"
--- @include "decodeChannelState"
--- @include "loadChannelState"
--- @include "encodeChannelState"

if (kind ~= 'O' and kind ~= 'F') or not isChannelName(name)
  or not isWholeNumber(observedAtMs, 0, 9007199254740991) or not isWholeNumber(quantity, -9007199254740991, 9007199254740991) then
  return { 'BAD_ARGUMENT' }
end
local state = loadChannelState(bucketKey, sku)
if not state then
  return { 'BAD_ARGUMENT' }
end
local previous = state[kind][name]
if previous and previous.t > observedAtMs then
  return { 'STALE' }
end
state[kind][name] = { q = quantity, t = observedAtMs }
redis.call('HSET', bucketKey, sku, encodeChannelState(state))
return { 'APPLIED' }
