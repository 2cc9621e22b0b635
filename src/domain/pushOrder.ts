// Which push goes first when a channel's rate limit cannot take them all: drops to zero
// first (a channel that still shows units of a sold-out SKU oversells with every order),
// then other decreases, the ones over-promising most first, increases last (an increase
// that waits only costs a sale that could have happened). Pure and total, so the order is
// the same whatever order the candidates arrived in.

export type PushClass = 'zero' | 'decrease' | 'increase';

export interface PushCandidate {
  readonly sku: string;
  /** The value we want the channel to show. */
  readonly target: number;
  /** What we believe the channel shows now; undefined when we do not know. */
  readonly known: number | undefined;
  /** When the oldest change not yet on the channel happened (ms). */
  readonly changedAtMs: number;
}

const RANK: Record<PushClass, number> = { zero: 0, decrease: 1, increase: 2 };

/**
 * zero: the target is 0 and the channel may show more. decrease: the target is below what
 * the channel shows, or we do not know what it shows (assume the worst). increase: above.
 * A target equal to the known value is not pushed at all; it ranks as a decrease here.
 */
export function pushClass(candidate: PushCandidate): PushClass {
  if (candidate.target === 0 && candidate.known !== 0) return 'zero';
  if (candidate.known === undefined || candidate.target <= candidate.known) return 'decrease';
  return 'increase';
}

/** Units the channel shows beyond the target: this channel's share of the SKU's exposure. */
export function overPromise(candidate: PushCandidate): number {
  return candidate.known === undefined ? 0 : Math.max(0, candidate.known - candidate.target);
}

/**
 * Total order: class; within zeros and decreases the larger over-promise first; then the
 * older change first; then the SKU (so ties never depend on arrival order).
 */
export function comparePushes(a: PushCandidate, b: PushCandidate): number {
  const classA = pushClass(a);
  const classB = pushClass(b);
  if (classA !== classB) return RANK[classA] - RANK[classB];
  if (classA !== 'increase') {
    const byExposure = overPromise(b) - overPromise(a);
    if (byExposure !== 0) return byExposure;
  }
  if (a.changedAtMs !== b.changedAtMs) return a.changedAtMs - b.changedAtMs;
  return a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0;
}

/** The candidates in push order (a new array). */
export function orderPushes<T extends PushCandidate>(candidates: readonly T[]): T[] {
  return [...candidates].sort(comparePushes);
}
