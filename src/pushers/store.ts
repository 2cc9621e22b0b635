// What the pushers keep in Redis, all in the SKU's slot (I7) and all theirs, never the
// ledger's fields:
//   <prefix>:pushed:{p<N>}:<SKU>     hash channel → JSON {quantity, atMs, version}: the last
//                                    push the channel acknowledged (what "changed" is
//                                    measured against)
//   <prefix>:pushstate:{p<N>}:<SKU>  hash: `sales` (JSON buckets of units sold per second
//                                    over the holdback window), `cursor` (last journal id
//                                    read), `dynamic_holdback` (units in force),
//                                    `applied:<channel>` (atMs of the last push the channel
//                                    confirmed in effect)
//   <prefix>:sale-latency     string JSON {p99Ms, samples, atMs}: the consumers' measured
//                             p99 sale-to-ledger latency
import type { SalesChannel } from '../catalog/entry.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { JournalEntry, Ledger } from '../ledger/ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import { readInventoryRecord } from '../ledger/inventoryRecord.ts';

export interface PushedLevel {
  quantity: number;
  /** When the channel acknowledged it (ms, our clock). */
  atMs: number;
  /** The ledger version the quantity was computed from. */
  version: number;
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
    private readonly reportHorizonMs = DEFAULT_REPORT_HORIZON_MS,
  ) {}

  /** What each channel last acknowledged for the SKU (the pushed-levels hash alone). */
  async pushed(sku: string): Promise<Partial<Record<SalesChannel, PushedLevel>>> {
    return pushedByChannel(await this.redis.hgetall(this.keys.pushedLevels(sku)));
  }

  /** Everything the coordinator needs about one SKU, read concurrently. */
  async view(sku: string): Promise<SkuPushView> {
    const [inventory, pushed, observed, state] = await Promise.all([
      readInventoryRecord(this.redis, this.keys, sku),
      this.redis.hgetall(this.keys.pushedLevels(sku)),
      this.ledger.observations(sku, 'channelLevels'),
      this.redis.hmget(this.keys.pushState(sku), 'sales', 'cursor', 'dynamic_holdback'),
    ]);
    const view: SkuPushView = {
      ledger:
        inventory === undefined
          ? undefined
          : { onHand: inventory.onHand, reserved: inventory.reserved, holdback: inventory.holdback, version: inventory.version, updatedMs: inventory.updatedMs, oversold: inventory.oversold },
      pushed: pushedByChannel(pushed),
      observed: {},
      state: { sales: parseSales(state[0]), cursor: state[1] ?? undefined, dynamicHoldback: Number(state[2] ?? 0) || 0 },
    };
    for (const channel of CHANNELS) {
      const report = observed[channel];
      if (report) view.observed[channel] = { quantity: report.quantity, observedAtMs: report.observedAtMs };
    }
    return view;
  }

  async recordPushed(sku: string, channel: SalesChannel, level: PushedLevel): Promise<void> {
    await this.redis.hset(this.keys.pushedLevels(sku), channel, JSON.stringify(level));
  }

  /**
   * Apply lag: the channel reported `observation` for the SKU (a fresh channel.level). When
   * it reports the quantity of the last push the channel acknowledged, and its time is not
   * before that acknowledgement (less `slackMs`: a channel with no apply lag applies before
   * we see its answer), that push is in effect: returns the lag in ms (never negative) and
   * remembers the push as confirmed, so a later echo of the same value is not counted again.
   * Undefined otherwise (no push, another value, already confirmed, an older report).
   * Two replicas confirming one push at the same instant may both count it (no lock): rare,
   * and only a metric.
   */
  async confirmApplied(sku: string, channel: SalesChannel, observation: { quantity: number; observedAtMs: number }, slackMs = 60_000): Promise<number | undefined> {
    const field = `applied:${channel}`;
    const [raw, confirmed] = await Promise.all([this.redis.hget(this.keys.pushedLevels(sku), channel), this.redis.hget(this.keys.pushState(sku), field)]);
    const pushed = parsePushed(raw ?? undefined);
    if (!pushed || pushed.quantity !== observation.quantity) return undefined;
    if (confirmed === String(pushed.atMs) || observation.observedAtMs < pushed.atMs - slackMs) return undefined;
    await this.redis.hset(this.keys.pushState(sku), field, String(pushed.atMs));
    return Math.max(0, observation.observedAtMs - pushed.atMs);
  }

  /**
   * Keeps every quantity a channel reported for the SKU (not only the newest, as the ledger's
   * observation does), for the bounded allocation: an absolute write is confirmed by the
   * report of its own value, which a later report (after a sale) must not hide. A repeat is
   * kept once. Bounded by time and count (keptReports). Field `alloc:reports:<channel>`.
   */
  async noteChannelReport(sku: string, channel: SalesChannel, report: ChannelReport): Promise<void> {
    const field = `alloc:reports:${channel}`;
    const reports = parseReports(await this.redis.hget(this.keys.pushState(sku), field));
    if (reports.some((known) => known.quantity === report.quantity && known.observedAtMs === report.observedAtMs)) return;
    reports.push(storedReport(report, false));
    reports.sort((a, b) => a.observedAtMs - b.observedAtMs);
    await this.redis.hset(this.keys.pushState(sku), field, JSON.stringify(keptReports(reports, this.reportHorizonMs)));
  }

  async channelReports(sku: string, channel: SalesChannel): Promise<ChannelReport[]> {
    return parseReports(await this.redis.hget(this.keys.pushState(sku), `alloc:reports:${channel}`));
  }

  async saveState(sku: string, state: PushState): Promise<void> {
    const fields: Array<string | number> = ['sales', JSON.stringify(state.sales), 'dynamic_holdback', state.dynamicHoldback];
    if (state.cursor !== undefined) fields.push('cursor', state.cursor);
    await this.redis.hset(this.keys.pushState(sku), ...fields);
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
   * Set on the oldest kept report when older ones were dropped (keptReports): what came
   * before it is unknown, so it cannot tell a write from a sale. The allocator reads it only
   * as the predecessor of the next report.
   */
  anchor?: true;
}

const REPORTS_KEPT = 64;

/** Six hours: above reportHorizonMs at the default lag bounds (2 × 70 min). */
const DEFAULT_REPORT_HORIZON_MS = 6 * 3_600_000;

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
  // older than an anchor arriving late does not know one either).
  const anchored = start > 0 || sorted.some((report) => report.anchor);
  return sorted.slice(start).map((report, index) => storedReport(report, index === 0 && anchored));
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

function parsePushed(raw: string | undefined): PushedLevel | undefined {
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { quantity, atMs, version } = parsed as Record<string, unknown>;
    return typeof quantity === 'number' && typeof atMs === 'number' ? { quantity, atMs, version: typeof version === 'number' ? version : 0 } : undefined;
  } catch {
    return undefined;
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

function pushedByChannel(stored: Record<string, string>): Partial<Record<SalesChannel, PushedLevel>> {
  const levels: Partial<Record<SalesChannel, PushedLevel>> = {};
  for (const channel of CHANNELS) {
    const level = parsePushed(stored[channel]);
    if (level) levels[channel] = level;
  }
  return levels;
}
