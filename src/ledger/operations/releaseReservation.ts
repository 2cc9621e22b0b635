import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInteger, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, horizonArgs, type ScriptContext, scriptKeys } from './context.ts';

export type ReleaseReply =
  | {
      status: LedgerStatus.RELEASED | LedgerStatus.PENDING | LedgerStatus.DUPLICATE | LedgerStatus.STALE;
      inventory: InventorySnapshot;
      released: number;
    }
  | ScriptRefusal;

export function decodeReleaseReservation(raw: unknown): ReleaseReply {
  const reply = replyArray('releaseReservation', raw, 1);
  const status = replyStatus('releaseReservation', reply[0], [
    LedgerStatus.RELEASED,
    LedgerStatus.PENDING,
    LedgerStatus.DUPLICATE,
    LedgerStatus.STALE,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('releaseReservation', raw, 7);
  return {
    status,
    inventory: replyInventory('releaseReservation', reply),
    released: replyInteger('releaseReservation', reply[6]),
  };
}

/** `eventAtMs`: the cancellation's own time; with no record it is STALE outside the dedupe horizon. */
export async function releaseReservation(context: ScriptContext, reservationId: string, eventAtMs?: number): Promise<ReleaseReply> {
  const raw = await luaScripts().releaseReservation.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    reservationId,
    ...horizonArgs(context, eventAtMs),
  ], context.replicaWait);
  return decodeReleaseReservation(raw);
}
