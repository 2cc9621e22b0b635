import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, type ScriptContext, scriptKeys } from './context.ts';

export type HoldbackReply =
  | { status: LedgerStatus.APPLIED | LedgerStatus.UNCHANGED; inventory: InventorySnapshot }
  | ScriptRefusal;

export function decodeSetHoldback(raw: unknown): HoldbackReply {
  const reply = replyArray('setHoldback', raw, 1);
  const status = replyStatus('setHoldback', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.UNCHANGED,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('setHoldback', raw, 6);
  return { status, inventory: replyInventory('setHoldback', reply) };
}

export async function setHoldback(context: ScriptContext, holdback: number, eventId: string): Promise<HoldbackReply> {
  const raw = await luaScripts().setHoldback.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    holdback,
    eventId,
  ], context.replicaWait);
  return decodeSetHoldback(raw);
}
