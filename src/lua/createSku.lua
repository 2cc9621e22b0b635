--[[
createSku: start the ledger of a new SKU with on_hand 0 and nothing reserved.

Stock arrives afterwards through receipts or a count, so that it is journaled like any
other change. Creating a SKU that exists changes nothing.
With an initial count (the catalogue import's on-hand), the same call journals it as a
`count` entry right after the `create` one, under the given event id: the SKU exists with
its initial stock or not at all, and a second call is EXISTS, so the count needs no event
mark to be applied once (a mark would stay one dedupe horizon per imported SKU).

KEYS[1] inv bucket of the SKU (field ARGV[3]: the packed inventory)      KEYS[2] reservations hash (unused, keeps one key order)
KEYS[3] event marks hash (unused)   KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] initial on_hand counted (integer >= 0), or '' / absent (none)
ARGV[5] event id of the initial count (required with ARGV[4])

Returns { status, on_hand, reserved, holdback, oversold, version }
Status codes: CREATED, EXISTS, BAD_ARGUMENT
]]
local bucketKey = KEYS[1]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local initial = ARGV[4] or ''
local initialEventId = ARGV[5] or ''

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "lastStreamMs"
--- @include "commitChange"

if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or (initial ~= '' and (not isWholeNumber(tonumber(initial), 0, 1000000000) or initialEventId == '')) then
  return { 'BAD_ARGUMENT' }
end
local inventory = loadInventory(bucketKey, sku)
local status = 'EXISTS'
if inventory == nil then
  inventory = decodeInventory('')
  commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, { cause = 'create', event = 'create' })
  if initial ~= '' then
    inventory.on_hand = tonumber(initial)
    commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
      cause = 'count', event = initialEventId, d_on_hand = inventory.on_hand,
    })
  end
  status = 'CREATED'
end
return { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
