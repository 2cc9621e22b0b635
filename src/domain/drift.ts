// Drift: a channel reporting a level that disagrees with what we pushed. Pure: the pushers
// pass the last acknowledged push, the channel's newest report, the channel's own sales
// the ledger ingested since the push, and the time.

export interface DriftInput {
  /** The last push the channel acknowledged. */
  pushed: { quantity: number; atMs: number } | undefined;
  /** The newest level the channel reported (webhook / notification). */
  observed: { quantity: number; observedAtMs: number } | undefined;
  /**
   * Units the channel itself sold since the push that the ledger has ingested (its
   * reservations, minus its releases): the channel subtracted them from what we pushed.
   */
  channelSalesSincePush: number;
  /** The ledger's last change of the SKU (updated_ms). */
  ledgerChangedAtMs: number;
  nowMs: number;
  /** How long everything must be quiet before a disagreement counts as drift. */
  settleMs: number;
}

export type DriftVerdict =
  /** Nothing to compare: no push, no report, or the report is older than the push. */
  | { kind: 'none' }
  /** Something moved less than settleMs ago: an echo, a sale on its way. Look again later. */
  | { kind: 'settling' }
  | { kind: 'agrees'; expected: number }
  /** units = observed − expected: positive when the channel shows more than it should. */
  | { kind: 'drift'; expected: number; units: number };

/**
 * The channel should show what we pushed minus its own sales since (a sale on the channel
 * lowers its level before the ledger hears of it; once ingested it is in the journal).
 * Sales not ingested yet are not estimated: the settle window, which must exceed the p99
 * sale-to-ledger latency, waits for them instead.
 */
export function judgeDrift(input: DriftInput): DriftVerdict {
  const { pushed, observed } = input;
  if (!pushed || !observed || observed.observedAtMs <= pushed.atMs) return { kind: 'none' };
  const lastMovement = Math.max(pushed.atMs, observed.observedAtMs, input.ledgerChangedAtMs);
  if (input.nowMs - lastMovement < input.settleMs) return { kind: 'settling' };
  const expected = pushed.quantity - input.channelSalesSincePush;
  const units = observed.quantity - expected;
  return units === 0 ? { kind: 'agrees', expected } : { kind: 'drift', expected, units };
}
