--[[
adjustOnHand: a WMS receipt, a stock adjustment or a reconciliation correction moves
on_hand by a signed delta.

Idempotent on the WMS event id; the same id with other content is a CONFLICT and
changes nothing. With a WMS movement number (docs/wms.md, "Watermark") the SKU's record of
applied numbers is kept too: a number another event id already used is a CONFLICT, and a
number a reconciliation correction covered is journaled without moving on_hand (the
correction counted it).
An event with no mark whose own time lies outside the dedupe horizon is STALE and changes
nothing: its mark may have been swept (docs/operations.md, "Dedupe horizons"). Marks and
reservation records closed longer ago than the horizon are swept here.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (closed records past the horizon swept)
KEYS[3] event marks hash (marks past the horizon swept)    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] WMS event id
ARGV[5] delta (non-zero integer)
ARGV[6] cause: receipt | adjustment | reconcile
ARGV[7] WMS movement number (integer >= 1), or '' (none; always none with reconcile)
ARGV[8] the event's own time (ms; when it happened at the WMS, else when stockguard received it)
ARGV[9] dedupe horizon (ms)

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: APPLIED, DUPLICATE, CONFLICT, STALE, UNKNOWN_SKU, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local eventId = ARGV[4]
local delta = tonumber(ARGV[5])
local cause = ARGV[6]
local seq = tonumber(ARGV[7] or '')
local eventMs = tonumber(ARGV[8])
local horizonMs = tonumber(ARGV[9])

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "isOutsideHorizon"
--- @include "checkEventMark"
--- @include "keepEventMark"
--- @include "stampClosed"
--- @include "sweepExpiredMarks"
--- @include "lastStreamMs"
--- @include "commitChange"
--- @include "loadWmsSequence"
--- @include "classifyWmsSeq"
--- @include "checkWmsSeq"
--- @include "storeWmsSequence"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or eventId == nil or eventId == '' or not isWholeNumber(delta, -1000000000, 1000000000) or delta == 0
  or (cause ~= 'receipt' and cause ~= 'adjustment' and cause ~= 'reconcile')
  or (ARGV[7] ~= nil and ARGV[7] ~= '' and (not isWholeNumber(seq, 1, 2^53) or cause == 'reconcile'))
  or not isWholeNumber(eventMs, 0, 2^53) or not isWholeNumber(horizonMs, 1, 2^53) then
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
local fingerprint = cause .. '|' .. delta
sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
local mark = checkEventMark(marksKey, markId, fingerprint, eventMs, nowMs, horizonMs)
if mark ~= 'NEW' then
  return reply(mark)
end
local sequence, seqState = checkWmsSeq(inventory, seq)
if seqState == 'TAKEN' then
  return reply('CONFLICT')
end
local moved = seqState == 'COVERED' and 0 or delta
inventory.on_hand = inventory.on_hand + moved
keepEventMark(marksKey, markId, fingerprint, eventMs, nowMs)
if seq then
  storeWmsSequence(inventory, sequence, seq, seq)
end
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = cause, event = eventId, d_on_hand = moved, seq = seq,
})
return reply('APPLIED')
