--[[
retireConsumer: delete a dead consumer from a group (src/consumers/deadConsumers.ts), but
only if at this moment it owns no pending entry and has been idle long enough. Deleting a
consumer that still owns pending entries would drop them from the group's pending list;
check and delete run in one script so nothing can be delivered to it in between.

KEYS[1] the stream
ARGV[1] the group
ARGV[2] the consumer
ARGV[3] the idle time (ms) it must have reached

Returns 1 when it was deleted; 0 when it owns pending entries, was active more recently,
or does not exist.
Status codes: none (1 or 0)
]]
local stream = KEYS[1]
local group = ARGV[1]
local consumerName = ARGV[2]
local minIdleMs = tonumber(ARGV[3])
if #redis.call('XPENDING', stream, group, '-', '+', 1, consumerName) > 0 then return 0 end
for _, consumer in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
  local name, idle
  for i = 1, #consumer, 2 do
    if consumer[i] == 'name' then name = consumer[i + 1] elseif consumer[i] == 'idle' then idle = consumer[i + 1] end
  end
  if name == consumerName then
    if idle == nil or idle < minIdleMs then return 0 end
    redis.call('XGROUP', 'DELCONSUMER', stream, group, consumerName)
    return 1
  end
end
return 0
