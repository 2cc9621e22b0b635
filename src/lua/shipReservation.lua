--[[
shipReservation: the WMS confirmed that units of a reservation were picked/shipped.

on_hand -= quantity and the reservation's held units are consumed (reserved -= what it
still held, at most quantity). Partial shipments add up. Idempotent on the shipment id;
the same id with other content is a CONFLICT and changes nothing. A shipment that arrives
before its reserve is remembered on the record so the later reserve converges (I5).
on_hand may go below zero: a shipment is a physical fact, and reconciliation repairs drift.
With a WMS movement number (docs/wms.md, "Watermark") the SKU's record of applied numbers
is kept too: a number another event id already used is a CONFLICT, and a number a
reconciliation correction covered consumes the reservation without moving on_hand (the
correction counted the units).
A shipment with no mark whose own time lies outside the dedupe horizon is STALE and
changes nothing: its mark may have been swept (docs/operations.md, "Dedupe horizons").
Marks and reservation records closed longer ago than the horizon are swept here; a record
this shipment closes (reserved and fully shipped) is stamped with its closing time.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory, `sold:<channel>` included: I8)      KEYS[2] reservations hash
KEYS[3] event marks hash (marks past the horizon swept)    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] shipment id (the WMS event id)
ARGV[5] reservation id
ARGV[6] quantity shipped (integer >= 1)
ARGV[7] WMS movement number (integer >= 1), or '' (none)
ARGV[8] the shipment's own time (ms; when it happened at the WMS, else when stockguard received it)
ARGV[9] dedupe horizon (ms)

Returns { status, on_hand, reserved, holdback, oversold, version, reservation state }
Status codes: APPLIED, DUPLICATE, CONFLICT, STALE, UNKNOWN_SKU, BAD_ARGUMENT
Reservation state codes: PENDING, RESERVED, OVERSOLD, SHIPPED, CANCELLED
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local shipmentId = ARGV[4]
local reservationId = ARGV[5]
local quantity = tonumber(ARGV[6])
local seq = tonumber(ARGV[7] or '')
local eventMs = tonumber(ARGV[8])
local horizonMs = tonumber(ARGV[9])

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "loadReservation"
--- @include "openUnits"
--- @include "reservationState"
--- @include "isOutsideHorizon"
--- @include "checkEventMark"
--- @include "keepEventMark"
--- @include "stampClosed"
--- @include "sweepExpiredMarks"
--- @include "lastStreamMs"
--- @include "commitChange"
--- @include "channelSold"
--- @include "loadWmsSequence"
--- @include "classifyWmsSeq"
--- @include "checkWmsSeq"
--- @include "storeWmsSequence"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or shipmentId == nil or shipmentId == '' or reservationId == nil or reservationId == ''
  or not isWholeNumber(quantity, 1, 1000000000)
  or (ARGV[7] ~= nil and ARGV[7] ~= '' and not isWholeNumber(seq, 1, 2^53))
  or not isWholeNumber(eventMs, 0, 2^53) or not isWholeNumber(horizonMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
local record = loadReservation(reservationsKey, reservationId)
local function reply(status)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version,
    reservationState(record) }
end

local markId = 'ship:' .. shipmentId
local fingerprint = reservationId .. '|' .. quantity
local mark = checkEventMark(marksKey, markId, fingerprint, eventMs, nowMs, horizonMs)
if mark ~= 'NEW' then
  return reply(mark)
end
local sequence, seqState = checkWmsSeq(inventory, seq)
if seqState == 'TAKEN' then
  return reply('CONFLICT')
end
local leaving = seqState == 'COVERED' and 0 or quantity

local heldBefore = openUnits(record)
local soldBefore = channelSoldShare(record)
record.sh = record.sh + quantity
-- A shipment of a line cancelled on the channel: those units did leave after all (I8).
bookChannelSold(inventory, reservationId, soldBefore, channelSoldShare(record))
local heldAfter = openUnits(record)
inventory.on_hand = inventory.on_hand - leaving
inventory.reserved = inventory.reserved + heldAfter - heldBefore
stampClosed(record, math.max(eventMs, nowMs))
redis.call('HSET', reservationsKey, reservationId, cjson.encode(record))
keepEventMark(marksKey, markId, fingerprint, eventMs, nowMs)
if seq then
  storeWmsSequence(inventory, sequence, seq, seq)
end
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'ship', event = shipmentId, ref = reservationId,
  d_on_hand = -leaving, d_reserved = heldAfter - heldBefore, seq = seq,
})
return reply('APPLIED')
