// The layout-migration benchmark, run in-process at a tiny size on a private Redis: it
// checks that the ledger it seeds in layout 1 is migrated whole and read back exactly by the
// daemon's own readers, and what the benchmark reports, never a timing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type MigrateBenchResult, migrateMarkdown, runMigrateScenario } from '../../bench/migrate.ts';
import { LAYOUT_VERSION } from '../../src/domain/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let result: MigrateBenchResult;

test.before(async () => {
  redis = await startTestRedis();
  result = await runMigrateScenario({ redisUrl: redis.url, redisPrivate: redis.server !== undefined, skus: 2_000 });
});
test.after(async () => {
  await redis.close();
});

test('the seeded layout-1 ledger is migrated to the current layout and every sampled SKU reads back as seeded', () => {
  assert.is(result.migration.outcome, 'done');
  assert.is(result.migration.layout_before, 'none (layout 1)');
  assert.is(result.migration.layout_after, LAYOUT_VERSION);
  assert.is(result.checked.skus, 1_000);
  assert.is(result.checked.mismatches, 0);
  assert.is(result.migration.journals_merged, 2_000);
  assert.ok(result.migration.keys_moved >= 2_000 * 4, `inventory, marks, journal and catalogue entry of each SKU, got ${result.migration.keys_moved}`);
});

test('the figures and the markdown section are reported', () => {
  assert.ok(result.seeded.bytes_per_sku > 0 && result.migration.bytes_per_sku_after > 0);
  assert.ok(result.migration.seconds > 0 && result.migration.skus_per_second > 0);
  const markdown = migrateMarkdown(result);
  assert.match(markdown, /^## Layout migration \(`npm run bench -- migrate`\)/);
  assert.match(markdown, /2,000/);
});

test.run();
