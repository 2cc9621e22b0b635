// The flash sale's plan, drawn once from the seed and replayed against every allocation mode
// (and the naive baseline): the catalogue with its opening stock, every purchase attempt
// (when, on which channel, which SKU, how many), which orders the warehouse ships soon, the
// shrinkage, and the channels' lags. The same plan gives the same attempts to every mode, so
// the modes differ only in what stockguard told the channels.
import { seededRandom } from '../domain/random.ts';
import type { LagSpec } from '../sim/lag.ts';

export type DemoChannel = 'shopify' | 'amazon';

export interface PlannedSku {
  sku: string;
  hot: boolean;
  /** Amazon sells it from FBA (Amazon's stock, never written); Shopify sells the ledger's. */
  fba: boolean;
  /** Opening on-hand in the warehouse. */
  stock: number;
  /** Static holdback. */
  holdback: number;
  /** Index, for the fakes' identifiers. */
  index: number;
}

export interface PlannedAttempt {
  /** Milliseconds after the start of the sale. */
  atMs: number;
  channel: DemoChannel;
  sku: string;
  quantity: number;
  /** When accepted, whether the warehouse ships it about two seconds later (else at the end). */
  shipsSoon: boolean;
}

/** Lags of the fakes (docs/sim.md, "Lags"), already scaled; undefined when off. */
export interface DemoLags {
  scale: number;
  shopifyOrderWebhook?: { minMs: number; maxMs: number };
  amazonOrderChange?: { minMs: number; maxMs: number };
  amazonApply?: { minMs: number; maxMs: number };
}

export interface SalePlan {
  seed: number;
  durationS: number;
  rate: number;
  skus: PlannedSku[];
  hotCount: number;
  attempts: PlannedAttempt[];
  /** Half-way: a cycle count on this hot SKU after up to 3 units of shrinkage. */
  countedShrink: { atMs: number; sku: string; units: number };
  /** At 60 %: units lost unseen (found only by the reconciliation). */
  unseenShrink: { atMs: number; sku: string; units: number };
  lags: DemoLags;
}

/** docs/sim.md "Lags", suggested demo values at real speed; the demo compresses time by `scale`. */
export const REAL_SPEED_LAGS = {
  shopifyOrderWebhook: { minMs: 200, maxMs: 3_000 },
  amazonOrderChange: { minMs: 1_000, maxMs: 30_000 },
  amazonApply: { minMs: 60_000, maxMs: 300_000 },
} as const;

export function scaledLags(scale: number): DemoLags {
  if (scale <= 0) return { scale: 0 };
  const scaled = (range: { minMs: number; maxMs: number }) => ({ minMs: Math.round(range.minMs * scale), maxMs: Math.round(range.maxMs * scale) });
  return {
    scale,
    shopifyOrderWebhook: scaled(REAL_SPEED_LAGS.shopifyOrderWebhook),
    amazonOrderChange: scaled(REAL_SPEED_LAGS.amazonOrderChange),
    amazonApply: scaled(REAL_SPEED_LAGS.amazonApply),
  };
}

/** A seeded LagSpec for one fake option (seeded per run so every mode draws the same lags). */
export function lagSpec(range: { minMs: number; maxMs: number } | undefined, seed: number): LagSpec | undefined {
  return range ? { ...range, seed } : undefined;
}

export function planSale(options: { seed: number; durationS: number; rate: number; skuCount: number; lagScale: number }): SalePlan {
  const { seed, durationS, rate, skuCount } = options;
  const random = seededRandom(seed);
  const hotCount = Math.max(3, Math.round(skuCount * 0.025));
  // 70 % of the orders go to the hot SKUs. Their stock is a fraction (40–80 %) of the units
  // their share of the sale will ask for, so they sell out during the sale, not in its
  // first second: the tail, where the modes differ, is inside the sale.
  const hotDemandUnits = ((rate * durationS * 0.7) / hotCount) * 1.1;
  const skus: PlannedSku[] = [];
  // Each SKU has its own split between the channels (30–80 % on Shopify): a drop is rarely
  // equally popular everywhere, and that is where a strict split strands stock.
  const shopifyShare: number[] = [];
  for (let index = 0; index < skuCount; index += 1) {
    const hot = index < hotCount;
    const sku = hot ? `DROP-HOODIE-${index + 1}` : `TEE-${String(index).padStart(4, '0')}`;
    const stock = hot ? Math.max(30, Math.round(hotDemandUnits * (0.4 + 0.4 * random()))) : 40 + Math.floor(random() * 200);
    skus.push({ sku, hot, fba: !hot && index % 10 === 9, stock, holdback: hot ? 2 : 0, index });
    shopifyShare.push(0.3 + 0.5 * random());
  }
  const attempts: PlannedAttempt[] = [];
  const total = Math.floor(durationS * rate);
  for (let i = 0; i < total; i += 1) {
    const index = random() < 0.7 ? Math.floor(random() * hotCount) : hotCount + Math.floor(random() * (skuCount - hotCount));
    const quantity = random() < 0.9 ? 1 : 2;
    const channel: DemoChannel = random() < shopifyShare[index]! ? 'shopify' : 'amazon';
    attempts.push({ atMs: Math.floor((i * 1000) / rate), channel, sku: skus[index]!.sku, quantity, shipsSoon: random() < 0.8 });
  }
  const durationMs = durationS * 1000;
  return {
    seed,
    durationS,
    rate,
    skus,
    hotCount,
    attempts,
    countedShrink: { atMs: Math.round(durationMs * 0.5), sku: skus[1]!.sku, units: 3 },
    unseenShrink: { atMs: Math.round(durationMs * 0.6), sku: skus[hotCount]!.sku, units: 2 },
    lags: scaledLags(options.lagScale),
  };
}
