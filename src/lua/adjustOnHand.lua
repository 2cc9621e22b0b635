--[[
adjustOnHand: a WMS receipt, a stock adjustment or a reconciliation correction moves
on_hand by a signed delta.

Idempotent on the WMS event id; the same id with other content is a CONFLICT and
changes nothing.

KEYS[1] inventory hash      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash    KEYS[4] journal stream
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] WMS event id
ARGV[4] delta (non-zero integer)
ARGV[5] cause: receipt | adjustment | reconcile

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: APPLIED, DUPLICATE, CONFLICT, UNKNOWN_SKU, BAD_ARGUMENT
]]
local inventoryKey = KEYS[1]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local eventId = ARGV[3]
local delta = tonumber(ARGV[4])
local cause = ARGV[5]

--- @include "isWholeNumber"
--- @include "loadInventory"
--- @include "checkEventMark"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or eventId == nil or eventId == '' or not isWholeNumber(delta, -1000000000, 1000000000) or delta == 0
  or (cause ~= 'receipt' and cause ~= 'adjustment' and cause ~= 'reconcile') then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(inventoryKey)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
end

local markId = 'evt:' .. eventId
local fingerprint = cause .. '|' .. delta
local mark = checkEventMark(marksKey, markId, fingerprint)
if mark ~= 'NEW' then
  return reply(mark)
end
inventory.on_hand = inventory.on_hand + delta
redis.call('HSET', marksKey, markId, fingerprint)
commitChange(inventoryKey, journalKey, inventory, nowMs, retentionMs, {
  cause = cause, event = eventId, d_on_hand = delta,
})
return reply('APPLIED')
