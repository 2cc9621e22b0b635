--[[
countOnHand: a cycle count sets on_hand to what was counted, journaled as the delta so
that replaying the journal still reproduces on_hand (invariant I4).

Idempotent on the WMS event id; the same id with another count is a CONFLICT. With a WMS
movement number (docs/wms.md, "Watermark") the SKU's record of applied numbers is kept
too: a number another event id already used is a CONFLICT, and a number a reconciliation
correction covered is journaled without moving on_hand (the correction counted it).
An event with no mark whose own time lies outside the dedupe horizon is STALE and changes
nothing: its mark may have been swept (docs/operations.md, "Dedupe horizons"). Marks and
reservation records closed longer ago than the horizon are swept here.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (closed records past the horizon swept)
KEYS[3] event marks hash (marks past the horizon swept)    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] WMS event id
ARGV[5] counted on_hand (integer >= 0)
ARGV[6] WMS movement number (integer >= 1), or '' (none)
ARGV[7] the event's own time (ms; when it happened at the WMS, else when stockguard received it)
ARGV[8] dedupe horizon (ms)

Returns { status, on_hand, reserved, holdback, oversold, version, delta applied }
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
local counted = tonumber(ARGV[5])
local seq = tonumber(ARGV[6] or '')
local eventMs = tonumber(ARGV[7])
local horizonMs = tonumber(ARGV[8])

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
  or eventId == nil or eventId == '' or not isWholeNumber(counted, 0, 1000000000)
  or (ARGV[6] ~= nil and ARGV[6] ~= '' and not isWholeNumber(seq, 1, 2^53))
  or not isWholeNumber(eventMs, 0, 2^53) or not isWholeNumber(horizonMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status, delta)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version, delta }
end

local markId = 'evt:' .. eventId
local fingerprint = 'count|' .. counted
sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
local mark = checkEventMark(marksKey, markId, fingerprint, eventMs, nowMs, horizonMs)
if mark ~= 'NEW' then
  return reply(mark, 0)
end
local sequence, seqState = checkWmsSeq(inventory, seq)
if seqState == 'TAKEN' then
  return reply('CONFLICT', 0)
end
local delta = seqState == 'COVERED' and 0 or counted - inventory.on_hand
inventory.on_hand = inventory.on_hand + delta
keepEventMark(marksKey, markId, fingerprint, eventMs, nowMs)
if seq then
  storeWmsSequence(inventory, sequence, seq, seq)
end
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'count', event = eventId, d_on_hand = delta, seq = seq,
})
return reply('APPLIED', delta)
