--[[
createSku: start the ledger of a new SKU with on_hand 0 and nothing reserved.

Stock arrives afterwards through receipts or a count, so that it is journaled like any
other change. Creating a SKU that exists changes nothing.

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash (unused)   KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: CREATED, EXISTS, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "lastStreamMs"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
local status = 'EXISTS'
if inventory == nil then
  inventory = decodeInventory('')
  commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, { cause = 'create', event = 'create' })
  status = 'CREATED'
end
return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
