import { replyArray, replyStatus } from '../decode.ts';
import type { RedisClient } from '../../redis/client.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';

/** Who closes the hold: the merchant's cancel or confirm, or the reaper once it expired. */
export type HoldCloseAction = 'cancel' | 'confirm' | 'expire';

export type CloseHoldReply = {
  status: LedgerStatus.RELEASING | LedgerStatus.CONFIRMING | LedgerStatus.NOT_DUE | LedgerStatus.NO_HOLD | LedgerStatus.BAD_ARGUMENT;
};

export function decodeCloseHold(raw: unknown): CloseHoldReply {
  const reply = replyArray('closeHold', raw, 1);
  return {
    status: replyStatus('closeHold', reply[0], [
      LedgerStatus.RELEASING,
      LedgerStatus.CONFIRMING,
      LedgerStatus.NOT_DUE,
      LedgerStatus.NO_HOLD,
      LedgerStatus.BAD_ARGUMENT,
    ]),
  };
}

export async function closeHold(redis: RedisClient, holdExpiriesKey: string, orderId: string, action: HoldCloseAction, nowMs: number): Promise<CloseHoldReply> {
  const raw = await luaScripts().closeHold.run(redis, [holdExpiriesKey], [orderId, action, nowMs]);
  return decodeCloseHold(raw);
}
