// What a chaos run reports (bench/results/chaos.json, docs/reliability.md "Figures").
import { FAULT_KINDS, type FaultKind } from './faults.ts';

/** What the run's stockguard processes talk to: one redis-server, or a Redis Cluster with replicas. */
export type ChaosRedis = 'server' | 'cluster';

export interface ChaosFigures {
  seed: number;
  events: number;
  durationS: number;
  skus: number;
  redis: ChaosRedis;
  /** Seconds the load took (planned: durationS); a long run can fall behind its plan. */
  loadS: number;
  /** About how long the load waited because 2000 operations were still in flight. */
  loadHeldBackS: number;
  sent: { shopifySales: number; amazonSales: number; cancels: number; shipments: number; receipts: number; refusedByChannel: number };
  duplicates: { shopifyWebhookCopies: number; shopifyRedeliveries: number; sqsCopies: number };
  /** Faults acted out, by kind (every kind the run could inject, 0 when it did not). */
  faults: Partial<Record<FaultKind, number>>;
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
  /**
   * Runs on a Redis Cluster (issue 13 §5): manual failovers (`CLUSTER FAILOVER` on the
   * replica) and SIGKILLed masters; the longest time from the request until the replica won
   * its election (`failoverMaxS`), and from a kill until the replica was elected
   * (`electedMaxS`), both by the replica's own log; for both, the longest time from the fault's start until every
   * node agreed on the new owner of the slots (`takeoverMaxS`); for the kills, the bytes of replication
   * stream the killed master had (sampled just before the SIGKILL, so a lower bound) that
   * the promoted replica never received; and the acknowledged writes the checker found
   * missing that a killed master had taken and not replicated (asynchronous replication,
   * docs/reliability.md). Those are counted here and not in `lost`, so that the cause is
   * told apart, but they fail the run all the same (an acknowledged write is gone); a manual
   * failover never counts one. `startedUnderLoad`: Cluster faults that began while the load
   * was still being sent (one that the load outran is acted out after it, unloaded).
   */
  clusterFailovers: { manual: number; masterKills: number; startedUnderLoad: number; failoverMaxS: number; electedMaxS: number; takeoverMaxS: number; replicationGapBytes: number; writesLostToFailover: number; onHandMismatchesFromLostWrites: number };
  reconcile: { runs: number; failed: number; alreadyRunning: number; compared: number; corrected: number; unitsCorrected: number; unsettled: number; reported: number; reservedRepairs: number };
  delayedRetries: { lateDuplicates: number; lateDuplicatesAcknowledged: number; firstDeliveredLate: number; beyondWindow: number; beyondWindowRefused: number };
  wmsUnacknowledged: number;
  lost: number;
  /**
   * Why each missing channel order (lost, or lost to a master kill) is missing, by
   * `<channel>:<what the ledger holds>`: `no-record` (no reservation record at all),
   * `record-without-reserve` (a record, from a cancel, with no reserve), `dead-lettered`
   * (its sale event is in the dead-letter stream, with the reason after a second colon).
   */
  lostBreakdown: Record<string, number>;
  /** Amazon notifications still on the SQS queue when the checker ran (late, counted as missing). */
  sqsMessagesAtCheck: number;
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

export function emptyFigures(options: { seed: number; events: number; durationS: number; skus: number; redis?: ChaosRedis }, kinds: readonly FaultKind[] = FAULT_KINDS): ChaosFigures {
  return {
    ...options,
    redis: options.redis ?? 'server',
    loadS: Number.NaN,
    loadHeldBackS: 0,
    sent: { shopifySales: 0, amazonSales: 0, cancels: 0, shipments: 0, receipts: 0, refusedByChannel: 0 },
    duplicates: { shopifyWebhookCopies: 0, shopifyRedeliveries: 0, sqsCopies: 0 },
    faults: Object.fromEntries(kinds.map((kind) => [kind, 0])),
    consumerKills: { orphanedEntries: 0, claimedByOther: 0, recoveredAfterRestartMaxS: 0, recoveredAfterKillMaxS: 0, superseded: 0, unrecovered: 0 },
    sqsInFlightAtEdgeKill: 0,
    redisDelayMs: 0,
    redisConnectionsReset: 0,
    clusterFailovers: { manual: 0, masterKills: 0, startedUnderLoad: 0, failoverMaxS: 0, electedMaxS: 0, takeoverMaxS: 0, replicationGapBytes: 0, writesLostToFailover: 0, onHandMismatchesFromLostWrites: 0 },
    reconcile: { runs: 0, failed: 0, alreadyRunning: 0, compared: 0, corrected: 0, unitsCorrected: 0, unsettled: 0, reported: 0, reservedRepairs: 0 },
    delayedRetries: { lateDuplicates: 0, lateDuplicatesAcknowledged: 0, firstDeliveredLate: 0, beyondWindow: 0, beyondWindowRefused: 0 },
    wmsUnacknowledged: 0,
    lost: 0,
    lostBreakdown: {},
    sqsMessagesAtCheck: 0,
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

/**
 * Every check of a run with the number of things that failed it (0 = held), flat, as
 * bench/results/chaos*.json report them (`checks: {name: {failed: N}}`). `wrong_corrections`
 * counts the corrections of mid-burst reconciliations: the warehouse never loses stock in
 * a chaos run, so each one is wrong.
 */
export function checkResults(figures: ChaosFigures): Record<string, { failed: number }> {
  const counts: Record<string, number> = {
    lost: figures.lost,
    doubled: figures.doubled,
    wrong_quantity: figures.wrongQuantity,
    unexpected_reservations: figures.unexpectedReservations,
    cancel_mismatches: figures.cancelMismatches,
    I1: figures.i1Violations,
    I3: figures.i3Violations,
    I4: figures.i4Violations,
    on_hand_vs_warehouse: figures.onHandMismatches,
    writes_lost_to_master_kill: figures.clusterFailovers.writesLostToFailover,
    on_hand_vs_warehouse_after_master_kill: figures.clusterFailovers.onHandMismatchesFromLostWrites,
    fba_writes: figures.fbaWrites,
    dead_letters: figures.deadLetters,
    wrong_corrections: figures.reconcile.corrected,
    daemon_crashes: figures.crashes.length,
    late_retries_not_acknowledged: figures.delayedRetries.lateDuplicates - figures.delayedRetries.lateDuplicatesAcknowledged,
    replays_beyond_window_accepted: figures.delayedRetries.beyondWindow - figures.delayedRetries.beyondWindowRefused,
    ledger_never_quiet: figures.ledgerQuiet ? 0 : 1,
  };
  return Object.fromEntries(Object.entries(counts).map(([name, failed]) => [name, { failed }]));
}

/** The checks a run must pass (exit code 1 otherwise); convergence is reported, not required. */
export function failedChecks(figures: ChaosFigures): string[] {
  return Object.entries(checkResults(figures))
    .filter(([, { failed }]) => failed > 0)
    .map(([name, { failed }]) => (name === 'ledger_never_quiet' ? name : `${name} ${failed}`));
}
