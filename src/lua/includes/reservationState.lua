-- The state of a reservation record, derived from its fields so that every order of
-- events that leads to the same fields reports the same state.
local function reservationState(record)
  if record.c == 1 then
    return 'CANCELLED'
  end
  if record.r ~= 1 then
    return 'PENDING'
  end
  if record.sh >= record.q then
    return 'SHIPPED'
  end
  if record.sf > 0 then
    return 'OVERSOLD'
  end
  return 'RESERVED'
end
