// Dynamic holdback (DESIGN.md, vocabulary): for a SKU that sells fast, withhold about
// (sales per second over a recent window) × (p99 sale-to-ledger latency) units from every
// channel, so that the sales still on their way to the ledger cannot oversell. Pure: the
// pushers feed it the units sold per ledger journal entry and the measured latency.

/** Units sold per time bucket: [bucket start ms, units]. Sorted by start, oldest first. */
export type SalesBuckets = ReadonlyArray<readonly [number, number]>;

export interface SalesWindowOptions {
  /** How far back the rate looks, in ms. */
  windowMs: number;
  /** Width of one bucket, in ms; the window keeps at most windowMs / bucketMs buckets. */
  bucketMs: number;
}

export interface DynamicHoldbackBounds {
  /** Never hold back more than this many units dynamically. */
  maxUnits: number;
}

/**
 * Adds `units` sold at `atMs` and drops buckets that left the window ending at `nowMs`.
 * Sales older than the window are ignored; sales "from the future" (a clock ahead of ours)
 * count in the bucket of `nowMs`, so they cannot stay in the window longer than it lasts.
 */
export function recordSales(buckets: SalesBuckets, atMs: number, units: number, nowMs: number, options: SalesWindowOptions): Array<[number, number]> {
  const kept = pruneSales(buckets, nowMs, options);
  if (units <= 0 || atMs <= nowMs - options.windowMs) return kept;
  const start = Math.floor(Math.min(atMs, nowMs) / options.bucketMs) * options.bucketMs;
  const index = kept.findIndex(([bucketStart]) => bucketStart === start);
  if (index >= 0) kept[index] = [start, kept[index]![1] + units];
  else {
    kept.push([start, units]);
    kept.sort((a, b) => a[0] - b[0]);
  }
  return kept;
}

/** The buckets still (partly) inside the window ending at nowMs. */
export function pruneSales(buckets: SalesBuckets, nowMs: number, options: SalesWindowOptions): Array<[number, number]> {
  const oldestStart = nowMs - options.windowMs - options.bucketMs;
  return buckets.filter(([start]) => start > oldestStart).map(([start, units]) => [start, units]);
}

/** Units sold per second over the window ending at nowMs. */
export function salesRatePerSecond(buckets: SalesBuckets, nowMs: number, options: SalesWindowOptions): number {
  // A bucket that straddles the window's start counts whole: the rate errs high, the safe side.
  const units = pruneSales(buckets, nowMs, options).reduce((sum, [, sold]) => sum + sold, 0);
  return units / (options.windowMs / 1000);
}

/** The shorter windows burstRatePerSecond also looks at (ms). */
export const BURST_WINDOWS_MS: readonly number[] = [2_000, 5_000];

/**
 * Units sold per second, the highest of the whole window's rate and the rates over its
 * last BURST_WINDOWS_MS: the start of a flash sale shows at once instead of being spread
 * over the whole window (60 s by default: one second of 10 sales/s reads as 0.17/s).
 * Errs high, the safe side for the bounded allocation (auto turns strict sooner); a
 * straddling bucket counts whole in the short windows too (at most one bucket more).
 */
export function burstRatePerSecond(buckets: SalesBuckets, nowMs: number, options: SalesWindowOptions): number {
  let rate = salesRatePerSecond(buckets, nowMs, options);
  for (const windowMs of BURST_WINDOWS_MS) {
    if (windowMs >= options.windowMs) continue;
    rate = Math.max(rate, salesRatePerSecond(buckets, nowMs, { ...options, windowMs }));
  }
  return rate;
}

/**
 * The units to withhold: the sales expected during one p99 sale-to-ledger latency,
 * rounded half up (one sale expected every two latency windows already holds one unit
 * back; a SKU that sold once a minute does not), then capped by `maxUnits`.
 */
export function dynamicHoldback(ratePerSecond: number, p99LatencyMs: number, bounds: DynamicHoldbackBounds): number {
  if (!(ratePerSecond > 0) || !(p99LatencyMs > 0) || !Number.isFinite(ratePerSecond) || !Number.isFinite(p99LatencyMs)) return 0;
  const expected = ratePerSecond * (p99LatencyMs / 1000);
  return Math.max(0, Math.min(Math.floor(bounds.maxUnits), Math.floor(expected + 0.5)));
}
