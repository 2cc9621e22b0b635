// The reconcile benchmark, run in-process at a tiny size against the test Redis: it checks
// the shape of what the benchmark reports and that every run corrected exactly what it
// found, never a timing (the numbers of a tiny run on a shared machine mean nothing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_VARIANT, RECONCILE_VARIANTS, type ReconcileBenchResult, reconcileMarkdown, runReconcileScenario } from '../../bench/reconcile.ts';
import { LAYOUT_PARTITIONS } from '../../src/domain/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let result: ReconcileBenchResult;

test.before(async () => {
  redis = await startTestRedis();
  result = await runReconcileScenario({ redisUrl: redis.url, sizes: [3000, 5000], rounds: 1, rate: 0.05 });
});
test.after(async () => {
  await redis.close();
});

test('every variant runs at the first size, the default one at the others; each compared every SKU', () => {
  assert.equal(
    result.runs.map((run) => [run.skus, run.variant]),
    [...Object.keys(RECONCILE_VARIANTS).map((variant) => [3000, variant]), [5000, DEFAULT_VARIANT]],
  );
  for (const run of result.runs) {
    assert.ok(run.seconds > 0 && run.skus_per_sec > 0 && run.peak_rss_mb > 0, run.variant);
    assert.ok(run.pages >= 1);
    assert.equal(run.seconds_all.length, run.rounds);
  }
});

test('every run corrects exactly the discrepancies it finds, the same ones each time (the undo works)', () => {
  const first = result.runs.filter((run) => run.skus === 3000);
  assert.ok(first[0]!.discrepancies > 50 && first[0]!.discrepancies < 450, `about 5 % of 3,000 SKUs, found ${first[0]!.discrepancies}`);
  for (const run of result.runs) assert.is(run.corrected, run.discrepancies, run.variant);
  assert.is(new Set(first.map((run) => run.discrepancies)).size, 1);
  assert.is(new Set(first.map((run) => run.units_corrected)).size, 1);
});

test('memory per SKU and the markdown section are reported', () => {
  assert.equal(result.memory.map((memory) => memory.skus), [3000, 5000]);
  for (const memory of result.memory) assert.ok(memory.bytes_per_sku > 0 && memory.by_key.inventory > 0 && memory.by_key.journal > 0);
  assert.ok(result.catalogue.bytes_per_entry > 0);
  // The test servers run Redis's default stream-node-max-bytes: every row is `default` and
  // measured again at rest, where the trimmer has emptied the 1,024 partition journals and
  // kept them (an empty stream, well under 1 KB each, shared by the partition's SKUs).
  for (const memory of result.memory) {
    assert.is(memory.config, 'default');
    assert.ok(memory.at_rest, `${memory.skus} SKUs: measured at rest`);
    assert.ok(memory.at_rest.journal <= Math.ceil((LAYOUT_PARTITIONS * 1_000) / memory.skus), `the emptied partition journals cost ${memory.at_rest.journal} B per SKU`);
    assert.ok(memory.at_rest.journal < memory.by_key.journal / 4, `at rest ${memory.at_rest.journal} B of journal per SKU against ${memory.by_key.journal} seeded`);
    assert.ok(memory.at_rest.bytes_per_sku < memory.bytes_per_sku, `at rest ${memory.at_rest.bytes_per_sku} B/SKU against ${memory.bytes_per_sku} seeded`);
    assert.is(memory.at_rest.with_catalogue_entry, memory.at_rest.bytes_per_sku + result.catalogue.bytes_per_entry);
  }
  const markdown = reconcileMarkdown(result);
  assert.match(markdown, /^## reconcile: a full reconciliation against the WMS/);
  assert.match(markdown, /linear extrapolation|target is (met|not met)/);
});

test.run();
