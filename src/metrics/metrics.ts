// Every Prometheus metric stockguard exports, in one registry. Names follow Prometheus
// conventions (stockguard_…_total, _seconds, base units); labels are bounded (no SKU
// labels). docs/metrics.md lists each one; test/unit/metrics.test.ts keeps the two in sync.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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
    holdsReaped: new Counter({
      name: 'stockguard_holds_expired_total',
      help: 'Checkout holds released because they expired unconfirmed',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
