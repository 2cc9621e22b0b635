// What each channel is told it may sell, and how much the channels together over-promise.
// Pure: the pushers call it with a ledger snapshot and the SKU's channel policy.
//
// The policy steps are the ones the commercial multichannel tools offer, applied in one
// fixed order so a merchant can predict the number from the catalogue alone:
// percentage (rounded down) → maximum shown → fixed safety quantity → floor.

/** A channel's share of the sellable stock. */
export interface ChannelPolicy {
  /** Whole percentage (0..100) of the stock the channel is shown, rounded down. */
  percent: number;
  /** Upper bound on what the channel is shown; undefined means no cap. */
  maxShown?: number;
  /** Units subtracted after percentage and cap (never below 0). */
  safety: number;
  /** A result below the floor is pushed as 0, so a channel never sells the last few units. */
  floor: number;
}

/** The ledger numbers the policy starts from (a subset of InventorySnapshot). */
export interface LedgerQuantities {
  onHand: number;
  reserved: number;
  holdback: number;
}

/** Everything to the channel: 100 %, no cap, no safety, no floor. */
export const DEFAULT_POLICY: Readonly<ChannelPolicy> = Object.freeze({ percent: 100, safety: 0, floor: 0 });

/** A full policy from per-SKU overrides; each absent field takes its DEFAULT_POLICY value. */
export function resolvePolicy(overrides: Partial<ChannelPolicy> = {}): ChannelPolicy {
  const policy: ChannelPolicy = {
    percent: overrides.percent ?? DEFAULT_POLICY.percent,
    safety: overrides.safety ?? DEFAULT_POLICY.safety,
    floor: overrides.floor ?? DEFAULT_POLICY.floor,
  };
  // Left out rather than set to undefined, so a resolved policy compares equal to a literal.
  if (overrides.maxShown !== undefined) policy.maxShown = overrides.maxShown;
  return policy;
}

/**
 * Units channel c may sell: max(0, onHand − reserved − holdback), then the channel policy.
 * The policy is trusted to be valid (the catalogue validates it on import): whole numbers,
 * percent in 0..100, the rest ≥ 0.
 */
export function sellable(ledger: LedgerQuantities, policy: ChannelPolicy): number {
  const free = Math.max(0, ledger.onHand - ledger.reserved - ledger.holdback);
  // Multiply before dividing: free × percent is an exact integer, so floor() cannot be
  // pushed down by a binary rounding error (100 × 0.29 is 28.999999999999996 → 28, not 29).
  const share = Math.floor((free * policy.percent) / 100);
  const capped = policy.maxShown === undefined ? share : Math.min(share, policy.maxShown);
  const afterSafety = Math.max(0, capped - policy.safety);
  return afterSafety < policy.floor ? 0 : afterSafety;
}

/**
 * Units at risk if every channel sells everything it was shown at once:
 * Σ sellable(c) − max(0, available). Positive means the channels together were promised
 * more than the warehouse can cover; negative means stock is withheld from all channels.
 */
export function exposure(available: number, sellables: readonly number[]): number {
  const promised = sellables.reduce((sum, units) => sum + units, 0);
  return promised - Math.max(0, available);
}
