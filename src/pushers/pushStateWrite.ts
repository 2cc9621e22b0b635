// Every write to a SKU's pushstate hash (`<prefix>:pushstate:{p<N>}:<SKU>`) goes through
// writePushState.lua: its fields deleted and set, and its idle expiry, in one step. The
// writers: PushStore.saveState (the dynamic holdback's window), PushStore.noteChannelReport
// (the channel reports) and BoundedAllocator's save (the I8 accounts). A SKU nobody writes
// for the idle horizon loses the key: that is its state at rest (docs/pushers.md, "Channel
// state at rest"). The one exception is `alloc:keep` (the allocator sets it while a
// compare-and-set channel has unseen sales, which no time bounds): the key is then kept.
import type { ChannelTiming } from '../domain/allocation.ts';
import { replyArray, replyStatus } from '../ledger/decode.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';

/** While this field is in a pushstate hash, the hash does not expire (writePushState.lua). */
export const KEEP_FIELD = 'alloc:keep';

/** Six hours: above both horizons at the default lag bounds (2 × 70 min) and sales window (60 s). */
export const DEFAULT_PUSH_STATE_HORIZON_MS = 6 * 3_600_000;

/**
 * How long a channel's quantity reports stay useful to the allocation (PushStore keeps them
 * this long behind the newest): a report can only confirm a write still pending, and a write
 * is pending at most its confirm timeout; it is taken one delivery-lag bound after its time.
 * Twice that, so a report delivered late still finds the ones before it.
 */
export function reportHorizonFor(timings: Iterable<ChannelTiming>): number {
  return 2 * Math.max(0, ...[...timings].map((timing) => timing.confirmTimeoutMs + timing.deliveryLagBoundMs));
}

/**
 * The idle horizon of a pushstate hash: how long after its last write it expires. At least
 * the report horizon, so (1) a SKU whose key expired has no write pending any more — every
 * write in its accounts was sent before the last write of the key, so it is older than the
 * horizon and past every confirm timeout (settleAccount would have written it off), and an
 * absolute channel's unseen sales (one delivery-lag bound) are over too; (2) its reports can
 * confirm nothing any more, and the next one is stored as an anchor (PushStore.noteChannelReport).
 * At least twice the sales window (dynamic holdback and the allocation's velocity), so the
 * windows it loses are empty (saveState deletes them then anyway; the expiry is the backstop
 * for a SKU never decided again).
 */
export function idleHorizonFor(timings: Iterable<ChannelTiming>, salesWindowMs: number): number {
  return Math.max(reportHorizonFor(timings), 2 * salesWindowMs);
}

export interface PushStateChange {
  /** Field, value pairs to set. */
  set?: ReadonlyArray<string | number>;
  /** Fields to delete (before the sets). */
  delete?: readonly string[];
}

/** Deletes and sets fields of one SKU's pushstate hash and (re)starts its idle expiry, in one script. */
export async function writePushState(redis: RedisClient, key: string, idleMs: number, change: PushStateChange): Promise<void> {
  const deleted = change.delete ?? [];
  const set = change.set ?? [];
  const raw = await luaScripts().writePushState.run(redis, [key], [Math.ceil(idleMs), deleted.length, ...deleted, ...set]);
  const status = replyStatus('writePushState', replyArray('writePushState', raw, 1)[0], [LedgerStatus.APPLIED, LedgerStatus.BAD_ARGUMENT]);
  if (status === LedgerStatus.BAD_ARGUMENT) {
    throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `writePushState refused a change of ${JSON.stringify(key)} (idle ${idleMs} ms, ${deleted.length} deleted, ${set.length} set)`);
  }
}
