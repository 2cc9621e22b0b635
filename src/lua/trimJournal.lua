--[[
trimJournal: trim one SKU's journal by age (src/ledger/journalTrimmer.ts) and delete the
stream once it holds no entry. An empty stream still costs its key and stream object
(428 bytes with Redis 7 defaults, `npm run bench -- reconcile`); deleting it is safe
because commitChange.lua takes every new id from the inventory's journal_ms, never from
the stream's last id, so a re-created journal never reuses an id.

KEYS[1] journal stream of the SKU
ARGV[1] MINID: entries with an id below it go
ARGV[2] '1' trims exactly (the entries below MINID were written to the audit files),
        '0' trims whole stream nodes only (XTRIM MINID ~)

Returns {trimmed entries, 1 when the stream was deleted else 0}.
Status codes: none
]]
local journalKey = KEYS[1]
local minId = ARGV[1]
local trimmed
if ARGV[2] == '1' then
  trimmed = redis.call('XTRIM', journalKey, 'MINID', minId)
else
  trimmed = redis.call('XTRIM', journalKey, 'MINID', '~', minId)
end
local deleted = 0
-- XLEN is 0 for a missing key too; DEL then deletes nothing and returns 0.
if redis.call('XLEN', journalKey) == 0 then
  deleted = redis.call('DEL', journalKey)
end
return { trimmed, deleted }
