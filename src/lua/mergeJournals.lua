--[[
mergeJournals: move the layout-2 journals (one stream per SKU) of some SKUs of one layout
partition into the partition's journal (layout 3), for `stockguard migrate layout`
(src/redis/migrateLayout.ts). Atomic: every SKU named is wholly moved, its old journal
deleted in this same call, so an interrupted migration never appends an entry twice.

Entries go in id order across the SKUs (ties: ms, then seq, then the SKU's place in ARGV),
each gaining the field `sku` first. Each keeps the ms of its id, the seq is re-assigned
(XADD `<ms>-*`): two SKUs' journals may hold the same id. An entry older than the
partition journal's last id (a partition merged in two calls) takes that last ms instead:
never below its at_ms, which readers compare. A pushers' cursor (push state `cursor`, the
last journal id the pushers read for the SKU) that no longer splits the SKU's entries
where it did (a re-assigned seq in its ms) is moved to the new id of the last entry it
covered, so the pushers neither read an entry twice nor skip one; any other is kept.

KEYS[1] journal stream of the layout partition
KEYS[2i] layout-2 journal stream of SKU i       KEYS[2i+1] push state hash of SKU i
ARGV[1] .. ARGV[n] the SKUs: SKU i at ARGV[i] (n = (#KEYS - 1) / 2)

Returns { SKUs whose journal held entries, entries moved }
Status codes: none (a malformed call is an error reply)
]]
local partitionJournal = KEYS[1]
local skuCount = #ARGV

--- @include "lastStreamMs"

if #KEYS ~= 1 + 2 * skuCount then
  return redis.error_reply('mergeJournals: expected ' .. (1 + 2 * skuCount) .. ' keys, got ' .. #KEYS)
end

-- A stream id as two numbers (ms, seq); a pushers' cursor that is no id gives nil.
local function parseId(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  if ms == nil then return nil end
  return { tonumber(ms), tonumber(seq) }
end
local function idBelowOrEqual(a, b)
  return a[1] < b[1] or (a[1] == b[1] and a[2] <= b[2])
end

local entries = {}
local moved = 0
for i = 1, skuCount do
  local old = redis.call('XRANGE', KEYS[2 * i], '-', '+')
  if #old > 0 then moved = moved + 1 end
  for _, entry in ipairs(old) do
    local id = parseId(entry[1])
    entries[#entries + 1] = { ms = id[1], seq = id[2], sku = i, oldId = id, fields = entry[2] }
  end
end
table.sort(entries, function(a, b)
  if a.ms ~= b.ms then return a.ms < b.ms end
  if a.seq ~= b.seq then return a.seq < b.seq end
  return a.sku < b.sku
end)

local cursors = {}
for i = 1, skuCount do
  local cursor = redis.call('HGET', KEYS[2 * i + 1], 'cursor')
  cursors[i] = { old = parseId(cursor), covered = nil, firstNew = nil, moved = false }
end

local lastMs = lastStreamMs(partitionJournal)
for _, entry in ipairs(entries) do
  local ms = math.max(entry.ms, lastMs)
  local newId = redis.call('XADD', partitionJournal, string.format('%d', ms) .. '-*', 'sku', ARGV[entry.sku], unpack(entry.fields))
  lastMs = ms
  local cursor = cursors[entry.sku]
  if cursor.old ~= nil then
    local wasCovered = idBelowOrEqual(entry.oldId, cursor.old)
    if wasCovered then cursor.covered = newId end
    if wasCovered ~= idBelowOrEqual(parseId(newId), cursor.old) then cursor.moved = true end
    if cursor.firstNew == nil then cursor.firstNew = parseId(newId) end
  end
end

for i = 1, skuCount do
  local cursor = cursors[i]
  if cursor.moved and cursor.covered ~= nil then
    redis.call('HSET', KEYS[2 * i + 1], 'cursor', cursor.covered)
  elseif cursor.moved then
    -- Every entry of the SKU came after the cursor, and its first new id is not above the
    -- cursor any more (same ms, lower seq): the cursor goes just before that ms.
    redis.call('HSET', KEYS[2 * i + 1], 'cursor', string.format('%d', cursor.firstNew[1] - 1) .. '-18446744073709551615')
  end
  redis.call('DEL', KEYS[2 * i])
end
return { moved, #entries }
