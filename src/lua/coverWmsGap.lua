--[[
coverWmsGap: a reconciliation correction at a WMS watermark over movements the ledger
never received (docs/reconcile.md, "Pending and lost movements"): on_hand moves by the
delta to the WMS snapshot and every movement number up to the watermark counts as
covered, so a covered movement that arrives after all is journaled without moving on_hand
again (adjustOnHand, countOnHand, shipReservation).

Changes nothing when the SKU's record of applied numbers is no longer what the
reconciliation read (a missing movement arrived meanwhile): STALE. Idempotent on the
event id; the same id with other content is a CONFLICT.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] event id of the correction (`reconcile:<run id>:<sku>`)
ARGV[5] delta (integer, may be 0: the missing movements cancel out)
ARGV[6] watermark: the SKU's last movement number in the snapshot (integer >= 1)
ARGV[7] wms_seq as read by the reconciliation (integer >= 0)
ARGV[8] wms_ahead as read by the reconciliation ('' when none)

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: APPLIED, DUPLICATE, CONFLICT, STALE, UNKNOWN_SKU, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local eventId = ARGV[4]
local delta = tonumber(ARGV[5])
local watermark = tonumber(ARGV[6])
local expectedApplied = tonumber(ARGV[7])
local expectedAhead = ARGV[8] or ''

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "checkEventMark"
--- @include "keepEventMark"
--- @include "lastStreamMs"
--- @include "commitChange"
--- @include "loadWmsSequence"
--- @include "storeWmsSequence"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or eventId == nil or eventId == '' or not isWholeNumber(delta, -1000000000, 1000000000)
  or not isWholeNumber(watermark, 1, 2^53) or not isWholeNumber(expectedApplied, 0, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
end

local markId = 'evt:' .. eventId
local fingerprint = 'cover|' .. delta .. '|' .. string.format('%d', watermark)
local mark = checkEventMark(marksKey, markId, fingerprint)
if mark ~= 'NEW' then
  return reply(mark)
end
local sequence = loadWmsSequence(inventory)
if sequence.applied ~= expectedApplied or sequence.raw ~= expectedAhead then
  return reply('STALE')
end
inventory.on_hand = inventory.on_hand + delta
keepEventMark(marksKey, markId, fingerprint, nowMs, nowMs)
storeWmsSequence(inventory, sequence, 1, watermark)
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'reconcile', event = eventId, ref = string.format('covers-wms-seq:%d', watermark), d_on_hand = delta,
})
return reply('APPLIED')
