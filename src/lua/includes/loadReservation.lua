-- Reads one reservation record. A missing record comes back empty (r = 0: no reserve seen
-- yet), so ship and cancel events that arrive first can be remembered (invariant I5).
local function loadReservation(reservationsKey, reservationId)
  local raw = redis.call('HGET', reservationsKey, reservationId)
  if raw == false then
    return { q = 0, h = 0, sh = 0, sf = 0, r = 0, c = 0 }, false
  end
  return cjson.decode(raw), true
end
