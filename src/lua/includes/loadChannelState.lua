-- The channel state of sku, decoded from its field of the `chan` layout bucket (bucketKey);
-- nil when sku is blank or the stored field is not packed channel state (the caller answers
-- BAD_ARGUMENT and writes nothing). Needs decodeChannelState, included before it.
local function loadChannelState(bucketKey, sku)
  if sku == nil or sku == '' then
    return nil
  end
  return decodeChannelState(redis.call('HGET', bucketKey, sku))
end
