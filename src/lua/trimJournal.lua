--[[
trimJournal: trim one layout partition's journal by age (src/ledger/journalTrimmer.ts).
The stream is kept when the trim empties it: it keeps its last id, so a later XADD never
reuses an id of a trimmed entry (the audit files name an entry by its SKU and id), and an
empty stream costs ~400 bytes, 1,024 of them per ledger.

KEYS[1] journal stream of a layout partition
ARGV[1] MINID: entries with an id below it go
ARGV[2] '1' trims exactly (the entries below MINID were written to the audit files),
        '0' trims whole stream nodes only (XTRIM MINID ~)

Returns the number of entries trimmed.
Status codes: none
]]
local journalKey = KEYS[1]
local minId = ARGV[1]
if ARGV[2] == '1' then
  return redis.call('XTRIM', journalKey, 'MINID', minId)
end
return redis.call('XTRIM', journalKey, 'MINID', '~', minId)
