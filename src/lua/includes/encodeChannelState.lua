-- The packed string of a channel state table as decodeChannelState returns it, byte for byte
-- what src/domain/channelState.ts's encodeChannelState writes for the same state: the
-- newest time in base 36, then one segment per entry, kinds P/Q, O, F, names in byte order
-- (compared byte by byte: Redis sets LC_COLLATE from the environment, and Lua's `<` on
-- strings follows it). Returns false when there is nothing to keep (the caller HDELs the
-- field). Names are checked by the callers (shopify, amazon, or 2-64 of [A-Za-z0-9_-]).
local function encodeChannelState(state)
  local codes = { shopify = 's', amazon = 'a' }
  local digits = '0123456789abcdefghijklmnopqrstuvwxyz'
  local function base36(value)
    if value == 0 then
      return '0'
    end
    local out = ''
    while value > 0 do
      local digit = value % 36
      out = string.sub(digits, digit + 1, digit + 1) .. out
      value = (value - digit) / 36
    end
    return out
  end
  local function bytesBefore(a, b)
    local length = math.min(string.len(a), string.len(b))
    for index = 1, length do
      local x, y = string.byte(a, index), string.byte(b, index)
      if x ~= y then
        return x < y
      end
    end
    return string.len(a) < string.len(b)
  end
  local rows = {}
  local newest = nil
  for _, kind in ipairs({ 'P', 'O', 'F' }) do
    local group = {}
    for name, entry in pairs(state[kind]) do
      group[#group + 1] = { code = codes[name] or name, entry = entry }
    end
    table.sort(group, function(x, y) return bytesBefore(x.code, y.code) end)
    for _, item in ipairs(group) do
      local letter = kind
      if kind == 'P' and item.entry.applied then
        letter = 'Q'
      end
      rows[#rows + 1] = { letter = letter, code = item.code, entry = item.entry, versioned = kind == 'P' }
      if newest == nil or item.entry.t > newest then
        newest = item.entry.t
      end
    end
  end
  if newest == nil then
    return false
  end
  local parts = { base36(newest) }
  for _, row in ipairs(rows) do
    local segment = row.letter .. row.code .. ':' .. string.format('%d', row.entry.q) .. ',' .. base36(newest - row.entry.t)
    if row.versioned and row.entry.v and row.entry.v ~= 0 then
      segment = segment .. ',' .. base36(row.entry.v)
    end
    parts[#parts + 1] = segment
  end
  return table.concat(parts, ';')
end
