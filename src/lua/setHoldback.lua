--[[
setHoldback: set the SKU's static holdback (units withheld from every channel).

Setting the value it already has changes nothing and writes no journal entry.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash (unused)   KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] holdback (integer >= 0)
ARGV[5] event id for the journal (who asked: cli, catalog import, ...)

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: APPLIED, UNCHANGED, UNKNOWN_SKU, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local holdback = tonumber(ARGV[4])
local eventId = ARGV[5]

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "lastStreamMs"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or not isWholeNumber(holdback, 0, 1000000000) or eventId == nil or eventId == '' then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
end
if inventory.holdback == holdback then
  return reply('UNCHANGED')
end
local delta = holdback - inventory.holdback
inventory.holdback = holdback
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'holdback', event = eventId, d_holdback = delta,
})
return reply('APPLIED')
