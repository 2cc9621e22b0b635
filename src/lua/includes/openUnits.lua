-- Units a reservation record currently holds in `reserved`: what was held at reserve time
-- minus what has shipped since; nothing once cancelled or before the reserve arrived.
local function openUnits(record)
  if record.r ~= 1 or record.c == 1 then
    return 0
  end
  return math.max(0, record.h - record.sh)
end
