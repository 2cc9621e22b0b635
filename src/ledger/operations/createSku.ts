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

export async function createSku(context: ScriptContext): Promise<CreateSkuReply> {
  const raw = await luaScripts().createSku.run(context.redis, scriptKeys(context.keys), baseArgs(context));
  return decodeCreateSku(raw);
}
