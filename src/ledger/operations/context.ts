// What every script wrapper needs: a client, the SKU's keys, the clock and the journal
// retention. Built by the Ledger facade.
import type { SkuKeys } from '../../redis/keys.ts';
import type { RedisClient } from '../../redis/client.ts';
import type { ReplicaWait } from '../../redis/topology.ts';

export type Clock = () => number;

export interface ScriptContext {
  readonly redis: RedisClient;
  /** The SKU: every journal entry names it (the journal is its layout partition's, shared). */
  readonly sku: string;
  readonly keys: SkuKeys;
  readonly nowMs: number;
  readonly journalRetentionMs: number;
  /** How long event marks and closed reservation records are kept (docs/operations.md, "Dedupe horizons"). */
  readonly dedupeHorizonMs: number;
  /** Set: each change resolves only once this many replicas have it (STOCKGUARD_REDIS_WAIT_REPLICAS). */
  readonly replicaWait: ReplicaWait | undefined;
}

/** KEYS in the order every ledger script declares them. */
export function scriptKeys(keys: SkuKeys): string[] {
  return [keys.inventoryBucket, keys.reservations, keys.eventMarks, keys.journal];
}

/**
 * The two arguments every script that keeps dedupe state takes last: the event's own time
 * (now when the caller has none: never stale) and the dedupe horizon.
 */
export function horizonArgs(context: ScriptContext, eventAtMs: number | undefined): number[] {
  return [eventAtMs ?? context.nowMs, context.dedupeHorizonMs];
}

/** The three arguments every ledger script takes first: now, the journal retention and the SKU. */
export function baseArgs(context: ScriptContext): (number | string)[] {
  return [context.nowMs, context.journalRetentionMs, context.sku];
}
