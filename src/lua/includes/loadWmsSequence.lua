-- The SKU's record of applied WMS movement numbers (docs/wms.md, "Watermark"), kept in its
-- inventory hash: `wms_seq` is the highest n such that every movement 1..n of the SKU was
-- applied or covered by a reconciliation correction; `wms_ahead` lists the numbers applied
-- above it as ascending ranges "lo-hi,lo-hi" (absent when there are none).
-- Returns { applied = n, ahead = { {lo, hi}, … }, raw = the wms_ahead text or '' }.
local function loadWmsSequence(inventoryKey)
  local stored = redis.call('HMGET', inventoryKey, 'wms_seq', 'wms_ahead')
  local ranges = {}
  local raw = stored[2] or ''
  for lo, hi in string.gmatch(raw, '(%d+)-(%d+)') do
    ranges[#ranges + 1] = { tonumber(lo), tonumber(hi) }
  end
  return { applied = tonumber(stored[1]) or 0, ahead = ranges, raw = raw }
end
