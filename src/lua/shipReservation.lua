--[[
shipReservation: the WMS confirmed that units of a reservation were picked/shipped.

on_hand -= quantity and the reservation's held units are consumed (reserved -= what it
still held, at most quantity). Partial shipments add up. Idempotent on the shipment id;
the same id with other content is a CONFLICT and changes nothing. A shipment that arrives
before its reserve is remembered on the record so the later reserve converges (I5).
on_hand may go below zero: a shipment is a physical fact, and reconciliation repairs drift.

KEYS[1] inventory hash (also `sold:<channel>`: I8)      KEYS[2] reservations hash
KEYS[3] event marks hash    KEYS[4] journal stream
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] shipment id (the WMS event id)
ARGV[4] reservation id
ARGV[5] quantity shipped (integer >= 1)

Returns { status, on_hand, reserved, holdback, oversold, version, reservation state }
Status codes: APPLIED, DUPLICATE, CONFLICT, UNKNOWN_SKU, BAD_ARGUMENT
Reservation state codes: PENDING, RESERVED, OVERSOLD, SHIPPED, CANCELLED
]]
local inventoryKey = KEYS[1]
local reservationsKey = KEYS[2]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local shipmentId = ARGV[3]
local reservationId = ARGV[4]
local quantity = tonumber(ARGV[5])

--- @include "isWholeNumber"
--- @include "loadInventory"
--- @include "loadReservation"
--- @include "openUnits"
--- @include "reservationState"
--- @include "checkEventMark"
--- @include "commitChange"
--- @include "channelSold"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or shipmentId == nil or shipmentId == '' or reservationId == nil or reservationId == ''
  or not isWholeNumber(quantity, 1, 1000000000) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(inventoryKey)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local record = loadReservation(reservationsKey, reservationId)
local function reply(status)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version,
    reservationState(record) }
end

local markId = 'ship:' .. shipmentId
local fingerprint = reservationId .. '|' .. quantity
local mark = checkEventMark(marksKey, markId, fingerprint)
if mark ~= 'NEW' then
  return reply(mark)
end

local heldBefore = openUnits(record)
local soldBefore = channelSoldShare(record)
record.sh = record.sh + quantity
-- A shipment of a line cancelled on the channel: those units did leave after all (I8).
bookChannelSold(inventoryKey, reservationId, soldBefore, channelSoldShare(record))
local heldAfter = openUnits(record)
inventory.on_hand = inventory.on_hand - quantity
inventory.reserved = inventory.reserved + heldAfter - heldBefore
redis.call('HSET', reservationsKey, reservationId, cjson.encode(record))
redis.call('HSET', marksKey, markId, fingerprint)
commitChange(inventoryKey, journalKey, inventory, nowMs, retentionMs, {
  cause = 'ship', event = shipmentId, ref = reservationId,
  d_on_hand = -quantity, d_reserved = heldAfter - heldBefore,
})
return reply('APPLIED')
