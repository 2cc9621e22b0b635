import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInteger, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus, type LineStatus } from '../status.ts';
import { baseArgs, horizonArgs, type ScriptContext, scriptKeys } from './context.ts';

export interface ReserveLineInput {
  reservationId: string;
  quantity: number;
}

export interface ReserveLineResult {
  reservationId: string;
  status: LineStatus;
  held: number;
  shortfall: number;
}

/** `sale`: a channel sold it, record shortfalls. `hold`: a checkout asks first, all-or-nothing. */
export type ReserveMode = 'sale' | 'hold';

export type ReserveOrderReply =
  | { status: LedgerStatus.OK | LedgerStatus.INSUFFICIENT; inventory: InventorySnapshot; lines: ReserveLineResult[] }
  | ScriptRefusal;

const LINE_STATUSES = [
  LedgerStatus.RESERVED,
  LedgerStatus.OVERSOLD,
  LedgerStatus.SHIPPED,
  LedgerStatus.CANCELLED,
  LedgerStatus.DUPLICATE,
  LedgerStatus.STALE,
] as const;

export function decodeReserveOrder(raw: unknown, lines: readonly ReserveLineInput[]): ReserveOrderReply {
  const reply = replyArray('reserveOrder', raw, 1);
  const status = replyStatus('reserveOrder', reply[0], [LedgerStatus.OK, LedgerStatus.INSUFFICIENT, LedgerStatus.UNKNOWN_SKU, LedgerStatus.BAD_ARGUMENT]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('reserveOrder', raw, 6 + 3 * lines.length);
  return {
    status,
    inventory: replyInventory('reserveOrder', reply),
    lines: lines.map((line, index) => ({
      reservationId: line.reservationId,
      status: replyStatus('reserveOrder', reply[6 + 3 * index], LINE_STATUSES),
      held: replyInteger('reserveOrder', reply[7 + 3 * index]),
      shortfall: replyInteger('reserveOrder', reply[8 + 3 * index]),
    })),
  };
}

/** `eventAtMs`: the order's own time; a line with no record is STALE when it lies outside the dedupe horizon. */
export async function reserveOrder(context: ScriptContext, lines: readonly ReserveLineInput[], mode: ReserveMode = 'sale', eventAtMs?: number): Promise<ReserveOrderReply> {
  const args: (string | number)[] = [...baseArgs(context), mode, lines.length];
  for (const line of lines) args.push(line.reservationId, line.quantity);
  args.push(...horizonArgs(context, eventAtMs));
  const raw = await luaScripts().reserveOrder.run(context.redis, scriptKeys(context.keys), args, context.replicaWait);
  return decodeReserveOrder(raw, lines);
}
