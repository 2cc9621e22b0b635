// The soak benchmark (bench/soak.ts), run in-process at a tiny size against the test Redis:
// 60 SKUs, 8 simulated days, horizons of 1–2 days. It checks the shape of what the benchmark
// reports and the property the benchmark exists for: once the horizons have passed, the
// dedupe structures (the ledger's event marks and closed reservation records, the sink's
// delivery marks) stop growing. A control run with horizons longer than the run shows the
// same comparison catching growth, so the check fails if sweeping or mark expiry stops.
// No timing and no byte count is asserted (a tiny run's bytes are mostly fixed overhead).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSoakScenario, type SoakDay, type SoakResult, soakMarkdown, soakTextReport } from '../../bench/soak.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const DAY_MS = 86_400_000;
const DAYS = 8;

let redis: TestRedis;
let swept: SoakResult;
let control: SoakResult;

test.before(async () => {
  redis = await startTestRedis();
  const tiny = { redisUrl: redis.url, days: DAYS, skus: 60, slicesPerDay: 4, journalRetentionMs: 3 * DAY_MS };
  swept = await runSoakScenario({
    ...tiny,
    keyPrefix: `${redis.prefix}-swept`,
    dedupeHorizonMs: 2 * DAY_MS,
    deliveryWindowsSeconds: { shopify: 86_400, sqs: 2 * 86_400, wms: 2 * 86_400 },
  });
  // Every horizon longer than the run: nothing may be swept or expired.
  control = await runSoakScenario({
    ...tiny,
    keyPrefix: `${redis.prefix}-control`,
    dedupeHorizonMs: 30 * DAY_MS,
    deliveryWindowsSeconds: { shopify: 30 * 86_400, sqs: 30 * 86_400, wms: 30 * 86_400 },
  });
});
test.after(async () => {
  await redis.close();
});

const day = (result: SoakResult, number: number): SoakDay => result.bytes_per_sku_by_day.find((row) => row.day === number)!;

test('the result has the shape of bench/results/soak.json', () => {
  assert.is(swept.scenario, 'soak');
  assert.is(swept.days, DAYS);
  assert.is(swept.skus, 60);
  assert.ok(swept.env.node.startsWith('v') && swept.env.cores > 0);
  assert.equal(swept.bytes_per_sku_by_day.map((row) => row.day), [1, 2, 3, 4, 5, 6, 7, 8]);
  for (const row of swept.bytes_per_sku_by_day) {
    assert.ok(row.bytes_per_sku > 0 && row.daemon_heap_mb > 0 && row.used_memory_bytes > 0, `day ${row.day}`);
    assert.ok(row.by_structure.journal > 0 && row.by_structure.inventory > 0 && row.by_structure.reservations > 0, `day ${row.day}`);
  }
  // 60 SKUs: one order, one close (from day 2), 1 receipt in 4, 1 count in 10, 1 level in 2, 1 delivery in 20 twice.
  assert.ok(swept.events_per_sku_per_day > 2.8 && swept.events_per_sku_per_day < 3.1, String(swept.events_per_sku_per_day));
  assert.ok(day(swept, 8).duplicates > 0, 'some deliveries were redelivered and answered DUPLICATE by the sink');
  assert.equal(Object.keys(swept.verdicts), ['bytes_per_sku', 'daemon_heap_mb']);
  assert.is(swept.verdicts.bytes_per_sku.from_day, 7);
  assert.is(swept.verdicts.bytes_per_sku.to_day, 8);
  assert.ok(swept.after_horizon, 'horizons of 2 days settle within 8 days');
  const markdown = soakMarkdown(swept);
  assert.match(markdown, /^## soak: 8 simulated days/);
  assert.match(markdown, /\| journal \|/, 'the breakdown by structure is in the docs section');
  assert.match(soakTextReport(swept), /bytes per SKU: day 8/);
});

test('every event was applied: no dead letters, every stream entry trimmed once acknowledged', () => {
  for (const result of [swept, control]) {
    for (const row of result.bytes_per_sku_by_day) {
      assert.is(row.counts.dead_letters, 0, `day ${row.day}`);
      assert.is(row.counts.event_stream_entries, 0, `day ${row.day}`);
    }
  }
});

test('past the 3-day journal retention the trimmer writes the old entries to the audit files and the journal stops growing', () => {
  const rows = swept.bytes_per_sku_by_day;
  // Days 1–3 are inside the retention: nothing to write out yet (the pass at the end of day 3 sees entries of day 1 just under 3 days old).
  assert.equal(rows.slice(0, 2).map((row) => row.counts.journal_entries_exported), [0, 0]);
  for (const row of rows.slice(4)) assert.ok(row.counts.journal_entries_exported > 0, `day ${row.day} wrote entries out`);
  assert.ok(day(swept, 8).counts.audit_file_bytes_per_sku > day(swept, 5).counts.audit_file_bytes_per_sku, 'the audit files grow on disk');
  // In Redis the journal holds about the retention's worth of entries, not the whole run.
  const entries = rows.map((row) => row.counts.journal_entries_per_sku);
  assert.ok(entries[7]! < entries[3]! * 1.3, `journal entries per SKU, days 1–8: ${entries.join(', ')}`);
});

test('once the horizons have passed, event marks, closed reservations and delivery marks stop growing', () => {
  const early = day(swept, 2);
  const settled = day(swept, 6);
  const last = day(swept, 8);
  // They fill up first (so the later comparison is not between two empty structures) …
  assert.ok(settled.counts.event_marks_per_sku > early.counts.event_marks_per_sku);
  assert.ok(settled.counts.reservation_records_per_sku > early.counts.reservation_records_per_sku);
  assert.ok(settled.counts.delivery_marks > early.counts.delivery_marks);
  // … then hold still: day 8 within 5 % of day 6.
  assert.ok(last.counts.event_marks_per_sku <= settled.counts.event_marks_per_sku * 1.05, `event marks ${settled.counts.event_marks_per_sku} → ${last.counts.event_marks_per_sku}`);
  assert.ok(last.counts.reservation_records_per_sku <= settled.counts.reservation_records_per_sku * 1.05, `reservation records ${settled.counts.reservation_records_per_sku} → ${last.counts.reservation_records_per_sku}`);
  assert.ok(last.counts.delivery_marks <= settled.counts.delivery_marks * 1.05, `delivery marks ${settled.counts.delivery_marks} → ${last.counts.delivery_marks}`);
  assert.ok(last.counts.delivery_marks_expired_today > 0, 'delivery marks expire every day once their window has passed');
});

test('control: with horizons longer than the run the same structures keep growing (the comparison above can fail)', () => {
  const settled = day(control, 6);
  const last = day(control, 8);
  assert.ok(last.counts.event_marks_per_sku > settled.counts.event_marks_per_sku * 1.2, `event marks ${settled.counts.event_marks_per_sku} → ${last.counts.event_marks_per_sku}`);
  assert.ok(last.counts.reservation_records_per_sku > settled.counts.reservation_records_per_sku * 1.2);
  assert.ok(last.counts.delivery_marks > settled.counts.delivery_marks * 1.2);
  for (const row of control.bytes_per_sku_by_day) assert.is(row.counts.delivery_marks_expired_today, 0, `day ${row.day}`);
});

test.run();
