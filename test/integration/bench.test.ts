// The ledger benchmark, run in-process with a tiny op count against the test Redis: it
// checks the shape of what the benchmark reports and the correctness it claims, never a
// timing (the numbers of a tiny run on a shared machine mean nothing).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type LedgerBenchResult, ledgerMarkdown, runLedgerScenario, VARIANT_NAMES, type VariantName, WORKLOAD_NAMES } from '../../bench/ledger.ts';
import { replaceSection } from '../../bench/lib/markdown.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const TINY_OPS = 200;
let redis: TestRedis;
let result: LedgerBenchResult;

test.before(async () => {
  redis = await startTestRedis();
  const ops = Object.fromEntries(VARIANT_NAMES.map((name) => [name, TINY_OPS])) as Record<VariantName, number>;
  result = await runLedgerScenario({ redisUrl: redis.url, ops, connections: 4, inFlight: 32, spreadSkus: 40, warmupOps: 20, rounds: 1 });
});
test.after(async () => {
  await redis.close();
});

test('the result has the documented shape: scenario, env {node, redis, cpu, cores}, variants', () => {
  const parsed = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
  assert.is(parsed.scenario, 'ledger');
  assert.match(result.env.node, /^v\d+\./);
  assert.match(result.env.redis, /^\d+\.\d+/);
  assert.type(result.env.cpu, 'string');
  assert.ok(result.env.cpu.length > 0);
  assert.ok(Number.isInteger(result.env.cores) && result.env.cores >= 1);
  assert.ok(Array.isArray(parsed.variants));
  for (const variant of result.variants) {
    assert.ok(VARIANT_NAMES.includes(variant.name), variant.name);
    assert.ok(WORKLOAD_NAMES.includes(variant.workload), variant.workload);
    assert.ok(Number.isFinite(variant.ops_per_sec) && variant.ops_per_sec > 0, `${variant.name} ops_per_sec`);
    assert.ok(Number.isFinite(variant.p50_ms) && Number.isFinite(variant.p99_ms), `${variant.name} latencies`);
    assert.ok(variant.p50_ms <= variant.p99_ms, `${variant.name}: p50 ≤ p99`);
    assert.ok(Number.isInteger(variant.oversold) && variant.oversold >= 0, `${variant.name} oversold`);
    assert.is(variant.ops, TINY_OPS);
  }
  assert.is(typeof result.variants.find((variant) => variant.name === 'watch-multi')?.retries, 'number');
});

test('every variant runs on both workloads; PostgreSQL is measured or skipped with a reason', () => {
  const postgresSkipped = result.skipped.find((skip) => skip.name === 'postgres-row-lock');
  for (const workload of WORKLOAD_NAMES) {
    for (const name of VARIANT_NAMES) {
      const found = result.variants.some((variant) => variant.name === name && variant.workload === workload);
      if (name === 'postgres-row-lock' && postgresSkipped) {
        assert.not.ok(found);
        assert.ok(postgresSkipped.reason.length > 0);
      } else {
        assert.ok(found, `${name} on ${workload}`);
      }
    }
  }
});

test('every variant but naive oversells nothing and reserves exactly the stock-limited count', () => {
  for (const variant of result.variants.filter((candidate) => candidate.name !== 'naive')) {
    const label = `${variant.name} on ${variant.workload}`;
    assert.is(variant.oversold, 0, label);
    assert.is(variant.reported_reserved, variant.expected_reserved, label);
    assert.is(variant.stored_reserved, variant.reported_reserved, label);
  }
});

test("stockguard's final reserved equals the stock-limited count it reported, and it refused the rest", () => {
  for (const workload of WORKLOAD_NAMES) {
    const stockguard = result.variants.find((variant) => variant.name === 'stockguard' && variant.workload === workload);
    assert.ok(stockguard, `stockguard on ${workload}`);
    assert.is(stockguard.stored_reserved, stockguard.reported_reserved);
    assert.is(stockguard.reported_reserved, stockguard.expected_reserved);
    assert.ok(stockguard.reported_reserved <= stockguard.stock);
  }
  // The hot SKU holds half the ops: exactly that many are reserved, the other half refused.
  const hot = result.variants.find((variant) => variant.name === 'stockguard' && variant.workload === 'hot');
  assert.is(hot?.reported_reserved, TINY_OPS / 2);
});

test('naive never stores more than it reported: its lost updates only go one way', () => {
  for (const naive of result.variants.filter((variant) => variant.name === 'naive')) {
    assert.ok(naive.stored_reserved <= naive.reported_reserved, naive.workload);
    assert.is(naive.oversold >= naive.reported_reserved - naive.stock, true);
  }
});

test('the targets name the three hot ratios and the oversold check', () => {
  assert.is(result.targets.length, 4);
  assert.ok(result.targets.some((check) => check.target.includes('raw-evalsha')));
  const oversold = result.targets.find((check) => check.target.startsWith('oversold'));
  assert.is(oversold?.met, true);
});

test('the docs section carries the environment and every variant measured', () => {
  const section = ledgerMarkdown(result);
  assert.ok(section.includes(`Redis ${result.env.redis}`));
  assert.ok(section.includes(result.env.node));
  for (const variant of result.variants) assert.ok(section.includes(`| ${variant.name} |`), variant.name);
});

test('replaceSection rewrites only its own marked section and appends it when missing', () => {
  const document = '# Benchmarks\n\nintro\n\n<!-- ledger:start -->\nold\n<!-- ledger:end -->\n\n<!-- other:start -->\nkeep\n<!-- other:end -->\n';
  const replaced = replaceSection(document, 'ledger', 'new table');
  assert.is(replaced, '# Benchmarks\n\nintro\n\n<!-- ledger:start -->\nnew table\n<!-- ledger:end -->\n\n<!-- other:start -->\nkeep\n<!-- other:end -->\n');
  assert.is(replaceSection('# Benchmarks\n', 'ledger', 'first'), '# Benchmarks\n\n<!-- ledger:start -->\nfirst\n<!-- ledger:end -->\n');
});

test.run();
