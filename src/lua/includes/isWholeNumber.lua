-- True when value is an integer within [minimum, maximum].
local function isWholeNumber(value, minimum, maximum)
  return value ~= nil and value == math.floor(value) and value >= minimum and value <= maximum
end
