// The ledger's public API. It validates input before anything is written, runs one Lua
// script per SKU, turns script statuses into coded errors, and adds changed SKUs to the
// dirty index the pushers read.
import { StockguardError } from '../errors.ts';
import { assertId, assertQuantity, assertSku } from '../domain/validate.ts';
import type { InventorySnapshot } from './decode.ts';
import { KeySpace } from '../redis/keys.ts';
import { type AdjustCause, adjustOnHand } from './operations/adjustOnHand.ts';
import type { Clock, ScriptContext } from './operations/context.ts';
import { countOnHand } from './operations/countOnHand.ts';
import { type CoverGapInput, coverWmsGap } from './operations/coverWmsGap.ts';
import { createSku } from './operations/createSku.ts';
import { releaseReservation } from './operations/releaseReservation.ts';
import { type ReserveLineResult, type ReserveMode, reserveOrder } from './operations/reserveOrder.ts';
import { setHoldback } from './operations/setHoldback.ts';
import { shipReservation } from './operations/shipReservation.ts';
import { recordObservation } from './operations/recordObservation.ts';
import { decodeChannelState, isPackableName } from '../domain/channelState.ts';
import { repairReserved } from './operations/repairReserved.ts';
import { reservationId } from './reservationId.ts';
import type { RedisClient } from '../redis/client.ts';
import type { ReplicaWait } from '../redis/topology.ts';
import { JOURNAL_TRIM_GRACE_MS } from './journalTrimmer.ts';
import { readInventoryRecord } from './inventoryRecord.ts';
import { LedgerStatus, type ReservationState } from './status.ts';

export type { InventorySnapshot } from './decode.ts';
export type { Clock } from './operations/context.ts';

export interface LedgerOptions {
  redis: RedisClient;
  keyPrefix: string;
  clock?: Clock;
  /** STOCKGUARD_JOURNAL_RETENTION_DAYS in ms (default 3 days); the scripts trim JOURNAL_TRIM_GRACE_MS later. */
  journalRetentionMs?: number;
  /** How long event marks and closed reservation records are kept (default 5 days; docs/operations.md). */
  dedupeHorizonMs?: number;
  /**
   * Set: every change of a SKU's stock record (the ledger scripts on its inventory bucket)
   * resolves only once this many replicas have it, and throws STOCKGUARD_E_NOT_REPLICATED
   * otherwise (STOCKGUARD_REDIS_WAIT_REPLICAS; docs/operations.md, "Redis Cluster"). The
   * consumers then leave the entry unacknowledged; the scripts are idempotent, so applying it
   * again is a duplicate when the change survived.
   */
  replicaWait?: ReplicaWait;
}

export interface OrderLine {
  lineId: string;
  sku: string;
  quantity: number;
}

export interface Order {
  channel: string;
  orderId: string;
  lines: readonly OrderLine[];
  /** When the channel took the order (ms); a line the ledger has no record of is refused as stale outside the dedupe horizon. Default: now. */
  eventAtMs?: number;
}

export interface OrderLineResult extends ReserveLineResult {
  sku: string;
  lineId: string;
}

export interface ReservationRecord {
  reservationId: string;
  quantity: number;
  held: number;
  shipped: number;
  shortfall: number;
  reserveSeen: boolean;
  cancelled: boolean;
  /** Units this record currently holds in `reserved`. */
  openUnits: number;
  state: ReservationState;
}

export interface JournalEntry {
  id: string;
  cause: string;
  event: string;
  ref: string;
  dOnHand: number;
  dReserved: number;
  dOversold: number;
  dHoldback: number;
  onHand: number;
  reserved: number;
  atMs: number;
  /** The WMS movement number of the event, when the WMS sent one (docs/wms.md, "Watermark"). */
  seq?: number;
}

export type ChangeResult<S extends LedgerStatus> = { status: S; inventory: InventorySnapshot };

/** Partition journal entries read per XRANGE when picking one SKU's out. */
const JOURNAL_READ_PAGE = 1_000;

/** STOCKGUARD_JOURNAL_RETENTION_DAYS's default (docs/configuration.md). */
const DEFAULT_RETENTION_MS = 3 * 86_400_000;
/** The default dedupe horizon (STOCKGUARD_EVENT_HORIZON_SECONDS's): SQS's default retention and the WMS contract's 4 days, plus one (docs/operations.md). */
export const DEFAULT_DEDUPE_HORIZON_MS = 5 * 86_400_000;

export class Ledger {
  readonly keys: KeySpace;
  private readonly redis: RedisClient;
  private readonly clock: Clock;
  private readonly journalRetentionMs: number;
  private readonly dedupeHorizonMs: number;
  private readonly replicaWait: ReplicaWait | undefined;
  private dirtyBatch: { members: Map<string, number>; written: Promise<void> } | undefined;

  constructor(options: LedgerOptions) {
    this.redis = options.redis;
    this.keys = new KeySpace(options.keyPrefix);
    this.clock = options.clock ?? Date.now;
    // The scripts trim the partition journal on every change of one of its SKUs, one grace
    // behind the trimmer, which writes entries to the audit trail before it trims them
    // (journalTrimmer.ts).
    this.journalRetentionMs = (options.journalRetentionMs ?? DEFAULT_RETENTION_MS) + JOURNAL_TRIM_GRACE_MS;
    this.dedupeHorizonMs = options.dedupeHorizonMs ?? DEFAULT_DEDUPE_HORIZON_MS;
    this.replicaWait = options.replicaWait;
  }

  /** Starts a SKU's ledger at on_hand 0; a SKU that exists is left alone. */
  /**
   * Starts the SKU's ledger (on_hand 0), or does nothing when it exists (EXISTS). With
   * `initial`, a new SKU's first stock is counted in the same atomic call (a `count` journal
   * entry under `initial.eventId`, no event mark: a SKU that exists ignores it).
   */
  async createSku(sku: string, initial?: { counted: number; eventId: string }): Promise<ChangeResult<LedgerStatus.CREATED | LedgerStatus.EXISTS>> {
    if (initial !== undefined) {
      assertQuantity('counted', initial.counted, 'nonNegative');
      assertId('eventId', initial.eventId);
    }
    const reply = await createSku(this.context(sku), initial);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('createSku', sku);
    if (reply.status === LedgerStatus.CREATED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * Reserves every line of one order. Lines are grouped by SKU and each SKU is one atomic
   * call, so lines of the same SKU are checked together (I1). SKUs are independent: one
   * SKU can be oversold while another is reserved. All input is validated before anything
   * is written; a line for an unknown SKU raises STOCKGUARD_E_UNKNOWN_SKU after the other
   * SKUs were applied, and replaying the order once the SKU exists applies the rest
   * (the applied lines come back DUPLICATE).
   */
  async reserveOrder(order: Order): Promise<OrderLineResult[]> {
    const { results, unknown } = await this.reserveBySku(order, 'sale');
    if (unknown.length > 0) throw unknownSku(unknown, { orderId: order.orderId });
    const stale = results.lines.filter((line) => line.status === LedgerStatus.STALE);
    if (stale.length > 0) throw staleEvent(`order ${order.orderId} (lines ${stale.map((line) => line.lineId).join(', ')})`, order.eventAtMs ?? this.clock(), this.dedupeHorizonMs);
    return results.lines;
  }

  /**
   * A checkout's hold (the synchronous reservation API): all-or-nothing across the whole
   * order. Each SKU is checked without writing when it is short; if any SKU is short, the
   * lines already held on the other SKUs are released again and `held` is false, with what
   * each line would have got. Unknown SKUs raise STOCKGUARD_E_UNKNOWN_SKU, holding nothing.
   */
  async holdOrder(order: Order): Promise<{ held: boolean; lines: OrderLineResult[] }> {
    const { results, unknown, insufficient } = await this.reserveBySku(order, 'hold');
    if (unknown.length > 0 || insufficient) {
      const fresh = results.lines.filter((line) => line.status === LedgerStatus.RESERVED && results.created.has(`${line.sku}\u0000${line.reservationId}`));
      for (const line of fresh) await this.release(line.sku, line.reservationId);
      if (unknown.length > 0) throw unknownSku(unknown, { orderId: order.orderId });
    }
    return { held: !insufficient, lines: results.lines };
  }

  private async reserveBySku(order: Order, mode: ReserveMode) {
    assertId('channel', order.channel);
    assertId('orderId', order.orderId);
    if (order.lines.length === 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `order ${order.orderId} has no lines`);
    }
    const bySku = new Map<string, { lineId: string; reservationId: string; quantity: number }[]>();
    const seen = new Set<string>();
    for (const line of order.lines) {
      assertSku(line.sku);
      assertId('lineId', line.lineId);
      assertQuantity(`quantity of line ${line.lineId}`, line.quantity, 'positive');
      const id = reservationId(order.channel, order.orderId, line.lineId);
      // A bundle line reserves each component under the same id, one per SKU's hash.
      if (seen.has(`${line.sku}\u0000${id}`)) {
        throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `line id ${line.lineId} appears twice for SKU ${line.sku} in order ${order.orderId}`);
      }
      seen.add(`${line.sku}\u0000${id}`);
      const group = bySku.get(line.sku) ?? [];
      group.push({ lineId: line.lineId, reservationId: id, quantity: line.quantity });
      bySku.set(line.sku, group);
    }

    const byId = new Map<string, OrderLineResult>();
    const created = new Set<string>();
    const unknown: string[] = [];
    const changed: string[] = [];
    let insufficient = false;
    await Promise.all(
      [...bySku].map(async ([sku, lines]) => {
        const reply = await reserveOrder(this.context(sku), lines, mode, mode === 'sale' ? order.eventAtMs : undefined);
        if (reply.status === LedgerStatus.UNKNOWN_SKU) return void unknown.push(sku);
        if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('reserveOrder', sku);
        if (reply.status === LedgerStatus.INSUFFICIENT) insufficient = true;
        lines.forEach((line, index) => {
          const result = reply.lines[index]!;
          byId.set(`${sku}\u0000${line.reservationId}`, { ...result, sku, lineId: line.lineId });
          if (reply.status === LedgerStatus.OK && result.status !== LedgerStatus.DUPLICATE) created.add(`${sku}\u0000${line.reservationId}`);
        });
        if (reply.status === LedgerStatus.OK && reply.lines.some((line) => line.status !== LedgerStatus.DUPLICATE)) changed.push(sku);
      }),
    );
    await this.markDirty(changed);
    const lines = order.lines
      .map((line) => byId.get(`${line.sku}\u0000${reservationId(order.channel, order.orderId, line.lineId)}`))
      .filter((line): line is OrderLineResult => line !== undefined);
    return { results: { lines, created }, unknown, insufficient };
  }

  /**
   * Cancels one order line before it ships; idempotent. `eventAtMs`: the cancellation's own
   * time; with no record of the line it is refused as stale outside the dedupe horizon.
   */
  async release(sku: string, id: string, eventAtMs?: number): Promise<{ status: LedgerStatus.RELEASED | LedgerStatus.PENDING | LedgerStatus.DUPLICATE; released: number; inventory: InventorySnapshot }> {
    assertId('reservationId', id);
    const reply = await releaseReservation(this.context(sku), id, eventAtMs);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('releaseReservation', sku);
    if (reply.status === LedgerStatus.STALE) throw staleEvent(`cancellation of ${id}`, eventAtMs ?? this.clock(), this.dedupeHorizonMs);
    const { status } = reply;
    if (status !== LedgerStatus.DUPLICATE) await this.markDirty([sku]);
    return { status, released: reply.released, inventory: reply.inventory };
  }

  /**
   * The WMS shipped (or picked) units of a reservation; idempotent on the shipment id. `seq`:
   * the WMS movement number (docs/wms.md). `eventAtMs`: the shipment's own time; with no mark
   * of it, it is refused as stale (STOCKGUARD_E_STALE_EVENT) outside the dedupe horizon.
   */
  async ship(sku: string, shipment: { shipmentId: string; reservationId: string; quantity: number; seq?: number; eventAtMs?: number }) {
    assertId('shipmentId', shipment.shipmentId);
    assertId('reservationId', shipment.reservationId);
    assertQuantity('quantity', shipment.quantity, 'positive');
    assertMovementNumber(shipment.seq);
    const reply = await shipReservation(this.context(sku), shipment);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('shipReservation', sku);
    if (reply.status === LedgerStatus.CONFLICT) throw conflict(shipment.shipmentId);
    if (reply.status === LedgerStatus.STALE) throw staleEvent(`shipment ${shipment.shipmentId}`, shipment.eventAtMs ?? this.clock(), this.dedupeHorizonMs);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * A receipt (delta > 0) or adjustment (either sign); idempotent on the WMS event id. `seq`:
   * the WMS movement number (docs/wms.md). `eventAtMs`: the event's own time; with no mark of
   * it, it is refused as stale (STOCKGUARD_E_STALE_EVENT) outside the dedupe horizon.
   */
  async adjust(sku: string, adjustment: { eventId: string; delta: number; cause: AdjustCause; seq?: number; eventAtMs?: number }) {
    assertId('eventId', adjustment.eventId);
    assertQuantity('delta', adjustment.delta, 'nonZero');
    assertMovementNumber(adjustment.seq);
    if (adjustment.cause === 'reconcile' && adjustment.seq !== undefined) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', 'a reconciliation correction carries no WMS movement number; use coverWmsGap to cover missing movements');
    }
    if (adjustment.cause === 'receipt' && adjustment.delta < 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `a receipt must add stock, got delta ${adjustment.delta}; send a negative change as an adjustment`);
    }
    const reply = await adjustOnHand(this.context(sku), adjustment);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('adjustOnHand', sku);
    if (reply.status === LedgerStatus.CONFLICT) throw conflict(adjustment.eventId);
    if (reply.status === LedgerStatus.STALE) throw staleEvent(`WMS event ${adjustment.eventId}`, adjustment.eventAtMs ?? this.clock(), this.dedupeHorizonMs);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * A cycle count: on_hand becomes what was counted, journaled as the delta. `seq`: the WMS
   * movement number (docs/wms.md). `eventAtMs`: as for adjust.
   */
  async count(sku: string, count: { eventId: string; counted: number; seq?: number; eventAtMs?: number }) {
    assertId('eventId', count.eventId);
    assertQuantity('counted', count.counted, 'nonNegative');
    assertMovementNumber(count.seq);
    const reply = await countOnHand(this.context(sku), count);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('countOnHand', sku);
    if (reply.status === LedgerStatus.CONFLICT) throw conflict(count.eventId);
    if (reply.status === LedgerStatus.STALE) throw staleEvent(`WMS event ${count.eventId}`, count.eventAtMs ?? this.clock(), this.dedupeHorizonMs);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * A reconciliation correction over WMS movements the ledger never received
   * (docs/reconcile.md, "Pending and lost movements"): on_hand moves by `delta` and every
   * movement number up to `watermark` counts as covered, so a covered movement arriving
   * later does not move on_hand again. STALE (nothing written) when the SKU's record of
   * applied numbers changed since the reconciliation read it.
   */
  async coverWmsGap(sku: string, cover: CoverGapInput) {
    assertId('eventId', cover.eventId);
    if (!Number.isSafeInteger(cover.delta)) throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `delta must be a whole number, got ${String(cover.delta)}`);
    assertMovementNumber(cover.watermark);
    const reply = await coverWmsGap(this.context(sku), cover);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('coverWmsGap', sku);
    if (reply.status === LedgerStatus.CONFLICT) throw conflict(cover.eventId);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * Recomputes `reserved` from the open reservation records and repairs it when it drifted
   * (I3), journaled with cause `repair`. Returns the value before and after.
   */
  async repairReserved(sku: string, eventId: string) {
    assertId('eventId', eventId);
    const reply = await repairReserved(this.context(sku), eventId);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('repairReserved', sku);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /** Sets the static holdback withheld from every channel. */
  async setHoldback(sku: string, holdback: number, eventId = 'holdback') {
    assertQuantity('holdback', holdback, 'nonNegative');
    assertId('eventId', eventId);
    const reply = await setHoldback(this.context(sku), holdback, eventId);
    if (reply.status === LedgerStatus.UNKNOWN_SKU) throw unknownSku([sku]);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('setHoldback', sku);
    if (reply.status === LedgerStatus.APPLIED) await this.markDirty([sku]);
    return reply;
  }

  /**
   * Remembers the newest level a channel reported for the SKU (drift detection input).
   * Returns false when a newer observation is already stored (out-of-order delivery).
   * The event id is checked, not kept: the newest observation wins by its time, and nothing
   * read the id back (docs/ledger.md, "Channel observations").
   */
  async recordChannelLevel(sku: string, channel: string, observation: { quantity: number; observedAtMs: number; eventId: string }): Promise<boolean> {
    return this.observe(sku, 'O', channel, observation);
  }

  /** Remembers Amazon's FBA fulfillable stock per marketplace: informational, never pushed. */
  async recordFbaStock(sku: string, marketplaceId: string, observation: { quantity: number; observedAtMs: number; eventId: string }): Promise<boolean> {
    return this.observe(sku, 'F', marketplaceId, observation);
  }

  /** channel (or marketplace) → newest observation, from the SKU's packed channel state (its `chan` bucket field). */
  async observations(sku: string, kind: 'channelLevels' | 'fbaStock'): Promise<Record<string, { quantity: number; observedAtMs: number }>> {
    const state = decodeChannelState(await this.redis.hget(this.keys.skuBucket('chan', sku), sku));
    return kind === 'channelLevels' ? state.observed : state.fba;
  }

  private async observe(sku: string, kind: 'O' | 'F', field: string, observation: { quantity: number; observedAtMs: number; eventId: string }): Promise<boolean> {
    assertId('eventId', observation.eventId);
    assertId('field', field);
    if (!Number.isSafeInteger(observation.quantity) || !Number.isSafeInteger(observation.observedAtMs) || observation.observedAtMs < 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `an observation needs whole numbers (a time ≥ 0), got quantity ${observation.quantity} at ${observation.observedAtMs}`);
    }
    if (!isPackableName(field)) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `a channel or marketplace must be shopify, amazon or 2–64 of A-Z a-z 0-9 _ -, got ${JSON.stringify(field)}`);
    }
    const reply = await recordObservation(this.redis, this.keys.skuBucket('chan', sku), sku, { kind, field, quantity: observation.quantity, observedAtMs: observation.observedAtMs });
    if (reply.status === LedgerStatus.BAD_ARGUMENT) throw badArgument('recordObservation', `${sku} ${field}`);
    return reply.status === LedgerStatus.APPLIED;
  }

  /** The SKU's ledger numbers, or undefined for a SKU the ledger does not know. */
  async inventory(sku: string): Promise<InventorySnapshot | undefined> {
    const record = await readInventoryRecord(this.redis, this.keys, sku);
    if (record === undefined) return undefined;
    return { onHand: record.onHand, reserved: record.reserved, holdback: record.holdback, oversold: record.oversold, version: record.version };
  }

  /** True when the SKU has a record for this reservation id (open, closed or pending). */
  async hasReservation(sku: string, id: string): Promise<boolean> {
    return (await this.redis.hexists(this.keys.sku(sku).reservations, id)) === 1;
  }

  /** Every reservation record of the SKU (open and closed). */
  async reservations(sku: string): Promise<ReservationRecord[]> {
    const raw = await this.redis.hgetall(this.keys.sku(sku).reservations);
    return Object.entries(raw)
      .map(([id, encoded]) => decodeReservationRecord(id, encoded))
      .sort((a, b) => a.reservationId.localeCompare(b.reservationId));
  }

  /**
   * Journal entries of the SKU, oldest first, optionally only those after a stream id, at
   * most `count` of them. The journal is the SKU's layout partition's: its pages are read
   * (JOURNAL_READ_PAGE entries at a time) and the SKU's entries kept, so a read costs the
   * partition's entries after `afterId`, not only the SKU's.
   */
  async journal(sku: string, options: { afterId?: string; count?: number } = {}): Promise<JournalEntry[]> {
    const key = this.keys.sku(sku).journal;
    const wanted = options.count ?? Number.POSITIVE_INFINITY;
    const entries: JournalEntry[] = [];
    let start = options.afterId ? `(${options.afterId}` : '-';
    while (entries.length < wanted) {
      const page = await this.redis.xrange(key, start, '+', 'COUNT', JOURNAL_READ_PAGE);
      for (const [id, fields] of page) {
        if (entrySku(fields) === sku) entries.push(decodeJournalEntry(id, fields));
        if (entries.length >= wanted) break;
      }
      if (page.length < JOURNAL_READ_PAGE) break;
      start = `(${page[page.length - 1]![0]}`;
    }
    return entries;
  }

  /** Asks the pushers to look at the SKU again (a channel report that confirms a write frees slack). */
  touch(sku: string): Promise<void> {
    return this.markDirty([sku]);
  }

  /**
   * Adds SKUs to the dirty index the pushers drain (NX keeps the time of the first change).
   * Calls made in the same turn of the event loop share one ZADD: under a burst, replies
   * to many pipelined scripts arrive together, and one command instead of one per order
   * halved the client CPU per reservation (docs/benchmarks.md). Every caller still waits
   * until its SKUs are in the index.
   */
  private markDirty(skus: readonly string[]): Promise<void> {
    if (skus.length === 0) return Promise.resolve();
    const now = this.clock();
    if (!this.dirtyBatch) {
      const members = new Map<string, number>();
      const written = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.dirtyBatch = undefined;
        await this.redis.zadd(this.keys.dirtySkus(), 'NX', ...[...members].flatMap(([sku, at]) => [at, sku]));
      });
      this.dirtyBatch = { members, written };
    }
    for (const sku of skus) if (!this.dirtyBatch.members.has(sku)) this.dirtyBatch.members.set(sku, now);
    return this.dirtyBatch.written;
  }

  private context(sku: string): ScriptContext {
    return { redis: this.redis, sku, keys: this.keys.sku(sku), nowMs: this.clock(), journalRetentionMs: this.journalRetentionMs, dedupeHorizonMs: this.dedupeHorizonMs, replicaWait: this.replicaWait };
  }
}

export function decodeReservationRecord(reservationId: string, encoded: string): ReservationRecord {
  const record = JSON.parse(encoded) as { q: number; h: number; sh: number; sf: number; r: number; c: number };
  const reserveSeen = record.r === 1;
  const cancelled = record.c === 1;
  const openUnits = reserveSeen && !cancelled ? Math.max(0, record.h - record.sh) : 0;
  const state: ReservationState = cancelled
    ? LedgerStatus.CANCELLED
    : !reserveSeen
      ? LedgerStatus.PENDING
      : record.sh >= record.q
        ? LedgerStatus.SHIPPED
        : record.sf > 0
          ? LedgerStatus.OVERSOLD
          : LedgerStatus.RESERVED;
  return {
    reservationId,
    quantity: record.q,
    held: record.h,
    shipped: record.sh,
    shortfall: record.sf,
    reserveSeen,
    cancelled,
    openUnits,
    state,
  };
}

/** The `sku` field of a raw journal entry (field, value, …), or undefined. */
function entrySku(fields: readonly string[]): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'sku') return fields[i + 1];
  return undefined;
}

function decodeJournalEntry(id: string, fields: string[]): JournalEntry {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i]!, fields[i + 1]!);
  const num = (name: string) => Number(map.get(name) ?? 0);
  return {
    id,
    cause: map.get('cause') ?? '',
    event: map.get('event') ?? '',
    ref: map.get('ref') ?? '',
    dOnHand: num('d_on_hand'),
    dReserved: num('d_reserved'),
    dOversold: num('d_oversold'),
    dHoldback: num('d_holdback'),
    onHand: num('on_hand'),
    reserved: num('reserved'),
    atMs: num('at_ms'),
    ...(map.has('seq') ? { seq: num('seq') } : {}),
  };
}

function unknownSku(skus: string[], details: Record<string, unknown> = {}): StockguardError {
  return new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', skus.map((sku) => JSON.stringify(sku)).join(', '), {
    details: { ...details, skus },
  });
}

/** A WMS movement number (docs/wms.md, "Watermark"): absent, or a whole number from 1 to 2^53 − 1. */
function assertMovementNumber(seq: number | undefined): void {
  if (seq !== undefined && (!Number.isSafeInteger(seq) || seq < 1)) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `a WMS movement number (seq) is a whole number ≥ 1, got ${String(seq)}`);
  }
}

/** An event the ledger has no mark of, whose own time lies outside the dedupe horizon: applying it could apply it twice. */
function staleEvent(what: string, eventAtMs: number, horizonMs: number): StockguardError {
  return new StockguardError(
    'STOCKGUARD_E_STALE_EVENT',
    `${what}: its time ${new Date(eventAtMs).toISOString()} lies outside the dedupe horizon of ${horizonMs / 86_400_000} days, so the ledger can no longer tell whether it was applied; nothing was changed`,
    { details: { eventAtMs, horizonMs } },
  );
}

function conflict(eventId: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_CONFLICT', `event id ${JSON.stringify(eventId)} was applied before with other content, or its WMS movement number (seq) was applied under another event id`, {
    details: { eventId },
  });
}

// The wrapper validates everything the script checks, so this means the two disagree.
function badArgument(script: string, sku: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `${script} refused the arguments for SKU ${JSON.stringify(sku)}`);
}
