-- `sold:<channel>` of the SKU's inventory (sold_shopify, sold_amazon): the units each sales channel sold and did not get
-- back, the ledger's half of the pushers' exposure accounting (I8). A reservation's share
-- depends only on its record, so any order of its events ends at the same count (I5): the
-- whole line once its reserve is seen, only what shipped once it is cancelled (a cancel on
-- the channel puts the rest back on the channel's own count). Each script that changes a
-- record books the difference of its share, into the inventory table: the script's
-- commitChange writes it.
local function channelSoldShare(record)
  if record.r ~= 1 then
    return 0
  end
  if record.c == 1 then
    return record.sh
  end
  return record.q
end

local function bookChannelSold(inventory, reservationId, before, after)
  local channel = string.match(reservationId, '^(%a+):')
  if channel ~= 'shopify' and channel ~= 'amazon' then
    return
  end
  local delta = after - before
  if delta ~= 0 then
    local field = 'sold_' .. channel
    inventory[field] = inventory[field] + delta
  end
end
