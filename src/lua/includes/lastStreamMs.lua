-- The ms of a stream's last id: what an XADD `<ms>-*` must not go below (0 for no stream).
-- A stream trimmed empty keeps its last id (XADD still refuses an id below it): XINFO has it.
local function lastStreamMs(streamKey)
  local last = redis.call('XREVRANGE', streamKey, '+', '-', 'COUNT', 1)[1]
  local lastId = last and last[1]
  if lastId == nil and redis.call('EXISTS', streamKey) == 1 then
    local info = redis.call('XINFO', 'STREAM', streamKey)
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then lastId = info[i + 1] end
    end
  end
  if lastId == nil then return 0 end
  return tonumber(string.match(lastId, '^(%d+)-'))
end
