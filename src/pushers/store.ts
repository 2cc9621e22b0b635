// What the pushers keep in Redis, all in the SKU's slot (I7) and all theirs, never the
// ledger's fields:
//   <prefix>:chan-bucket:{p<N>}:<bucket>  field <SKU>: the SKU's packed channel state
//                                    (src/domain/channelState.ts), shared with the ledger's
//                                    observations: per channel the last push it acknowledged
//                                    (quantity, atMs, version; what "changed" is measured
//                                    against) and whether a report confirmed it in effect.
//                                    Written only by Lua (recordPushed.lua, confirmApplied.lua,
//                                    the ledger's recordObservation.lua): one field, many writers.
//   <prefix>:pushstate:{p<N>}:<SKU>  hash of transient state: `sales` (JSON buckets of units
//                                    sold per second over the holdback window), `cursor` (last
//                                    journal id read), `dynamic_holdback` (units in force),
//                                    `alloc:*` (the bounded allocation, allocator.ts, and the
//                                    absolute-write channels' reports). Fields with nothing in
//                                    them are deleted, and every write restarts the key's idle
//                                    expiry (pushStateWrite.ts): a SKU at rest has no such key.
//   <prefix>:sale-latency     string JSON {p99Ms, samples, atMs}: the consumers' measured
//                             p99 sale-to-ledger latency
import type { SalesChannel } from '../catalog/entry.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { JournalEntry, Ledger } from '../ledger/ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import { readInventoryRecord } from '../ledger/inventoryRecord.ts';
import { type ChannelState, decodeChannelState } from '../domain/channelState.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { StockguardError } from '../errors.ts';
import { confirmApplied, recordPushed } from './channelStateScripts.ts';
import { WRITE_KINDS } from './allocator.ts';
import { DEFAULT_PUSH_STATE_HORIZON_MS, writePushState } from './pushStateWrite.ts';

export interface PushedLevel {
  quantity: number;
  /** When the channel acknowledged it (ms, our clock). */
  atMs: number;
  /** The ledger version the quantity was computed from. */
  version: number;
  /** A report of this push's value was seen after it (`Q`): it was in effect. Read only. */
  applied?: boolean;
}

export interface LedgerNumbers {
  onHand: number;
  reserved: number;
  holdback: number;
  version: number;
  /** The ledger's last change (updated_ms). */
  updatedMs: number;
  /** Units recorded oversold on the SKU so far (what a budget:N mode has used up). */
  oversold: number;
}

export interface PushState {
  sales: Array<[number, number]>;
  cursor: string | undefined;
  dynamicHoldback: number;
}

export interface SkuPushView {
  ledger: LedgerNumbers | undefined;
  pushed: Partial<Record<SalesChannel, PushedLevel>>;
  observed: Partial<Record<SalesChannel, { quantity: number; observedAtMs: number }>>;
  state: PushState;
}

export interface SaleLatencyReport {
  p99Ms: number;
  samples: number;
  atMs: number;
}

const CHANNELS: readonly SalesChannel[] = ['shopify', 'amazon'];

export class PushStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: KeySpace,
    private readonly ledger: Ledger,
    /** Reports older than this behind the newest are dropped (reportHorizonMs in index.ts). */
    private readonly reportHorizonMs = DEFAULT_PUSH_STATE_HORIZON_MS,
    /** The pushstate hash expires this long after its last write (pushStateHorizonMs in index.ts; never below reportHorizonMs). */
    readonly idleMs = reportHorizonMs,
  ) {
    this.idleMs = Math.max(idleMs, reportHorizonMs);
  }

  /** The SKU's packed channel state (its `chan` bucket field): pushed levels and observations. */
  async channelState(sku: string): Promise<ChannelState> {
    return decodeChannelState(await this.redis.hget(this.keys.skuBucket('chan', sku), sku));
  }

  /** What each channel last acknowledged for the SKU. */
  async pushed(sku: string): Promise<Partial<Record<SalesChannel, PushedLevel>>> {
    return pushedByChannel(await this.channelState(sku));
  }

  /** Everything the coordinator needs about one SKU, read concurrently. */
  async view(sku: string): Promise<SkuPushView> {
    const [inventory, channelState, state] = await Promise.all([
      readInventoryRecord(this.redis, this.keys, sku),
      this.channelState(sku),
      this.redis.hmget(this.keys.pushState(sku), 'sales', 'cursor', 'dynamic_holdback'),
    ]);
    const view: SkuPushView = {
      ledger:
        inventory === undefined
          ? undefined
          : { onHand: inventory.onHand, reserved: inventory.reserved, holdback: inventory.holdback, version: inventory.version, updatedMs: inventory.updatedMs, oversold: inventory.oversold },
      pushed: pushedByChannel(channelState),
      observed: {},
      state: { sales: parseSales(state[0]), cursor: state[1] ?? undefined, dynamicHoldback: Number(state[2] ?? 0) || 0 },
    };
    for (const channel of CHANNELS) {
      const report = channelState.observed[channel];
      if (report) view.observed[channel] = { quantity: report.quantity, observedAtMs: report.observedAtMs };
    }
    return view;
  }

  async recordPushed(sku: string, channel: SalesChannel, level: PushedLevel): Promise<void> {
    const reply = await recordPushed(this.redis, this.keys.skuBucket('chan', sku), sku, channel, level);
    if (reply.status === LedgerStatus.BAD_ARGUMENT) {
      throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `recordPushed refused ${channel} ${JSON.stringify(level)} for SKU ${JSON.stringify(sku)} (or its channel state is not packed channel state)`);
    }
  }

  /**
   * Apply lag: the channel reported `observation` for the SKU (a fresh channel.level). When
   * it reports the quantity of the last push the channel acknowledged, and its time is not
   * before that acknowledgement (less `slackMs`: a channel with no apply lag applies before
   * we see its answer), that push is in effect: returns the lag in ms (never negative) and
   * marks the push confirmed in the SKU's channel state, so a later echo of the same value
   * is not counted again. Undefined otherwise (no push, another value, already confirmed,
   * an older report). Check and mark are one script (confirmApplied.lua): two replicas
   * seeing one report count it once.
   */
  async confirmApplied(sku: string, channel: SalesChannel, observation: { quantity: number; observedAtMs: number }, slackMs = 60_000): Promise<number | undefined> {
    const reply = await confirmApplied(this.redis, this.keys.skuBucket('chan', sku), sku, channel, observation, slackMs);
    return reply.status === LedgerStatus.APPLIED ? reply.lagMs : undefined;
  }

  /**
   * Keeps every quantity a channel reported for the SKU (not only the newest, as the ledger's
   * observation does), for the bounded allocation: an absolute write is confirmed by the
   * report of its own value, which a later report (after a sale) must not hide. A repeat is
   * kept once. Bounded by time and count (keptReports). Field `alloc:reports:<channel>`.
   *
   * Only for absolute-write channels (Amazon): the allocator reads no other channel's
   * reports (a compare-and-set channel is confirmed by its own write answers).
   *
   * With no report stored, the report is the first one kept. It is taken as the channel's
   * very first (unambiguous: it may confirm a pending write of its value) only when the
   * SKU's channel state shows no earlier report from the channel either: no other
   * observation, no push confirmed by a report. Otherwise the reports before it expired with
   * the pushstate key (idle horizon) or were never kept: its predecessor is unknown, so it
   * is stored as an anchor (see ChannelReport.anchor). The ledger records the observation
   * before the consumers note the report, so the observation equal to this report is itself.
   */
  async noteChannelReport(sku: string, channel: SalesChannel, report: ChannelReport): Promise<void> {
    if (WRITE_KINDS[channel] !== 'absolute') return;
    const field = `alloc:reports:${channel}`;
    const key = this.keys.pushState(sku);
    const reports = parseReports(await this.redis.hget(key, field));
    if (reports.some((known) => known.quantity === report.quantity && known.observedAtMs === report.observedAtMs)) return;
    const anchor = report.anchor === true || (reports.length === 0 && reportedBefore(await this.channelState(sku), channel, report));
    reports.push(storedReport(report, anchor));
    reports.sort((a, b) => a.observedAtMs - b.observedAtMs);
    await writePushState(this.redis, key, this.idleMs, { set: [field, JSON.stringify(keptReports(reports, this.reportHorizonMs))] });
  }

  async channelReports(sku: string, channel: SalesChannel): Promise<ChannelReport[]> {
    return parseReports(await this.redis.hget(this.keys.pushState(sku), `alloc:reports:${channel}`));
  }

  /**
   * Saves the dynamic holdback's state. What is empty is deleted rather than written: an
   * emptied window (`sales` []), no dynamic holdback (0), and then the cursor too, so a SKU
   * at rest keeps no pushstate key for it (docs/pushers.md, "Channel state"). Dropping the
   * cursor with an empty window loses nothing: updateDynamicHoldback never reads from before
   * the window, and a sale after the cursor would be in the window. Also deletes the
   * `applied:<channel>` fields of layout 3 (the confirmation is now a flag of the pushed
   * level in the SKU's channel state). Restarts the key's idle expiry (writePushState).
   */
  async saveState(sku: string, state: PushState): Promise<void> {
    const key = this.keys.pushState(sku);
    const fields: Array<string | number> = [];
    const emptied: string[] = ['applied:shopify', 'applied:amazon'];
    if (state.sales.length > 0) fields.push('sales', JSON.stringify(state.sales));
    else emptied.push('sales');
    if (state.dynamicHoldback !== 0) fields.push('dynamic_holdback', state.dynamicHoldback);
    else emptied.push('dynamic_holdback');
    if (state.cursor !== undefined && (state.sales.length > 0 || state.dynamicHoldback !== 0)) fields.push('cursor', state.cursor);
    else emptied.push('cursor');
    await writePushState(this.redis, key, this.idleMs, { delete: emptied, set: fields });
  }

  /** Journal entries after `afterId` (exclusive), oldest first, at most `count`. */
  journalAfter(sku: string, afterId: string, count: number): Promise<JournalEntry[]> {
    return this.ledger.journal(sku, { afterId, count });
  }

  async saleLatency(): Promise<SaleLatencyReport | undefined> {
    const raw = await this.redis.get(this.keys.saleToLedgerLatency());
    if (!raw) return undefined;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== 'object' || parsed === null) return undefined;
      const { p99Ms, samples, atMs } = parsed as Record<string, unknown>;
      return typeof p99Ms === 'number' && typeof samples === 'number' && typeof atMs === 'number' ? { p99Ms, samples, atMs } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Written by the consumers' process; expires so a stopped consumer fleet is noticed. */
  async publishSaleLatency(report: SaleLatencyReport, ttlMs: number): Promise<void> {
    await this.redis.set(this.keys.saleToLedgerLatency(), JSON.stringify(report), 'PX', ttlMs);
  }
}

export interface ChannelReport {
  quantity: number;
  /** The channel's own time for it (EventTime). */
  observedAtMs: number;
  /**
   * Set on the oldest kept report when older ones were dropped (keptReports), and on the
   * first report kept after the earlier ones expired with the pushstate key
   * (noteChannelReport): what came before it is unknown, so it cannot tell a write from a
   * sale. The allocator reads it only as the predecessor of the next report. Once set it
   * stays (a late report older than it does not make its predecessor known).
   */
  anchor?: true;
}

const REPORTS_KEPT = 64;

/**
 * The reports worth keeping, oldest first: those within `horizonMs` of the newest, plus the
 * newest one before them (the allocator reads a report's predecessor to tell a raise from a
 * sale), at most REPORTS_KEPT. Without the time bound a SKU that is rarely pushed kept 64
 * reports per channel for ever (the soak's push_state grew every day).
 */
export function keptReports(sorted: readonly ChannelReport[], horizonMs: number): ChannelReport[] {
  const newest = sorted[sorted.length - 1];
  if (!newest) return [];
  const firstRecent = sorted.findIndex((report) => report.observedAtMs >= newest.observedAtMs - horizonMs);
  const start = Math.max(0, firstRecent - 1, sorted.length - REPORTS_KEPT);
  // Once anything was dropped, the oldest kept report has no known predecessor (a report
  // older than an anchor arriving late does not know one either, and the anchor stays one:
  // reports between the two may have expired unseen).
  const anchored = start > 0 || sorted.some((report) => report.anchor);
  return sorted.slice(start).map((report, index) => storedReport(report, (index === 0 && anchored) || report.anchor === true));
}

/**
 * Whether the channel reported the SKU before `report`, by its channel state: an observation
 * other than this report, or a push a report confirmed in effect (`Q`).
 */
export function reportedBefore(state: ChannelState, channel: SalesChannel, report: ChannelReport): boolean {
  if (state.pushed[channel]?.applied) return true;
  const observed = state.observed[channel];
  return observed !== undefined && (observed.observedAtMs !== report.observedAtMs || observed.quantity !== report.quantity);
}

/** A report as stored: its two numbers, and `anchor` only where it is set. */
function storedReport(report: ChannelReport, anchor: boolean): ChannelReport {
  return anchor ? { quantity: report.quantity, observedAtMs: report.observedAtMs, anchor: true } : { quantity: report.quantity, observedAtMs: report.observedAtMs };
}

function parseReports(raw: string | null | undefined): ChannelReport[] {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    return parsed
      .filter((report: unknown): report is ChannelReport => typeof report === 'object' && report !== null && typeof (report as ChannelReport).quantity === 'number' && typeof (report as ChannelReport).observedAtMs === 'number')
      .map((report) => storedReport(report, report.anchor === true));
  } catch {
    return [];
  }
}

function parseSales(raw: string | null | undefined): Array<[number, number]> {
  if (!raw) return [];
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) return [];
    return parsed.filter((bucket: unknown): bucket is [number, number] => Array.isArray(bucket) && bucket.length === 2 && typeof bucket[0] === 'number' && typeof bucket[1] === 'number');
  } catch {
    return [];
  }
}

function pushedByChannel(state: ChannelState): Partial<Record<SalesChannel, PushedLevel>> {
  const levels: Partial<Record<SalesChannel, PushedLevel>> = {};
  for (const channel of CHANNELS) {
    const level = state.pushed[channel];
    if (level) levels[channel] = { quantity: level.quantity, atMs: level.atMs, version: level.version, ...(level.applied ? { applied: true } : {}) };
  }
  return levels;
}
