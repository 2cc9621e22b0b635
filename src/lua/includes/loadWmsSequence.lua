-- The SKU's record of applied WMS movement numbers (docs/wms.md, "Watermark"), kept in its
-- inventory (loadInventory): `wms_seq` is the highest n such that every movement 1..n of the SKU was
-- applied or covered by a reconciliation correction; `wms_ahead` lists the numbers applied
-- above it as ascending ranges "lo-hi,lo-hi" (absent when there are none).
-- Returns { applied = n, ahead = { {lo, hi}, … }, raw = the wms_ahead text or '' }.
local function loadWmsSequence(inventory)
  local ranges = {}
  local raw = inventory.wms_ahead or ''
  for lo, hi in string.gmatch(raw, '(%d+)-(%d+)') do
    ranges[#ranges + 1] = { tonumber(lo), tonumber(hi) }
  end
  return { applied = inventory.wms_seq or 0, ahead = ranges, raw = raw }
end
