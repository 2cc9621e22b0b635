// One reconciliation run (design flow 6, docs/reconcile.md): pull the WMS snapshot page by
// page, compare each SKU's WMS on-hand with the ledger's on_hand *as of the snapshot*,
// correct what reaches the threshold through the journal (cause `reconcile`, the SKU is
// marked dirty so the pushers send the new value everywhere), repair a drifted `reserved`
// (I3), report the rest, and write a durable JSON report. One run at a time across
// replicas (RunLock). A dry run reads only: no lock, no ledger write, no report file.
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  compareOnHand,
  countComparison,
  emptyTotals,
  type ReconcileTotals,
  thresholdFor,
  type ThresholdsByClass,
  type VerdictReason,
} from '../domain/reconcile.ts';
import { assertSku } from '../domain/validate.ts';
import { isStockguardError, StockguardError } from '../errors.ts';
import type { Clock, Ledger } from '../ledger/ledger.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { scanInventorySkus } from '../ledger/inventoryRecord.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { RunLock } from './lock.ts';
import { type LedgerReading, readLedgerBatch } from './readLedger.ts';
import type { WmsAdapter } from './wms.ts';
import type { RedisClient } from '../redis/client.ts';

export interface ReconcileOptions {
  redis: RedisClient;
  ledger: Ledger;
  wms: WmsAdapter;
  thresholds: ThresholdsByClass;
  /**
   * Without a watermark: WMS changes the ledger applied this soon after the snapshot make a
   * discrepancy "unsettled", and the run waits this long after the snapshot. With one: the
   * clock skew allowed between the WMS and the ledger (docs/reconcile.md).
   */
  settleMs: number;
  /**
   * With a watermark: how long movements the snapshot includes may stay missing (pending)
   * before they count as lost and the SKU is corrected over them. Default 12 hours.
   */
  pendingMaxMs?: number;
  /** Where reports go; a dry run writes none. */
  reportDir: string;
  lockTtlMs: number;
  clock?: Clock;
  logger?: Logger;
  metrics?: Metrics;
  dryRun?: boolean;
  onProgress?: (progress: ReconcileProgress) => void;
  /** SKUs per ledger read pipeline (a WMS page is split into batches of this size). */
  batchSize?: number;
  /** Read pipelines in flight at once. */
  readConcurrency?: number;
  /** Entries kept per list in the report (discrepancies, repairs, WMS-only, ledger-only); totals count all. */
  reportListLimit?: number;
  /** How the run waits for the settle window (tests inject a no-op). */
  sleep?: (ms: number) => Promise<void>;
  /** How a batch of SKUs is read (the benchmark compares readers); readLedgerBatch by default. */
  readLedger?: typeof readLedgerBatch;
}

export interface ReconcileProgress {
  phase: 'comparing' | 'ledger-only' | 'done';
  pages: number;
  skus: number;
}

export type DiscrepancyAction = 'corrected' | 'would-correct' | 'reported' | 'unsettled' | 'failed';

/** A SKU whose snapshot includes WMS movements the ledger has not applied yet: not compared, not corrected. */
export interface PendingSku {
  sku: string;
  skuClass: string;
  wmsOnHand: number;
  /** The ledger's on_hand as of the watermark without the pending movements. */
  ledgerOnHandAsOf: number;
  /** The SKU's last movement number in the snapshot. */
  watermarkSeq: number;
  /** Every movement up to this one is applied (`wms_seq`). */
  appliedSeq: number;
  /** The first movement number still missing. */
  firstPendingSeq: number;
  /** When a run first found this movement missing (ISO 8601). */
  pendingSince: string;
}

export interface SkuDiscrepancy {
  sku: string;
  skuClass: string;
  wmsOnHand: number;
  /** The ledger's on_hand at the snapshot's as-of. */
  ledgerOnHandAsOf: number;
  /** The ledger's on_hand when read, and after the correction (the same when nothing was written). */
  onHandBefore: number;
  onHandAfter: number;
  delta: number;
  percent: number;
  action: DiscrepancyAction;
  /** `changed-during-run`: a missing movement arrived between the read and the correction, which was not made. */
  reason: VerdictReason | 'error' | 'changed-during-run';
  /** The SKU's last WMS movement number in the snapshot, when it has one (the watermark). */
  watermarkSeq?: number;
  /** The journal event id of the correction. */
  eventId?: string;
  error?: string;
}

export interface ReservedRepair {
  sku: string;
  reservedBefore: number;
  reservedAfter: number;
  /** 'repaired' (journaled with cause `repair`), or 'would-repair' on a dry run. */
  action: 'repaired' | 'would-repair' | 'failed';
  error?: string;
}

export interface ReconcileReport {
  format: 'stockguard-reconcile-report';
  version: 1;
  runId: string;
  dryRun: boolean;
  outcome: 'completed' | 'failed';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The WMS snapshot's time (of its first page). */
  asOf: string | null;
  pages: number;
  settleMs: number;
  thresholds: ThresholdsByClass;
  totals: ReconcileTotals;
  /** SKUs compared at a watermark (the rest used the settle window). */
  atWatermark: number;
  /** How long movements may stay pending before they count as lost (ms). */
  pendingMaxMs: number;
  discrepancies: SkuDiscrepancy[];
  /** SKUs whose snapshot includes movements the ledger has not applied yet. */
  pending: PendingSku[];
  reservedRepairs: ReservedRepair[];
  wmsOnly: { sku: string; wmsOnHand: number }[];
  ledgerOnly: { sku: string; onHand: number }[];
  invalidSkus: { sku: string; reason: string }[];
  /** True when a list above was cut at reportListLimit (the totals still count everything). */
  truncated: boolean;
  /** Where the time went: paging the WMS and comparing, then what was left of the SCAN for SKUs only the ledger has (it runs alongside) and their reads. */
  timings: { compareMs: number; ledgerOnlyMs: number };
  error?: { code: string; message: string };
  /** Where the report was written (absent on a dry run). */
  file?: string;
}

export type ReconcileResult = { outcome: 'already-running'; owner: string | null } | { outcome: 'completed' | 'failed'; report: ReconcileReport };

const DEFAULT_BATCH = 500;
const DEFAULT_READ_CONCURRENCY = 4;
const DEFAULT_LIST_LIMIT = 100_000;
const WRITE_CONCURRENCY = 32;
const DEFAULT_PENDING_MAX_MS = 12 * 3_600_000;

export async function reconcile(options: ReconcileOptions): Promise<ReconcileResult> {
  const clock = options.clock ?? Date.now;
  const startedMs = clock();
  const runId = `${compactIso(startedMs)}-${randomBytes(3).toString('hex')}`;
  const dryRun = options.dryRun ?? false;

  let lock: Awaited<ReturnType<RunLock['acquire']>> | undefined;
  if (!dryRun) {
    lock = await new RunLock(options.redis, options.ledger.keys.runLock('reconcile'), options.lockTtlMs).acquire(`reconcile:${runId}`);
    if (!lock.acquired) {
      options.logger?.info({ owner: lock.owner }, 'reconciliation already running elsewhere; this run does nothing');
      options.metrics?.reconcileRuns.inc({ outcome: 'already_running' });
      return { outcome: 'already-running', owner: lock.owner };
    }
  }
  const held = lock?.acquired ? lock.lock : undefined;
  const run = new Run(options, runId, dryRun, clock);
  const started = performance.now();
  let failure: unknown;
  try {
    await run.execute(() => {
      if (held && !held.held) {
        throw new StockguardError('STOCKGUARD_E_RECONCILE_RUNNING', `run ${runId} lost its lock (renewal failed); stopped before writing more`);
      }
    });
  } catch (error) {
    failure = error;
  } finally {
    await held?.release().catch(() => false);
  }
  const report = run.report(startedMs, clock(), performance.now() - started, failure);
  if (!dryRun) {
    try {
      report.file = writeReport(options.reportDir, report);
    } catch (error) {
      // The ledger writes are done and journaled; without its durable report the run still counts as failed.
      report.outcome = 'failed';
      report.error = { code: isStockguardError(error) ? error.code : 'UNEXPECTED', message: describe(error) };
    }
  }
  record(options, report);
  return { outcome: report.outcome, report };
}

class Run {
  readonly totals = emptyTotals();
  readonly discrepancies: SkuDiscrepancy[] = [];
  readonly pending: PendingSku[] = [];
  /** Pending SKUs of the last run (from Redis) and of this one: SKU → first pending movement and when first seen. */
  private pendingBefore = new Map<string, { seq: number; sinceMs: number }>();
  private readonly pendingNow = new Map<string, { seq: number; sinceMs: number }>();
  private atWatermark = 0;
  readonly repairs: ReservedRepair[] = [];
  readonly wmsOnly: { sku: string; wmsOnHand: number }[] = [];
  readonly ledgerOnly: { sku: string; onHand: number }[] = [];
  readonly invalid: { sku: string; reason: string }[] = [];
  private readonly seen = new Set<string>();
  private readonly limit: number;
  private truncated = false;
  private firstAsOfMs: number | undefined;
  private pages = 0;
  private settledFor: number | undefined;
  private compareMs = 0;
  private stopped = false;
  private ledgerOnlyMs = 0;

  constructor(
    private readonly options: ReconcileOptions,
    readonly runId: string,
    private readonly dryRun: boolean,
    private readonly clock: Clock,
  ) {
    this.limit = options.reportListLimit ?? DEFAULT_LIST_LIMIT;
  }

  async execute(checkLock: () => void): Promise<void> {
    const started = performance.now();
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH;
    const ledgerSkus = this.scanLedgerSkus();
    ledgerSkus.catch(() => undefined);
    this.pendingBefore = await this.loadPending();
    const pages = this.options.wms.snapshot()[Symbol.asyncIterator]();
    let next = pages.next();
    try {
      for (;;) {
        const current = await next;
        if (current.done) break;
        const page = current.value;
        // The WMS prepares the next page while this one is compared.
        next = pages.next();
        next.catch(() => undefined);
        checkLock();
        this.firstAsOfMs ??= page.asOfMs;
        // With a watermark on every SKU, the comparison is exact at once; the settle window is
        // for SKUs without one (docs/reconcile.md).
        if (page.items.some((item) => item.seq === undefined)) await this.waitForSettle(page.asOfMs);
        const valid: Row[] = [];
        for (const item of page.items) {
          const problem = skuProblem(item.sku) ?? (this.seen.has(item.sku) ? 'listed twice in the snapshot; the first row was used' : undefined);
          if (problem) {
            this.totals.invalidSkus += 1;
            this.push(this.invalid, { sku: item.sku, reason: problem });
            continue;
          }
          this.seen.add(item.sku);
          valid.push({ sku: item.sku, wmsOnHand: item.onHand, seq: item.seq });
        }
        const batches: (() => Promise<void>)[] = [];
        for (let from = 0; from < valid.length; from += batchSize) {
          const batch = valid.slice(from, from + batchSize);
          batches.push(async () => {
            const readings = await (this.options.readLedger ?? readLedgerBatch)(this.options.redis, this.options.ledger.keys, batch.map((row) => row.sku), {
              asOfMs: page.asOfMs,
              settleEndMs: page.asOfMs + this.options.settleMs,
              watermarks: batch.map((row) => row.seq),
              clockSkewMs: this.options.settleMs,
            });
            checkLock();
            await this.compareBatch(batch, readings);
          });
        }
        // A few pipelines in flight keep Redis busy while this process encodes and decodes the others.
        await runLimited(batches, this.options.readConcurrency ?? DEFAULT_READ_CONCURRENCY);
        this.pages += 1;
        this.options.onProgress?.({ phase: 'comparing', pages: this.pages, skus: this.seen.size });
      }
    } catch (error) {
      this.stopped = true;
      // What this run learnt about pending SKUs still counts; the ones it did not reach keep theirs.
      await this.savePending(false).catch(() => undefined);
      throw error;
    } finally {
      await pages.return?.();
    }
    await this.savePending(true);
    this.compareMs = performance.now() - started;
    await this.ledgerOnlySkus(await ledgerSkus, checkLock, batchSize);
    this.ledgerOnlyMs = performance.now() - started - this.compareMs;
    this.options.onProgress?.({ phase: 'done', pages: this.pages, skus: this.seen.size + this.totals.ledgerOnly });
  }

  /**
   * Waits until the settle window after the snapshot has passed, so that WMS events the
   * warehouse applied before its snapshot, and that were still on their way, are in the
   * ledger before it is compared (docs/reconcile.md, "as of").
   */
  private async waitForSettle(asOfMs: number): Promise<void> {
    if (this.settledFor === asOfMs) return;
    this.settledFor = asOfMs;
    const wait = Math.min(this.options.settleMs, asOfMs + this.options.settleMs - this.clock());
    if (wait > 0) await (this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))))(wait);
  }

  private async compareBatch(batch: readonly Row[], readings: readonly LedgerReading[]): Promise<void> {
    const writes: (() => Promise<void>)[] = [];
    batch.forEach((row, index) => {
      const reading = readings[index]!;
      if (!reading.exists) {
        this.totals.wmsOnly += 1;
        this.push(this.wmsOnly, { sku: row.sku, wmsOnHand: row.wmsOnHand });
        return;
      }
      const skuClass = reading.skuClass ?? 'default';
      const sequence = reading.sequence;
      const gap = sequence && sequence.firstPending > 0 ? this.pendingGap(row.sku, sequence.firstPending) : undefined;
      if (sequence) this.atWatermark += 1;
      const comparison = compareOnHand({
        wmsOnHand: row.wmsOnHand,
        ledgerOnHandAsOf: reading.onHand - reading.onHandChangesAfter,
        threshold: thresholdFor(this.options.thresholds, skuClass),
        wmsChangesInSettleWindow: reading.wmsChangesInSettleWindow,
        countAfter: reading.countAfter ?? false,
        firstPendingSeq: sequence?.firstPending ?? 0,
        pendingExpired: gap !== undefined && this.clock() - gap.sinceMs >= (this.options.pendingMaxMs ?? DEFAULT_PENDING_MAX_MS),
      });
      countComparison(this.totals, comparison);
      if (gap && comparison.verdict === 'pending') {
        this.pendingNow.set(row.sku, gap);
        this.push(this.pending, {
          sku: row.sku,
          skuClass,
          wmsOnHand: row.wmsOnHand,
          ledgerOnHandAsOf: comparison.ledgerOnHandAsOf,
          watermarkSeq: row.seq!,
          appliedSeq: sequence!.applied,
          firstPendingSeq: gap.seq,
          pendingSince: new Date(gap.sinceMs).toISOString(),
        });
      } else if (comparison.verdict !== 'match') {
        const discrepancy: SkuDiscrepancy = {
          sku: row.sku,
          skuClass,
          wmsOnHand: row.wmsOnHand,
          ledgerOnHandAsOf: comparison.ledgerOnHandAsOf,
          onHandBefore: reading.onHand,
          onHandAfter: reading.onHand,
          delta: comparison.delta,
          percent: Math.round(comparison.percent * 100) / 100,
          action: comparison.verdict === 'correct' ? (this.dryRun ? 'would-correct' : 'corrected') : comparison.verdict === 'report' ? 'reported' : 'unsettled',
          reason: comparison.reason,
          ...(row.seq === undefined ? {} : { watermarkSeq: row.seq }),
        };
        this.push(this.discrepancies, discrepancy);
        if (comparison.verdict === 'correct' && !this.dryRun) {
          // Over a gap, the correction covers the missing movements (one that still arrives
          // then leaves on_hand alone); only if the SKU's record is still the one read.
          const cover = comparison.reason === 'lost-wms-events' && sequence ? { watermark: row.seq!, expected: { applied: sequence.applied, ahead: sequence.ahead } } : undefined;
          writes.push(() => this.correct(discrepancy, cover));
        }
      }
      if (reading.reserved !== reading.openUnits) writes.push(() => this.repair(reading));
    });
    await runLimited(writes, WRITE_CONCURRENCY);
  }

  private async correct(discrepancy: SkuDiscrepancy, cover?: { watermark: number; expected: { applied: number; ahead: string } }): Promise<void> {
    // Idempotent per run: a retry of this run's correction is a DUPLICATE, never a second delta.
    const eventId = `reconcile:${this.runId}:${discrepancy.sku}`;
    discrepancy.eventId = eventId;
    const undo = () => {
      this.totals.corrected -= 1;
      this.totals.unitsCorrected -= Math.abs(discrepancy.delta);
      this.totals.netUnitsCorrected -= discrepancy.delta;
    };
    try {
      if (cover) {
        const result = await this.options.ledger.coverWmsGap(discrepancy.sku, { eventId, delta: discrepancy.delta, ...cover });
        if (result.status === LedgerStatus.STALE) {
          // A missing movement arrived after the read: the next run compares again.
          undo();
          this.totals.unsettled += 1;
          discrepancy.action = 'unsettled';
          discrepancy.reason = 'changed-during-run';
          delete discrepancy.eventId;
          return;
        }
        discrepancy.onHandAfter = result.inventory.onHand;
        return;
      }
      const result = await this.options.ledger.adjust(discrepancy.sku, { eventId, delta: discrepancy.delta, cause: 'reconcile' });
      discrepancy.onHandAfter = result.inventory.onHand;
    } catch (error) {
      undo();
      discrepancy.action = 'failed';
      discrepancy.reason = 'error';
      discrepancy.error = describe(error);
      this.options.logger?.warn({ sku: discrepancy.sku, err: error }, 'reconciliation could not correct a SKU');
    }
  }

  private async repair(reading: LedgerReading): Promise<void> {
    this.totals.reservedRepairs += 1;
    if (this.dryRun) {
      this.push(this.repairs, { sku: reading.sku, reservedBefore: reading.reserved, reservedAfter: reading.openUnits, action: 'would-repair' });
      return;
    }
    try {
      const result = await this.options.ledger.repairReserved(reading.sku, `reconcile:${this.runId}`);
      if (result.status === LedgerStatus.UNCHANGED) {
        // Repaired meanwhile by someone else: nothing drifted any more.
        this.totals.reservedRepairs -= 1;
        return;
      }
      this.push(this.repairs, { sku: reading.sku, reservedBefore: result.reservedBefore, reservedAfter: result.inventory.reserved, action: 'repaired' });
    } catch (error) {
      this.push(this.repairs, { sku: reading.sku, reservedBefore: reading.reserved, reservedAfter: reading.reserved, action: 'failed', error: describe(error) });
    }
  }

  /**
   * Every SKU the ledger has (its field in an `inv` bucket), by SCAN, run alongside the comparison: the
   * SCAN walks every key under the prefix, and Redis has spare time while this process
   * compares. SKUs the comparison already saw are dropped as it goes.
   */
  private async scanLedgerSkus(): Promise<string[]> {
    const keys = this.options.ledger.keys;
    // One newline-joined string per SCAN reply (SKUs hold no control characters): a million
    // separate SKU strings would cost this process ~100 MB more while the comparison runs.
    const chunks: string[] = [];
    for await (const found of scanInventorySkus(this.options.redis, keys, 5000)) {
      if (this.stopped) break;
      const unseen = found.filter((sku) => !this.seen.has(sku));
      if (unseen.length > 0) chunks.push(unseen.join('\n'));
    }
    return chunks.flatMap((chunk) => chunk.split('\n').filter((sku) => !this.seen.has(sku)));
  }

  /** SKUs the ledger has and the WMS did not list: reported (never zeroed), and their `reserved` checked too. */
  private async ledgerOnlySkus(candidates: readonly string[], checkLock: () => void, batchSize: number): Promise<void> {
    const keys = this.options.ledger.keys;
    const asOfMs = this.firstAsOfMs ?? this.clock();
    const skus = candidates.filter((sku) => !this.seen.has(sku));
    for (let from = 0; from < skus.length; from += batchSize) {
      const readings = await (this.options.readLedger ?? readLedgerBatch)(this.options.redis, keys, skus.slice(from, from + batchSize), { asOfMs, settleEndMs: asOfMs });
      checkLock();
      const writes: (() => Promise<void>)[] = [];
      for (const reading of readings) {
        if (!reading.exists) continue;
        this.totals.ledgerOnly += 1;
        this.push(this.ledgerOnly, { sku: reading.sku, onHand: reading.onHand });
        if (reading.reserved !== reading.openUnits) writes.push(() => this.repair(reading));
      }
      await runLimited(writes, WRITE_CONCURRENCY);
      this.options.onProgress?.({ phase: 'ledger-only', pages: this.pages, skus: this.seen.size + this.totals.ledgerOnly });
    }
  }

  /** The SKU's pending gap: since when this run or an earlier one has seen movement `firstPending` missing. */
  private pendingGap(sku: string, firstPending: number): { seq: number; sinceMs: number } {
    const before = this.pendingBefore.get(sku);
    return before && before.seq === firstPending ? before : { seq: firstPending, sinceMs: this.clock() };
  }

  private async loadPending(): Promise<Map<string, { seq: number; sinceMs: number }>> {
    const stored = await this.options.redis.hgetall(this.options.ledger.keys.reconcilePending());
    const pending = new Map<string, { seq: number; sinceMs: number }>();
    for (const [sku, value] of Object.entries(stored)) {
      const match = /^(\d+):(\d+)$/.exec(value);
      if (match) pending.set(sku, { seq: Number(match[1]), sinceMs: Number(match[2]) });
    }
    return pending;
  }

  /**
   * Remembers when each pending SKU was first seen pending, for the next run. A completed
   * run replaces the record (SKUs no longer pending leave it); a run that stopped part-way
   * only adds what it saw. A dry run writes nothing.
   */
  private async savePending(complete: boolean): Promise<void> {
    if (this.dryRun) return;
    const key = this.options.ledger.keys.reconcilePending();
    const fields = [...this.pendingNow].flatMap(([sku, gap]) => [sku, `${gap.seq}:${gap.sinceMs}`]);
    if (!complete) {
      if (fields.length > 0) await this.options.redis.hset(key, ...fields);
      return;
    }
    const transaction = this.options.redis.multi().del(key);
    if (fields.length > 0) transaction.hset(key, ...fields);
    await transaction.exec();
  }

  private push<T>(list: T[], item: T): void {
    if (list.length < this.limit) list.push(item);
    else this.truncated = true;
  }

  report(startedMs: number, finishedMs: number, durationMs: number, failure: unknown): ReconcileReport {
    const report: ReconcileReport = {
      format: 'stockguard-reconcile-report',
      version: 1,
      runId: this.runId,
      dryRun: this.dryRun,
      outcome: failure === undefined ? 'completed' : 'failed',
      startedAt: new Date(startedMs).toISOString(),
      finishedAt: new Date(finishedMs).toISOString(),
      durationMs: Math.round(durationMs),
      asOf: this.firstAsOfMs === undefined ? null : new Date(this.firstAsOfMs).toISOString(),
      pages: this.pages,
      settleMs: this.options.settleMs,
      thresholds: this.options.thresholds,
      totals: this.totals,
      atWatermark: this.atWatermark,
      pendingMaxMs: this.options.pendingMaxMs ?? DEFAULT_PENDING_MAX_MS,
      discrepancies: this.discrepancies,
      pending: this.pending,
      reservedRepairs: this.repairs,
      wmsOnly: this.wmsOnly,
      ledgerOnly: this.ledgerOnly,
      invalidSkus: this.invalid,
      truncated: this.truncated,
      timings: { compareMs: Math.round(this.compareMs), ledgerOnlyMs: Math.round(this.ledgerOnlyMs) },
    };
    if (failure !== undefined) {
      report.error = { code: isStockguardError(failure) ? failure.code : 'UNEXPECTED', message: describe(failure) };
    }
    return report;
  }
}

/** One WMS row to compare: `seq` is the SKU's watermark when the WMS gives one. */
interface Row {
  sku: string;
  wmsOnHand: number;
  seq: number | undefined;
}

function skuProblem(sku: string): string | undefined {
  try {
    assertSku(sku);
    return undefined;
  } catch (error) {
    return describe(error);
  }
}

/** Writes the report next to its siblings: to a temporary name first, so a reader never sees half a file. */
function writeReport(directory: string, report: ReconcileReport): string {
  try {
    mkdirSync(directory, { recursive: true });
    const file = join(directory, `reconcile-${report.runId}.json`);
    writeFileSync(`${file}.partial`, `${JSON.stringify({ ...report, file }, null, 2)}\n`);
    renameSync(`${file}.partial`, file);
    return file;
  } catch (error) {
    throw new StockguardError('STOCKGUARD_E_FILE', `cannot write the reconciliation report to ${directory}: ${describe(error)}`, { cause: error });
  }
}

function record(options: ReconcileOptions, report: ReconcileReport): void {
  const { metrics, logger } = options;
  const summary = {
    runId: report.runId,
    dryRun: report.dryRun,
    outcome: report.outcome,
    asOf: report.asOf,
    durationMs: report.durationMs,
    ...report.totals,
    report: report.file,
    error: report.error,
  };
  if (report.outcome === 'completed') logger?.info(summary, report.dryRun ? 'reconciliation dry run finished' : 'reconciliation finished');
  else logger?.error(summary, 'reconciliation failed');
  if (!metrics || report.dryRun) return;
  metrics.reconcileRuns.inc({ outcome: report.outcome });
  metrics.reconcileLastRun.set(Date.parse(report.finishedAt) / 1000);
  metrics.reconcileLastSuccess.set(report.outcome === 'completed' ? 1 : 0);
  metrics.reconcileLastDuration.set(report.durationMs / 1000);
  metrics.reconcileDiscrepancies.inc({ action: 'corrected' }, report.totals.corrected);
  metrics.reconcileDiscrepancies.inc({ action: 'reported' }, report.totals.reported);
  metrics.reconcileDiscrepancies.inc({ action: 'unsettled' }, report.totals.unsettled);
  metrics.reconcilePendingSkus.set(report.totals.pending);
  metrics.reconcileUnitsCorrected.inc(report.totals.unitsCorrected);
  metrics.reconcileReservedRepairs.inc(report.totals.reservedRepairs);
}

/**
 * Runs the tasks, `limit` at a time. After a failure no new task starts, and the error is
 * thrown only once the tasks in flight have finished: nothing writes after the run has
 * given up its lock.
 */
async function runLimited(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    for (let index = next++; index < tasks.length && !failed; index = next++) {
      try {
        await tasks[index]!();
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  const rejected = settled.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (rejected) throw rejected.reason;
}

function compactIso(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
