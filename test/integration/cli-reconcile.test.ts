// `stockguard reconcile | snapshot | restore | sku` through `run(argv, out)`, configured by
// environment variables like the real command, against a private Redis and the WMS fake.
import { setPushedLevel } from '../helpers/pushers.ts';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, run } from '../../src/cli.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { ensureLayout } from '../../src/redis/layout.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';
import { deletePrefix, dumpKeyspace } from '../helpers/keyspace.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const TOKEN = 'wms-stock-token-0123456789';
let redis: TestRedis;
let client: Redis;
let wms: WmsFake;
let directory: string;
let ledger: Ledger;
const saved = { ...process.env };

async function stockguard(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  const previous = { ...process.env };
  Object.assign(process.env, env);
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete process.env[name];
  try {
    const code = await run(args, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  } finally {
    process.env = previous;
  }
}

test.before(async () => {
  redis = await startTestRedis();
  client = redis.client();
  wms = await WmsFake.start({ token: TOKEN });
  directory = mkdtempSync(join(tmpdir(), 'sg-cli-'));
  Object.assign(process.env, {
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: redis.prefix,
    STOCKGUARD_LOG_LEVEL: 'silent',
    STOCKGUARD_WMS_URL: wms.url,
    STOCKGUARD_WMS_TOKEN: TOKEN,
    STOCKGUARD_WMS_RETRIES: '0',
    STOCKGUARD_RECONCILE_SETTLE_MS: '0',
    STOCKGUARD_RECONCILE_REPORT_DIR: join(directory, 'reports'),
    STOCKGUARD_SNAPSHOT_DIR: join(directory, 'snapshots'),
  });
  ledger = new Ledger({ redis: client, keyPrefix: redis.prefix });
  for (const [sku, onHand] of [['CLI-TEE', 12], ['CLI-MUG', 8]] as const) {
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
    wms.seed([[sku, onHand]]);
  }
  // As the first daemon start would: the layout marker (src/redis/layout.ts) is there
  // before any command runs, so "changes nothing" compares the whole keyspace.
  await ensureLayout(client, ledger.keys);
});

test.after(async () => {
  process.env = saved;
  await deletePrefix(client, `${redis.prefix}-copy`);
  await wms.close();
  await redis.close();
  rmSync(directory, { recursive: true, force: true });
});

test('--help lists reconcile, snapshot and restore and the busy exit code', async () => {
  const { code, output } = await stockguard(['--help']);
  assert.is(code, EXIT.ok);
  assert.match(output, /stockguard reconcile \[--dry-run\]/);
  assert.match(output, /stockguard snapshot \[--out FILE\]/);
  assert.match(output, /stockguard restore FILE \[--force\]/);
  assert.match(output, /5 busy/);
});

test('reconcile --dry-run shows what would change and changes nothing; reconcile corrects and names its report', async () => {
  wms.shrink('CLI-TEE', 2);
  const before = await dumpKeyspace(client, redis.prefix);
  const dry = await stockguard(['reconcile', '--dry-run']);
  assert.is(dry.code, EXIT.ok, dry.output);
  assert.match(dry.output, /\(dry run: nothing was written\): completed/);
  assert.match(dry.output, /1 would be corrected \(2 units, net -2\)/);
  assert.match(dry.output, /CLI-TEE {2}wms 10 {2}ledger 12 as of {2}delta -2 {2}would-correct/);
  assert.not.match(dry.output, /report:/);
  assert.equal(await dumpKeyspace(client, redis.prefix), before);

  const real = await stockguard(['reconcile']);
  assert.is(real.code, EXIT.ok, real.output);
  assert.match(real.output, /compared 2 SKUs: 1 match, 1 discrepancies: 1 corrected \(2 units, net -2\)/);
  assert.match(real.output, /CLI-TEE {2}wms 10 {2}ledger 12 as of {2}delta -2 {2}corrected \(above-threshold\) {2}on_hand 12 → 10/);
  const reportPath = /report: (.+)$/m.exec(real.output)?.[1];
  assert.ok(reportPath, real.output);
  assert.is((JSON.parse(readFileSync(reportPath, 'utf8')) as { totals: { corrected: number } }).totals.corrected, 1);
  assert.is((await ledger.inventory('CLI-TEE'))!.onHand, 10);
});

test('reconcile while another run holds the lock exits 5 with STOCKGUARD_E_RECONCILE_RUNNING', async () => {
  await client.set(ledger.keys.runLock('reconcile'), 'reconcile:other-run@elsewhere', 'PX', 60_000);
  try {
    const { code, output } = await stockguard(['reconcile']);
    assert.is(code, EXIT.busy, output);
    assert.match(output, /STOCKGUARD_E_RECONCILE_RUNNING: Another reconciliation run holds the lock: held by reconcile:other-run@elsewhere\. Fix: Wait/);
  } finally {
    await client.del(ledger.keys.runLock('reconcile'));
  }
});

test('reconcile without a WMS configured, or with the WMS down, says what to do and exits 1', async () => {
  const unset = await stockguard(['reconcile'], { STOCKGUARD_WMS_URL: undefined });
  assert.is(unset.code, EXIT.refused, unset.output);
  assert.match(unset.output, /STOCKGUARD_E_CONFIG: .*set STOCKGUARD_WMS_URL \(docs\/wms\.md/);

  wms.setPageFaults({ failNext: 5, status: 503 });
  try {
    const down = await stockguard(['reconcile']);
    assert.is(down.code, EXIT.refused, down.output);
    assert.match(down.output, /: failed in/);
    assert.match(down.output, /error: STOCKGUARD_E_WMS_UNAVAILABLE: .*HTTP 503, after 1 attempts.*Fix: Check STOCKGUARD_WMS_URL/);
    assert.match(down.output, /report: /, 'a failed run leaves its report too');
  } finally {
    wms.setPageFaults({});
  }
});

test('snapshot → restore: into a non-empty Redis refused (exit 1), into an empty prefix done, --force replaces', async () => {
  const file = join(directory, 'cli.jsonl.gz');
  const written = await stockguard(['snapshot', '--out', file]);
  assert.is(written.code, EXIT.ok, written.output);
  assert.match(written.output, new RegExp(`snapshot of prefix ${redis.prefix} written to .*cli\\.jsonl\\.gz: 2 SKUs, \\d+ keys, \\d+ bytes, sha256 [0-9a-f]{64}`));

  const refused = await stockguard(['restore', file]);
  assert.is(refused.code, EXIT.refused, refused.output);
  assert.match(refused.output, /STOCKGUARD_E_RESTORE_NOT_EMPTY: .*pass --force/);

  const other = `${redis.prefix}-copy`;
  const copied = await stockguard(['restore', file], { STOCKGUARD_KEY_PREFIX: other });
  assert.is(copied.code, EXIT.ok, copied.output);
  assert.match(copied.output, new RegExp(`restored 2 SKUs \\(\\d+ keys\\) from .* under prefix ${redis.prefix}, into prefix ${other}`));
  assert.equal(await new Ledger({ redis: client, keyPrefix: other }).inventory('CLI-MUG'), await ledger.inventory('CLI-MUG'));

  const forced = await stockguard(['restore', file, '--force']);
  assert.is(forced.code, EXIT.ok, forced.output);
  assert.match(forced.output, /existing keys replaced \(--force\)/);

  const defaultName = await stockguard(['snapshot']);
  assert.is(defaultName.code, EXIT.ok, defaultName.output);
  assert.match(defaultName.output, new RegExp(`snapshots/stockguard-${redis.prefix}-\\d{8}T\\d{9}Z\\.jsonl\\.gz`));
});

test('restore of a damaged file exits 1 naming the problem; a missing FILE is a usage error', async () => {
  const file = join(directory, 'damaged.jsonl.gz');
  writeFileSync(file, Buffer.from('not gzip at all'));
  const damaged = await stockguard(['restore', file], { STOCKGUARD_KEY_PREFIX: `${redis.prefix}-empty` });
  assert.is(damaged.code, EXIT.refused, damaged.output);
  assert.match(damaged.output, /STOCKGUARD_E_SNAPSHOT_CORRUPT: .*damaged\.jsonl\.gz: cannot decompress.*Fix: Nothing was written/);
  // Only the layout marker, which opening an empty Redis writes before the restore begins.
  assert.equal(Object.keys(await dumpKeyspace(client, `${redis.prefix}-empty`)), [`${redis.prefix}-empty:layout`]);
  const usage = await stockguard(['restore']);
  assert.is(usage.code, EXIT.usage);
  assert.match(usage.output, /missing FILE/);
});

test('sku shows what was last pushed to each channel when the pushers keep it', async () => {
  const without = await stockguard(['sku', 'CLI-MUG']);
  assert.is(without.code, EXIT.ok, without.output);
  assert.not.match(without.output, /last pushed/);
  await setPushedLevel(client, ledger.keys, 'CLI-MUG', 'shopify', { quantity: 7, atMs: Date.UTC(2026, 10, 27, 12) });
  await setPushedLevel(client, ledger.keys, 'CLI-MUG', 'amazon', { quantity: 5, atMs: Date.UTC(2026, 10, 27, 11) });
  const shown = await stockguard(['sku', 'CLI-MUG']);
  assert.match(shown.output, /last pushed: amazon 5 at 2026-11-27T11:00:00\.000Z, shopify 7 at 2026-11-27T12:00:00\.000Z/);
});

test.run();
