-- A WMS movement's number against the SKU's record (docs/wms.md, "Watermark"): returns the
-- record (loadWmsSequence; nil without a number, to pass to storeWmsSequence) and 'NONE'
-- (no number), 'FRESH', 'COVERED' (a reconciliation correction already counted its units:
-- journal it, move nothing) or 'TAKEN' (another event id used the number: a CONFLICT).
-- Needs loadWmsSequence and classifyWmsSeq.
local function checkWmsSeq(inventory, seq)
  if not seq then
    return nil, 'NONE'
  end
  local sequence = loadWmsSequence(inventory)
  return sequence, classifyWmsSeq(sequence, seq)
end
