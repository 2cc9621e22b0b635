// `npm run bench -- allocation`: what each allocation mode costs and saves on one hot SKU,
// on the simulator (src/sim/allocationSim.ts, which calls the real allocate()). No Redis,
// no channel fakes: every cell says e2e: false.
//
// Grid: velocity (orders/s on the SKU, all channels together) 10, 100, 1,000 × Amazon
// apply lag 0.5 s, 5 s, 60 s × delivery lag 0.2 s, 2 s, 30 s × mode shared, strict, auto.
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
import { availableParallelism, cpus } from 'node:os';
import { type AllocationMode, formatAllocationMode } from '../src/domain/allocation.ts';
import { runAllocationSim, type SimResult } from '../src/sim/allocationSim.ts';
import type { BenchEnv } from './lib/env.ts';
import { describeEnv } from './lib/env.ts';
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
  e2e: false;
}

export interface AllocationBenchResult {
  scenario: 'allocation';
  date: string;
  env: BenchEnv;
  settings: Record<string, unknown>;
  cells: AllocationCell[];
  /** The grid again with other seeds: cells that miss each target, summed over the seeds. */
  robustness: { seeds: number[]; cells_per_target: number; missed: { strict_oversold: number; strict_sell_through: number; auto_oversold: number; auto_sell_through: number } };
  /** Wall time of the whole grid (s). */
  seconds: number;
}

function simEnv(): BenchEnv {
  return { node: process.version, redis: 'n/a (simulator)', cpu: cpus()[0]?.model.trim() ?? 'unknown', cores: availableParallelism() };
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

const sameCell = (cells: readonly AllocationCell[], cell: AllocationCell, mode: string) =>
  cells.find((other) => other.velocity === cell.velocity && other.apply_lag_ms === cell.apply_lag_ms && other.delivery_lag_ms === cell.delivery_lag_ms && other.mode === mode)!;

/** The cells of one grid that miss each target. */
function missedCells(cells: readonly AllocationCell[]) {
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
  result.cells.map((cell) => [
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

export function allocationTextReport(result: AllocationBenchResult): string {
  return [describeEnv(result.env), textTable(HEADER, rows(result)), '', ...allocationVerdicts(result)].join('\n');
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
  ].join('\n');
}
