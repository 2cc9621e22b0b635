// What a chaos run reports (bench/results/chaos.json, docs/reliability.md "Figures").
import { FAULT_KINDS, type FaultKind } from './faults.ts';

export interface ChaosFigures {
  seed: number;
  events: number;
  durationS: number;
  skus: number;
  /** Seconds the load took (planned: durationS); a long run can fall behind its plan. */
  loadS: number;
  /** About how long the load waited because 2000 operations were still in flight. */
  loadHeldBackS: number;
  sent: { shopifySales: number; amazonSales: number; cancels: number; shipments: number; receipts: number; refusedByChannel: number };
  duplicates: { shopifyWebhookCopies: number; shopifyRedeliveries: number; sqsCopies: number };
  faults: Record<FaultKind, number>;
  /**
   * consumer-kill: the entries the killed consumer held unacknowledged, how many the other
   * consumer claimed instead (the harness runs with a 500-ms claim idle time), and how long
   * until every one of them was acknowledged, counted from the restart under the same name
   * (0 when they were all done before it) and from the kill; the largest over all kills. A
   * kill followed by another kill of the same consumer before its entries were done is
   * `superseded` and not timed: what it left is still pending under the name and counted by
   * the next kill.
   */
  consumerKills: { orphanedEntries: number; claimedByOther: number; recoveredAfterRestartMaxS: number; recoveredAfterKillMaxS: number; superseded: number; unrecovered: number };
  /** SQS messages received by the edge and not yet deleted when it was killed (redelivered after the visibility timeout). */
  sqsInFlightAtEdgeKill: number;
  redisDelayMs: number;
  redisConnectionsReset: number;
  reconcile: { runs: number; failed: number; alreadyRunning: number; compared: number; corrected: number; unitsCorrected: number; unsettled: number; reported: number; reservedRepairs: number };
  delayedRetries: { lateDuplicates: number; lateDuplicatesAcknowledged: number; firstDeliveredLate: number; beyondWindow: number; beyondWindowRefused: number };
  wmsUnacknowledged: number;
  lost: number;
  doubled: number;
  wrongQuantity: number;
  unexpectedReservations: number;
  cancelMismatches: number;
  raceOversoldUnits: number;
  i1Violations: number;
  i3Violations: number;
  i4Violations: number;
  onHandMismatches: number;
  fbaWrites: number;
  deadLetters: number;
  /** First-delivery failures of Shopify webhooks by status (or error), each retried until 2xx. */
  webhookFailures: Record<string, number>;
  /** Streams drained, nothing pending, every accepted channel order reserved. */
  ledgerQuiet: boolean;
  ledgerQuietAfterLastFaultS: number;
  /** ledgerQuiet, and every channel shows sellable(c). */
  converged: boolean;
  channelMismatches: { sku: string; shopify: number | undefined; shopifySellable: number | undefined; amazon: number | undefined; amazonSellable: number | undefined }[];
  /** How long after the last operation the last webhook retry and WMS delivery finished. */
  webhooksAcknowledgedAfterLoadS: number;
  /** When the last fault was over, in seconds from the start of the load. */
  lastFaultEndS: number;
  convergenceAfterLastFaultS: number;
  /** Daemon processes that exited without being killed. */
  crashes: string[];
  /** Daemon processes that exited with code 3 (Redis unreachable at start-up) and were restarted. */
  restartsRedisDown: number;
  problems: string[];
}

export function emptyFigures(options: { seed: number; events: number; durationS: number; skus: number }): ChaosFigures {
  return {
    ...options,
    loadS: Number.NaN,
    loadHeldBackS: 0,
    sent: { shopifySales: 0, amazonSales: 0, cancels: 0, shipments: 0, receipts: 0, refusedByChannel: 0 },
    duplicates: { shopifyWebhookCopies: 0, shopifyRedeliveries: 0, sqsCopies: 0 },
    faults: Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])) as Record<FaultKind, number>,
    consumerKills: { orphanedEntries: 0, claimedByOther: 0, recoveredAfterRestartMaxS: 0, recoveredAfterKillMaxS: 0, superseded: 0, unrecovered: 0 },
    sqsInFlightAtEdgeKill: 0,
    redisDelayMs: 0,
    redisConnectionsReset: 0,
    reconcile: { runs: 0, failed: 0, alreadyRunning: 0, compared: 0, corrected: 0, unitsCorrected: 0, unsettled: 0, reported: 0, reservedRepairs: 0 },
    delayedRetries: { lateDuplicates: 0, lateDuplicatesAcknowledged: 0, firstDeliveredLate: 0, beyondWindow: 0, beyondWindowRefused: 0 },
    wmsUnacknowledged: 0,
    lost: 0,
    doubled: 0,
    wrongQuantity: 0,
    unexpectedReservations: 0,
    cancelMismatches: 0,
    raceOversoldUnits: 0,
    i1Violations: 0,
    i3Violations: 0,
    i4Violations: 0,
    onHandMismatches: 0,
    fbaWrites: 0,
    deadLetters: 0,
    webhookFailures: {},
    ledgerQuiet: false,
    ledgerQuietAfterLastFaultS: Number.NaN,
    converged: false,
    channelMismatches: [],
    webhooksAcknowledgedAfterLoadS: Number.NaN,
    lastFaultEndS: Number.NaN,
    convergenceAfterLastFaultS: Number.NaN,
    crashes: [],
    restartsRedisDown: 0,
    problems: [],
  };
}

/** The checks a run must pass (exit code 1 otherwise); convergence is reported, not required. */
export function failedChecks(figures: ChaosFigures): string[] {
  const failed: string[] = [];
  const nonZero = { lost: figures.lost, doubled: figures.doubled, 'wrong quantity': figures.wrongQuantity, 'unexpected reservations': figures.unexpectedReservations, 'cancel mismatches': figures.cancelMismatches, I1: figures.i1Violations, I3: figures.i3Violations, I4: figures.i4Violations, 'on_hand ≠ warehouse': figures.onHandMismatches, 'FBA writes': figures.fbaWrites, 'dead letters': figures.deadLetters, 'wrong corrections by reconciliation': figures.reconcile.corrected, 'daemon crashes': figures.crashes.length };
  for (const [name, value] of Object.entries(nonZero)) if (value > 0) failed.push(`${name} ${value}`);
  if (figures.delayedRetries.lateDuplicatesAcknowledged !== figures.delayedRetries.lateDuplicates) failed.push(`late retries not acknowledged ${figures.delayedRetries.lateDuplicates - figures.delayedRetries.lateDuplicatesAcknowledged}`);
  if (figures.delayedRetries.beyondWindowRefused !== figures.delayedRetries.beyondWindow) failed.push(`replays beyond the window accepted ${figures.delayedRetries.beyondWindow - figures.delayedRetries.beyondWindowRefused}`);
  if (!figures.ledgerQuiet) failed.push('the ledger never went quiet');
  return failed;
}
