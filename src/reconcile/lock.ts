// A lock so that a job runs once across replicas (reconciliation, scheduled snapshots):
// one Redis string holding the owner's random token, with a TTL so a dead owner cannot
// hold it forever, renewed while the job runs, and released only by its owner.
//
// Renewal and release are compare-and-act, so they run as Lua (src/lua/compareAndExpire.lua,
// src/lua/compareAndDelete.lua): a plain GET then DEL could delete a lock that expired
// meanwhile and was taken by another replica.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';

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
      luaScripts().compareAndExpire.run(redis, [key], [token, ttlMs]).then(
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
          return (await luaScripts().compareAndDelete.run(redis, [key], [token])) === 1;
        },
      },
    };
  }
}
