// A lock so that a job runs once across replicas (reconciliation, scheduled snapshots):
// one Redis string holding the owner's random token, with a TTL so a dead owner cannot
// hold it forever, renewed while the job runs, and released only by its owner.
//
// Renewal and release are compare-and-act, so they run as Lua: a plain GET then DEL could
// delete a lock that expired meanwhile and was taken by another replica. The scripts are
// small and read one key, so they live here, not in src/lua (the ledger's scripts).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../ledger/scripts.ts';

/*
compareAndDelete: release the lock only if we still own it.
KEYS[1] lock key
ARGV[1] owner token
Returns 1 when deleted, 0 when the key holds another token or none (expired, taken over).
*/
const COMPARE_AND_DELETE = `
local lockKey = KEYS[1]
local token = ARGV[1]
if redis.call('GET', lockKey) == token then
  return redis.call('DEL', lockKey)
end
return 0
`;

/*
compareAndExpire: extend the lock's TTL only if we still own it.
KEYS[1] lock key
ARGV[1] owner token
ARGV[2] new TTL (ms)
Returns 1 when extended, 0 when the lock is no longer ours.
*/
const COMPARE_AND_EXPIRE = `
local lockKey = KEYS[1]
local token = ARGV[1]
local ttlMs = tonumber(ARGV[2])
if redis.call('GET', lockKey) == token then
  return redis.call('PEXPIRE', lockKey, ttlMs)
end
return 0
`;

export interface HeldLock {
  readonly token: string;
  /** False once a renewal found the lock gone or taken: the job must stop writing. */
  readonly held: boolean;
  release(): Promise<boolean>;
}

export class RunLock {
  constructor(
    private readonly redis: RedisClient,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {}

  /** Takes the lock, or returns the current owner's token when someone else holds it. */
  async acquire(label: string): Promise<{ acquired: true; lock: HeldLock } | { acquired: false; owner: string | null }> {
    const token = `${label}@${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const set = await this.redis.set(this.key, token, 'PX', this.ttlMs, 'NX');
    if (set !== 'OK') return { acquired: false, owner: await this.redis.get(this.key) };

    const redis = this.redis;
    const key = this.key;
    const ttlMs = this.ttlMs;
    let held = true;
    let released = false;
    // Renew at a third of the TTL: two renewals can fail (a Redis blip) before it lapses.
    const timer = setInterval(() => {
      redis.eval(COMPARE_AND_EXPIRE, 1, key, token, ttlMs).then(
        (extended) => {
          if (extended !== 1) held = false;
        },
        () => undefined,
      );
    }, Math.max(10, Math.floor(ttlMs / 3)));
    timer.unref();
    return {
      acquired: true,
      lock: {
        token,
        get held() {
          return held && !released;
        },
        async release() {
          clearInterval(timer);
          if (released) return false;
          released = true;
          return (await redis.eval(COMPARE_AND_DELETE, 1, key, token)) === 1;
        },
      },
    };
  }
}
