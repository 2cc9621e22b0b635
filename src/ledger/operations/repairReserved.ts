import { type InventorySnapshot, replyArray, replyInteger, replyInventory, replyStatus, type ScriptRefusal } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, type ScriptContext, scriptKeys } from './context.ts';

export type RepairReply =
  | { status: LedgerStatus.APPLIED | LedgerStatus.UNCHANGED; inventory: InventorySnapshot; reservedBefore: number }
  | ScriptRefusal;

export function decodeRepairReserved(raw: unknown): RepairReply {
  const reply = replyArray('repairReserved', raw, 1);
  const status = replyStatus('repairReserved', reply[0], [LedgerStatus.APPLIED, LedgerStatus.UNCHANGED, LedgerStatus.UNKNOWN_SKU, LedgerStatus.BAD_ARGUMENT]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('repairReserved', raw, 7);
  return { status, inventory: replyInventory('repairReserved', reply), reservedBefore: replyInteger('repairReserved', reply[6]) };
}

export async function repairReserved(context: ScriptContext, eventId: string): Promise<RepairReply> {
  const raw = await luaScripts().repairReserved.run(context.redis, scriptKeys(context.keys), [...baseArgs(context), eventId], context.replicaWait);
  return decodeRepairReserved(raw);
}
