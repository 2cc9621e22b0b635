-- Idempotency for WMS events and shipments: returns 'NEW' when the id was never applied,
-- 'DUPLICATE' when it was applied with the same fingerprint, 'CONFLICT' when the id was
-- used before for different content.
local function checkEventMark(marksKey, markId, fingerprint)
  local seen = redis.call('HGET', marksKey, markId)
  if seen == false then
    return 'NEW'
  end
  if seen == fingerprint then
    return 'DUPLICATE'
  end
  return 'CONFLICT'
end
