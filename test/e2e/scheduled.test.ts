// The daemon's schedules (role `reconcile`): two replicas with the same every-second
// schedule run each time slot once between them, and scheduled snapshots are written,
// verifiable, and pruned to STOCKGUARD_SNAPSHOT_KEEP.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/daemon.ts';
import type { ReconcileReport } from '../../src/reconcile/reconcile.ts';
import { verifySnapshot } from '../../src/reconcile/snapshot.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const TOKEN = 'wms-stock-token-0123456789';
const test = suite('scheduled reconciliation and snapshots');
let redis: TestRedis;
let directory: string;

test.before(async () => {
  redis = await startTestRedis();
  directory = mkdtempSync(join(tmpdir(), 'sg-scheduled-'));
});
test.after(async () => {
  await redis.close();
  rmSync(directory, { recursive: true, force: true });
});

async function waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

test('two replicas on the same schedule: every time slot is reconciled once, not twice', async () => {
  const wms = await WmsFake.start({ token: TOKEN });
  wms.seed([['SCHED-1', 5]]);
  const reportDir = join(directory, 'reports');
  const env = (name: string) =>
    loadConfig({
      REDIS_URL: redis.url,
      STOCKGUARD_KEY_PREFIX: redis.prefix,
      STOCKGUARD_ROLES: 'reconcile',
      STOCKGUARD_CONSUMER_NAME: name,
      STOCKGUARD_WMS_URL: wms.url,
      STOCKGUARD_WMS_TOKEN: TOKEN,
      STOCKGUARD_RECONCILE_SCHEDULE: '* * * * * *',
      STOCKGUARD_RECONCILE_SETTLE_MS: '0',
      STOCKGUARD_RECONCILE_REPORT_DIR: reportDir,
    });
  const replicas = await Promise.all(['replica-a', 'replica-b'].map((name) => startDaemon({ config: env(name), logger: pino({ level: 'silent' }) })));
  try {
    await replicas[0]!.runtime.ledger.createSku('SCHED-1');
    await replicas[0]!.runtime.ledger.count('SCHED-1', { eventId: 'initial', counted: 5 });
    const reports = () => {
      try {
        return readdirSync(reportDir).filter((name) => name.endsWith('.json'));
      } catch {
        return [];
      }
    };
    await waitFor('three scheduled runs', () => reports().length >= 3);
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await wms.close();
  }
  const runs = readdirSync(reportDir)
    .filter((name) => name.endsWith('.json'))
    .map((name) => JSON.parse(readFileSync(join(reportDir, name), 'utf8')) as ReconcileReport);
  for (const run of runs) assert.is(run.outcome, 'completed', JSON.stringify(run.error));
  // Each time slot is won by one replica in Redis (the slot mark), and only the winner runs it.
  const marks = (await redis.client().keys(`${redis.prefix}:schedule:stockguard-reconcile-*`)).length;
  const started = await Promise.all(replicas.map(async (replica) => (await replica.metrics.reconcileRuns.get()).values.reduce((sum, value) => sum + value.value, 0)));
  assert.ok(marks >= 3);
  assert.is(started[0]! + started[1]!, marks, `runs over both replicas = slots won (${marks}); a second run of a slot would exceed it`);
  const completed = await Promise.all(replicas.map(async (replica) => (await replica.metrics.reconcileRuns.get()).values.find((value) => value.labels.outcome === 'completed')?.value ?? 0));
  assert.is(completed[0]! + completed[1]!, runs.length, 'every completed run left one report');
});

test('scheduled snapshots are written, verify, and only the newest STOCKGUARD_SNAPSHOT_KEEP stay', async () => {
  const snapshotDir = join(directory, 'snapshots');
  const config = loadConfig({
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: redis.prefix,
    STOCKGUARD_ROLES: 'reconcile',
    STOCKGUARD_SNAPSHOT_SCHEDULE: '* * * * * *',
    STOCKGUARD_SNAPSHOT_DIR: snapshotDir,
    STOCKGUARD_SNAPSHOT_KEEP: '2',
  });
  const daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  const written = async () => (await daemon.metrics.snapshots.get()).values.find((value) => value.labels.outcome === 'written')?.value ?? 0;
  try {
    const deadline = Date.now() + 20_000;
    while ((await written()) < 3) {
      if (Date.now() > deadline) throw new Error('timed out waiting for three scheduled snapshots');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await daemon.stop();
  }
  const files = readdirSync(snapshotDir).filter((name) => name.endsWith('.jsonl.gz'));
  assert.is(files.length, 2, files.join(', '));
  for (const file of files) {
    assert.match(file, new RegExp(`^stockguard-${redis.prefix}-\\d{8}T\\d{9}Z\\.jsonl\\.gz$`));
    const header = await verifySnapshot(join(snapshotDir, file));
    assert.is(header.prefix, redis.prefix);
  }
});

test.run();
