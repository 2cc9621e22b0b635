import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, horizonArgs, type ScriptContext, scriptKeys } from './context.ts';

/** `reconcile`: a correction from a reconciliation run (event id `reconcile:<run>:<sku>`). */
export type AdjustCause = 'receipt' | 'adjustment' | 'reconcile';

export interface AdjustInput {
  eventId: string;
  delta: number;
  cause: AdjustCause;
  /** The WMS movement number (docs/wms.md, "Watermark"); never on a `reconcile` correction. */
  seq?: number;
  /** The event's own time (ms) for the dedupe horizon; default now (never stale). */
  eventAtMs?: number;
}

export type AdjustReply =
  | { status: LedgerStatus.APPLIED | LedgerStatus.DUPLICATE | LedgerStatus.CONFLICT | LedgerStatus.STALE; inventory: InventorySnapshot }
  | ScriptRefusal;

export function decodeAdjustOnHand(raw: unknown): AdjustReply {
  const reply = replyArray('adjustOnHand', raw, 1);
  const status = replyStatus('adjustOnHand', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.DUPLICATE,
    LedgerStatus.CONFLICT,
    LedgerStatus.STALE,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('adjustOnHand', raw, 6);
  return { status, inventory: replyInventory('adjustOnHand', reply) };
}

export async function adjustOnHand(context: ScriptContext, adjustment: AdjustInput): Promise<AdjustReply> {
  const raw = await luaScripts().adjustOnHand.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    adjustment.eventId,
    adjustment.delta,
    adjustment.cause,
    adjustment.seq ?? '',
    ...horizonArgs(context, adjustment.eventAtMs),
  ], context.replicaWait);
  return decodeAdjustOnHand(raw);
}
