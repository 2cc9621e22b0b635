-- True when an event's own time lies more than the dedupe horizon before (or after) now:
-- its mark may already have been swept, so applying it could apply it twice (issue 13 §2).
local function isOutsideHorizon(eventMs, nowMs, horizonMs)
  return eventMs < nowMs - horizonMs or eventMs > nowMs + horizonMs
end
