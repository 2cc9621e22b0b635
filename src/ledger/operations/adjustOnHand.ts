import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { ledgerScripts } from '../scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, type ScriptContext, scriptKeys } from './context.ts';

/** `reconcile`: a correction from a reconciliation run (event id `reconcile:<run>:<sku>`). */
export type AdjustCause = 'receipt' | 'adjustment' | 'reconcile';

export interface AdjustInput {
  eventId: string;
  delta: number;
  cause: AdjustCause;
}

export type AdjustReply =
  | { status: LedgerStatus.APPLIED | LedgerStatus.DUPLICATE | LedgerStatus.CONFLICT; inventory: InventorySnapshot }
  | ScriptRefusal;

export function decodeAdjustOnHand(raw: unknown): AdjustReply {
  const reply = replyArray('adjustOnHand', raw, 1);
  const status = replyStatus('adjustOnHand', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.DUPLICATE,
    LedgerStatus.CONFLICT,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('adjustOnHand', raw, 6);
  return { status, inventory: replyInventory('adjustOnHand', reply) };
}

export async function adjustOnHand(context: ScriptContext, adjustment: AdjustInput): Promise<AdjustReply> {
  const raw = await ledgerScripts().adjustOnHand.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    adjustment.eventId,
    adjustment.delta,
    adjustment.cause,
  ]);
  return decodeAdjustOnHand(raw);
}
