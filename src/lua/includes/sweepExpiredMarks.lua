-- Bounds the SKU's dedupe state (issue 13 §2): drops event marks kept longer than the dedupe
-- horizon and closed reservation records closed longer ago than the horizon. Runs at most
-- once per sixteenth of the horizon per SKU (`swept_ms` of its inventory, saved here: the
-- script may end without a change), so the SKU
-- holds at most 17/16 of a horizon of marks, and its cost (O(marks + records of the SKU))
-- is shared by the writes in between. Entries written before horizons existed (a mark
-- without `@<ms>`, a closed record without `t`) are stamped with now: they go one horizon
-- after the upgrade (lazy migration). Needs stampClosed and inventoryCodec.
local function sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
  local sweptMs = inventory.swept_ms
  if sweptMs ~= nil and nowMs >= sweptMs and nowMs - sweptMs < horizonMs / 16 then
    return
  end
  local cutoffMs = nowMs - horizonMs
  local stampNow = '@' .. string.format('%d', nowMs)
  local marks = redis.call('HGETALL', marksKey)
  for i = 1, #marks, 2 do
    local keptFromMs = tonumber(string.match(marks[i + 1], '@(%d+)$'))
    if keptFromMs == nil then
      redis.call('HSET', marksKey, marks[i], marks[i + 1] .. stampNow)
    elseif keptFromMs < cutoffMs then
      redis.call('HDEL', marksKey, marks[i])
    end
  end
  local records = redis.call('HGETALL', reservationsKey)
  for i = 1, #records, 2 do
    local record = cjson.decode(records[i + 1])
    local stampedBefore = record.t ~= nil
    if stampClosed(record, nowMs) then
      if not stampedBefore then
        redis.call('HSET', reservationsKey, records[i], cjson.encode(record))
      elseif record.t < cutoffMs then
        redis.call('HDEL', reservationsKey, records[i])
      end
    end
  end
  inventory.swept_ms = nowMs
  saveInventory(bucketKey, sku, inventory)
end
