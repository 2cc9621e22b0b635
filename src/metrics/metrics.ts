// Every Prometheus metric stockguard exports, in one registry. Names follow Prometheus
// conventions (stockguard_…_total, _seconds, base units); labels are bounded (no SKU
// labels). docs/metrics.md lists each one; test/unit/metrics.test.ts keeps the two in sync.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Channel lags: sub-second when all is well, tens of minutes when a channel queues (Amazon's listings processing). */
const LAG_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900, 1800, 3600];

export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'stockguard_process_' });
  const registers = [registry];

  return {
    registry,
    eventsReceived: new Counter({
      name: 'stockguard_events_received_total',
      help: 'Events appended to an event stream, by source and event type',
      labelNames: ['source', 'type'] as const,
      registers,
    }),
    duplicateDeliveries: new Counter({
      name: 'stockguard_duplicate_deliveries_total',
      help: 'Deliveries recognised by their delivery id and not appended again, by source',
      labelNames: ['source'] as const,
      registers,
    }),
    eventsApplied: new Counter({
      name: 'stockguard_events_applied_total',
      help: 'Events applied to the ledger by the consumers, by event type and outcome',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    deadLetters: new Counter({
      name: 'stockguard_dead_letters_total',
      help: 'Stream entries and SQS messages moved to the dead-letter stream, by reason',
      labelNames: ['reason'] as const,
      registers,
    }),
    untrackedLines: new Counter({
      name: 'stockguard_untracked_lines_total',
      help: 'Order lines left out because their channel item is untracked (not warehouse stock) and maps to no SKU, by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    eventToLedgerSeconds: new Histogram({
      name: 'stockguard_event_to_ledger_seconds',
      help: 'Time from receiving an event at the edge to applying it to the ledger',
      labelNames: ['type'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    orderLines: new Counter({
      name: 'stockguard_order_lines_total',
      help: 'Order lines reserved by the ledger, by channel and status (RESERVED, OVERSOLD, ...)',
      labelNames: ['channel', 'status'] as const,
      registers,
    }),
    oversoldUnits: new Counter({
      name: 'stockguard_oversold_units_total',
      help: 'Units accepted on a channel beyond what was available (sum of line shortfalls)',
      labelNames: ['channel'] as const,
      registers,
    }),
    webhookRequests: new Counter({
      name: 'stockguard_webhook_requests_total',
      help: 'Webhook deliveries by source and outcome (published, duplicate, ignored, rejected, unauthorized, stale)',
      labelNames: ['source', 'outcome'] as const,
      registers,
    }),
    httpRequestSeconds: new Histogram({
      name: 'stockguard_http_request_duration_seconds',
      help: 'HTTP request duration by route and status class',
      labelNames: ['route', 'status_class'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    sqsReceiveErrors: new Counter({
      name: 'stockguard_sqs_receive_errors_total',
      help: 'Failed SQS ReceiveMessage calls',
      registers,
    }),
    sqsMessages: new Counter({
      name: 'stockguard_sqs_messages_total',
      help: 'SQS messages by outcome (received, ignored, rejected, publish_failed, delete_failed)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    consumerLag: new Gauge({
      name: 'stockguard_consumer_lag_entries',
      help: 'Entries in the event streams not yet delivered to the consumer group, by stream kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    consumerPending: new Gauge({
      name: 'stockguard_consumer_pending_entries',
      help: 'Entries delivered to a consumer and not yet acknowledged, by stream kind',
      labelNames: ['kind'] as const,
      registers,
    }),
    consumerReclaimed: new Counter({
      name: 'stockguard_consumer_reclaimed_total',
      help: 'Pending entries taken over from idle consumers with XAUTOCLAIM',
      registers,
    }),
    consumersRetired: new Counter({
      name: 'stockguard_consumers_retired_total',
      help: 'Dead consumers (idle, nothing pending) deleted from their group',
      registers,
    }),
    handlerErrors: new Counter({
      name: 'stockguard_consumer_handler_errors_total',
      help: 'Handler failures by kind (permanent: dead-lettered; transient: retried)',
      labelNames: ['kind'] as const,
      registers,
    }),
    redisErrors: new Counter({
      name: 'stockguard_redis_errors_total',
      help: 'Errors reported by Redis clients (connection losses, failed commands)',
      registers,
    }),
    replicaWaitShortfalls: new Counter({
      name: 'stockguard_redis_replica_wait_shortfalls_total',
      help: 'Writes not acknowledged because fewer replicas than STOCKGUARD_REDIS_WAIT_REPLICAS confirmed them in time, by part (edge: an event append, answered 503 or left on the SQS queue; ledger: a ledger change, its stream entry left pending)',
      labelNames: ['part'] as const,
      registers,
    }),
    holdsReaped: new Counter({
      name: 'stockguard_holds_expired_total',
      help: 'Checkout holds released because they expired unconfirmed',
      registers,
    }),
    reconcileRuns: new Counter({
      name: 'stockguard_reconcile_runs_total',
      help: 'Reconciliation runs by outcome (completed, failed, already_running: another replica held the lock)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    reconcileLastRun: new Gauge({
      name: 'stockguard_reconcile_last_run_timestamp_seconds',
      help: 'When the last reconciliation run of this process finished (Unix seconds)',
      registers,
    }),
    reconcileLastSuccess: new Gauge({
      name: 'stockguard_reconcile_last_run_success',
      help: 'Whether the last reconciliation run of this process completed (1) or failed (0)',
      registers,
    }),
    reconcileLastDuration: new Gauge({
      name: 'stockguard_reconcile_last_run_duration_seconds',
      help: 'Wall time of the last reconciliation run of this process',
      registers,
    }),
    reconcileDiscrepancies: new Counter({
      name: 'stockguard_reconcile_discrepancies_total',
      help: 'On-hand discrepancies found by reconciliation, by action (corrected, reported: below threshold, unsettled: left to the next run)',
      labelNames: ['action'] as const,
      registers,
    }),
    reconcilePendingSkus: new Gauge({
      name: 'stockguard_reconcile_pending_skus',
      help: 'SKUs the last reconciliation run left pending: their WMS snapshot (watermark) includes movements the ledger had not applied yet; not compared, not corrected',
      registers,
    }),
    reconcileUnitsCorrected: new Counter({
      name: 'stockguard_reconcile_units_corrected_total',
      help: 'Units of on_hand corrected by reconciliation (sum of absolute corrections)',
      registers,
    }),
    reconcileReservedRepairs: new Counter({
      name: 'stockguard_reconcile_reserved_repairs_total',
      help: 'SKUs whose reserved had drifted from their open reservations and was recomputed (I3)',
      registers,
    }),
    snapshots: new Counter({
      name: 'stockguard_snapshots_total',
      help: 'Scheduled ledger snapshots by outcome (written, failed, skipped: another replica took it)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    snapshotLast: new Gauge({
      name: 'stockguard_snapshot_last_timestamp_seconds',
      help: 'When this process last wrote a ledger snapshot (Unix seconds)',
      registers,
    }),
    pushes: new Counter({
      name: 'stockguard_pushes_total',
      help: 'Quantities pushed to a channel, by channel and outcome (acked, stale, invalid, rejected, blocked, failed)',
      labelNames: ['channel', 'outcome'] as const,
      registers,
    }),
    pushRequestSeconds: new Histogram({
      name: 'stockguard_push_request_duration_seconds',
      help: 'Duration of one channel API request made by the pushers (a batch on Shopify, one SKU on Amazon)',
      labelNames: ['channel'] as const,
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    saleToChannelSeconds: new Histogram({
      name: 'stockguard_sale_to_channel_seconds',
      help: 'Time from the ledger change (first change since the SKU was last picked up) to the channel acknowledging the push',
      labelNames: ['channel'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
      registers,
    }),
    channelThrottled: new Counter({
      name: 'stockguard_channel_throttled_total',
      help: 'Throttling answers from a channel (Shopify THROTTLED or HTTP 429, Amazon 429 QuotaExceeded)',
      labelNames: ['channel'] as const,
      registers,
    }),
    pushQueue: new Gauge({
      name: 'stockguard_push_queue_entries',
      help: 'SKUs waiting to be pushed to a channel (coalesced: one entry per SKU)',
      labelNames: ['channel'] as const,
      registers,
    }),
    exposureUnits: new Gauge({
      name: 'stockguard_exposure_units',
      help: 'Sum over SKUs of positive exposure beyond available: the I8 accounting (Σ_c exposure_c − available) for SKUs in a bounded mode, the values pushed less available for shared ones, as last computed',
      registers,
    }),
    channelExposure: new Gauge({
      name: 'stockguard_channel_exposure_units',
      help: 'Sum over SKUs in a bounded allocation mode of exposure_c (invariant I8): the most the channel can sell before stockguard learns of it, by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    exposureTop: new Gauge({
      name: 'stockguard_exposure_top_units',
      help: 'Exposure of the N most exposed SKUs (bounded by STOCKGUARD_PUSH_TOP_EXPOSURE_SKUS)',
      labelNames: ['rank', 'sku'] as const,
      registers,
    }),
    dynamicHoldbackUnits: new Gauge({
      name: 'stockguard_dynamic_holdback_units',
      help: 'Units withheld from every channel by the dynamic holdback, summed over SKUs',
      registers,
    }),
    driftUnits: new Counter({
      name: 'stockguard_drift_units_total',
      help: 'Units by which a channel disagreed with what was pushed after the settle window (absolute), by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    driftCorrections: new Counter({
      name: 'stockguard_drift_corrections_total',
      help: 'Corrective pushes after drift, by channel',
      labelNames: ['channel'] as const,
      registers,
    }),
    fbaSkipped: new Counter({
      name: 'stockguard_fba_skipped_total',
      help: 'Amazon pushes skipped because the SKU is fulfilled by Amazon (FBA quantities are never written, I6)',
      registers,
    }),
    channelDeliveryLag: new Histogram({
      name: 'stockguard_channel_delivery_lag_seconds',
      help: 'Time from a channel event (Shopify X-Shopify-Triggered-At, Amazon EventTime) to its receipt by stockguard, for deliveries that brought a new event, by channel',
      labelNames: ['channel'] as const,
      buckets: LAG_BUCKETS,
      registers,
    }),
    channelApplyLag: new Histogram({
      name: 'stockguard_channel_apply_lag_seconds',
      help: 'Time from a channel accepting a pushed quantity to the channel reporting that quantity in effect (its own event time), by channel',
      labelNames: ['channel'] as const,
      buckets: LAG_BUCKETS,
      registers,
    }),
    channelLagBound: new Gauge({
      name: 'stockguard_channel_lag_bound_seconds',
      help: 'Configured bound of a channel lag (kind: delivery, apply), which the p99 of the measured lag should stay under',
      labelNames: ['channel', 'kind'] as const,
      registers,
    }),
    shopifyLocationProblems: new Gauge({
      name: 'stockguard_shopify_location_problems',
      help: 'Mapped Shopify locations that are never written to, by problem (unknown, inactive, not_online)',
      labelNames: ['problem'] as const,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
