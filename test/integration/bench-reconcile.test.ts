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

test('memory per SKU is measured imported and at rest, everything counted, and the markdown section is reported', () => {
  assert.equal(result.memory.map((memory) => [memory.skus, memory.state]), [[3000, 'imported'], [3000, 'at_rest'], [5000, 'imported'], [5000, 'at_rest']]);
  for (const memory of result.memory) {
    // The test servers run Redis's default stream-node-max-bytes.
    assert.is(memory.config, 'default');
    assert.ok(memory.bytes_per_sku > 0, `${memory.skus} ${memory.state}`);
    // Every kind of state a SKU has is there, and nothing per SKU is left a key of its own.
    for (const kind of ['inv buckets', 'catalog buckets', 'item buckets']) assert.ok(memory.by_kind[kind]! > 0, `${memory.skus} ${memory.state}: ${kind}`);
    assert.equal(Object.keys(memory.by_kind).filter((kind) => kind.startsWith('per-SKU') && kind !== 'per-SKU eventMarks'), [], JSON.stringify(memory.by_kind));
  }
  for (const skus of [3000, 5000]) {
    const imported = result.memory.find((memory) => memory.skus === skus && memory.state === 'imported')!;
    const rest = result.memory.find((memory) => memory.skus === skus && memory.state === 'at_rest')!;
    assert.ok(imported.by_kind['partition journals']! > rest.by_kind['partition journals']!, 'the trimmer emptied the journals');
    assert.ok((imported.by_kind.dirty ?? 0) > 0 && rest.by_kind.dirty === undefined, 'the dirty index drained');
    assert.ok(rest.by_kind['chan buckets']! > 0 && imported.by_kind['chan buckets'] === undefined, 'channel state written when the SKUs went live');
    assert.is(rest.idle!.dirty_drained, skus);
    // The emptied partition journals stay (an empty stream, well under 1 KB each, shared by the partition's SKUs).
    assert.ok(rest.by_kind['partition journals']! <= Math.ceil((LAYOUT_PARTITIONS * 1_000) / skus), `the emptied partition journals cost ${rest.by_kind['partition journals']} B per SKU`);
  }
  const markdown = reconcileMarkdown(result);
  assert.match(markdown, /^## reconcile: a full reconciliation against the WMS/);
  assert.match(markdown, /linear extrapolation|target is (met|not met)/);
});

test.run();
