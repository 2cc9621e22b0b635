--[[
releaseReservation: cancel one reservation before it ships and return its held units.

Idempotent on the reservation id. A cancel that arrives before its reserve is remembered
(the record is created cancelled) so the later reserve holds nothing (invariant I5).
Units already shipped stay shipped: only what is still held is released.
A cancel with no record whose own time lies outside the dedupe horizon is STALE and
changes nothing: the record may have been swept (issue 13 §2). Marks and reservation
records closed longer ago than the horizon are swept here.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory, `sold:<channel>` included: I8)
KEYS[2] reservations hash
KEYS[3] event marks hash (marks past the horizon swept)    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] reservation id
ARGV[5] the cancellation's own time (ms; when the channel sent it, else when stockguard received it)
ARGV[6] dedupe horizon (ms)

Returns { status, on_hand, reserved, holdback, oversold, version, released units }
Status codes: RELEASED, PENDING, DUPLICATE, STALE, UNKNOWN_SKU, BAD_ARGUMENT
(PENDING: no reserve seen yet; the cancel is remembered.)
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local reservationId = ARGV[4]
local eventMs = tonumber(ARGV[5])
local horizonMs = tonumber(ARGV[6])

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "loadReservation"
--- @include "openUnits"
--- @include "lastStreamMs"
--- @include "commitChange"
--- @include "channelSold"
--- @include "isOutsideHorizon"
--- @include "stampClosed"
--- @include "sweepExpiredMarks"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or reservationId == nil or reservationId == ''
  or not isWholeNumber(eventMs, 0, 2^53) or not isWholeNumber(horizonMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status, released)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version, released }
end

sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
local record, exists = loadReservation(reservationsKey, reservationId)
if record.c == 1 then
  return reply('DUPLICATE', 0)
end
if not exists and isOutsideHorizon(eventMs, nowMs, horizonMs) then
  return reply('STALE', 0)
end
local released = openUnits(record)
local soldBefore = channelSoldShare(record)
record.c = 1
-- A cancellation on the sales channel puts the line's unshipped units back on that
-- channel's own count (Shopify restocks, Amazon MFN too), in this same step (I8).
bookChannelSold(inventory, reservationId, soldBefore, channelSoldShare(record))
inventory.reserved = inventory.reserved - released
stampClosed(record, math.max(eventMs, nowMs))
redis.call('HSET', reservationsKey, reservationId, cjson.encode(record))
commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
  cause = 'release', event = reservationId, ref = reservationId, d_reserved = -released,
})
if record.r ~= 1 then
  return reply('PENDING', 0)
end
return reply('RELEASED', released)
