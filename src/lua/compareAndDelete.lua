--[[
compareAndDelete: release a run lock (src/reconcile/lock.ts) only if we still own it.
A plain GET then DEL could delete a lock that expired meanwhile and was taken by another
replica.

KEYS[1] lock key
ARGV[1] owner token

Returns 1 when deleted, 0 when the key holds another token or none (expired, taken over).
Status codes: none (1 or 0)
]]
local lockKey = KEYS[1]
local token = ARGV[1]
if redis.call('GET', lockKey) == token then
  return redis.call('DEL', lockKey)
end
return 0
