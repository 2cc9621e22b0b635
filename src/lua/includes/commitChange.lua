-- Writes the inventory after a change, bumps its version (the durable "dirty" mark the
-- pushers compare against) and appends one journal entry, naming the SKU, to the journal
-- of the SKU's layout partition, which the partition's other SKUs share. Stream ids come
-- from the injected clock, never earlier than the stream's last id (another SKU's entry,
-- maybe from a clock that ran ahead), so a clock that steps back cannot make XADD fail
-- half-way through a script. Nor earlier than the inventory's journal_ms, the newest ms
-- this SKU journaled: in layout 2 each SKU had its own journal, deleted when the trimmer
-- emptied it, so its old ids live only in the audit files, which name an entry by
-- (sku, id); an id of this SKU is never used twice. Entries older than the retention are
-- trimmed (by age, never by count). `entry.seq`, when set, is journaled as `seq`.
-- The whole inventory table is written (saveInventory): whatever the script changed in it
-- before (wms_seq, sold_<channel>, …) is saved here too.
-- Needs the includes lastStreamMs and inventoryCodec before it.
local function commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, entry)
  local lastMs = lastStreamMs(journalKey)
  local journalMs = math.max(nowMs, lastMs, inventory.journal_ms)
  -- journal_ms ahead of the stream: that id of this SKU is in no stream any more (a layout-2
  -- journal the trimmer deleted); the next ms cannot hold one.
  if journalMs == inventory.journal_ms and lastMs < journalMs then
    journalMs = journalMs + 1
  end
  inventory.version = inventory.version + 1
  inventory.journal_ms = journalMs
  inventory.updated_ms = nowMs
  saveInventory(bucketKey, sku, inventory)
  local fields = {
    'sku', sku, 'cause', entry.cause, 'event', entry.event, 'ref', entry.ref or '',
    'd_on_hand', entry.d_on_hand or 0, 'd_reserved', entry.d_reserved or 0,
    'd_oversold', entry.d_oversold or 0, 'd_holdback', entry.d_holdback or 0,
    'on_hand', inventory.on_hand, 'reserved', inventory.reserved, 'at_ms', nowMs,
  }
  -- A WMS movement number (docs/wms.md, "Watermark"): reconciliation takes back exactly the
  -- movements after the snapshot's.
  if entry.seq then
    fields[#fields + 1] = 'seq'
    fields[#fields + 1] = string.format('%d', entry.seq)
  end
  redis.call('XADD', journalKey, 'MINID', '~', math.max(0, journalMs - retentionMs), journalMs .. '-*', unpack(fields))
end
