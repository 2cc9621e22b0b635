-- True when name can be kept in packed channel state: shopify, amazon, or 2-64 of
-- [A-Za-z0-9_-] other than the codes s and a (src/domain/channelState.ts, isPackableName).
local function isChannelName(name)
  if name == 'shopify' or name == 'amazon' then
    return true
  end
  return type(name) == 'string' and name ~= 's' and name ~= 'a' and string.len(name) >= 2 and string.len(name) <= 64
    and string.match(name, '^[A-Za-z0-9_%-]+$') ~= nil
end
