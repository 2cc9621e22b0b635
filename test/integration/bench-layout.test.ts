// The layout benchmark (bench/layout.ts), run in-process at a tiny size against the test
// Redis: every candidate is seeded, read back as of a time (the run throws when a
// candidate's on_hand as of that time does not sum to the seeded stock), trimmed, and its
// keys deleted. No byte count or timing is asserted: on a shared Redis (REDIS_URL) other
// test files move used_memory and DBSIZE while this one measures.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LAYOUT_CANDIDATES, type LayoutBenchResult, layoutMarkdown, runLayoutScenario } from '../../bench/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let result: LayoutBenchResult;

test.before(async () => {
  redis = await startTestRedis();
  result = await runLayoutScenario({ redisUrl: redis.url, sizes: [2_000], keyPrefix: `${redis.prefix}-layout` });
});
test.after(async () => {
  await redis.close();
});

test('every candidate is measured, read back as of a time, and reported', () => {
  assert.equal(result.rows.map((row) => row.candidate), [...LAYOUT_CANDIDATES]);
  for (const row of result.rows) {
    assert.is(row.skus, 2_000);
    assert.ok(Number.isFinite(row.fresh_bytes_per_sku) && Number.isFinite(row.at_rest_bytes_per_sku), row.candidate);
    assert.ok(row.read_as_of_seconds >= 0, row.candidate);
  }
  assert.is(result.rows[0]!.ratio_to_today, 1);
  assert.ok(result.redis_config['hash-max-listpack-value'] !== '?');
  const markdown = layoutMarkdown(result);
  for (const candidate of LAYOUT_CANDIDATES) assert.ok(markdown.includes(`| ${candidate} |`), candidate);
});

test('the bucketed candidate keeps every bucket hash a listpack', () => {
  const bucketed = result.rows.find((row) => row.candidate === 'bucketed')!;
  // 2,000 SKUs in buckets of ~48: 42 buckets, three kinds.
  assert.is(bucketed.hashtable_buckets, '0 of 126');
  assert.ok(bucketed.max_bucket_fields! > 0 && bucketed.max_bucket_fields! < 128, String(bucketed.max_bucket_fields));
});

test('the run leaves none of its keys behind', async () => {
  const client = redis.client();
  let cursor = '0';
  const left: string[] = [];
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${redis.prefix}-layout-*`, 'COUNT', 1000);
    cursor = next;
    left.push(...keys);
  } while (cursor !== '0');
  assert.equal(left, []);
});

test.run();
