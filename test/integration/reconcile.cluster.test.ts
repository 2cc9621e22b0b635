// Reconciliation and snapshots on a local 3-master Redis Cluster (invariant I7): the
// per-SKU reads and writes route by the SKU's `{p<N>}` slot, the ledger-only SCAN covers every
// master, and a snapshot restored under another prefix snapshots back to the same lines.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Cluster } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_THRESHOLDS } from '../../src/domain/reconcile.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { restoreSnapshot, writeSnapshot } from '../../src/reconcile/snapshot.ts';
import { HttpWmsAdapter } from '../../src/reconcile/wms.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis.ts';
import { patchInventory } from '../helpers/inventory.ts';

const TOKEN = 'wms-stock-token-0123456789';
let cluster: TestCluster;
let client: Cluster;
let wms: WmsFake;
let ledger: Ledger;
let directory: string;
const SKUS = Array.from({ length: 30 }, (_, index) => `CL-${index}`);

test.before(async () => {
  cluster = await startTestCluster();
  client = cluster.client();
  wms = await WmsFake.start({ token: TOKEN });
  directory = mkdtempSync(join(tmpdir(), 'sg-cluster-'));
  ledger = new Ledger({ redis: client, keyPrefix: cluster.prefix });
  for (const [index, sku] of SKUS.entries()) {
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: `initial-${sku}`, counted: 10 + index });
    wms.seed([[sku, 10 + index]]);
  }
  await ledger.reserveOrder({ channel: 'api', orderId: 'o-1', lines: [{ lineId: '1', sku: 'CL-1', quantity: 2 }] });
  await ledger.createSku('CL-LEDGER-ONLY');
});

test.after(async () => {
  await wms.close();
  await cluster.close();
  rmSync(directory, { recursive: true, force: true });
});

test('reconcile on Cluster: corrections and repairs route by slot, ledger-only SKUs are found on every master', async () => {
  wms.shrink('CL-3', 2);
  wms.shrink('CL-17', 1);
  await patchInventory(client, ledger.keys, 'CL-1', { reserved: 9 });
  const result = await reconcile({
    redis: client,
    ledger,
    wms: new HttpWmsAdapter({ baseUrl: wms.url, token: TOKEN, sleep: async () => undefined }),
    thresholds: DEFAULT_THRESHOLDS,
    settleMs: 0,
    reportDir: join(directory, 'reports'),
    lockTtlMs: 30_000,
  });
  assert.is(result.outcome, 'completed');
  assert.ok(result.outcome === 'completed');
  const report = result.report;
  assert.equal(report.discrepancies.map((item) => [item.sku, item.delta, item.action]).sort(), [['CL-17', -1, 'corrected'], ['CL-3', -2, 'corrected']]);
  assert.equal(report.reservedRepairs, [{ sku: 'CL-1', reservedBefore: 9, reservedAfter: 2, action: 'repaired' }]);
  assert.equal(report.ledgerOnly, [{ sku: 'CL-LEDGER-ONLY', onHand: 0 }]);
  for (const sku of SKUS) assert.is((await ledger.inventory(sku))!.onHand, wms.onHand(sku), sku);
  assert.is(await client.get(ledger.keys.runLock('reconcile')), null);
});

test('snapshot → restore under another prefix on Cluster → snapshot: the same SKU and global lines', async () => {
  const first = join(directory, 'first.jsonl.gz');
  const second = join(directory, 'second.jsonl.gz');
  await writeSnapshot({ redis: client, keys: ledger.keys, file: first });
  const copy = new Ledger({ redis: client, keyPrefix: `${cluster.prefix}-copy` });
  const restored = await restoreSnapshot({ redis: client, keys: copy.keys, file: first });
  assert.is(restored.skus, SKUS.length + 1);
  await writeSnapshot({ redis: client, keys: copy.keys, file: second });
  const body = (file: string) => gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n').slice(1, -1);
  assert.equal(body(second), body(first));
  assert.equal(await copy.inventory('CL-3'), await ledger.inventory('CL-3'));
  assert.equal(await copy.journal('CL-3'), await ledger.journal('CL-3'));
});

test.run();
