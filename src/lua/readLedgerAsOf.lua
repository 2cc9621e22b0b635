--[[
readLedgerAsOf: everything reconciliation needs about one SKU, read atomically. Writes nothing.

KEYS[1] inv bucket of the SKU (field ARGV[5]: the packed inventory)      KEYS[2] reservations hash
KEYS[3] journal stream of the SKU's layout partition (shared: other SKUs' entries are skipped)
KEYS[4] catalog bucket hash of the SKU (field = the SKU, value = its packed catalogue entry,
        src/catalog/packed.ts)
ARGV[1] as-of (ms): the moment the WMS took its snapshot
ARGV[2] first journal id to read: as-of + 1 (ids start with the ms and are never below at_ms);
        with a watermark, as-of - the clock-skew allowance + 1
ARGV[3] end of the settle window (ms)
ARGV[4] watermark: the SKU's last WMS movement number in the snapshot, or '' (none:
        docs/wms.md, "Watermark")
ARGV[5] the SKU

An entry is "after the snapshot" when its movement number (journal field seq) is above the
watermark; an entry without one (or any entry, without a watermark) when at_ms > as-of.

Returns { exists (0 or 1), on_hand, reserved,
          sum of d_on_hand over journal entries after the snapshot,
          WMS-caused entries after the snapshot, without a movement number when there is a
          watermark, with at_ms <= settle end,
          units the open reservation records hold, sku class or '',
          first movement number up to the watermark not applied (0: none pending),
          1 when a count is among the entries after the snapshot (else 0),
          wms_seq, wms_ahead or '' }
Status codes: none (a read)
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local journalKey = KEYS[3]
local catalogKey = KEYS[4]
local asOfMs = tonumber(ARGV[1])
local firstId = ARGV[2]
local settleEndMs = tonumber(ARGV[3])
local watermark = tonumber(ARGV[4] or '')
local sku = ARGV[5]
-- The journal causes that come from the WMS (WMS_CAUSES in src/domain/reconcile.ts).
local wmsCauses = { ['ship'] = true, ['receipt'] = true, ['adjustment'] = true, ['count'] = true }

--- @include "openUnits"
--- @include "inventoryCodec"

-- The class is the packed entry's `c` part (parts are `<tag><value>` joined by U+001F, which
-- no value holds); an entry without one has the default class, a SKU without an entry ''.
local skuClass = ''
local packedEntry = redis.call('HGET', catalogKey, sku)
if packedEntry then
  skuClass = string.match('\31' .. packedEntry, '\31c([^\31]*)') or 'default'
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 0, 0, 0, 0, 0, 0, skuClass, 0, 0, 0, '' }
end
local applied = inventory.wms_seq
local firstPending = 0
if watermark ~= nil and applied < watermark then
  firstPending = applied + 1
end
local sumAfter = 0
local wmsInWindow = 0
local countAfter = 0
-- journal_ms is the ms of the SKU's newest journal entry (commitChange): when it is below
-- the first id to read, none of the SKU's entries is in range and the partition's tail,
-- other SKUs' entries only, is not read at all (the common case: a SKU idle since the
-- snapshot).
local entries = {}
if inventory.journal_ms >= tonumber(firstId) then
  entries = redis.call('XRANGE', journalKey, firstId, '+')
end
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local atMs, dOnHand, cause, seq, entrySku = 0, 0, '', nil, nil
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == 'sku' then entrySku = fields[i + 1]
    elseif name == 'at_ms' then atMs = tonumber(fields[i + 1])
    elseif name == 'd_on_hand' then dOnHand = tonumber(fields[i + 1])
    elseif name == 'cause' then cause = fields[i + 1]
    elseif name == 'seq' then seq = tonumber(fields[i + 1]) end
  end
  local numbered = watermark ~= nil and seq ~= nil
  local after
  if numbered then after = seq > watermark else after = atMs > asOfMs end
  if after and entrySku == sku then
    sumAfter = sumAfter + dOnHand
    -- A count after the snapshot set on_hand to the warehouse's newer figure: it already
    -- settled whatever the snapshot would show, and a correction on top would count twice.
    if cause == 'count' then countAfter = 1 end
    if not numbered and atMs <= settleEndMs and wmsCauses[cause] then
      wmsInWindow = wmsInWindow + 1
    end
  end
end
local open = 0
for _, encoded in ipairs(redis.call('HVALS', reservationsKey)) do
  open = open + openUnits(cjson.decode(encoded))
end
return { 1, inventory.on_hand, inventory.reserved, sumAfter, wmsInWindow, open, skuClass,
  firstPending, countAfter, applied, inventory.wms_ahead }
