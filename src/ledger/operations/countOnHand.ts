import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInteger, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';
import { baseArgs, horizonArgs, type ScriptContext, scriptKeys } from './context.ts';

export interface CountInput {
  eventId: string;
  counted: number;
  /** The WMS movement number (docs/wms.md, "Watermark"). */
  seq?: number;
  /** The event's own time (ms) for the dedupe horizon; default now (never stale). */
  eventAtMs?: number;
}

export type CountReply =
  | {
      status: LedgerStatus.APPLIED | LedgerStatus.DUPLICATE | LedgerStatus.CONFLICT | LedgerStatus.STALE;
      inventory: InventorySnapshot;
      delta: number;
    }
  | ScriptRefusal;

export function decodeCountOnHand(raw: unknown): CountReply {
  const reply = replyArray('countOnHand', raw, 1);
  const status = replyStatus('countOnHand', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.DUPLICATE,
    LedgerStatus.CONFLICT,
    LedgerStatus.STALE,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('countOnHand', raw, 7);
  return { status, inventory: replyInventory('countOnHand', reply), delta: replyInteger('countOnHand', reply[6]) };
}

export async function countOnHand(context: ScriptContext, count: CountInput): Promise<CountReply> {
  const raw = await luaScripts().countOnHand.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    count.eventId,
    count.counted,
    count.seq ?? '',
    ...horizonArgs(context, count.eventAtMs),
  ], context.replicaWait);
  return decodeCountOnHand(raw);
}
