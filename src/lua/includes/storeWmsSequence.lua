-- Adds the movement numbers lo..hi to the SKU's record (loaded by loadWmsSequence) and
-- keeps it in the inventory table (wms_seq, wms_ahead; the script's commitChange writes
-- it): ranges merge, and fold into `applied` once
-- contiguous with it. One movement applied: lo = hi = its number; a correction covering
-- every movement up to a watermark: lo = 1.
local function storeWmsSequence(inventory, sequence, lo, hi)
  local ranges = { { lo, hi } }
  for _, range in ipairs(sequence.ahead) do
    ranges[#ranges + 1] = range
  end
  table.sort(ranges, function(a, b) return a[1] < b[1] end)
  local applied = sequence.applied
  local merged = {}
  for _, range in ipairs(ranges) do
    local last = merged[#merged]
    if range[2] <= applied then
      -- already counted
    elseif last == nil and range[1] <= applied + 1 then
      applied = range[2]
    elseif last ~= nil and range[1] <= last[2] + 1 then
      last[2] = math.max(last[2], range[2])
    else
      merged[#merged + 1] = { range[1], range[2] }
    end
  end
  local parts = {}
  for _, range in ipairs(merged) do
    parts[#parts + 1] = string.format('%d-%d', range[1], range[2])
  end
  sequence.applied = applied
  sequence.ahead = merged
  sequence.raw = table.concat(parts, ',')
  inventory.wms_seq = applied
  inventory.wms_ahead = sequence.raw
end
