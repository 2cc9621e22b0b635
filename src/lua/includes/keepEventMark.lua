-- Writes an event's mark, kept from the later of its own time and now: sweepExpiredMarks
-- drops it one dedupe horizon after that, so every redelivery the horizon accepts finds it.
local function keepEventMark(marksKey, markId, fingerprint, eventMs, nowMs)
  redis.call('HSET', marksKey, markId, fingerprint .. '@' .. string.format('%d', math.max(eventMs, nowMs)))
end
