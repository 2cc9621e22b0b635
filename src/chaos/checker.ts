// The outside checker of a chaos run: compares Redis with the load generator's ground-truth
// log once the system is quiet (docs/reliability.md, "What the checker checks").
import type { CatalogEntry } from '../catalog/entry.ts';
import { listDeadLetters } from '../consumers/deadLetters.ts';
import { decodeReservationRecord } from '../ledger/ledger.ts';
import { reservationId } from '../ledger/reservationId.ts';
import type { Runtime } from '../main.ts';
import type { WmsFake } from '../sim/wms/index.ts';
import type { ChaosFigures } from './figures.ts';
import type { ChannelOrder, WmsAck } from './load.ts';

/** Whether every accepted channel order has its reservation; remembers what it has seen. */
export class ReservationWatch {
  private checked = 0;
  private unseen: ChannelOrder[] = [];

  constructor(
    private readonly orders: readonly ChannelOrder[],
    private readonly runtime: Runtime,
  ) {}

  async allSeen(): Promise<boolean> {
    // A loop, not push(...slice): spreading the first call's orders as arguments overflows
    // the stack past ~120,000 of them (a 1M-operation run has ~670,000), which made every
    // call throw and the run never see its ledger quiet.
    for (let index = this.checked; index < this.orders.length; index += 1) this.unseen.push(this.orders[index]!);
    this.checked = this.orders.length;
    const bySku = groupBy(this.unseen, (order) => order.sku);
    const still: ChannelOrder[] = [];
    for (const [sku, orders] of bySku) {
      const key = this.runtime.ledger.keys.sku(sku).reservations;
      for (let start = 0; start < orders.length; start += 1000) {
        const chunk = orders.slice(start, start + 1000);
        const ids = chunk.map((order) => reservationId(order.channel, order.orderId, order.lineId));
        const encoded = await this.runtime.redis.hmget(key, ...ids);
        chunk.forEach((order, index) => {
          const record = encoded[index];
          if (record === null || record === undefined || !decodeReservationRecord(ids[index]!, record).reserveSeen) still.push(order);
        });
      }
    }
    this.unseen = still;
    return still.length === 0;
  }

  get missing(): number {
    return this.unseen.length + (this.orders.length - this.checked);
  }
}

/**
 * Whether a fact acknowledged at `atMs` on `sku` can have been lost by a SIGKILLed Cluster
 * master (asynchronous replication): then it counts in clusterFailovers.writesLostToFailover.
 */
export type LostToFailover = (fact: { sku: string; atMs: number }) => boolean;

export async function checkLedger(
  figures: ChaosFigures,
  truth: { orders: readonly ChannelOrder[]; wmsAcked: readonly WmsAck[]; entries: readonly CatalogEntry[]; wms: WmsFake; runtime: Runtime; lostToFailover?: LostToFailover },
): Promise<void> {
  const { orders, wmsAcked, entries, wms, runtime } = truth;
  const lostToFailover = truth.lostToFailover ?? (() => false);
  const { ledger } = runtime;
  const problem = (text: string) => {
    if (figures.problems.length < 40) figures.problems.push(text);
  };
  const ordersBySku = groupBy(orders, (order) => order.sku);
  const wmsBySku = groupBy(wmsAcked, (event) => event.sku);
  const expectedIds = new Set(orders.map((order) => reservationId(order.channel, order.orderId, order.lineId)));
  const deadLettered = await deadLetteredOrders(runtime);
  const explainLost = (order: ChannelOrder, record: unknown, journaled: boolean) => {
    const reason = deadLettered.get(`${order.channel}:${order.orderId}`);
    const what = reason !== undefined ? `dead-lettered:${reason}` : journaled ? 'journaled-without-record' : record ? 'record-without-reserve' : 'no-record';
    const key = `${order.channel}:${what}`;
    figures.lostBreakdown[key] = (figures.lostBreakdown[key] ?? 0) + 1;
    return what;
  };
  for (const entry of entries) {
    const inventory = (await ledger.inventory(entry.sku))!;
    const records = await ledger.reservations(entry.sku);
    const journal = await ledger.journal(entry.sku);
    figures.raceOversoldUnits += inventory.oversold;
    // I3: reserved = Σ open reservation quantities.
    const open = records.reduce((sum, record) => sum + record.openUnits, 0);
    if (open !== inventory.reserved) {
      figures.i3Violations += 1;
      problem(`I3 ${entry.sku}: reserved ${inventory.reserved} ≠ Σ open ${open}`);
    }
    // I1: RESERVED never beyond stock; units sold beyond it are recorded as oversold.
    if (inventory.reserved > inventory.onHand && inventory.oversold === 0) {
      figures.i1Violations += 1;
      problem(`I1 ${entry.sku}: reserved ${inventory.reserved} > on_hand ${inventory.onHand} with nothing recorded oversold`);
    }
    // I4: the journal replays to the ledger (sums of deltas; a repair sets reserved absolutely).
    let onHand = 0;
    let reserved = 0;
    let oversold = 0;
    for (const line of journal) {
      onHand += line.dOnHand;
      reserved = line.cause === 'repair' ? line.reserved : reserved + line.dReserved;
      oversold += line.dOversold;
    }
    if (onHand !== inventory.onHand || reserved !== inventory.reserved || oversold !== inventory.oversold) {
      figures.i4Violations += 1;
      problem(`I4 ${entry.sku}: journal replays to on_hand ${onHand} reserved ${reserved} oversold ${oversold}, ledger has ${inventory.onHand}/${inventory.reserved}/${inventory.oversold}`);
    }
    // Exactly once for acknowledged WMS events: one journal entry each.
    const byEvent = new Map<string, number>();
    for (const line of journal) if (line.cause === 'ship' || line.cause === 'receipt') byEvent.set(line.event, (byEvent.get(line.event) ?? 0) + 1);
    let wmsLostToFailover = 0;
    for (const event of wmsBySku.get(entry.sku) ?? []) {
      const seen = byEvent.get(event.eventId) ?? 0;
      if (seen === 0 && lostToFailover({ sku: event.sku, atMs: event.ackedAtMs })) {
        figures.clusterFailovers.writesLostToFailover += 1;
        wmsLostToFailover += 1;
        problem(`lost to a master kill: WMS ${event.type} ${event.eventId} (${event.quantity} × ${event.sku}), acknowledged ${event.ackedAtMs}`);
      } else if (seen === 0) {
        figures.lost += 1;
        problem(`lost: WMS ${event.type} ${event.eventId} (${event.quantity} × ${event.sku})`);
      } else if (seen > 1) {
        figures.doubled += 1;
        problem(`doubled: WMS ${event.type} ${event.eventId} journaled ${seen} times`);
      }
    }
    // Conservation against the warehouse: every WMS event here was answered, or counted unacknowledged.
    if (figures.wmsUnacknowledged === 0 && wms.onHand(entry.sku) !== inventory.onHand) {
      // A WMS event a killed master took and never replicated leaves on_hand short of it.
      if (wmsLostToFailover > 0) figures.clusterFailovers.onHandMismatchesFromLostWrites += 1;
      else figures.onHandMismatches += 1;
      problem(`on_hand ${entry.sku}: ledger ${inventory.onHand}, warehouse ${wms.onHand(entry.sku)}`);
    }
    // Exactly once for channel orders: one record with the quantity, one reserve entry.
    const reserveEntries = new Map<string, number>();
    for (const line of journal) if (line.cause === 'reserve') reserveEntries.set(line.ref, (reserveEntries.get(line.ref) ?? 0) + 1);
    const byId = new Map(records.map((record) => [record.reservationId, record]));
    for (const record of records) {
      if (expectedIds.has(record.reservationId)) continue;
      figures.unexpectedReservations += 1;
      problem(`unexpected reservation ${record.reservationId} on ${entry.sku}`);
    }
    for (const order of ordersBySku.get(entry.sku) ?? []) {
      const id = reservationId(order.channel, order.orderId, order.lineId);
      const record = byId.get(id);
      if (!record || !record.reserveSeen) {
        const what = explainLost(order, record, reserveEntries.has(id));
        if (lostToFailover({ sku: order.sku, atMs: order.acceptedAtMs })) {
          figures.clusterFailovers.writesLostToFailover += 1;
          problem(`lost to a master kill: ${order.channel} order ${order.orderId} (${order.quantity} × ${order.sku}), accepted ${order.acceptedAtMs}; ${what}`);
        } else {
          figures.lost += 1;
          problem(`lost: ${order.channel} order ${order.orderId} (${order.quantity} × ${order.sku}), accepted ${order.acceptedAtMs}; ${what}`);
        }
        continue;
      }
      if ((reserveEntries.get(id) ?? 0) > 1) {
        figures.doubled += 1;
        problem(`doubled: ${id} has ${reserveEntries.get(id)} reserve entries`);
      }
      if (record.quantity !== order.quantity) {
        figures.wrongQuantity += 1;
        problem(`quantity: ${id} recorded ${record.quantity}, sold ${order.quantity}`);
      }
      if (order.cancelled && !record.cancelled && order.cancelledAtMs !== undefined && lostToFailover({ sku: order.sku, atMs: order.cancelledAtMs })) {
        figures.clusterFailovers.writesLostToFailover += 1;
        problem(`cancel lost to a master kill: ${id}, cancelled ${order.cancelledAtMs}`);
      } else if (order.cancelled !== record.cancelled) {
        figures.cancelMismatches += 1;
        problem(`cancel: ${id} cancelled on the channel ${order.cancelled}, in the ledger ${record.cancelled}`);
      }
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name);
    if (group) group.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}

/** `<channel>:<order id>` → reason, for every order event in the dead-letter stream. */
async function deadLetteredOrders(runtime: Runtime): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let after: string | undefined;
  for (;;) {
    const page = await listDeadLetters(runtime.redis, runtime.ledger.keys, { count: 500, ...(after === undefined ? {} : { after }) });
    if (page.length === 0) return found;
    after = page[page.length - 1]!.dlqId;
    for (const letter of page) {
      try {
        const event = JSON.parse(letter.event) as { channel?: unknown; orderId?: unknown };
        if (typeof event.channel === 'string' && typeof event.orderId === 'string') found.set(`${event.channel}:${event.orderId}`, letter.reason);
      } catch {
        // Not JSON: not an order event this check can name.
      }
    }
  }
}
