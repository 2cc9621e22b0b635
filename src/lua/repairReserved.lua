--[[
repairReserved: recompute `reserved` from the open reservation records (invariant I3)
and repair it when it drifted, journaled with cause `repair` so the journal still sums
to the ledger (I4). O(reservations of the SKU).

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash
KEYS[3] event marks hash (unused)   KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] event id for the journal (e.g. `reconcile:<run id>`)

Returns { status, on_hand, reserved, holdback, oversold, version, reserved before }
Status codes: APPLIED, UNCHANGED, UNKNOWN_SKU, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local eventId = ARGV[4]

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "openUnits"
--- @include "lastStreamMs"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53) or eventId == nil or eventId == '' then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local records = redis.call('HVALS', reservationsKey)
local open = 0
for _, encoded in ipairs(records) do
  open = open + openUnits(cjson.decode(encoded))
end
local before = inventory.reserved
if open == before then
  return { 'UNCHANGED', inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version, before }
end
inventory.reserved = open
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'repair', event = eventId, d_reserved = open - before,
})
return { 'APPLIED', inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version, before }
