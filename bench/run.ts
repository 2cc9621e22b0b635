// The benchmark runner: `npm run bench -- <scenario> [options]`, e.g. `npm run bench -- ledger`.
// Each scenario writes bench/results/<scenario>.json, replaces its own marked section of
// docs/benchmarks.md, and prints its table. Options (for profiling; the committed numbers
// use the defaults):
//   --connections N      connections per variant (default 16)
//   --in-flight N        ops in flight per variant (default 256)
//   --variants a,b       only these variants      --workloads hot,spread
//   --ops-scale X        multiply every op count (e.g. 0.25 for a quick look)
//   --rounds N           interleaved measurements per variant (default 3)
//   --auto-pipelining    enableAutoPipelining on the stockguard variant's clients
//   --no-write           print only; leave the JSON and the docs alone
//   --days N             soak: simulated days (default 30)
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  DEFAULT_OPS,
  ledgerMarkdown,
  ledgerTextReport,
  runLedgerScenario,
  VARIANT_NAMES,
  type VariantName,
  WORKLOAD_NAMES,
} from './ledger.ts';
import { ingestMarkdown, ingestTextReport, runIngestScenario } from './ingest.ts';
import { reconcileMarkdown, reconcileTextReport, runReconcileScenario } from './reconcile.ts';
import { replaceSection } from './lib/markdown.ts';
import { propagationMarkdown, propagationTextReport, runPropagationScenario } from './propagation.ts';
import { persistenceMarkdown, persistenceTextReport, runPersistenceScenario } from './persistence.ts';
import { openBenchRedis } from './lib/redis.ts';
import { allocationMarkdown, allocationTextReport, runAllocationBench } from './allocation.ts';
import { amazonBulkMarkdown, amazonBulkTextReport, runAmazonBulkScenario } from './amazonBulk.ts';
import { runSoakScenario, soakMarkdown, soakTextReport } from './soak.ts';
import { LAYOUT_CANDIDATES, layoutMarkdown, layoutTextReport, runLayoutScenario } from './layout.ts';
import { DEFAULT_MIGRATE_SKUS, migrateMarkdown, migrateTextReport, runMigrateScenario } from './migrate.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface CommonOptions {
  connections?: number;
  inFlight?: number;
  variants?: string;
  workloads?: string;
  opsScale?: number;
  rounds?: number;
  days?: number;
  autoPipelining: boolean;
  write: boolean;
}

const SCENARIOS: Record<string, (options: CommonOptions) => Promise<void>> = {
  async ledger(options) {
    const redis = await openBenchRedis();
    console.log(`ledger: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const ops = Object.fromEntries(VARIANT_NAMES.map((name) => [name, Math.max(100, Math.round(DEFAULT_OPS[name] * scale))])) as Record<VariantName, number>;
      const result = await runLedgerScenario({
        redisUrl: redis.url,
        ops,
        connections: options.connections,
        inFlight: options.inFlight,
        variants: pickList(options.variants, VARIANT_NAMES, '--variants'),
        workloads: pickList(options.workloads, WORKLOAD_NAMES, '--workloads'),
        autoPipelining: options.autoPipelining,
        rounds: options.rounds,
        log: (line) => console.log(line),
      });
      console.log(`\n${ledgerTextReport(result)}`);
      if (options.write) {
        const jsonPath = join(root, 'bench', 'results', 'ledger.json');
        mkdirSync(dirname(jsonPath), { recursive: true });
        writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
        const docsPath = join(root, 'docs', 'benchmarks.md');
        const docs = readOrEmpty(docsPath);
        writeFileSync(docsPath, replaceSection(docs || '# Benchmarks\n', 'ledger', ledgerMarkdown(result)));
        console.log(`\nwrote ${jsonPath} and the ledger section of ${docsPath}`);
      }
    } finally {
      await redis.close();
    }
  },
  async persistence(options) {
    const result = await runPersistenceScenario({ opsScale: options.opsScale, log: (line) => console.log(line) });
    console.log(`\n${persistenceTextReport(result)}`);
    if (options.write) writeResults('persistence', result, persistenceMarkdown(result));
  },
  async migrate(options) {
    const redis = await openBenchRedis();
    console.log(`migrate: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const skus = Math.max(1000, Math.round(DEFAULT_MIGRATE_SKUS * (options.opsScale ?? 1)));
      const result = await runMigrateScenario({ redisUrl: redis.url, redisPrivate: redis.private, skus, log: (line) => console.log(line) });
      console.log(`\n${migrateTextReport(result)}`);
      if (options.write) writeResults('migrate', result, migrateMarkdown(result));
      if (result.checked.mismatches > 0 || result.migration.outcome !== 'done') process.exitCode = 1;
    } finally {
      await redis.close();
    }
  },
  async ingest(options) {
    const redis = await openBenchRedis();
    console.log(`ingest: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const result = await runIngestScenario({ redisUrl: redis.url, events: Math.max(1000, Math.round(100_000 * scale)), log: (line) => console.log(line) });
      console.log(`\n${ingestTextReport(result)}`);
      if (options.write) writeResults('ingest', result, ingestMarkdown(result));
    } finally {
      await redis.close();
    }
  },
  async reconcile(options) {
    const redis = await openBenchRedis();
    console.log(`reconcile: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const result = await runReconcileScenario({
        redisUrl: redis.url,
        sizes: [100_000, 1_000_000].map((skus) => Math.max(1000, Math.round(skus * scale))),
        // CONFIG SET only on a server of our own.
        streamNodeProbes: redis.private ? [1024, 512] : [],
        log: (line) => console.log(line),
      });
      console.log(`\n${reconcileTextReport(result)}`);
      if (options.write) writeResults('reconcile', result, reconcileMarkdown(result));
    } finally {
      await redis.close();
    }
  },
  // The simulator's grid (src/sim/allocationSim.ts): no Redis; the JSON says redis "n/a (simulator)".
  // Then the e2e cells (e2e: true): the daemon on a real Redis (BENCH_REDIS_URL or a private
  // redis-server) with the fakes; their environment is e2e_env.
  async allocation(options) {
    const result = await runAllocationBench({ log: (line) => console.log(line) });
    console.log(`\n${allocationTextReport(result)}`);
    if (options.write) writeResults('allocation', result, allocationMarkdown(result));
  },
  async propagation(options) {
    const redis = await openBenchRedis();
    console.log(`propagation: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const result = await runPropagationScenario({
        redisUrl: redis.url,
        variants: [
          { origin: 'api', durationMs: Math.max(5_000, Math.round(30_000 * scale)) },
          { origin: 'shopify', durationMs: Math.max(5_000, Math.round(15_000 * scale)) },
        ],
        log: (line) => console.log(line),
      });
      console.log(`\n${propagationTextReport(result)}`);
      if (options.write) writeResults('propagation', result, propagationMarkdown(result));
    } finally {
      await redis.close();
    }
  },
  // The opening push of 10,000 Amazon SKUs, PATCH only (partly extrapolated) vs feeds + PATCH.
  // --ops-scale scales the catalogue (at least 1,000 SKUs) for a quick look.
  async 'amazon-bulk'(options) {
    const redis = await openBenchRedis();
    console.log(`amazon-bulk: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const skus = Math.max(1_000, Math.round(10_000 * scale));
      const variants = pickList(options.variants, ['patch-only', 'feeds+patch'] as const, '--variants');
      const result = await runAmazonBulkScenario({ redisUrl: redis.url, skus, patchOnlyMeasureSkus: Math.min(1_000, Math.round(skus / 10)), variants, log: (line) => console.log(line) });
      console.log(`\n${amazonBulkTextReport(result)}`);
      if (options.write) writeResults('amazon-bulk', result, amazonBulkMarkdown(result));
    } finally {
      await redis.close();
    }
  },
  // Redis bytes per SKU under each candidate key layout (issue 13 §1), 100,000 and 1,000,000
  // SKUs. --ops-scale scales the sizes (at least 1,000), --variants picks candidates.
  async layout(options) {
    const redis = await openBenchRedis();
    console.log(`layout: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL: bytes per SKU include whatever else the server does)'}`);
    try {
      const scale = options.opsScale ?? 1;
      const result = await runLayoutScenario({
        redisUrl: redis.url,
        sizes: [100_000, 1_000_000].map((skus) => Math.max(1000, Math.round(skus * scale))),
        candidates: pickList(options.variants, LAYOUT_CANDIDATES, '--variants'),
        log: (line) => console.log(line),
      });
      console.log(`\n${layoutTextReport(result)}`);
      if (options.write) writeResults('layout', result, layoutMarkdown(result));
    } finally {
      await redis.close();
    }
  },
  // 30 simulated days on 10,000 SKUs with an injected clock (issue 13 §2): memory per SKU and
  // the process heap at the end of each day. --ops-scale scales the SKUs (at least 100).
  async soak(options) {
    const redis = await openBenchRedis();
    console.log(`soak: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL: bytes per SKU include whatever else the server does)'}`);
    try {
      const skus = Math.max(100, Math.round(10_000 * (options.opsScale ?? 1)));
      const result = await runSoakScenario({ redisUrl: redis.url, skus, days: options.days, redisPrivate: redis.private, log: (line) => console.log(line) });
      console.log(`\n${soakTextReport(result)}`);
      if (options.write) writeResults('soak', result, soakMarkdown(result));
    } finally {
      await redis.close();
    }
  },
};

/** Writes bench/results/<scenario>.json and replaces the scenario's section of docs/benchmarks.md. */
function writeResults(scenario: string, result: unknown, markdown: string): void {
  const jsonPath = join(root, 'bench', 'results', `${scenario}.json`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(result, null, 2)}\n`);
  const docsPath = join(root, 'docs', 'benchmarks.md');
  writeFileSync(docsPath, replaceSection(readOrEmpty(docsPath) || '# Benchmarks\n', scenario, markdown));
  console.log(`\nwrote ${jsonPath} and the ${scenario} section of ${docsPath}`);
}

function pickList<T extends string>(raw: string | undefined, allowed: readonly T[], flag: string): T[] | undefined {
  if (raw === undefined) return undefined;
  const picked = raw.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of picked) {
    if (!(allowed as readonly string[]).includes(item)) throw new Error(`${flag}: unknown ${JSON.stringify(item)}; choose from ${allowed.join(', ')}`);
  }
  return picked as T[];
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function positiveNumber(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!(value > 0)) throw new Error(`${flag} wants a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      connections: { type: 'string' },
      'in-flight': { type: 'string' },
      variants: { type: 'string' },
      workloads: { type: 'string' },
      'ops-scale': { type: 'string' },
      rounds: { type: 'string' },
      days: { type: 'string' },
      'auto-pipelining': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const names = positionals.length > 0 ? positionals : Object.keys(SCENARIOS);
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length > 0) {
    throw new Error(`unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  const options: CommonOptions = {
    connections: positiveNumber(values.connections, '--connections'),
    inFlight: positiveNumber(values['in-flight'], '--in-flight'),
    variants: values.variants,
    workloads: values.workloads,
    opsScale: positiveNumber(values['ops-scale'], '--ops-scale'),
    rounds: positiveNumber(values.rounds, '--rounds'),
    days: positiveNumber(values.days, '--days'),
    autoPipelining: values['auto-pipelining'] ?? false,
    write: !(values['no-write'] ?? false),
  };
  for (const name of names) await SCENARIOS[name]!(options);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exitCode = 1;
});
