// The demo's figures, computed from ground truth (when each sale was accepted on its channel,
// what each channel showed, what left the shelf) rather than from the daemon's counters,
// which lag the sale. Definitions: docs/demo.md.
import type { Metrics } from '../metrics/metrics.ts';
import type { DemoChannel } from './plan.ts';

export interface Movement {
  atMs: number;
  sku: string;
  quantity: number;
}

/**
 * Units sold beyond what the shelf held, over time: per SKU, max(0, units sold − (opening
 * stock − shrinkage)), summed, from the times the channels accepted each sale.
 */
export function groundTruthOversold(
  opening: Readonly<Record<string, number>>,
  sold: readonly Movement[],
  shrunk: readonly Movement[],
  startMs: number,
): { total: number; points: { x: number; y: number }[] } {
  const events = [...sold.map((sale) => ({ ...sale, kind: 'sale' as const })), ...shrunk.map((loss) => ({ ...loss, kind: 'loss' as const }))].sort((a, b) => a.atMs - b.atMs);
  const soldBySku = new Map<string, number>();
  const stockBySku = new Map(Object.entries(opening));
  const beyond = (sku: string) => Math.max(0, (soldBySku.get(sku) ?? 0) - (stockBySku.get(sku) ?? 0));
  let total = 0;
  const points = [{ x: 0, y: 0 }];
  for (const event of events) {
    total -= beyond(event.sku);
    if (event.kind === 'sale') soldBySku.set(event.sku, (soldBySku.get(event.sku) ?? 0) + event.quantity);
    else stockBySku.set(event.sku, (stockBySku.get(event.sku) ?? 0) - event.quantity);
    total += beyond(event.sku);
    const x = Math.max(0, (event.atMs - startMs) / 1000);
    if (points[points.length - 1]!.y !== total) points.push({ x, y: total });
  }
  return { total, points };
}

export interface StrandedSku {
  sku: string;
  /** Units physically left at the end of the sale: opening − shrinkage − units sold (≥ 0). */
  left: number;
  /** What each channel showed at the end of the sale. */
  shownAtEnd: Partial<Record<DemoChannel, number>>;
  /** Units of purchase attempts each channel refused during the sale. */
  refusedUnits: Partial<Record<DemoChannel, number>>;
  stranded: number;
  /** min(stranded, units refused): sales turned away while the stock sat elsewhere. */
  lostSales: number;
}

/**
 * Stranded units (docs/demo.md): for a SKU sold from the ledger's stock on two or more
 * channels, when some channel refused a purchase attempt during the sale (it showed too
 * few units) while another channel still showed stock at the end of the sale, the units
 * those other channels showed, capped by the units physically left. Stock a channel held
 * and nobody bought there, while buyers were turned away elsewhere.
 */
export function strandedUnits(options: {
  skus: readonly { sku: string; channels: readonly DemoChannel[] }[];
  left: Readonly<Record<string, number>>;
  shownAtEnd: (sku: string, channel: DemoChannel) => number;
  refusedUnits: Readonly<Record<string, Partial<Record<DemoChannel, number>>>>;
}): { total: number; lostSales: number; bySku: StrandedSku[] } {
  const bySku: StrandedSku[] = [];
  for (const { sku, channels } of options.skus) {
    if (channels.length < 2) continue;
    const refused = options.refusedUnits[sku] ?? {};
    const shown = Object.fromEntries(channels.map((channel) => [channel, Math.max(0, options.shownAtEnd(sku, channel))])) as Partial<Record<DemoChannel, number>>;
    const left = Math.max(0, options.left[sku] ?? 0);
    let heldElsewhere = 0;
    for (const holder of channels) {
      if ((shown[holder] ?? 0) > 0 && channels.some((other) => other !== holder && (refused[other] ?? 0) > 0)) heldElsewhere += shown[holder]!;
    }
    const stranded = Math.min(left, heldElsewhere);
    if (stranded <= 0) continue;
    const refusedTotal = channels.reduce((sum, channel) => sum + (refused[channel] ?? 0), 0);
    bySku.push({ sku, left, shownAtEnd: shown, refusedUnits: refused, stranded, lostSales: Math.min(stranded, refusedTotal) });
  }
  bySku.sort((a, b) => b.stranded - a.stranded || a.sku.localeCompare(b.sku));
  return { total: bySku.reduce((sum, row) => sum + row.stranded, 0), lostSales: bySku.reduce((sum, row) => sum + row.lostSales, 0), bySku };
}

/** Σ min(sold, stock) ÷ Σ stock, stock = opening − shrinkage: the share of the shelf sold (units sold beyond stock do not count). */
export function sellThrough(stock: Readonly<Record<string, number>>, sold: Readonly<Record<string, number>>, only?: (sku: string) => boolean): number {
  let available = 0;
  let filled = 0;
  for (const [sku, units] of Object.entries(stock)) {
    if (only && !only(sku)) continue;
    available += Math.max(0, units);
    filled += Math.min(Math.max(0, units), sold[sku] ?? 0);
  }
  return available === 0 ? 0 : filled / available;
}

export function percentiles(samples: readonly number[]): { p50: number; p99: number; max: number; n: number } {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, max: Number.NaN, n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]!, n: sorted.length };
}

export async function counter(metrics: Metrics, name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
}

export async function counterByLabel(metrics: Metrics, name: string, label: string): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  const totals: Record<string, number> = {};
  for (const value of metric?.values ?? []) {
    const key = String((value.labels as Record<string, unknown>)[label]);
    totals[key] = (totals[key] ?? 0) + value.value;
  }
  return totals;
}

/** A histogram's buckets summed over its labels (those `filter` keeps): cumulative counts by upper bound, plus sum and count. */
export interface HistogramSnapshot {
  buckets: { le: number; count: number }[];
  sum: number;
  count: number;
}

export async function histogramSnapshot(metrics: Metrics, name: string, filter?: (labels: Record<string, unknown>) => boolean): Promise<HistogramSnapshot> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  const byLe = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const value of metric?.values ?? []) {
    const labels = value.labels as Record<string, unknown>;
    const metricName = (value as { metricName?: string }).metricName ?? '';
    if (filter && !filter(labels)) continue;
    if (metricName.endsWith('_bucket')) {
      const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + value.value);
    } else if (metricName.endsWith('_sum')) sum += value.value;
    else if (metricName.endsWith('_count')) count += value.value;
  }
  return { buckets: [...byLe.entries()].sort((a, b) => a[0] - b[0]).map(([le, bucketCount]) => ({ le, count: bucketCount })), sum, count };
}

/** The difference of two snapshots of one histogram (what was observed in between). */
export function histogramDelta(after: HistogramSnapshot, before: HistogramSnapshot): HistogramSnapshot {
  const earlier = new Map(before.buckets.map((bucket) => [bucket.le, bucket.count]));
  return { buckets: after.buckets.map((bucket) => ({ le: bucket.le, count: bucket.count - (earlier.get(bucket.le) ?? 0) })), sum: after.sum - before.sum, count: after.count - before.count };
}

/** The bucket upper bound under which a fraction q of the observations fall (Prometheus-style, no interpolation); NaN without data. */
export function histogramQuantile(snapshot: HistogramSnapshot, q: number): number {
  if (snapshot.count <= 0) return Number.NaN;
  const rank = q * snapshot.count;
  for (const bucket of snapshot.buckets) if (bucket.count >= rank) return bucket.le;
  return Number.POSITIVE_INFINITY;
}
