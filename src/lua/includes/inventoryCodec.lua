-- The SKU's ledger inventory, packed into its field of the SKU's `inv` bucket hash (KEYS:
-- the bucket; ARGV: the SKU). The TS half is src/domain/inventoryCodec.ts; both must agree
-- (test/integration/inventory-codec.test.ts). A pure function of the field values:
-- twelve positional fields joined by ',', trailing empty ones dropped; every number whole,
-- in base 36 (0-9a-z), a leading '-' when negative; an empty field is its default:
--   1 on_hand  2 reserved  3 holdback  4 oversold  5 version  6 updated_ms (all: 0)
--   7 journal_ms - updated_ms (0)   8 swept_ms - updated_ms (empty: never swept)
--   9 sold:shopify  10 sold:amazon  11 wms_seq (all: 0)
--   12 wms_ahead: ranges lo-hi (lo alone when lo = hi) in base 36 joined by '.' (none)
-- Decoded, the table has on_hand, reserved, holdback, oversold, version, updated_ms,
-- journal_ms, swept_ms (nil: never), sold_shopify, sold_amazon, wms_seq and wms_ahead (the
-- ranges as decimal text 'lo-hi,lo-hi', '' when none), all numbers but the last.
local INVENTORY_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz'

local function encodeBase36(n)
  if n == 0 then
    return '0'
  end
  local sign = ''
  if n < 0 then
    sign = '-'
    n = -n
  end
  local digits = {}
  while n > 0 do
    local digit = n % 36
    digits[#digits + 1] = string.sub(INVENTORY_DIGITS, digit + 1, digit + 1)
    n = (n - digit) / 36
  end
  return sign .. string.reverse(table.concat(digits))
end

local function decodeBase36(text)
  if text == '' then
    return 0
  end
  if string.sub(text, 1, 1) == '-' then
    return -tonumber(string.sub(text, 2), 36)
  end
  return tonumber(text, 36)
end

local function splitInventory(text, separator)
  local parts = {}
  local start = 1
  while true do
    local at = string.find(text, separator, start, true)
    if at == nil then
      parts[#parts + 1] = string.sub(text, start)
      return parts
    end
    parts[#parts + 1] = string.sub(text, start, at - 1)
    start = at + 1
  end
end

local function encodeInventory(inventory)
  local updated = inventory.updated_ms or 0
  local function number(value)
    if value == nil or value == 0 then
      return ''
    end
    return encodeBase36(value)
  end
  local ahead = {}
  for lo, hi in string.gmatch(inventory.wms_ahead or '', '(%d+)-(%d+)') do
    lo, hi = tonumber(lo), tonumber(hi)
    if lo == hi then
      ahead[#ahead + 1] = encodeBase36(lo)
    else
      ahead[#ahead + 1] = encodeBase36(lo) .. '-' .. encodeBase36(hi)
    end
  end
  local swept = ''
  if inventory.swept_ms ~= nil then
    swept = encodeBase36(inventory.swept_ms - updated)
  end
  local fields = {
    number(inventory.on_hand), number(inventory.reserved), number(inventory.holdback),
    number(inventory.oversold), number(inventory.version), number(updated),
    number((inventory.journal_ms or 0) - updated), swept,
    number(inventory.sold_shopify), number(inventory.sold_amazon), number(inventory.wms_seq),
    table.concat(ahead, '.'),
  }
  local last = #fields
  while last > 0 and fields[last] == '' do
    fields[last] = nil
    last = last - 1
  end
  return table.concat(fields, ',')
end

local function decodeInventory(packed)
  local fields = splitInventory(packed, ',')
  local updated = decodeBase36(fields[6] or '')
  local inventory = {
    on_hand = decodeBase36(fields[1] or ''),
    reserved = decodeBase36(fields[2] or ''),
    holdback = decodeBase36(fields[3] or ''),
    oversold = decodeBase36(fields[4] or ''),
    version = decodeBase36(fields[5] or ''),
    updated_ms = updated,
    journal_ms = updated + decodeBase36(fields[7] or ''),
    swept_ms = nil,
    sold_shopify = decodeBase36(fields[9] or ''),
    sold_amazon = decodeBase36(fields[10] or ''),
    wms_seq = decodeBase36(fields[11] or ''),
    wms_ahead = '',
  }
  if (fields[8] or '') ~= '' then
    inventory.swept_ms = updated + decodeBase36(fields[8])
  end
  if (fields[12] or '') ~= '' then
    local ranges = {}
    for _, range in ipairs(splitInventory(fields[12], '.')) do
      local bounds = splitInventory(range, '-')
      local lo = decodeBase36(bounds[1])
      local hi = lo
      if bounds[2] ~= nil then
        hi = decodeBase36(bounds[2])
      end
      ranges[#ranges + 1] = string.format('%d-%d', lo, hi)
    end
    inventory.wms_ahead = table.concat(ranges, ',')
  end
  return inventory
end

-- The SKU's inventory from its bucket; nil when the SKU is unknown.
local function loadInventory(bucketKey, sku)
  local packed = redis.call('HGET', bucketKey, sku)
  if packed == false then
    return nil
  end
  return decodeInventory(packed)
end

-- Writes the whole inventory back into the SKU's field of its bucket.
local function saveInventory(bucketKey, sku, inventory)
  redis.call('HSET', bucketKey, sku, encodeInventory(inventory))
end
