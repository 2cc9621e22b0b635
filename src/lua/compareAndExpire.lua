--[[
compareAndExpire: extend a run lock's TTL (src/reconcile/lock.ts) only if we still own it.

KEYS[1] lock key
ARGV[1] owner token
ARGV[2] new TTL (ms)

Returns 1 when extended, 0 when the lock is no longer ours.
Status codes: none (1 or 0)
]]
local lockKey = KEYS[1]
local token = ARGV[1]
local ttlMs = tonumber(ARGV[2])
if redis.call('GET', lockKey) == token then
  return redis.call('PEXPIRE', lockKey, ttlMs)
end
return 0
