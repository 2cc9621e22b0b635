import { type InventorySnapshot, type ScriptRefusal, replyArray, replyInventory, replyStatus } from '../decode.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus, type ReservationState } from '../status.ts';
import { baseArgs, horizonArgs, type ScriptContext, scriptKeys } from './context.ts';

export interface ShipInput {
  shipmentId: string;
  reservationId: string;
  quantity: number;
  /** The WMS movement number (docs/wms.md, "Watermark"). */
  seq?: number;
  /** The event's own time (ms) for the dedupe horizon; default now (never stale). */
  eventAtMs?: number;
}

export type ShipReply =
  | {
      status: LedgerStatus.APPLIED | LedgerStatus.DUPLICATE | LedgerStatus.CONFLICT | LedgerStatus.STALE;
      inventory: InventorySnapshot;
      reservationState: ReservationState;
    }
  | ScriptRefusal;

const RESERVATION_STATES = [
  LedgerStatus.PENDING,
  LedgerStatus.RESERVED,
  LedgerStatus.OVERSOLD,
  LedgerStatus.SHIPPED,
  LedgerStatus.CANCELLED,
] as const;

export function decodeShipReservation(raw: unknown): ShipReply {
  const reply = replyArray('shipReservation', raw, 1);
  const status = replyStatus('shipReservation', reply[0], [
    LedgerStatus.APPLIED,
    LedgerStatus.DUPLICATE,
    LedgerStatus.CONFLICT,
    LedgerStatus.STALE,
    LedgerStatus.UNKNOWN_SKU,
    LedgerStatus.BAD_ARGUMENT,
  ]);
  if (status === LedgerStatus.UNKNOWN_SKU || status === LedgerStatus.BAD_ARGUMENT) return { status };
  replyArray('shipReservation', raw, 7);
  return {
    status,
    inventory: replyInventory('shipReservation', reply),
    reservationState: replyStatus('shipReservation', reply[6], RESERVATION_STATES),
  };
}

export async function shipReservation(context: ScriptContext, shipment: ShipInput): Promise<ShipReply> {
  const raw = await luaScripts().shipReservation.run(context.redis, scriptKeys(context.keys), [
    ...baseArgs(context),
    shipment.shipmentId,
    shipment.reservationId,
    shipment.quantity,
    shipment.seq ?? '',
    ...horizonArgs(context, shipment.eventAtMs),
  ], context.replicaWait);
  return decodeShipReservation(raw);
}
