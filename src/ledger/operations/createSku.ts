import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, type ScriptContext, scriptKeys } from './context.ts';

export type CreateSkuReply =
  | { status: LedgerStatus.CREATED | LedgerStatus.EXISTS; inventory: InventorySnapshot }
  | { status: LedgerStatus.BAD_ARGUMENT };

export function decodeCreateSku(raw: unknown): CreateSkuReply {
  const reply = replyArray('createSku', raw, 1);
  const status = replyStatus('createSku', reply[0], [LedgerStatus.CREATED, LedgerStatus.EXISTS, LedgerStatus.BAD_ARGUMENT]);
  if (status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('createSku', raw, 6);
  return { status, inventory: replyInventory('createSku', reply) };
}

/** `initial`: the on_hand counted at creation, journaled as a count under `eventId` in the same call (createSku.lua). */
export async function createSku(context: ScriptContext, initial?: { counted: number; eventId: string }): Promise<CreateSkuReply> {
  const args = initial === undefined ? baseArgs(context) : [...baseArgs(context), initial.counted, initial.eventId];
  const raw = await luaScripts().createSku.run(context.redis, scriptKeys(context.keys), args, context.replicaWait);
  return decodeCreateSku(raw);
}
