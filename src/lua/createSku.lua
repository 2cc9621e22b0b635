--[[
createSku: start the ledger of a new SKU with on_hand 0 and nothing reserved.

Stock arrives afterwards through receipts or a count, so that it is journaled like any
other change. Creating a SKU that exists changes nothing.

KEYS[1] inventory hash      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash (unused)   KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: CREATED, EXISTS, BAD_ARGUMENT
]]
local inventoryKey = KEYS[1]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]

--- @include "isWholeNumber"
--- @include "loadInventory"
--- @include "lastStreamMs"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(inventoryKey)
local status = 'EXISTS'
if inventory == nil then
  inventory = { on_hand = 0, reserved = 0, holdback = 0, oversold = 0, version = 0, journal_ms = 0 }
  commitChange(inventoryKey, journalKey, inventory, nowMs, retentionMs, sku, { cause = 'create', event = 'create' })
  status = 'CREATED'
end
return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
