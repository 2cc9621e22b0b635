// The `ledger` scenario: how fast can concurrent clients reserve stock, and does each way
// of doing it stay correct? Five variants on two workloads, in one run:
//
//   raw-evalsha        pipelined EVALSHA of the bare reserveOrder script: the ceiling
//   stockguard         Ledger.reserveOrder, the project's API (validation, decode, dirty index)
//   watch-multi        optimistic WATCH / read / MULTI / EXEC, retried when EXEC aborts
//   postgres-row-lock  one conditional UPDATE per op on the local PostgreSQL
//   naive              HMGET, check, HSET in separate commands: races, and oversells
//
//   hot     every op reserves 1 unit of one SKU whose stock is half the ops
//   spread  every op reserves 1 unit of one of 10,000 SKUs chosen uniformly (seeded), each
//           SKU stocked with half the demand the op sequence puts on it
//
// Every op reserves 1 unit. A variant "oversells" when it reports more units reserved on a
// SKU than the SKU had in stock; correct variants refuse (or, for stockguard, record the
// line as OVERSOLD with nothing held) instead.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import { KeySpace } from '../src/redis/keys.ts';
import { DEFAULT_DEDUPE_HORIZON_MS, Ledger } from '../src/ledger/ledger.ts';
import { scriptKeys } from '../src/ledger/operations/context.ts';
import { luaScripts } from '../src/redis/scripts.ts';
import { benchEnv, type BenchEnv, describeEnv } from './lib/env.ts';
import { closedLoop } from './lib/loop.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { ConnectionPool } from './lib/pool.ts';
import { BENCH_SCHEMA, dropSchemaIfEmpty, openBenchPostgres } from './lib/postgres.ts';
import { seededRandom } from './lib/random.ts';
import { connect, deleteKeys, disconnect, execPipeline } from './lib/redis.ts';
import { round, summarizeLatencies } from './lib/stats.ts';

export const VARIANT_NAMES = ['raw-evalsha', 'stockguard', 'watch-multi', 'postgres-row-lock', 'naive'] as const;
export type VariantName = (typeof VARIANT_NAMES)[number];
export const WORKLOAD_NAMES = ['hot', 'spread'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

/**
 * Ops per measurement (per round). Fixed counts, not durations, so that "stock = half the
 * ops" holds exactly; sized so one measurement takes one to a few seconds on the 2-core box.
 */
export const DEFAULT_OPS: Record<VariantName, number> = {
  'raw-evalsha': 30_000,
  stockguard: 20_000,
  'watch-multi': 4_000,
  'postgres-row-lock': 3_000,
  naive: 20_000,
};

export interface LedgerBenchOptions {
  /** Where to run; the caller owns the server (see bench/lib/redis.ts). */
  redisUrl: string;
  ops?: Partial<Record<VariantName, number>>;
  /** Connections per variant (Redis clients, or the pg Pool size). */
  connections?: number;
  /** Ops in flight: concurrent callers, or connections × pipeline depth for raw-evalsha. */
  inFlight?: number;
  spreadSkus?: number;
  warmupOps?: number;
  /** Measurements per variant and workload, interleaved; ops/s is their median. */
  rounds?: number;
  variants?: readonly VariantName[];
  workloads?: readonly WorkloadName[];
  /** ioredis enableAutoPipelining for the stockguard variant's clients (a profiling knob). */
  autoPipelining?: boolean;
  /** Set false to skip postgres-row-lock without trying to connect. */
  postgres?: boolean;
  seed?: number;
  log?: (line: string) => void;
}

export interface VariantResult {
  name: VariantName;
  workload: WorkloadName;
  ops_per_sec: number;
  p50_ms: number;
  p99_ms: number;
  /** Units reported reserved beyond a SKU's stock, summed over SKUs. */
  oversold: number;
  /** WATCH/MULTI only: transactions EXEC aborted and the op ran again. */
  retries?: number;
  /** ops_per_sec is the median of these (one per round). */
  rounds_ops_per_sec: number[];
  ops: number;
  elapsed_ms: number;
  /** Total units stocked over the workload's SKUs. */
  stock: number;
  /** Units a correct ledger reserves for this op sequence: Σ min(demand, stock) per SKU. */
  expected_reserved: number;
  /** Units the variant told its callers it reserved. */
  reported_reserved: number;
  /** `reserved` summed over the SKUs in the store after the run. */
  stored_reserved: number;
  /** CPU time of this Node process (the clients) per op, user + system. */
  client_cpu_us_per_op: number;
  /** CPU time of the whole redis-server per op (null for PostgreSQL). */
  redis_cpu_us_per_op: number | null;
  connections: number;
  in_flight: number;
}

export interface SkippedVariant {
  name: VariantName;
  reason: string;
}

export interface TargetCheck {
  target: string;
  value: number | null;
  met: boolean | null;
  /** For ratio targets: the same ratio for raw-evalsha, what no wrapper can beat. */
  ceiling?: number | null;
}

export interface LedgerBenchResult {
  scenario: 'ledger';
  env: BenchEnv;
  date: string;
  settings: {
    connections: number;
    in_flight: number;
    rounds: number;
    spread_skus: number;
    warmup_ops: number;
    ops: Record<VariantName, number>;
    auto_pipelining: boolean;
    redis_persistence: string;
    postgres: { version: string; synchronous_commit: string } | null;
  };
  variants: VariantResult[];
  skipped: SkippedVariant[];
  targets: TargetCheck[];
}

const RETENTION_MS = 35 * 86_400_000;
const CHANNEL = 'bench';

interface Workload {
  name: WorkloadName;
  skus: string[];
  stock: Int32Array;
  /** Index into `skus` of the SKU op i reserves. */
  opSku: Uint32Array;
}

function buildWorkload(name: WorkloadName, ops: number, spreadSkus: number, seed: number): Workload {
  if (name === 'hot') {
    return { name, skus: ['hot'], stock: Int32Array.of(Math.floor(ops / 2)), opSku: new Uint32Array(ops) };
  }
  const random = seededRandom(seed);
  const opSku = new Uint32Array(ops);
  for (let i = 0; i < ops; i += 1) opSku[i] = Math.floor(random() * spreadSkus);
  // Each SKU holds half of what this op sequence will ask of it, an odd half rounded up or
  // down at random: about half the ops are refused, as on the hot SKU, whatever the op
  // count. (Stock from the average demand would let a variant measured with fewer ops than
  // SKUs refuse almost everything, and refusals are cheaper than reservations.)
  const demand = new Int32Array(spreadSkus);
  for (const sku of opSku) demand[sku]! += 1;
  const stock = new Int32Array(spreadSkus);
  for (let index = 0; index < spreadSkus; index += 1) stock[index] = Math.floor(demand[index]! / 2 + random());
  const skus = Array.from({ length: spreadSkus }, (_unused, index) => `sku-${String(index).padStart(5, '0')}`);
  return { name, skus, stock, opSku };
}

interface Outcomes {
  /** 1 when op i reported a unit reserved. */
  held: Uint8Array;
  retries: number;
}

interface Target {
  runBatch(worker: number, first: number, count: number): Promise<void>;
  storedReserved(): Promise<number>;
  drop(): Promise<void>;
}

interface Driver {
  workers: number;
  batchSize: number;
  prepare(workload: Workload, tag: string, outcomes: Outcomes): Promise<Target>;
  close(): Promise<void>;
}

interface DriverSettings {
  redisUrl: string;
  connections: number;
  inFlight: number;
  autoPipelining: boolean;
}

// ---------------------------------------------------------------- Redis-backed variants

/** Creates and stocks the workload's SKUs through the ledger API (not timed). */
async function stockLedger(ledgers: readonly Ledger[], workload: Workload): Promise<void> {
  await closedLoop({ ops: workload.skus.length, workers: 64 }, async (worker, index) => {
    const ledger = ledgers[worker % ledgers.length]!;
    const sku = workload.skus[index]!;
    await ledger.createSku(sku);
    const stock = workload.stock[index]!;
    if (stock > 0) await ledger.adjust(sku, { eventId: `stock-${sku}`, delta: stock, cause: 'receipt' });
  });
}

async function ledgerReserved(ledgers: readonly Ledger[], workload: Workload): Promise<number> {
  let total = 0;
  await closedLoop({ ops: workload.skus.length, workers: 64 }, async (worker, index) => {
    const inventory = await ledgers[worker % ledgers.length]!.inventory(workload.skus[index]!);
    total += inventory?.reserved ?? 0;
  });
  return total;
}

/** Plain per-SKU inventory hashes (on_hand, reserved; layout 3's names) for the variants that do not use the scripts. */
async function stockHashes(redis: Redis, keys: KeySpace, workload: Workload): Promise<void> {
  for (let from = 0; from < workload.skus.length; from += 1000) {
    const pipeline = redis.pipeline();
    for (let index = from; index < Math.min(from + 1000, workload.skus.length); index += 1) {
      pipeline.hset(keys.perSkuKeys(workload.skus[index]!).inventory, 'on_hand', workload.stock[index]!, 'reserved', 0);
    }
    await execPipeline(pipeline.exec());
  }
}

async function hashReserved(redis: Redis, inventoryKeys: readonly string[]): Promise<number> {
  let total = 0;
  for (let from = 0; from < inventoryKeys.length; from += 1000) {
    const pipeline = redis.pipeline();
    for (const key of inventoryKeys.slice(from, from + 1000)) pipeline.hget(key, 'reserved');
    for (const reply of await execPipeline(pipeline.exec())) total += Number(reply ?? 0);
  }
  return total;
}

function inventoryKeysOf(keys: KeySpace, workload: Workload): string[] {
  return workload.skus.map((sku) => keys.perSkuKeys(sku).inventory);
}

async function rawEvalshaDriver(settings: DriverSettings): Promise<Driver> {
  const connections = await connect(settings.redisUrl, settings.connections);
  const script = luaScripts().reserveOrder;
  await connections[0]!.script('LOAD', script.source);
  return {
    workers: connections.length,
    batchSize: Math.max(1, Math.round(settings.inFlight / connections.length)),
    async prepare(workload, tag, outcomes) {
      const keySpace = new KeySpace(tag);
      const ledgers = connections.map((redis) => new Ledger({ redis, keyPrefix: tag }));
      await stockLedger(ledgers, workload);
      const skuKeys = workload.skus.map((sku) => scriptKeys(keySpace.sku(sku)));
      return {
        async runBatch(worker, first, count) {
          const pipeline = connections[worker]!.pipeline();
          for (let i = first; i < first + count; i += 1) {
            const keys = skuKeys[workload.opSku[i]!]!;
            // ARGV as reserveOrder.lua's header lists them: now, retention, SKU, mode, n, (id, quantity)×n,
            // the order's own time, the dedupe horizon.
            const now = Date.now();
            pipeline.evalsha(script.sha, keys.length, ...keys, now, RETENTION_MS, workload.skus[workload.opSku[i]!]!, 'sale', 1, `${CHANNEL}:o${i}:1`, 1, now, DEFAULT_DEDUPE_HORIZON_MS);
          }
          const replies = await execPipeline(pipeline.exec());
          replies.forEach((reply, offset) => {
            // reply: [status, on_hand, reserved, holdback, oversold, version, line status, held, shortfall]
            if (!Array.isArray(reply) || reply[0] !== 'OK') throw new Error(`reserveOrder replied ${JSON.stringify(reply)} for op ${first + offset} of ${workload.opSku.length}`);
            outcomes.held[first + offset] = Number(reply[7]) > 0 ? 1 : 0;
          });
        },
        storedReserved: () => ledgerReserved(ledgers, workload),
        drop: () => deleteKeys(connections[0]!, tag),
      };
    },
    close: () => disconnect(connections),
  };
}

async function stockguardDriver(settings: DriverSettings): Promise<Driver> {
  const connections = await connect(settings.redisUrl, settings.connections, { enableAutoPipelining: settings.autoPipelining });
  return {
    workers: settings.inFlight,
    batchSize: 1,
    async prepare(workload, tag, outcomes) {
      const ledgers = connections.map((redis) => new Ledger({ redis, keyPrefix: tag }));
      await stockLedger(ledgers, workload);
      return {
        async runBatch(worker, i) {
          const ledger = ledgers[worker % ledgers.length]!;
          const sku = workload.skus[workload.opSku[i]!]!;
          const [line] = await ledger.reserveOrder({ channel: CHANNEL, orderId: `o${i}`, lines: [{ lineId: '1', sku, quantity: 1 }] });
          outcomes.held[i] = line && line.held > 0 ? 1 : 0;
        },
        storedReserved: () => ledgerReserved(ledgers, workload),
        drop: () => deleteKeys(connections[0]!, tag),
      };
    },
    close: () => disconnect(connections),
  };
}

async function watchMultiDriver(settings: DriverSettings): Promise<Driver> {
  const connections = await connect(settings.redisUrl, settings.connections);
  const pool = new ConnectionPool(connections);
  const record = JSON.stringify({ q: 1, h: 1, sh: 0, sf: 0, r: 1, c: 0 });
  return {
    workers: settings.inFlight,
    batchSize: 1,
    async prepare(workload, tag, outcomes) {
      const keySpace = new KeySpace(tag);
      await stockHashes(connections[0]!, keySpace, workload);
      const skuKeys = workload.skus.map((sku) => keySpace.perSkuKeys(sku));
      return {
        async runBatch(_worker, i) {
          const keys = skuKeys[workload.opSku[i]!]!;
          outcomes.held[i] = await pool.use(async (redis) => {
            for (;;) {
              // WATCH and the read go out together: one round trip, still in order.
              const [, [onHand, reserved]] = await Promise.all([
                redis.watch(keys.inventory),
                redis.hmget(keys.inventory, 'on_hand', 'reserved'),
              ]);
              if (Number(onHand) - Number(reserved) < 1) {
                await redis.unwatch();
                return 0;
              }
              const committed = await redis
                .multi()
                .hincrby(keys.inventory, 'reserved', 1)
                .hset(keys.reservations, `${CHANNEL}:o${i}:1`, record)
                .exec();
              if (committed !== null) {
                await execPipeline(Promise.resolve(committed));
                return 1;
              }
              outcomes.retries += 1;
            }
          });
        },
        storedReserved: () => hashReserved(connections[0]!, inventoryKeysOf(keySpace, workload)),
        drop: () => deleteKeys(connections[0]!, tag),
      };
    },
    close: () => disconnect(connections),
  };
}

async function naiveDriver(settings: DriverSettings): Promise<Driver> {
  const connections = await connect(settings.redisUrl, settings.connections);
  return {
    workers: settings.inFlight,
    batchSize: 1,
    async prepare(workload, tag, outcomes) {
      const keySpace = new KeySpace(tag);
      await stockHashes(connections[0]!, keySpace, workload);
      const inventoryKeys = inventoryKeysOf(keySpace, workload);
      return {
        async runBatch(worker, i) {
          const redis = connections[worker % connections.length]!;
          const key = inventoryKeys[workload.opSku[i]!]!;
          // The race on purpose: another caller can write between this read and the write below.
          const [onHand, reserved] = await redis.hmget(key, 'on_hand', 'reserved');
          if (Number(onHand) - Number(reserved) < 1) {
            outcomes.held[i] = 0;
            return;
          }
          await redis.hset(key, 'reserved', Number(reserved) + 1);
          outcomes.held[i] = 1;
        },
        storedReserved: () => hashReserved(connections[0]!, inventoryKeys),
        drop: () => deleteKeys(connections[0]!, tag),
      };
    },
    close: () => disconnect(connections),
  };
}

// ---------------------------------------------------------------- PostgreSQL variant

function postgresDriver(pool: pg.Pool, settings: DriverSettings): Driver {
  return {
    workers: settings.inFlight,
    batchSize: 1,
    async prepare(workload, tag, outcomes) {
      // Identifiers and statement names stop at 63 bytes in PostgreSQL: name the table by a digest.
      const id = createHash('sha1').update(tag).digest('hex').slice(0, 12);
      const table = `${BENCH_SCHEMA}.inventory_${id}`;
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.query(`CREATE TABLE ${table} (sku text PRIMARY KEY, on_hand integer NOT NULL, reserved integer NOT NULL DEFAULT 0)`);
      await pool.query(`INSERT INTO ${table} (sku, on_hand) SELECT * FROM unnest($1::text[], $2::integer[])`, [
        workload.skus,
        Array.from(workload.stock),
      ]);
      await pool.query(`ANALYZE ${table}`);
      const reserve = {
        name: `stockguard_bench_reserve_${id}`,
        text: `UPDATE ${table} SET reserved = reserved + $1 WHERE sku = $2 AND on_hand - reserved >= $1`,
      };
      return {
        async runBatch(_worker, i) {
          const result = await pool.query({ ...reserve, values: [1, workload.skus[workload.opSku[i]!]!] });
          outcomes.held[i] = result.rowCount === 1 ? 1 : 0;
        },
        async storedReserved() {
          const result = await pool.query<{ total: string | null }>(`SELECT sum(reserved) AS total FROM ${table}`);
          return Number(result.rows[0]?.total ?? 0);
        },
        async drop() {
          await pool.query(`DROP TABLE IF EXISTS ${table}`);
        },
      };
    },
    close: async () => undefined,
  };
}

// ---------------------------------------------------------------- the scenario

/** One measurement of one variant on one workload (a round). */
interface RoundResult {
  opsPerSec: number;
  elapsedMs: number;
  latenciesMs: Float64Array;
  oversold: number;
  retries: number;
  ops: number;
  stock: number;
  expectedReserved: number;
  reportedReserved: number;
  storedReserved: number;
  clientCpuUs: number;
  redisCpuUs: number;
}

export async function runLedgerScenario(options: LedgerBenchOptions): Promise<LedgerBenchResult> {
  const log = options.log ?? (() => undefined);
  const connections = options.connections ?? 16;
  const inFlight = options.inFlight ?? 256;
  const spreadSkus = options.spreadSkus ?? 10_000;
  const warmupOps = options.warmupOps ?? 2_000;
  const rounds = Math.max(1, options.rounds ?? 3);
  const seed = options.seed ?? 20_240_601;
  const ops: Record<VariantName, number> = { ...DEFAULT_OPS, ...options.ops };
  const variants = options.variants ?? VARIANT_NAMES;
  const workloads = options.workloads ?? WORKLOAD_NAMES;
  const settings: DriverSettings = { redisUrl: options.redisUrl, connections, inFlight, autoPipelining: options.autoPipelining ?? false };
  const runId = Math.random().toString(36).slice(2, 8);

  const [admin] = await connect(options.redisUrl, 1);
  const env = await benchEnv(admin!);
  const persistence = await admin!.config('GET', 'appendonly');
  const measured = new Map<string, RoundResult[]>();
  const skipped: SkippedVariant[] = [];
  let postgresInfo: LedgerBenchResult['settings']['postgres'] = null;
  let postgresPool: pg.Pool | undefined;

  try {
    if (variants.includes('postgres-row-lock')) {
      const opened = options.postgres === false ? { skipped: 'PostgreSQL disabled by the caller' } : await openBenchPostgres(connections);
      if ('skipped' in opened) {
        skipped.push({ name: 'postgres-row-lock', reason: opened.skipped });
        log(`skipping postgres-row-lock: ${opened.skipped}`);
      } else {
        postgresPool = opened.pool;
        postgresInfo = { version: opened.version, synchronous_commit: opened.synchronousCommit };
      }
    }

    // Rounds interleave the variants, so a burst of load from a neighbour on the shared
    // machine hits one round of each rather than all of one variant; the medians then
    // compare variants measured minutes apart at most.
    for (let round = 1; round <= rounds; round += 1) {
      for (const workloadName of workloads) {
        for (const name of variants) {
          let driver: Driver;
          if (name === 'postgres-row-lock') {
            if (!postgresPool) continue;
            driver = postgresDriver(postgresPool, settings);
          } else {
            const open = { 'raw-evalsha': rawEvalshaDriver, stockguard: stockguardDriver, 'watch-multi': watchMultiDriver, naive: naiveDriver }[name];
            driver = await open(settings);
          }
          try {
            const tag = `stockguard-bench-${runId}-${round}-${name}-${workloadName}`;
            const workload = buildWorkload(workloadName, ops[name], spreadSkus, seed + round);
            const started = performance.now();
            const result = await measure(driver, admin!, workload, tag, warmupOps, spreadSkus);
            const wallSeconds = ((performance.now() - started) / 1000).toFixed(1);
            const key = `${workloadName}/${name}`;
            measured.set(key, [...(measured.get(key) ?? []), result]);
            log(
              `round ${round}/${rounds} ${workloadName.padEnd(6)} ${name.padEnd(17)} ${String(Math.round(result.opsPerSec)).padStart(7)} ops/s` +
                `  oversold ${result.oversold}${name === 'watch-multi' ? `  retries ${result.retries}` : ''}  (${wallSeconds} s with set-up)`,
            );
          } finally {
            await driver.close();
          }
        }
      }
    }
  } finally {
    if (postgresPool) {
      await dropSchemaIfEmpty(postgresPool);
      await postgresPool.end();
    }
    await disconnect([admin!]);
  }

  const results: VariantResult[] = [];
  for (const workloadName of workloads) {
    for (const name of variants) {
      const roundResults = measured.get(`${workloadName}/${name}`);
      if (roundResults) results.push(aggregate(name, workloadName, roundResults, connections, inFlight, name === 'postgres-row-lock'));
    }
  }
  return {
    scenario: 'ledger',
    env,
    date: new Date().toISOString(),
    settings: {
      connections,
      in_flight: inFlight,
      rounds,
      spread_skus: spreadSkus,
      warmup_ops: warmupOps,
      ops,
      auto_pipelining: settings.autoPipelining,
      redis_persistence: `appendonly ${Array.isArray(persistence) ? String(persistence[1]) : 'unknown'}`,
      postgres: postgresInfo,
    },
    variants: results,
    skipped,
    targets: checkTargets(results),
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function aggregate(
  name: VariantName,
  workload: WorkloadName,
  rounds: readonly RoundResult[],
  connections: number,
  inFlight: number,
  postgres: boolean,
): VariantResult {
  const sum = (pick: (round: RoundResult) => number) => rounds.reduce((total, round) => total + pick(round), 0);
  const allLatencies = new Float64Array(sum((round) => round.latenciesMs.length));
  let offset = 0;
  for (const round of rounds) {
    allLatencies.set(round.latenciesMs, offset);
    offset += round.latenciesMs.length;
  }
  const latency = summarizeLatencies(allLatencies);
  const ops = sum((round) => round.ops);
  return {
    name,
    workload,
    ops_per_sec: Math.round(median(rounds.map((round) => round.opsPerSec))),
    p50_ms: round(latency.p50Ms, 2),
    p99_ms: round(latency.p99Ms, 2),
    oversold: sum((round) => round.oversold),
    ...(name === 'watch-multi' ? { retries: sum((round) => round.retries) } : {}),
    rounds_ops_per_sec: rounds.map((round) => Math.round(round.opsPerSec)),
    ops,
    elapsed_ms: Math.round(sum((round) => round.elapsedMs)),
    stock: sum((round) => round.stock),
    expected_reserved: sum((round) => round.expectedReserved),
    reported_reserved: sum((round) => round.reportedReserved),
    stored_reserved: sum((round) => round.storedReserved),
    client_cpu_us_per_op: round(sum((round) => round.clientCpuUs) / ops, 1),
    redis_cpu_us_per_op: postgres ? null : round(sum((round) => round.redisCpuUs) / ops, 1),
    connections,
    in_flight: inFlight,
  };
}

/** used_cpu_user + used_cpu_sys of the whole redis-server, in microseconds. */
async function redisCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const seconds = (field: string) => Number(new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1] ?? 0);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6;
}

async function measure(driver: Driver, admin: Redis, workload: Workload, tag: string, warmupOps: number, spreadSkus: number): Promise<RoundResult> {
  // Warm-up on a small hot SKU of its own: JIT, connections, script cache, prepared statement.
  // A fifth of the measured ops at most, so the slow variants do not spend the time budget here.
  const warmOps = Math.min(warmupOps, Math.ceil(workload.opSku.length / 5));
  if (warmOps > 0) {
    const warmup = buildWorkload('hot', warmOps, spreadSkus, 1);
    const warmTarget = await driver.prepare(warmup, `${tag}-warmup`, { held: new Uint8Array(warmOps), retries: 0 });
    await closedLoop({ ops: warmOps, workers: driver.workers, batchSize: driver.batchSize }, warmTarget.runBatch);
    await warmTarget.drop();
  }

  const opCount = workload.opSku.length;
  const outcomes: Outcomes = { held: new Uint8Array(opCount), retries: 0 };
  const target = await driver.prepare(workload, tag, outcomes);
  let storedReserved: number;
  let loop: Awaited<ReturnType<typeof closedLoop>>;
  let clientCpuUs: number;
  let serverCpuUs: number;
  try {
    const serverBefore = await redisCpuUs(admin);
    const clientBefore = process.cpuUsage();
    loop = await closedLoop({ ops: opCount, workers: driver.workers, batchSize: driver.batchSize }, target.runBatch);
    const clientUsed = process.cpuUsage(clientBefore);
    clientCpuUs = clientUsed.user + clientUsed.system;
    serverCpuUs = (await redisCpuUs(admin)) - serverBefore;
    storedReserved = await target.storedReserved();
  } finally {
    await target.drop();
  }

  const demand = new Int32Array(workload.skus.length);
  const reported = new Int32Array(workload.skus.length);
  for (let i = 0; i < opCount; i += 1) {
    const sku = workload.opSku[i]!;
    demand[sku]! += 1;
    reported[sku]! += outcomes.held[i]!;
  }
  let oversold = 0;
  let expected = 0;
  let reportedTotal = 0;
  let stock = 0;
  for (let sku = 0; sku < workload.skus.length; sku += 1) {
    oversold += Math.max(0, reported[sku]! - workload.stock[sku]!);
    expected += Math.min(demand[sku]!, workload.stock[sku]!);
    reportedTotal += reported[sku]!;
    stock += workload.stock[sku]!;
  }
  return {
    opsPerSec: (opCount * 1000) / loop.elapsedMs,
    elapsedMs: loop.elapsedMs,
    latenciesMs: loop.latenciesMs,
    oversold,
    retries: outcomes.retries,
    ops: opCount,
    stock,
    expectedReserved: expected,
    reportedReserved: reportedTotal,
    storedReserved,
    clientCpuUs,
    redisCpuUs: serverCpuUs,
  };
}

// ---------------------------------------------------------------- targets and tables

/** The issue's targets, all on the hot SKU, plus "0 oversold for every variant but naive". */
function checkTargets(results: readonly VariantResult[]): TargetCheck[] {
  const hot = (name: VariantName) => results.find((result) => result.workload === 'hot' && result.name === name);
  const ratio = (over: VariantName, minimum: number): TargetCheck => {
    const target = `hot: stockguard ≥ ${minimum}× ${over}`;
    const top = hot('stockguard');
    const bottom = hot(over);
    if (!top || !bottom) return { target, value: null, met: null };
    const value = round(top.ops_per_sec / bottom.ops_per_sec, 2);
    const raw = hot('raw-evalsha');
    const ceiling = over === 'raw-evalsha' ? undefined : raw ? round(raw.ops_per_sec / bottom.ops_per_sec, 2) : null;
    return { target, value, met: value >= minimum, ...(ceiling === undefined ? {} : { ceiling }) };
  };
  const correct = results.filter((result) => result.name !== 'naive');
  return [
    ratio('raw-evalsha', 0.5),
    ratio('watch-multi', 5),
    ratio('postgres-row-lock', 10),
    {
      target: 'oversold = 0 for every variant but naive',
      value: correct.reduce((sum, result) => sum + result.oversold, 0),
      met: correct.every((result) => result.oversold === 0),
    },
  ];
}

function resultRows(result: LedgerBenchResult): string[][] {
  return result.variants.map((variant) => {
    const stockguard = result.variants.find((other) => other.workload === variant.workload && other.name === 'stockguard');
    return [
      variant.workload,
      variant.name,
      String(variant.ops_per_sec),
      variant.rounds_ops_per_sec.join(', '),
      variant.p50_ms.toFixed(2),
      variant.p99_ms.toFixed(2),
      String(variant.oversold),
      variant.retries === undefined ? '' : String(variant.retries),
      `${variant.reported_reserved} / ${variant.stored_reserved} / ${variant.expected_reserved}`,
      variant.client_cpu_us_per_op.toFixed(1),
      variant.redis_cpu_us_per_op === null ? '' : variant.redis_cpu_us_per_op.toFixed(1),
      stockguard ? (stockguard.ops_per_sec / variant.ops_per_sec).toFixed(2) : '',
    ];
  });
}

const HEADER = [
  'workload',
  'variant',
  'ops/s',
  'ops/s by round',
  'p50 ms',
  'p99 ms',
  'oversold',
  'retries',
  'reserved: reported / stored / correct',
  'client CPU µs/op',
  'redis CPU µs/op',
  'stockguard ÷ this',
];

function targetLine(check: TargetCheck): string {
  const verdict = check.met === null ? 'not measured' : check.met ? 'met' : 'MISSED';
  const ceiling = check.ceiling === undefined || check.ceiling === null ? '' : `; raw-evalsha reaches ${check.ceiling}×`;
  const unit = check.target.startsWith('hot:') && check.value !== null ? '×' : '';
  return `${check.target}: ${check.value ?? 'n/a'}${unit} (${verdict}${ceiling})`;
}

function settingsLine(result: LedgerBenchResult): string {
  const s = result.settings;
  const pgLine = s.postgres ? `PostgreSQL ${s.postgres.version} (synchronous_commit ${s.postgres.synchronous_commit})` : 'PostgreSQL not measured';
  const ops = VARIANT_NAMES.map((name) => `${name} ${s.ops[name]}`).join(', ');
  return (
    `${s.connections} connections, ${s.in_flight} ops in flight, ${s.spread_skus} SKUs in spread, ${s.rounds} interleaved rounds ` +
    `(ops/s = median), up to ${s.warmup_ops} warm-up ops; ops per round: ${ops}; Redis ${s.redis_persistence}; ${pgLine}` +
    (s.auto_pipelining ? '; stockguard clients with enableAutoPipelining' : '')
  );
}

export function ledgerTextReport(result: LedgerBenchResult): string {
  return [
    `ledger scenario, ${result.date}`,
    describeEnv(result.env),
    settingsLine(result),
    '',
    textTable(HEADER, resultRows(result)),
    '',
    ...result.targets.map(targetLine),
    ...result.skipped.map((skip) => `skipped ${skip.name}: ${skip.reason}`),
  ].join('\n');
}

/** The content of the `ledger` section of docs/benchmarks.md (generated). */
export function ledgerMarkdown(result: LedgerBenchResult): string {
  return [
    `<!-- generated by \`npm run bench -- ledger\` (bench/ledger.ts); edits here are overwritten -->`,
    `Measured ${result.date} on ${describeEnv(result.env)}.`,
    '',
    settingsLine(result) + '.',
    '',
    markdownTable(HEADER, resultRows(result)),
    '',
    'Targets (issue: hot SKU ratios of ops/s, correctness everywhere):',
    '',
    ...result.targets.map((check) => `- ${targetLine(check)}`),
    ...result.skipped.map((skip) => `- skipped ${skip.name}: ${skip.reason}`),
  ].join('\n');
}
