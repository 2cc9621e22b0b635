// What every script wrapper needs: a client, the SKU's keys, the clock and the journal
// retention. Built by the Ledger facade.
import type { SkuKeys } from '../keys.ts';
import type { RedisClient } from '../scripts.ts';

export type Clock = () => number;

export interface ScriptContext {
  readonly redis: RedisClient;
  readonly keys: SkuKeys;
  readonly nowMs: number;
  readonly journalRetentionMs: number;
}

/** KEYS in the order every ledger script declares them. */
export function scriptKeys(keys: SkuKeys): string[] {
  return [keys.inventory, keys.reservations, keys.eventMarks, keys.journal];
}

/** The two arguments every ledger script takes first. */
export function baseArgs(context: ScriptContext): number[] {
  return [context.nowMs, context.journalRetentionMs];
}
