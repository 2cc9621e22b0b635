// A global step of `stockguard migrate layout` (step 3 → 4, src/redis/migrate/toBuckets.ts):
// the pushers' per-SKU state (`<prefix>:pushstate:{p<N>}:<SKU>`) gets the idle expiry that
// every write of this version gives it (src/lua/writePushState.lua, docs/pushers.md "Channel
// state at rest"). Keys written before it have none, so without this step an idle SKU's
// key migrated from layout 3 would stay for ever. Same rule as the script: a key holding
// `alloc:keep` (Shopify unseen sales, no time bound) keeps no expiry. With the daemons
// stopped nothing is pending for longer than the horizon allows, so the key may go once
// it has been idle that long, as if it had just been written.
import type { RedisClient } from '../redis/client.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { GlobalStep } from '../redis/migrate/toBuckets.ts';
import { globEscape, scanKeys } from '../redis/scan.ts';
import { type KeyCommand, sendEach } from '../redis/topology.ts';

/** The step, for the idle horizon `horizonMs` (pushStateHorizonMs of the daemons' config). */
export function pushStateExpiryStep(horizonMs: number): GlobalStep {
  return {
    name: 'push-state expiry',
    run: ({ redis, keys, dryRun }) => expireIdlePushState(redis, keys, horizonMs, dryRun),
  };
}

/** Sets the expiry on every pushstate key that has none and no `alloc:keep`; how many it set (or would). */
export async function expireIdlePushState(redis: RedisClient, keys: KeySpace, horizonMs: number, dryRun: boolean): Promise<number> {
  let set = 0;
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:pushstate:*`, 1000)) {
    const pushState = found.filter((key) => keys.parsePerSkuKey(key)?.kind === 'pushState');
    const reads = await sendEach(redis, pushState.flatMap((key): KeyCommand[] => [['PTTL', key], ['HEXISTS', key, 'alloc:keep']]));
    const idle = pushState.filter((_key, index) => Number(reads[index * 2]?.[1]) === -1 && Number(reads[index * 2 + 1]?.[1]) === 0);
    set += idle.length;
    if (!dryRun) await sendEach(redis, idle.map((key): KeyCommand => ['PEXPIRE', key, horizonMs]));
  }
  return set;
}
