// `npm run bench -- allocation`: what each allocation mode costs and saves on one hot SKU,
// on the simulator (src/sim/allocationSim.ts, which calls the real allocate()). No Redis,
// no channel fakes: every grid cell says e2e: false.
//
// Grid: velocity (orders/s on the SKU, all channels together) 10, 100, 1,000 × Amazon
// apply lag 0.5 s, 5 s, 60 s × delivery lag 0.2 s, 2 s, 30 s × mode shared, strict, auto.
// Then one cell end to end (e2e: true), below.
// Per cell, one flash sale:
//   - stock = 30 s of demand (velocity × 30), shown before the sale opens (time 0);
//   - buyers for 36 s (20 % more demand than stock), 60 % on Shopify, 40 % on Amazon, the
//     pusher's velocity prior set to that split (a hot SKU's history);
//   - Shopify: compare-and-set, round trip 100–300 ms, one write in flight;
//   - Amazon: absolute writes at most one per second for this SKU, applied after
//     20–100 % of the cell's apply lag, in order, and reported when applied;
//   - each sale reaches the ledger after 10–100 % of the cell's delivery lag (the bound);
//   - the pusher runs every 100 ms.
// Reported per cell: oversold units, sell-through (units sold ÷ stock), stranded units,
// writes, time to quiet. Targets (issue 12): strict oversold 0 everywhere and sell-through
// ≥ 95 % (≥ 98 % where apply lag ≤ 5 s); auto oversold ≤ 1 % of shared's with sell-through
// within 1 point of shared.
//
// The e2e cell (issue 12, "one cell end to end"): the real daemon on a real redis-server,
// Shopify webhooks over HTTP, Amazon notifications over a local SQS, the two fakes
// (src/sim/flashCell.ts, the setup of test/e2e/strict.test.ts). 3 hot SKUs, 10 orders/s per
// SKU (Poisson, seeded, 60 % Shopify, 40 % Amazon, 1 unit each) for 20 s, stock 100 per SKU
// (10 s of demand: it sells out around the middle; shared, strict, auto), and again in strict
// with stock 167 per SKU (demand 1.2 × stock, the grid's ratio, where a split that waits on
// the slower channel strands stock), Amazon applying each PATCH after 1–5 s,
// Shopify webhooks and Amazon ORDER_CHANGE delivered after 0.2–2 s; the daemon's bounds:
// delivery 3 s, apply 6 s (the fakes' maxima plus 1 s for SQS, the consumers and a shared
// machine). Each run on a fresh key prefix, SQS, fakes and daemon; printed
// beside the simulator run on the same shape (per SKU: stock 100, 20 s of buyers, same lags).
import { availableParallelism, cpus } from 'node:os';
import { Redis } from 'ioredis';
import { type AllocationMode, formatAllocationMode } from '../src/domain/allocation.ts';
import { runAllocationSim, type SimResult } from '../src/sim/allocationSim.ts';
import { type FlashCellFigures, runFlashCell } from '../src/sim/flashCell.ts';
import type { BenchEnv } from './lib/env.ts';
import { benchEnv, describeEnv } from './lib/env.ts';
import { deleteKeys, openBenchRedis } from './lib/redis.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { round } from './lib/stats.ts';

export const VELOCITIES = [10, 100, 1_000] as const;
export const APPLY_LAGS_MS = [500, 5_000, 60_000] as const;
export const DELIVERY_LAGS_MS = [200, 2_000, 30_000] as const;
export const MODES: readonly AllocationMode[] = [{ kind: 'shared' }, { kind: 'strict' }, { kind: 'auto' }];

const STOCK_SECONDS = 30;
const DEMAND_SECONDS = 36;
const SHOPIFY_SHARE = 0.6;
const SEED = 12;

export interface AllocationCell {
  velocity: number;
  apply_lag_ms: number;
  delivery_lag_ms: number;
  mode: string;
  stock: number;
  sold: number;
  oversold: number;
  sell_through: number;
  stranded: number;
  writes: number;
  time_to_quiet_ms: number;
  e2e: boolean;
}

/** A cell run end to end (e2e: true), with what only the real system has, and the simulator on the same shape. */
export interface AllocationE2eCell extends AllocationCell {
  e2e: true;
  skus: number;
  stock_per_sku: number;
  /** STOCKGUARD_ALLOCATION_CHANNEL_MIX the daemon ran with (null: none, equal shares at first). */
  channel_mix: string | null;
  demand_seconds: number;
  ledger_oversold: number;
  refused: { shopify: number; amazon: number };
  writes_by_channel: { shopify: number; amazon: number };
  amazon_throttled: number;
  quiet_after_buyers_ms: number;
  channels_within_ledger: boolean;
  /** The simulator on the same shape (each SKU simulated alone, seeds 12, 13, 14; summed). */
  sim: { oversold: number; sell_through: number; stranded: number; writes: number; time_to_quiet_ms: number };
}

export interface AllocationBenchResult {
  scenario: 'allocation';
  date: string;
  env: BenchEnv;
  settings: Record<string, unknown>;
  /** The simulator's grid (e2e: false), then the e2e cells (e2e: true, AllocationE2eCell). */
  cells: AllocationCell[];
  /** What the e2e cells ran on (the simulator needs no Redis: env says n/a). */
  e2e_env?: BenchEnv;
  e2e_settings?: Record<string, unknown>;
  /** The grid again with other seeds: cells that miss each target, summed over the seeds. */
  robustness: { seeds: number[]; cells_per_target: number; missed: { strict_oversold: number; strict_sell_through: number; auto_oversold: number; auto_sell_through: number } };
  /** Wall time of the whole grid (s). */
  seconds: number;
}

function simEnv(): BenchEnv {
  return { node: process.version, redis: 'n/a (simulator)', cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: availableParallelism() };
}

// The e2e cell.
export const E2E = {
  velocityPerSku: 10,
  applyLagMs: 5_000,
  deliveryLagMs: 2_000,
  skus: 3,
  demandSeconds: 20,
  /** Stock per SKU and the modes run with it. */
  runs: [
    { stockPerSku: 100, modes: ['shared', 'strict', 'auto'] },
    { stockPerSku: 167, modes: ['strict'] },
    // The same with the buyers' channel mix configured as the daemon's prior
    // (STOCKGUARD_ALLOCATION_CHANNEL_MIX), as the simulator knows it from the start.
    { stockPerSku: 167, modes: ['strict'], channelMix: 'shopify=60,amazon=40' },
  ] as ReadonlyArray<{ stockPerSku: number; modes: readonly string[]; channelMix?: string }>,
  bounds: { shopifyDeliverySeconds: 3, amazonDeliverySeconds: 3, amazonApplySeconds: 6 },
  pushPollMs: 10,
  seed: SEED,
};

function e2eSimFigures(mode: AllocationMode, stockPerSku: number) {
  const deliveryLag = { minMs: E2E.deliveryLagMs * 0.1, maxMs: E2E.deliveryLagMs };
  const totals = { sold: 0, oversold: 0, stranded: 0, writes: 0, time_to_quiet_ms: 0 };
  for (let index = 0; index < E2E.skus; index += 1) {
    const result = runAllocationSim({
      seed: E2E.seed + index,
      stock: stockPerSku,
      mode,
      horizonMs: E2E.demandSeconds * 1000,
      tickMs: 100,
      channels: [
        { id: 'shopify', writeKind: 'cas', buyersPerSec: E2E.velocityPerSku * SHOPIFY_SHARE, velocityPrior: E2E.velocityPerSku * SHOPIFY_SHARE, deliveryLag, applyLag: { minMs: 100, maxMs: 300 } },
        {
          id: 'amazon',
          writeKind: 'absolute',
          buyersPerSec: E2E.velocityPerSku * (1 - SHOPIFY_SHARE),
          velocityPrior: E2E.velocityPerSku * (1 - SHOPIFY_SHARE),
          deliveryLag,
          applyLag: { minMs: E2E.applyLagMs * 0.2, maxMs: E2E.applyLagMs },
          minWriteIntervalMs: 1_000,
        },
      ],
    });
    totals.sold += Math.min(result.sold, stockPerSku);
    totals.oversold += result.oversold;
    totals.stranded += result.stranded;
    totals.writes += result.writes;
    totals.time_to_quiet_ms = Math.max(totals.time_to_quiet_ms, Math.round(result.timeToQuietMs));
  }
  return { oversold: totals.oversold, sell_through: round(totals.sold / (E2E.skus * stockPerSku), 4), stranded: totals.stranded, writes: totals.writes, time_to_quiet_ms: totals.time_to_quiet_ms };
}

/** The e2e cell for each mode, through the real daemon on a real Redis (BENCH_REDIS_URL, or a private redis-server). */
export async function runAllocationE2e(options: { log?: (line: string) => void; modes?: readonly string[] } = {}): Promise<{ env: BenchEnv; cells: AllocationE2eCell[]; settings: Record<string, unknown> }> {
  const log = options.log ?? (() => undefined);
  const redis = await openBenchRedis();
  const client = new Redis(redis.url, { maxRetriesPerRequest: 3 });
  client.on('error', () => undefined);
  const cells: AllocationE2eCell[] = [];
  try {
    const env = await benchEnv(client);
    log(`allocation e2e: Redis at ${redis.url}${redis.private ? ' (private redis-server)' : ' (BENCH_REDIS_URL)'}, ${describeEnv(env)}`);
    const runs = E2E.runs.flatMap((run) => run.modes.filter((mode) => !options.modes || options.modes.includes(mode)).map((mode) => ({ mode, stockPerSku: run.stockPerSku, channelMix: run.channelMix })));
    for (const { mode, stockPerSku, channelMix } of runs) {
      const keyPrefix = `bench-alloc-e2e-${mode}-${Date.now().toString(36)}`;
      const started = performance.now();
      let figures: FlashCellFigures;
      try {
        figures = await runFlashCell({
          redisUrl: redis.url,
          keyPrefix,
          stock: Array.from({ length: E2E.skus }, () => stockPerSku),
          allocationMode: mode,
          skuPrefix: 'BENCH-HOT',
          shopifyDeliveryLag: { minMs: E2E.deliveryLagMs * 0.1, maxMs: E2E.deliveryLagMs, seed: E2E.seed + 1 },
          amazonApplyLag: { minMs: E2E.applyLagMs * 0.2, maxMs: E2E.applyLagMs, seed: E2E.seed + 2 },
          amazonDeliveryLag: { ORDER_CHANGE: { minMs: E2E.deliveryLagMs * 0.1, maxMs: E2E.deliveryLagMs, seed: E2E.seed + 3 } },
          bounds: E2E.bounds,
          pushPollMs: E2E.pushPollMs,
          ...(channelMix ? { channelMix } : {}),
          buyers: { velocityPerSku: E2E.velocityPerSku, durationMs: E2E.demandSeconds * 1000, shopifyShare: SHOPIFY_SHARE, seed: E2E.seed },
        });
      } finally {
        await deleteKeys(client, keyPrefix);
      }
      const sim = e2eSimFigures(parseModeText(mode), stockPerSku);
      const cell: AllocationE2eCell = {
        velocity: E2E.velocityPerSku,
        apply_lag_ms: E2E.applyLagMs,
        delivery_lag_ms: E2E.deliveryLagMs,
        mode,
        stock: figures.stock,
        sold: figures.sold,
        oversold: figures.oversold,
        sell_through: round(figures.sellThrough, 4),
        stranded: figures.stranded,
        writes: figures.writes.shopify + figures.writes.amazon,
        time_to_quiet_ms: Math.round(figures.timeToQuietMs),
        e2e: true,
        skus: E2E.skus,
        stock_per_sku: stockPerSku,
        channel_mix: channelMix ?? null,
        demand_seconds: E2E.demandSeconds,
        ledger_oversold: figures.ledgerOversold,
        refused: figures.refused,
        writes_by_channel: figures.writes,
        amazon_throttled: figures.amazonThrottled,
        quiet_after_buyers_ms: Math.round(figures.quietAfterBuyersMs),
        channels_within_ledger: figures.channelsWithinLedger,
        sim,
      };
      cells.push(cell);
      log(
        `e2e ${mode}${channelMix ? ` (prior ${channelMix})` : ''}, stock ${stockPerSku}/SKU: oversold ${cell.oversold} (ledger ${cell.ledger_oversold}), sell-through ${cell.sell_through}, stranded ${cell.stranded}, writes ${cell.writes} (Amazon 429s ${cell.amazon_throttled}), time to quiet ${cell.time_to_quiet_ms} ms, quiet ${cell.quiet_after_buyers_ms} ms after the buyers; ` +
          `simulator on the same shape: oversold ${sim.oversold}, sell-through ${sim.sell_through}, stranded ${sim.stranded} (${round((performance.now() - started) / 1000, 1)} s)`,
      );
    }
    return {
      env,
      cells,
      settings: {
        skus: E2E.skus,
        runs: E2E.runs,
        orders_per_sec_per_sku: E2E.velocityPerSku,
        demand_seconds: E2E.demandSeconds,
        units_per_order: 1,
        shopify_share: SHOPIFY_SHARE,
        amazon_apply_lag_ms: [E2E.applyLagMs * 0.2, E2E.applyLagMs],
        delivery_lag_ms: [E2E.deliveryLagMs * 0.1, E2E.deliveryLagMs],
        daemon_lag_bounds_s: E2E.bounds,
        push_poll_ms: E2E.pushPollMs,
        seed: E2E.seed,
        redis: redis.private ? 'private redis-server' : 'BENCH_REDIS_URL',
      },
    };
  } finally {
    await client.quit().catch(() => client.disconnect());
    await redis.close();
  }
}

function parseModeText(text: string): AllocationMode {
  return MODES.find((mode) => formatAllocationMode(mode) === text) ?? { kind: 'shared' };
}

export function runCell(velocity: number, applyLagMs: number, deliveryLagMs: number, mode: AllocationMode, seed = SEED): SimResult {
  const stock = velocity * STOCK_SECONDS;
  const deliveryLag = { minMs: deliveryLagMs * 0.1, maxMs: deliveryLagMs };
  return runAllocationSim({
    seed,
    stock,
    mode,
    horizonMs: DEMAND_SECONDS * 1000,
    tickMs: 100,
    channels: [
      {
        id: 'shopify',
        writeKind: 'cas',
        buyersPerSec: velocity * SHOPIFY_SHARE,
        velocityPrior: velocity * SHOPIFY_SHARE,
        deliveryLag,
        applyLag: { minMs: 100, maxMs: 300 },
      },
      {
        id: 'amazon',
        writeKind: 'absolute',
        buyersPerSec: velocity * (1 - SHOPIFY_SHARE),
        velocityPrior: velocity * (1 - SHOPIFY_SHARE),
        deliveryLag,
        applyLag: { minMs: applyLagMs * 0.2, maxMs: applyLagMs },
        minWriteIntervalMs: 1_000,
      },
    ],
  });
}

function gridCells(seed: number, log: (line: string) => void): AllocationCell[] {
  const cells: AllocationCell[] = [];
  for (const velocity of VELOCITIES) {
    for (const applyLagMs of APPLY_LAGS_MS) {
      for (const deliveryLagMs of DELIVERY_LAGS_MS) {
        for (const mode of MODES) {
          const result = runCell(velocity, applyLagMs, deliveryLagMs, mode, seed);
          const cell: AllocationCell = {
            velocity,
            apply_lag_ms: applyLagMs,
            delivery_lag_ms: deliveryLagMs,
            mode: formatAllocationMode(mode),
            stock: velocity * STOCK_SECONDS,
            sold: result.sold,
            oversold: result.oversold,
            sell_through: round(result.sellThrough, 4),
            stranded: result.stranded,
            writes: result.writes,
            time_to_quiet_ms: Math.round(result.timeToQuietMs),
            e2e: false,
          };
          cells.push(cell);
          log(`seed ${seed} ${velocity}/s apply ${applyLagMs} ms delivery ${deliveryLagMs} ms ${cell.mode}: oversold ${cell.oversold}, sell-through ${cell.sell_through}, stranded ${cell.stranded}`);
        }
      }
    }
  }
  return cells;
}

/** Seeds besides the reported one: how often each target is missed when only the randomness changes. */
const ROBUSTNESS_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

export function runAllocationScenario(options: { log?: (line: string) => void } = {}): AllocationBenchResult {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  const cells = gridCells(SEED, log);
  const misses = { strict_oversold: 0, strict_sell_through: 0, auto_oversold: 0, auto_sell_through: 0 };
  for (const seed of ROBUSTNESS_SEEDS) {
    const counts = missCounts(gridCells(seed, () => undefined));
    for (const key of Object.keys(misses) as (keyof typeof misses)[]) misses[key] += counts[key];
  }
  log(`seeds ${ROBUSTNESS_SEEDS.join(',')}: ${JSON.stringify(misses)} cells missed of ${ROBUSTNESS_SEEDS.length * 27} per target`);
  return {
    scenario: 'allocation',
    date: new Date().toISOString(),
    env: simEnv(),
    settings: {
      stock_seconds_of_demand: STOCK_SECONDS,
      demand_seconds: DEMAND_SECONDS,
      shopify_share: SHOPIFY_SHARE,
      shopify_cas_round_trip_ms: [100, 300],
      amazon_min_write_interval_ms: 1_000,
      apply_lag_spread: '20–100 % of the cell value',
      delivery_lag_spread: '10–100 % of the cell value (the bound)',
      tick_ms: 100,
      seed: SEED,
    },
    cells,
    robustness: { seeds: ROBUSTNESS_SEEDS, cells_per_target: ROBUSTNESS_SEEDS.length * 27, missed: misses },
    seconds: round((performance.now() - started) / 1000, 1),
  };
}

/** The grid, then the e2e cells appended to its cells (`npm run bench -- allocation`). */
export async function runAllocationBench(options: { log?: (line: string) => void; e2e?: boolean } = {}): Promise<AllocationBenchResult> {
  const result = runAllocationScenario(options);
  if (options.e2e === false) return result;
  const e2e = await runAllocationE2e(options);
  return { ...result, cells: [...result.cells, ...e2e.cells], e2e_env: e2e.env, e2e_settings: e2e.settings };
}

const sameCell = (cells: readonly AllocationCell[], cell: AllocationCell, mode: string) =>
  cells.find((other) => !other.e2e && other.velocity === cell.velocity && other.apply_lag_ms === cell.apply_lag_ms && other.delivery_lag_ms === cell.delivery_lag_ms && other.mode === mode)!;

/** The cells of one grid that miss each target. */
function missedCells(allCells: readonly AllocationCell[]) {
  const cells = allCells.filter((cell) => !cell.e2e);
  const strict = cells.filter((cell) => cell.mode === 'strict');
  const auto = cells.filter((cell) => cell.mode === 'auto');
  return {
    strict_oversold: strict.filter((cell) => cell.oversold > 0),
    strict_sell_through: strict.filter((cell) => cell.sell_through < (cell.apply_lag_ms <= 5_000 ? 0.98 : 0.95)),
    auto_oversold: auto.filter((cell) => cell.oversold > 0.01 * sameCell(cells, cell, 'shared').oversold),
    auto_sell_through: auto.filter((cell) => cell.sell_through < sameCell(cells, cell, 'shared').sell_through - 0.01),
  };
}

function missCounts(cells: readonly AllocationCell[]) {
  const missed = missedCells(cells);
  return { strict_oversold: missed.strict_oversold.length, strict_sell_through: missed.strict_sell_through.length, auto_oversold: missed.auto_oversold.length, auto_sell_through: missed.auto_sell_through.length };
}

/** The targets, judged per cell: strict, and auto against shared in the same cell. */
export function allocationVerdicts(result: AllocationBenchResult): string[] {
  const missed = missedCells(result.cells);
  const shared = (cell: AllocationCell) => sameCell(result.cells, cell, 'shared');
  const name = (cell: AllocationCell) => `${cell.velocity}/s, apply ${cell.apply_lag_ms / 1000} s, delivery ${cell.delivery_lag_ms / 1000} s`;
  const list = (cells: AllocationCell[], figure: (cell: AllocationCell) => string) => cells.map((cell) => `${name(cell)}: ${figure(cell)}`).join('; ');
  const percent = (value: number) => `${round(value * 100, 1)} %`;
  const verdict = (cells: AllocationCell[], figure: (cell: AllocationCell) => string) => (cells.length === 0 ? 'met (27/27)' : `MISSED in ${cells.length} of 27 cells (${list(cells, figure)})`);
  const robust = result.robustness;
  const over = (key: keyof typeof robust.missed) => `${robust.missed[key]} of ${robust.cells_per_target}`;
  return [
    `strict oversold 0 in every cell: ${verdict(missed.strict_oversold, (cell) => String(cell.oversold))}`,
    `strict sell-through ≥ 95 % (≥ 98 % where apply lag ≤ 5 s): ${verdict(missed.strict_sell_through, (cell) => percent(cell.sell_through))}`,
    `auto oversold ≤ 1 % of shared's: ${verdict(missed.auto_oversold, (cell) => `${cell.oversold} vs shared ${shared(cell).oversold}`)}`,
    `auto sell-through within 1 point of shared: ${verdict(missed.auto_sell_through, (cell) => `${percent(cell.sell_through)} vs shared ${percent(shared(cell).sell_through)}`)}`,
    `the same grid with seeds ${robust.seeds[0]}–${robust.seeds[robust.seeds.length - 1]} (cells missed): strict oversold ${over('strict_oversold')}, strict sell-through ${over('strict_sell_through')}, auto oversold ${over('auto_oversold')}, auto sell-through ${over('auto_sell_through')}`,
  ];
}

const HEADER = ['orders/s', 'apply lag', 'delivery lag', 'mode', 'oversold', 'sell-through', 'stranded', 'writes', 'time to quiet'];
const rows = (result: AllocationBenchResult) =>
  result.cells.filter((cell) => !cell.e2e).map((cell) => [
    String(cell.velocity),
    `${cell.apply_lag_ms / 1000} s`,
    `${cell.delivery_lag_ms / 1000} s`,
    cell.mode,
    String(cell.oversold),
    `${round(cell.sell_through * 100, 2)} %`,
    String(cell.stranded),
    String(cell.writes),
    `${round(cell.time_to_quiet_ms / 1000, 1)} s`,
  ]);

const modeLabel = (cell: AllocationE2eCell) => (cell.channel_mix ? `${cell.mode} (prior ${cell.channel_mix})` : cell.mode);
const e2eCells = (result: AllocationBenchResult) => result.cells.filter((cell): cell is AllocationE2eCell => cell.e2e);
const E2E_HEADER = ['stock per SKU', 'mode', 'run', 'oversold', 'ledger oversold', 'sell-through', 'stranded', 'writes (Shopify + Amazon)', 'Amazon 429s', 'time to quiet', 'quiet after buyers', 'channels ≤ ledger'];
const e2eRows = (result: AllocationBenchResult) =>
  e2eCells(result).flatMap((cell) => [
    [
      String(cell.stock_per_sku),
      modeLabel(cell),
      'e2e',
      String(cell.oversold),
      String(cell.ledger_oversold),
      `${round(cell.sell_through * 100, 2)} %`,
      String(cell.stranded),
      `${cell.writes} (${cell.writes_by_channel.shopify} + ${cell.writes_by_channel.amazon})`,
      String(cell.amazon_throttled),
      `${round(cell.time_to_quiet_ms / 1000, 1)} s`,
      `${round(cell.quiet_after_buyers_ms / 1000, 1)} s`,
      cell.channels_within_ledger ? 'yes' : 'NO',
    ],
    [String(cell.stock_per_sku), modeLabel(cell), 'simulator', String(cell.sim.oversold), '', `${round(cell.sim.sell_through * 100, 2)} %`, String(cell.sim.stranded), String(cell.sim.writes), '', `${round(cell.sim.time_to_quiet_ms / 1000, 1)} s`, '', ''],
  ]);

/** The e2e targets: strict oversold 0 and sell-through ≥ 98 % (apply lag 5 s); auto against shared. */
export function allocationE2eVerdicts(result: AllocationBenchResult): string[] {
  const cells = e2eCells(result);
  const percent = (value: number) => `${round(value * 100, 1)} %`;
  const lines: string[] = [];
  for (const stockPerSku of [...new Set(cells.map((cell) => cell.stock_per_sku))]) {
    const find = (mode: string) => cells.find((cell) => cell.mode === mode && cell.stock_per_sku === stockPerSku && !cell.channel_mix);
    for (const strict of cells.filter((cell) => cell.mode === 'strict' && cell.stock_per_sku === stockPerSku)) {
      const at = `stock ${stockPerSku}/SKU${strict.channel_mix ? `, prior ${strict.channel_mix}` : ''}`;
      lines.push(`e2e strict oversold 0 (${at}): ${strict.oversold === 0 && strict.ledger_oversold === 0 ? 'met' : `MISSED (${strict.oversold} units, ledger ${strict.ledger_oversold})`}`);
      lines.push(`e2e strict sell-through ≥ 98 % (apply lag ≤ 5 s; ${at}): ${strict.sell_through >= 0.98 ? `met (${percent(strict.sell_through)})` : `MISSED (${percent(strict.sell_through)}, ${strict.stranded} units stranded; simulator ${percent(strict.sim.sell_through)})`}`);
    }
    const at = `stock ${stockPerSku}/SKU`;
    const shared = find('shared');
    const auto = find('auto');
    if (shared && auto) {
      lines.push(`e2e auto oversold ≤ 1 % of shared's (${at}): ${auto.oversold <= 0.01 * shared.oversold ? 'met' : 'MISSED'} (${auto.oversold} vs shared ${shared.oversold})`);
      lines.push(`e2e auto sell-through within 1 point of shared (${at}): ${auto.sell_through >= shared.sell_through - 0.01 ? 'met' : 'MISSED'} (${percent(auto.sell_through)} vs shared ${percent(shared.sell_through)})`);
    }
  }
  return lines;
}

function e2eText(result: AllocationBenchResult): string[] {
  if (e2eCells(result).length === 0) return [];
  return ['', `end to end (${describeEnv(result.e2e_env!)}): ${E2E.skus} hot SKUs × ${E2E.velocityPerSku} orders/s for ${E2E.demandSeconds} s, stock ${[...new Set(E2E.runs.map((run) => run.stockPerSku))].join(' / ')} each, Amazon apply lag ${E2E.applyLagMs / 1000} s, delivery lag ${E2E.deliveryLagMs / 1000} s`, textTable(E2E_HEADER, e2eRows(result)), '', ...allocationE2eVerdicts(result)];
}

export function allocationTextReport(result: AllocationBenchResult): string {
  return [describeEnv(result.env), textTable(HEADER, rows(result)), '', ...allocationVerdicts(result), ...e2eText(result)].join('\n');
}

export function allocationMarkdown(result: AllocationBenchResult): string {
  return [
    '<!-- generated by `npm run bench -- allocation` (bench/allocation.ts); edits here are overwritten -->',
    '## allocation: what each mode oversells and strands (simulator)',
    '',
    `Measured ${result.date.slice(0, 10)} on ${describeEnv(result.env)}; the grid and its ${result.robustness.seeds.length} reruns with other seeds took ${result.seconds} s. Simulated (src/sim/allocationSim.ts calling the real \`allocate()\`), not end to end: no Redis, no fakes (\`e2e: false\` in bench/results/allocation.json). One hot SKU, stock = 30 s of demand shown before the sale opens, buyers for 36 s (60 % Shopify, compare-and-set, 100–300 ms round trip; 40 % Amazon, absolute writes at most 1/s, applied after 20–100 % of the apply lag), each sale reaching the ledger after 10–100 % of the delivery lag, pusher every 100 ms, seed ${String(result.settings.seed)}. docs/allocation.md explains the modes.`,
    '',
    'Targets (issue 12):',
    '',
    ...allocationVerdicts(result).map((line) => `- ${line}`),
    '',
    markdownTable(HEADER, rows(result)),
    ...e2eMarkdown(result),
  ].join('\n');
}

function e2eMarkdown(result: AllocationBenchResult): string[] {
  if (e2eCells(result).length === 0) return [];
  const settings = result.e2e_settings ?? {};
  return [
    '',
    '### allocation: one cell end to end (e2e: true)',
    '',
    `Measured ${result.date.slice(0, 10)} on ${describeEnv(result.e2e_env!)} (${String(settings.redis)}). The real daemon (http, consumers, sqs, pushers; push poll ${E2E.pushPollMs} ms) on a real redis-server, Shopify webhooks over HTTP, Amazon notifications over a local SQS (fauxqs), the Shopify and Amazon fakes (src/sim/flashCell.ts, the setup of test/e2e/strict.test.ts). ${E2E.skus} hot SKUs, stock 100 each (10 s of demand: sold out around the middle; shared, strict, auto) or 167 each (demand 1.2 × stock, the grid's ratio; strict, once without and once with the buyers' 60/40 channel mix configured as the daemon's prior, \`STOCKGUARD_ALLOCATION_CHANNEL_MIX\`), buyers for ${E2E.demandSeconds} s at ${E2E.velocityPerSku} orders/s per SKU (Poisson, 1 unit, 60 % Shopify, 40 % Amazon; a channel refuses what it does not show), Amazon applying each PATCH after ${E2E.applyLagMs * 0.0002}–${E2E.applyLagMs / 1000} s, Shopify webhooks and Amazon ORDER_CHANGE delivered after ${E2E.deliveryLagMs / 10_000}–${E2E.deliveryLagMs / 1000} s; daemon bounds: delivery ${E2E.bounds.amazonDeliverySeconds} s, Amazon apply ${E2E.bounds.amazonApplySeconds} s. One run per mode, seed ${E2E.seed}, each on a fresh Redis prefix, SQS and fakes. "simulator" is src/sim/allocationSim.ts on the same shape (each SKU alone, seeds ${E2E.seed}–${E2E.seed + E2E.skus - 1}, summed; it knows the 60/40 split from the start, the daemon measures it unless the prior is configured). Oversold: units the channels accepted beyond stock (ground truth); ledger oversold: what the ledger recorded. Time to quiet: last channel write less last sale, as in the simulator; quiet after buyers: wall time from the end of the buyers until the fakes and the daemon were quiet.`,
    '',
    ...allocationE2eVerdicts(result).map((line) => `- ${line}`),
    '',
    markdownTable(E2E_HEADER, e2eRows(result)),
  ];
}
