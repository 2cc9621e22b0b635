-- A SKU's packed channel state (its field of the `chan` layout bucket) as a table:
-- { P = { [channel] = { q, t, v, applied } }, O = { [channel] = { q, t } }, F = { [marketplace] = { q, t } } },
-- times in absolute ms, names in full (shopify, amazon, or the literal name). The format is
-- src/domain/channelState.ts's (the TypeScript twin); a missing field (false) or '' is the
-- empty state. Returns nil for a value it cannot read (the caller answers BAD_ARGUMENT and
-- writes nothing).
local function decodeChannelState(packed)
  local state = { P = {}, O = {}, F = {} }
  if not packed or packed == '' then
    return state
  end
  local names = { s = 'shopify', a = 'amazon' }
  local head = string.match(packed, '^([0-9a-z]+)')
  if not head or string.len(head) > 11 then
    return nil
  end
  local newest = tonumber(head, 36)
  local rest = string.sub(packed, string.len(head) + 1)
  for segment in string.gmatch(rest, ';([^;]*)') do
    local kind, code, quantity, age, version = string.match(segment, '^([PQOF])([A-Za-z0-9_%-]+):(%-?%d+),([0-9a-z]+),?([0-9a-z]*)$')
    if not kind or string.sub(segment, -1) == ',' or string.len(age) > 11 or string.len(version) > 11 or string.len(quantity) > 17 then
      return nil
    end
    local name = names[code] or code
    local entry = { q = tonumber(quantity), t = newest - tonumber(age, 36) }
    if entry.t < 0 then
      return nil
    end
    if kind == 'P' or kind == 'Q' then
      entry.v = version == '' and 0 or tonumber(version, 36)
      entry.applied = kind == 'Q'
      state.P[name] = entry
    elseif version ~= '' then
      return nil
    else
      state[kind][name] = entry
    end
  end
  -- Anything between the head and the first ';', or an empty segment, is not the format.
  local rebuilt = head
  for segment in string.gmatch(rest, ';([^;]*)') do
    rebuilt = rebuilt .. ';' .. segment
  end
  if rebuilt ~= packed then
    return nil
  end
  return state
end
