// The reconciliation diff (design flow 6): what the ledger said at the moment the WMS took
// its snapshot, how far that is from the WMS, and whether the difference is corrected,
// only reported, or left for the next run. Pure: the reconciler (src/reconcile/) does the
// reading and the writing. docs/reconcile.md explains the rules with examples.
import { z } from 'zod';

/** A discrepancy is corrected when it reaches both limits: `units` AND `percent` of the WMS on-hand. */
export interface Threshold {
  /** At least this many units (absolute). */
  readonly units: number;
  /** At least this percentage of the WMS on-hand (of 1 when the WMS says 0). */
  readonly percent: number;
}

/** SKU class (the catalogue's `skuClass`) → threshold; `default` applies to every other class. */
export type ThresholdsByClass = Readonly<Record<string, Threshold>>;

export const DEFAULT_THRESHOLDS: ThresholdsByClass = { default: { units: 1, percent: 0 } };

const ThresholdSchema = z.object({
  units: z.number().int().min(1).max(1_000_000_000),
  percent: z.number().min(0).max(100_000),
}).strict();

/** The JSON form (`STOCKGUARD_RECONCILE_THRESHOLDS`): `{"default":{"units":1,"percent":0},"hot":{"units":5,"percent":2}}`. */
export const ThresholdsSchema = z
  .record(z.string().min(1).max(64), ThresholdSchema)
  .transform((byClass): ThresholdsByClass => ({ ...DEFAULT_THRESHOLDS, ...byClass }));

export function thresholdFor(thresholds: ThresholdsByClass, skuClass: string | undefined): Threshold {
  return thresholds[skuClass ?? 'default'] ?? thresholds.default ?? DEFAULT_THRESHOLDS.default!;
}

/** One journal entry as far as on_hand goes. */
export interface OnHandChange {
  /** When the ledger applied it (the entry's `at_ms`, from the daemon's clock). */
  readonly atMs: number;
  readonly dOnHand: number;
}

/**
 * The ledger's on_hand at `asOfMs`: the current value minus every journaled on_hand change
 * applied after it. A pick the WMS confirmed after its snapshot is in the current value and
 * not in the snapshot; taking it back out compares like with like, so it is not counted
 * twice.
 */
export function onHandAsOf(currentOnHand: number, changes: readonly OnHandChange[], asOfMs: number): number {
  let onHand = currentOnHand;
  for (const change of changes) if (change.atMs > asOfMs) onHand -= change.dOnHand;
  return onHand;
}

export type Verdict = 'match' | 'correct' | 'report' | 'unsettled' | 'pending';

export type VerdictReason =
  /** WMS and ledger agree. */
  | 'equal'
  /** The difference reaches the SKU class's threshold: corrected. */
  | 'above-threshold'
  /** The difference is below the threshold: reported only. */
  | 'below-threshold'
  /**
   * The ledger applied a WMS change (shipment, receipt, adjustment, count) shortly after
   * the snapshot: the change may have happened in the warehouse before the snapshot and
   * reached the ledger after it, which looks like a discrepancy of the same size. Left to
   * the next run rather than corrected twice.
   */
  | 'wms-change-in-settle-window'
  /**
   * A count the ledger applied after the snapshot (after its watermark, or after its time)
   * already set on_hand to a newer warehouse figure: a correction on top would count the
   * difference twice. Left to the next run.
   */
  | 'count-after-snapshot'
  /**
   * Watermark: the snapshot includes WMS movements of the SKU the ledger has not applied
   * yet (still being delivered or retried). Not a discrepancy: the SKU is reported pending
   * and compared again by the next run.
   */
  | 'wms-events-pending'
  /**
   * Watermark: movements the snapshot includes have been missing for longer than the
   * pending limit: taken as lost and corrected, and the correction covers them, so one
   * that still arrives does not move on_hand a second time.
   */
  | 'lost-wms-events';

export interface OnHandComparison {
  readonly wmsOnHand: number;
  readonly ledgerOnHandAsOf: number;
  /** What to add to the ledger's on_hand: wmsOnHand − ledgerOnHandAsOf. */
  readonly delta: number;
  /** |delta| as a percentage of the WMS on-hand (of 1 when the WMS says 0 or less). */
  readonly percent: number;
  readonly verdict: Verdict;
  readonly reason: VerdictReason;
}

export interface CompareInput {
  wmsOnHand: number;
  ledgerOnHandAsOf: number;
  threshold: Threshold;
  /** WMS-caused journal entries the ledger applied in (asOf, asOf + settle window]. */
  wmsChangesInSettleWindow: number;
  /** A count is among the ledger's changes after the snapshot. */
  countAfter?: boolean;
  /**
   * Watermark: the first movement number the snapshot includes and the ledger has not
   * applied (0 or absent: none). `pendingExpired`: it has been missing longer than the
   * pending limit (a lost event).
   */
  firstPendingSeq?: number;
  pendingExpired?: boolean;
}

export function compareOnHand(input: CompareInput): OnHandComparison {
  const delta = input.wmsOnHand - input.ledgerOnHandAsOf;
  const magnitude = Math.abs(delta);
  const percent = (magnitude / Math.max(1, input.wmsOnHand)) * 100;
  const result = (verdict: Verdict, reason: VerdictReason): OnHandComparison => ({ wmsOnHand: input.wmsOnHand, ledgerOnHandAsOf: input.ledgerOnHandAsOf, delta, percent, verdict, reason });
  const pending = (input.firstPendingSeq ?? 0) > 0;
  // Checked before the difference: a pending movement can hide a real discrepancy or fake one.
  if (pending && !input.pendingExpired) return result('pending', 'wms-events-pending');
  // Lost movements that cancel out still need covering: one of them arriving late alone
  // would otherwise move a right on_hand (the correction is of 0 units).
  if (delta === 0) return pending ? result('correct', 'lost-wms-events') : result('match', 'equal');
  if (magnitude < input.threshold.units || percent < input.threshold.percent) return result('report', 'below-threshold');
  if (input.countAfter) return result('unsettled', 'count-after-snapshot');
  if (input.wmsChangesInSettleWindow > 0) return result('unsettled', 'wms-change-in-settle-window');
  return result('correct', pending ? 'lost-wms-events' : 'above-threshold');
}

/** Journal causes that come from the WMS (the ones a late webhook can explain). */
export const WMS_CAUSES: readonly string[] = ['ship', 'receipt', 'adjustment', 'count'];

export interface ReconcileTotals {
  /** SKUs in the WMS snapshot that the ledger has, compared. */
  compared: number;
  matched: number;
  /** Discrepancies found: corrected + reported + unsettled (+ would-correct on a dry run). Pending SKUs are not discrepancies. */
  discrepancies: number;
  corrected: number;
  reported: number;
  unsettled: number;
  /** Watermark: SKUs with WMS movements in the snapshot the ledger has not applied yet; not compared, not corrected. */
  pending: number;
  /** Σ |delta| of the corrections applied (or that a dry run would apply). */
  unitsCorrected: number;
  /** Σ delta of the corrections: negative = shrinkage. */
  netUnitsCorrected: number;
  reservedRepairs: number;
  /** In the WMS, not in the ledger (reported, not created). */
  wmsOnly: number;
  /** In the ledger, not in the WMS snapshot (reported). */
  ledgerOnly: number;
  /** WMS rows whose SKU stockguard cannot key on (reported). */
  invalidSkus: number;
}

export function emptyTotals(): ReconcileTotals {
  return {
    compared: 0,
    matched: 0,
    discrepancies: 0,
    corrected: 0,
    reported: 0,
    unsettled: 0,
    pending: 0,
    unitsCorrected: 0,
    netUnitsCorrected: 0,
    reservedRepairs: 0,
    wmsOnly: 0,
    ledgerOnly: 0,
    invalidSkus: 0,
  };
}

/** Adds one comparison to the totals; `corrected` says whether its correction was applied (or would be, on a dry run). */
export function countComparison(totals: ReconcileTotals, comparison: OnHandComparison): void {
  totals.compared += 1;
  if (comparison.verdict === 'pending') {
    totals.pending += 1;
    return;
  }
  if (comparison.verdict === 'match') {
    totals.matched += 1;
    return;
  }
  totals.discrepancies += 1;
  if (comparison.verdict === 'correct') {
    totals.corrected += 1;
    totals.unitsCorrected += Math.abs(comparison.delta);
    totals.netUnitsCorrected += comparison.delta;
  } else if (comparison.verdict === 'report') {
    totals.reported += 1;
  } else {
    totals.unsettled += 1;
  }
}
