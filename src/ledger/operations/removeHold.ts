import { replyArray, replyStatus } from '../decode.ts';
import { ledgerScripts, type RedisClient } from '../scripts.ts';
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
  const raw = await ledgerScripts().removeHold.run(redis, [holdExpiriesKey], [orderId, completed]);
  return decodeRemoveHold(raw);
}
