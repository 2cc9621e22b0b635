--[[
reserveOrder: reserve every line of one order that hits one SKU, atomically.

The lines are checked together (invariant I1): each line is held from what the earlier
lines of the same call left available, so two lines of one SKU can never both take the
last unit (Medusa #16502). A line that does not fit is still recorded (a channel sale is
a fact): OVERSOLD, holding what was left and with the rest as its shortfall.
A ship or cancel that arrived before the reserve is folded in so that every order of one
reservation's events ends in the same state (invariant I5).
Mode `hold` (the synchronous reservation API, a checkout asking before it sells) is
all-or-nothing instead: when any new line would be short, nothing is written and the
reply is INSUFFICIENT with what each line would have got.
A line with no record whose order time lies outside the dedupe horizon is STALE and
changes nothing: its record may have been swept (issue 13 §2). Marks and reservation
records closed longer ago than the horizon are swept here.

KEYS[1] inv bucket of the SKU: its field ARGV[3] is the packed inventory (includes/inventoryCodec.lua), `sold:<channel>` included (the units each sales channel sold: I8)
KEYS[2] reservations hash
KEYS[3] event marks hash (marks past the horizon swept)    KEYS[4] journal stream of the SKU's layout partition (shared)
ARGV[1] now (ms, injected clock)
ARGV[2] journal retention (ms)
ARGV[3] the SKU (journaled as `sku`: the journal is its layout partition's, shared)
ARGV[4] mode: sale | hold
ARGV[5] number of lines n (>= 1)
ARGV[6 .. 5+2n] pairs: reservation id (`channel:order:line`), quantity (integer >= 1)
ARGV[6+2n] the order's own time (ms; when the channel took it, else when stockguard received it)
ARGV[7+2n] dedupe horizon (ms)

Returns { status, on_hand, reserved, holdback, oversold, version,
          then per line in input order: line status, held, shortfall }
Status codes: OK, INSUFFICIENT, UNKNOWN_SKU, BAD_ARGUMENT
Line status codes: RESERVED, OVERSOLD, SHIPPED, CANCELLED, DUPLICATE, STALE
(DUPLICATE: the reservation id was reserved before; held and shortfall are the stored ones.
STALE: held and shortfall are 0.)
]]
local bucketKey = KEYS[1]
local reservationsKey = KEYS[2]
local marksKey = KEYS[3]
local journalKey = KEYS[4]
local nowMs = tonumber(ARGV[1])
local retentionMs = tonumber(ARGV[2])
local sku = ARGV[3]
local mode = ARGV[4]
local lineCount = tonumber(ARGV[5])

--- @include "isWholeNumber"
--- @include "inventoryCodec"
--- @include "loadReservation"
--- @include "openUnits"
--- @include "reservationState"
--- @include "lastStreamMs"
--- @include "commitChange"
--- @include "channelSold"
--- @include "isOutsideHorizon"
--- @include "stampClosed"
--- @include "sweepExpiredMarks"

-- Check everything first: Lua does not roll back a half-done script.
if not isWholeNumber(nowMs, 0, 2^53) or not isWholeNumber(retentionMs, 1, 2^53)
  or (mode ~= 'sale' and mode ~= 'hold')
  or not isWholeNumber(lineCount, 1, 1000) or #ARGV ~= 7 + 2 * lineCount then
  return { 'BAD_ARGUMENT' }
end
local eventMs = tonumber(ARGV[6 + 2 * lineCount])
local horizonMs = tonumber(ARGV[7 + 2 * lineCount])
if not isWholeNumber(eventMs, 0, 2^53) or not isWholeNumber(horizonMs, 1, 2^53) then
  return { 'BAD_ARGUMENT' }
end
local lines = {}
local seenIds = {}
for i = 1, lineCount do
  local reservationId = ARGV[4 + 2 * i]
  local quantity = tonumber(ARGV[5 + 2 * i])
  if reservationId == '' or seenIds[reservationId] or not isWholeNumber(quantity, 1, 1000000000) then
    return { 'BAD_ARGUMENT' }
  end
  seenIds[reservationId] = true
  lines[i] = { id = reservationId, quantity = quantity }
end
local inventory = loadInventory(bucketKey, sku)
if inventory == nil then
  return { 'UNKNOWN_SKU' }
end

sweepExpiredMarks(bucketKey, sku, inventory, reservationsKey, marksKey, nowMs, horizonMs)
local stale = isOutsideHorizon(eventMs, nowMs, horizonMs)

local function replyWith(status, results)
  local reply = { status, inventory.on_hand, inventory.reserved, inventory.holdback, inventory.oversold, inventory.version }
  for _, result in ipairs(results) do
    reply[#reply + 1] = result[1]
    reply[#reply + 1] = result[2]
    reply[#reply + 1] = result[3]
  end
  return reply
end

if mode == 'hold' then
  -- Dry run first: a hold is all-or-nothing for the SKU.
  local available = inventory.on_hand - inventory.reserved
  local wouldGet = {}
  local short = false
  for i, line in ipairs(lines) do
    local record, exists = loadReservation(reservationsKey, line.id)
    if record.r == 1 then
      wouldGet[i] = { 'DUPLICATE', record.h, record.sf }
    elseif stale and not exists then
      wouldGet[i] = { 'STALE', 0, 0 }
    else
      local held = math.min(line.quantity, math.max(0, available + record.sh))
      available = available - held
      if held < line.quantity then
        short = true
      end
      wouldGet[i] = { held < line.quantity and 'OVERSOLD' or 'RESERVED', held, line.quantity - held }
    end
  end
  if short then
    return replyWith('INSUFFICIENT', wouldGet)
  end
end

local lineResults = {}
for i, line in ipairs(lines) do
  local record, exists = loadReservation(reservationsKey, line.id)
  if record.r == 1 then
    lineResults[i] = { 'DUPLICATE', record.h, record.sf }
  elseif stale and not exists then
    lineResults[i] = { 'STALE', 0, 0 }
  else
    local soldBefore = channelSoldShare(record)
    -- Units this reservation already shipped left on_hand before the reserve arrived; add
    -- them back so the check sees what it would have seen had the reserve come first.
    local available = inventory.on_hand - inventory.reserved + record.sh
    local held = math.min(line.quantity, math.max(0, available))
    record.q = line.quantity
    record.h = held
    record.sf = line.quantity - held
    record.r = 1
    local heldNow = openUnits(record)
    inventory.reserved = inventory.reserved + heldNow
    inventory.oversold = inventory.oversold + record.sf
    stampClosed(record, math.max(eventMs, nowMs))
    redis.call('HSET', reservationsKey, line.id, cjson.encode(record))
    -- A channel's sale moves its units out of that channel's exposure (I8) in this same step
    -- (commitChange writes it with the rest of the inventory).
    bookChannelSold(inventory, line.id, soldBefore, channelSoldShare(record))
    commitChange(bucketKey, journalKey, inventory, nowMs, retentionMs, sku, {
      cause = 'reserve', event = line.id, ref = line.id,
      d_reserved = heldNow, d_oversold = record.sf,
    })
    lineResults[i] = { reservationState(record), held, record.sf }
  end
end

return replyWith('OK', lineResults)
