-- Writes the inventory after a change, bumps its version (the durable "dirty" mark the
-- pushers compare against) and appends one journal entry. Stream ids come from the
-- injected clock, never earlier than the last entry's, so a clock that steps back cannot
-- make XADD fail half-way through a script, and a journal deleted when it was empty is
-- re-created after its old ids. Entries older than the retention are trimmed
-- (by age, never by count). `entry.seq`, when set, is journaled as `seq`. Every entry
-- names its SKU (`sku`, first), for a journal shared by a layout partition's SKUs.
local function commitChange(inventoryKey, journalKey, inventory, nowMs, retentionMs, sku, entry)
  local journalMs = math.max(nowMs, inventory.journal_ms)
  -- The journal trimmer deletes a journal it left empty (trimJournal.lua): a new stream
  -- starts its sequence at 0, so in the ms of the last deleted entry it would reuse an id.
  if journalMs == inventory.journal_ms and redis.call('XLEN', journalKey) == 0 then
    journalMs = journalMs + 1
  end
  inventory.version = inventory.version + 1
  inventory.journal_ms = journalMs
  redis.call('HSET', inventoryKey,
    'on_hand', inventory.on_hand, 'reserved', inventory.reserved, 'holdback', inventory.holdback,
    'oversold', inventory.oversold, 'version', inventory.version, 'updated_ms', nowMs, 'journal_ms', journalMs)
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
