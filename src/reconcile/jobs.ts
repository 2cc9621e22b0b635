// Reconciliation and snapshots wired to the configuration: what `stockguard reconcile`,
// `stockguard snapshot` and the daemon's schedules (role `reconcile`) call.
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import cron, { type RunCoordinator, type ScheduledTask } from 'node-cron';
import type { Config } from '../config.ts';
import { StockguardError } from '../errors.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Runtime } from '../main.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { RunLock } from './lock.ts';
import { reconcile, type ReconcileProgress, type ReconcileResult } from './reconcile.ts';
import { type SnapshotProgress, type SnapshotSummary, writeSnapshot } from './snapshot.ts';
import { HttpWmsAdapter, type WmsAdapter } from './wms.ts';

/** The configured WMS stock API; STOCKGUARD_E_CONFIG names what is missing. */
export function wmsAdapterFrom(config: Config, logger?: Logger): WmsAdapter {
  const missing = [config.wms.url === undefined ? 'STOCKGUARD_WMS_URL' : '', config.wms.token === undefined ? 'STOCKGUARD_WMS_TOKEN' : ''].filter(Boolean);
  if (missing.length > 0) {
    throw new StockguardError('STOCKGUARD_E_CONFIG', `reconciliation needs the WMS stock API: set ${missing.join(' and ')} (docs/wms.md, "Stock snapshots")`, {
      details: { variables: missing },
    });
  }
  return new HttpWmsAdapter({
    baseUrl: config.wms.url!,
    token: config.wms.token!,
    pageSize: config.wms.pageSize,
    timeoutMs: config.wms.timeoutMs,
    retries: config.wms.retries,
    onRetry: (attempt, reason) => logger?.warn({ attempt, reason }, 'WMS stock page failed; retrying'),
  });
}

export interface RunReconciliationOptions {
  dryRun?: boolean;
  wms?: WmsAdapter;
  logger?: Logger;
  metrics?: Metrics;
  clock?: Clock;
  onProgress?: (progress: ReconcileProgress) => void;
}

export function runReconciliation(runtime: Runtime, options: RunReconciliationOptions = {}): Promise<ReconcileResult> {
  const { config } = runtime;
  return reconcile({
    redis: runtime.redis,
    ledger: runtime.ledger,
    wms: options.wms ?? wmsAdapterFrom(config, options.logger),
    thresholds: config.reconcile.thresholds,
    settleMs: config.reconcile.settleMs,
    reportDir: config.reconcile.reportDir,
    lockTtlMs: config.reconcile.lockTtlMs,
    pendingMaxMs: config.reconcile.pendingMaxMs,
    clock: options.clock,
    logger: options.logger,
    metrics: options.metrics,
    dryRun: options.dryRun,
    onProgress: options.onProgress,
  });
}

/** `<dir>/stockguard-<prefix>-<UTC time>.jsonl.gz` */
export function snapshotFileName(config: Config, atMs: number): string {
  const stamp = new Date(atMs).toISOString().replace(/[-:]/g, '').replace(/\.(\d+)Z$/, '$1Z');
  return join(config.snapshots.dir, `stockguard-${config.keyPrefix}-${stamp}.jsonl.gz`);
}

export function takeSnapshot(runtime: Runtime, options: { file?: string; clock?: Clock; onProgress?: (progress: SnapshotProgress) => void } = {}): Promise<SnapshotSummary> {
  const clock = options.clock ?? Date.now;
  return writeSnapshot({
    redis: runtime.redis,
    keys: runtime.ledger.keys,
    file: options.file ?? snapshotFileName(runtime.config, clock()),
    clock,
    onProgress: options.onProgress,
  });
}

/** Keeps the newest `keep` scheduled snapshots of the prefix in the directory (names sort by time). */
export function pruneSnapshots(config: Config): string[] {
  const pattern = new RegExp(`^stockguard-${config.keyPrefix.replace(/[.]/g, '\\.')}-\\d{8}T\\d{9}Z\\.jsonl\\.gz$`);
  let names: string[];
  try {
    names = readdirSync(config.snapshots.dir).filter((name) => pattern.test(name)).sort();
  } catch {
    return [];
  }
  const removed = names.slice(0, Math.max(0, names.length - config.snapshots.keep));
  for (const name of removed) rmSync(join(config.snapshots.dir, name), { force: true });
  return removed;
}

export interface ScheduledJobs {
  /** Stops the schedules and waits (up to the deadline) for a job in progress. */
  stop(deadlineMs: number): Promise<void>;
}

/**
 * The daemon's schedules: reconciliation (STOCKGUARD_RECONCILE_SCHEDULE, daily by default)
 * and snapshots (STOCKGUARD_SNAPSHOT_SCHEDULE, off unless set). Every replica with the
 * `reconcile` role schedules them; for each time slot one replica wins the slot in Redis
 * (node-cron run coordination) and the others skip it, and the run itself holds the
 * reconciliation lock, so an operator's `stockguard reconcile` cannot overlap it either.
 */
export function startScheduledJobs(options: { runtime: Runtime; logger: Logger; metrics: Metrics; clock?: Clock }): ScheduledJobs {
  const { runtime, logger, metrics } = options;
  const { config } = runtime;
  const tasks: ScheduledTask[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const track = (job: Promise<unknown>) => {
    inFlight.add(job);
    void job.finally(() => inFlight.delete(job));
    return job;
  };
  // A slot mark outlives clock skew between replicas and the run itself; it names the slot, so it never blocks the next one.
  const coordinator: RunCoordinator = {
    async shouldRun(key) {
      return (await runtime.redis.set(runtime.ledger.keys.scheduledSlot(key), `${process.pid}`, 'PX', 6 * 3_600_000, 'NX')) === 'OK';
    },
  };
  const common = { timezone: config.reconcile.timezone, distributed: true, runCoordinator: coordinator, noOverlap: true } as const;

  if (config.wms.url === undefined || config.wms.token === undefined) {
    logger.warn('STOCKGUARD_WMS_URL or STOCKGUARD_WMS_TOKEN is not set: scheduled reconciliation is off');
  } else {
    const wms = wmsAdapterFrom(config, logger);
    tasks.push(
      cron.schedule(
        config.reconcile.schedule,
        () =>
          track(
            runReconciliation(runtime, { wms, logger: logger.child({ part: 'reconcile' }), metrics, clock: options.clock }).catch((error: unknown) => {
              metrics.reconcileRuns.inc({ outcome: 'failed' });
              logger.error({ err: error }, 'scheduled reconciliation failed');
            }),
          ),
        { ...common, name: `stockguard-reconcile-${config.keyPrefix}` },
      ),
    );
    logger.info({ schedule: config.reconcile.schedule, timezone: config.reconcile.timezone }, 'reconciliation scheduled');
  }

  if (config.snapshots.schedule !== undefined) {
    const lock = new RunLock(runtime.redis, runtime.ledger.keys.runLock('snapshot'), config.reconcile.lockTtlMs);
    tasks.push(
      cron.schedule(
        config.snapshots.schedule,
        () => track(scheduledSnapshot(runtime, lock, logger, metrics, options.clock)),
        { ...common, name: `stockguard-snapshot-${config.keyPrefix}` },
      ),
    );
    logger.info({ schedule: config.snapshots.schedule, dir: config.snapshots.dir, keep: config.snapshots.keep }, 'snapshots scheduled');
  }

  return {
    async stop(deadlineMs) {
      for (const task of tasks) await task.destroy();
      if (inFlight.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...inFlight]), new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
      clearTimeout(timer);
    },
  };
}

async function scheduledSnapshot(runtime: Runtime, lock: RunLock, logger: Logger, metrics: Metrics, clock: Clock | undefined): Promise<void> {
  const taken = await lock.acquire('snapshot').catch(() => undefined);
  if (!taken?.acquired) {
    metrics.snapshots.inc({ outcome: 'skipped' });
    return;
  }
  try {
    const summary = await takeSnapshot(runtime, { clock });
    const removed = pruneSnapshots(runtime.config);
    metrics.snapshots.inc({ outcome: 'written' });
    metrics.snapshotLast.set(Date.now() / 1000);
    logger.info({ ...summary, removed }, 'snapshot written');
  } catch (error) {
    metrics.snapshots.inc({ outcome: 'failed' });
    logger.error({ err: error }, 'scheduled snapshot failed');
  } finally {
    await taken.lock.release().catch(() => false);
  }
}
