import { replyArray, replyStatus } from '../decode.ts';
import type { RedisClient } from '../../redis/client.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';

export type RemoveHoldReply = { status: LedgerStatus.APPLIED | LedgerStatus.UNCHANGED | LedgerStatus.BAD_ARGUMENT };

export function decodeRemoveHold(raw: unknown): RemoveHoldReply {
  const reply = replyArray('removeHold', raw, 1);
  return { status: replyStatus('removeHold', reply[0], [LedgerStatus.APPLIED, LedgerStatus.UNCHANGED, LedgerStatus.BAD_ARGUMENT]) };
}

export async function removeHold(
  redis: RedisClient,
  holdExpiriesKey: string,
  orderId: string,
  completed: LedgerStatus.RELEASING | LedgerStatus.CONFIRMING,
): Promise<RemoveHoldReply> {
  const raw = await luaScripts().removeHold.run(redis, [holdExpiriesKey], [orderId, completed]);
  return decodeRemoveHold(raw);
}
