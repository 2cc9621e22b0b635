-- What one WMS movement number means for the SKU's record (loaded by loadWmsSequence):
-- 'FRESH' when it was never applied; 'COVERED' when it is at or below `applied` although
-- its event id is new, which only a reconciliation correction covering a gap makes
-- possible: the correction already counted its units, so on_hand must not move again;
-- 'TAKEN' when another event id was applied with this number (the WMS reused it).
local function classifyWmsSeq(sequence, seq)
  if seq <= sequence.applied then
    return 'COVERED'
  end
  for _, range in ipairs(sequence.ahead) do
    if seq >= range[1] and seq <= range[2] then
      return 'TAKEN'
    end
  end
  return 'FRESH'
end
