--[[
countOnHand: a cycle count sets on_hand to what was counted, journaled as the delta so
that replaying the journal still reproduces on_hand (invariant I4).

Idempotent on the WMS event id; the same id with another count is a CONFLICT.

KEYS[1] inventory hash      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash    KEYS[4] journal stream
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] WMS event id
ARGV[4] counted on_hand (integer >= 0)

Returns { status, on_hand, reserved, holdback, oversold, version, delta applied }
Status codes: APPLIED, DUPLICATE, CONFLICT, UNKNOWN_SKU, BAD_ARGUMENT
]]
local inventoryKey = KEYS[1]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local eventId = ARGV[3]
local counted = tonumber(ARGV[4])

--- @include "isWholeNumber"
--- @include "loadInventory"
--- @include "checkEventMark"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or eventId == nil or eventId == '' or not isWholeNumber(counted, 0, 1000000000) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(inventoryKey)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end
local function reply(status, delta)
  return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version, delta }
end

local markId = 'evt:' .. eventId
local fingerprint = 'count|' .. counted
local mark = checkEventMark(marksKey, markId, fingerprint)
if mark ~= 'NEW' then
  return reply(mark, 0)
end
local delta = counted - inventory.on_hand
inventory.on_hand = counted
redis.call('HSET', marksKey, markId, fingerprint)
commitChange(inventoryKey, journalKey, inventory, nowMs, retentionMs, {
  cause = 'count', event = eventId, d_on_hand = delta,
})
return reply('APPLIED', delta)
