-- Idempotency for WMS events and shipments: returns 'NEW' when the id was never applied,
-- 'DUPLICATE' when it was applied with the same fingerprint, 'CONFLICT' when the id was
-- used before for different content, and 'STALE' when no mark is found and the event's own
-- time is outside the dedupe horizon (its mark may have been swept: docs/operations.md).
-- A mark is `<fingerprint>@<kept-from ms>` (keepEventMark); a mark written before horizons
-- existed is the bare fingerprint. Without an event time there is no horizon check; with one
-- the script needs isOutsideHorizon.
local function checkEventMark(marksKey, markId, fingerprint, eventMs, nowMs, horizonMs)
  local seen = redis.call('HGET', marksKey, markId)
  if seen == false then
    if eventMs ~= nil and isOutsideHorizon(eventMs, nowMs, horizonMs) then
      return 'STALE'
    end
    return 'NEW'
  end
  if (string.match(seen, '^(.*)@%d+$') or seen) == fingerprint then
    return 'DUPLICATE'
  end
  return 'CONFLICT'
end
