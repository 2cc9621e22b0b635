--[[
appendEvent: append one normalised event to its event stream, at most once per delivery.

The delivery id (X-Shopify-Event-Id + topic, SQS NotificationId, WMS event id) is marked
and the event appended in one step, so a delivery is never marked without being appended
(a lost event) nor appended twice (a double effect upstream of the ledger's own checks).
The mark lives in the stream's Cluster slot (its key carries the stream's hash tag).

KEYS[1] event stream        KEYS[2] delivery mark (string, expires)
ARGV[1] event JSON
ARGV[2] mark lifetime in seconds (the dedupe window; 0 = no delivery id, no mark)

Returns { status, entry id }
Status codes: APPENDED, DUPLICATE, BAD_ARGUMENT
]]
local streamKey = KEYS[1]
local markKey = KEYS[2]
local eventJson = ARGV[1]
local markSeconds = tonumber(ARGV[2])

if eventJson == nil or eventJson == '' or markSeconds == nil or markSeconds < 0 then
  return { 'BAD_ARGUMENT', '' }
end
if markSeconds > 0 then
  local existing = redis.call('GET', markKey)
  if existing then
    return { 'DUPLICATE', existing }
  end
end
-- No MAXLEN here: trimming would drop unacknowledged entries. The consumers' trimmer
-- trims only below what every group has acknowledged (docs/streams.md).
local entryId = redis.call('XADD', streamKey, '*', 'event', eventJson)
if markSeconds > 0 then
  redis.call('SET', markKey, entryId, 'EX', markSeconds)
end
return { 'APPENDED', entryId }
