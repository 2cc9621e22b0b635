-- Reads the SKU's inventory hash into a table of numbers; nil when the SKU is unknown.
local function loadInventory(inventoryKey)
  local raw = redis.call('HMGET', inventoryKey, 'on_hand', 'reserved', 'holdback', 'oversold', 'version', 'journal_ms')
  if raw[1] == false then
    return nil
  end
  return {
    on_hand = tonumber(raw[1]),
    reserved = tonumber(raw[2]) or 0,
    holdback = tonumber(raw[3]) or 0,
    oversold = tonumber(raw[4]) or 0,
    version = tonumber(raw[5]) or 0,
    journal_ms = tonumber(raw[6]) or 0,
  }
end
