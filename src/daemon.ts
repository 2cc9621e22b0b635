// `stockguard serve`: the HTTP receiver, the stream consumers, the SQS poller and the
// checkout-hold reaper in one process. Each part is a role that configuration can switch
// off (STOCKGUARD_ROLES), so a deployment can split ingest from consumption.
import { StreamConsumer, StreamTrimmer } from './consumers/index.ts';
import { writeDeadLetter } from './consumers/deadLetters.ts';
import { StockguardEvent, partitionSkuOf } from './domain/events.ts';
import type { Config } from './config.ts';
import { StockguardError } from './errors.ts';
import { SqsPoller } from './ingest/amazon/sqsPoller.ts';
import { judgeRetention, queueHorizonsOf } from './ingest/amazon/queueRetention.ts';
import { reservationRoutes } from './ingest/http/reservations.ts';
import { createHttpServer, listen, type Route, type RunningHttpServer } from './ingest/http/server.ts';
import { shopifyWebhookRoute, wmsWebhookRoute } from './ingest/http/webhooks.ts';
import { RedisEventSink } from './ingest/redisSink.ts';
import type { EventSink, PublishResult } from './ingest/sink.ts';
import { applyEvent } from './ledger/applyEvent.ts';
import { CheckoutHolds } from './ledger/holds.ts';
import { JournalAuditFiles, JournalTrimmer } from './ledger/journalTrimmer.ts';
import { RunLock } from './reconcile/lock.ts';
import { EVENT_KINDS } from './redis/keys.ts';
import type { Clock } from './ledger/ledger.ts';
import type { Logger } from './logger.ts';
import { openRuntime, type Runtime } from './main.ts';
import { createMetrics, type Metrics } from './metrics/metrics.ts';
import { createPushCoordinator, type PushCoordinator, type PushEvent, PushStore, pushStateHorizonMs, reportHorizonMs, SaleLatencyReporter } from './pushers/index.ts';
import { type ScheduledJobs, startScheduledJobs } from './reconcile/jobs.ts';
import { compareStreamIds } from './consumers/streamId.ts';
import { replyFields } from './redis/streams.ts';

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  clock?: Clock;
  metrics?: Metrics;
  /** Every push result (the demo measures sale-to-channel propagation with it). */
  onPush?: (event: PushEvent) => void;
}

export interface Daemon {
  runtime: Runtime;
  metrics: Metrics;
  sink: EventSink;
  holds: CheckoutHolds;
  /** The HTTP listener, when the http role runs. */
  http: RunningHttpServer | undefined;
  /** The channel pushers, when the pushers role runs and a channel is configured. */
  pushers: PushCoordinator | undefined;
  /** Stops reading, finishes and acknowledges in-flight work, closes connections. */
  stop(): Promise<{ graceful: boolean; unfinished: number }>;
}

export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  const { config, logger } = options;
  const clock = options.clock ?? Date.now;
  const metrics = options.metrics ?? createMetrics();
  const runtime = await openRuntime(config, {
    logger,
    clock,
    connectionName: `stockguard-${config.streams.consumerName}`,
    onReplicaShortfall: (part) => metrics.replicaWaitShortfalls.inc({ part }),
  });
  runtime.redis.on('error', () => metrics.redisErrors.inc());
  const { redis, ledger, catalog } = runtime;
  const roles = new Set(config.roles);
  const sink = meteredSink(
    new RedisEventSink({
      redis,
      keys: ledger.keys,
      partitions: config.streams.partitions,
      dedupeWindowSeconds: config.webhooks.dedupeWindowSeconds,
      // Each source's delivery marks live as long as it can redeliver (docs/operations.md, "Dedupe horizons").
      dedupeWindowsBySource: { 'amazon-sqs': config.webhooks.sqsDedupeWindowSeconds, 'wms-webhook': config.webhooks.wmsDedupeWindowSeconds },
      // An append is acknowledged (2xx, SQS delete) only once a replica has it (docs/operations.md, "Redis Cluster").
      replicaWait: runtime.replicaWait('edge'),
    }),
    metrics,
  );
  const holds = new CheckoutHolds(redis, ledger, clock, (skus) => catalog.bundleComponents(skus));
  const streams = EVENT_KINDS.flatMap((kind) => ledger.keys.eventStreams(kind, config.streams.partitions));
  const timers: NodeJS.Timeout[] = [];
  let consumersReady = !roles.has('consumers');
  for (const channel of ['shopify', 'amazon'] as const) {
    metrics.channelLagBound.set({ channel, kind: 'delivery' }, config.lagBounds[channel].deliverySeconds);
    metrics.channelLagBound.set({ channel, kind: 'apply' }, config.lagBounds[channel].applySeconds);
  }
  // Apply lag: a fresh channel level equal to the last acknowledged push confirms that push.
  // Its pushstate writes expire after the idle horizon, as the coordinator's do (docs/pushers.md, "Channel state at rest").
  const pushStore = new PushStore(redis, ledger.keys, ledger, reportHorizonMs(config), pushStateHorizonMs(config));

  let consumer: StreamConsumer | undefined;
  let trimmer: StreamTrimmer | undefined;
  let journalTrimmer: JournalTrimmer | undefined;
  // The consumers measure sale-to-ledger latency; its p99 sizes the pushers' dynamic holdback.
  const saleLatency = roles.has('consumers') ? new SaleLatencyReporter(pushStore, clock) : undefined;
  if (roles.has('consumers')) {
    consumer = new StreamConsumer({
      redis,
      streams,
      group: config.streams.group,
      consumer: config.streams.consumerName,
      deadLetterStream: ledger.keys.deadLetters(),
      logger: logger.child({ part: 'consumer' }),
      batchSize: config.streams.batchSize,
      concurrency: config.streams.concurrency,
      minIdleMs: config.streams.claimIdleMs,
      reclaimIntervalMs: config.streams.reclaimIntervalMs,
      maxDeliveries: config.streams.maxDeliveries,
      clock,
      // The ledger's changes wait for replicas inside the handler; dead letters here.
      replicaWait: runtime.replicaWait('ledger'),
      // Entries of one SKU apply in stream order within a batch.
      keyOf: (event) => {
        const parsed = parseEvent(event);
        return parsed.success ? partitionSkuOf(parsed.data) : undefined;
      },
      handler: async (entry) => {
        const parsed = parseEvent(entry.event);
        if (!parsed.success) {
          throw new StockguardError('STOCKGUARD_E_BAD_EVENT', parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; '));
        }
        const event = parsed.data;
        const outcome = await applyEvent(event, {
          ledger,
          resolveChannelItem: (channel, itemId) => catalog.skuForChannelItem(channel, itemId),
          resolveRefs: (refs) => catalog.resolveRefs(refs),
          bundleComponents: (skus) => catalog.bundleComponents(skus),
          untrackedLine: (channel) => metrics.untrackedLines.inc({ channel }),
        });
        recordApplied(metrics, event, outcome, clock);
        if (event.type === 'order.placed') saleLatency?.record(clock() - event.receivedAtMs);
        if (event.type === 'channel.level' && outcome.kind === 'observed' && outcome.sku !== undefined) {
          // Every report, in or out of order, for the bounded allocation's confirmations;
          // a failure makes the event retry (the ledger's part is idempotent).
          await pushStore.noteChannelReport(outcome.sku, event.channel, event);
          await ledger.touch(outcome.sku);
        }
        if (event.type === 'channel.level' && outcome.kind === 'observed' && outcome.fresh && outcome.sku !== undefined) {
          // Only a metric: a Redis failure here must not make the event fail and be retried.
          const lagMs = await pushStore.confirmApplied(outcome.sku, event.channel, event).catch(() => {
            metrics.redisErrors.inc();
            return undefined;
          });
          if (lagMs !== undefined) metrics.channelApplyLag.observe({ channel: event.channel }, lagMs / 1000);
        }
      },
      metrics: {
        deadLettered: (_stream, reason) => metrics.deadLetters.inc({ reason }),
        reclaimed: (_stream, count) => metrics.consumerReclaimed.inc(count),
        retired: (_stream, count) => metrics.consumersRetired.inc(count),
        handlerError: (_stream, kind) => metrics.handlerErrors.inc({ kind }),
        redisError: () => metrics.redisErrors.inc(),
      },
    });
    await consumer.start();
    consumersReady = true;
    trimmer = new StreamTrimmer({ redis, streams, logger: logger.child({ part: 'trimmer' }) });
    trimmer.start();
    // Hourly: every partition journal, also of partitions whose SKUs stopped changing (commitChange trims only on a change).
    // With an audit directory, one replica at a time writes the old entries out, then trims them.
    const audit = config.journalAuditDir === undefined ? {} : { audit: new JournalAuditFiles(config.journalAuditDir, config.keyPrefix, clock), lock: new RunLock(redis, ledger.keys.runLock('journal-trim'), config.reconcile.lockTtlMs) };
    journalTrimmer = new JournalTrimmer({ redis, keys: ledger.keys, retentionMs: config.journalRetentionMs, clock, logger: logger.child({ part: 'journal-trimmer' }), ...audit });
    journalTrimmer.start();
  }

  let poller: SqsPoller | undefined;
  if (roles.has('sqs') && config.sqs.queueUrl) {
    poller = new SqsPoller({
      queueUrl: config.sqs.queueUrl,
      sqs: { region: config.sqs.region, endpoint: config.sqs.endpoint },
      sink,
      waitTimeSeconds: config.sqs.waitTimeSeconds,
      receiveLoops: config.sqs.receiveLoops,
      visibilityTimeoutSeconds: config.sqs.visibilityTimeoutSeconds,
      logger: logger.child({ part: 'sqs' }),
      clock,
      deadLetter: async (reason, rawBody, metadata) => {
        metrics.deadLetters.inc({ reason: 'sqs-rejected' });
        await writeDeadLetter(redis, ledger.keys.deadLetters(), {
          stream: 'sqs',
          id: metadata.messageId ?? '',
          event: rawBody,
          reason: 'STOCKGUARD_E_BAD_PAYLOAD',
          message: reason,
          deliveries: metadata.receiveCount ?? 1,
          group: 'sqs-poller',
          consumer: config.streams.consumerName,
          atMs: clock(),
        }, runtime.replicaWait('edge'));
      },
      counters: {
        received: (count) => metrics.sqsMessages.inc({ outcome: 'received' }, count),
        ignored: () => metrics.sqsMessages.inc({ outcome: 'ignored' }),
        rejected: () => metrics.sqsMessages.inc({ outcome: 'rejected' }),
        publishFailed: () => metrics.sqsMessages.inc({ outcome: 'publish_failed' }),
        deleteFailed: (count) => metrics.sqsMessages.inc({ outcome: 'delete_failed' }, count),
        receiveFailed: () => metrics.sqsReceiveErrors.inc(),
        deliveryLag: (seconds) => metrics.channelDeliveryLag.observe({ channel: 'amazon' }, seconds),
      },
    });
    poller.start();
    // The queue's own redelivery limit against the horizons: a warning with its fix, never a refusal to start.
    const horizons = queueHorizonsOf(config);
    const sqsLogger = logger.child({ part: 'sqs' });
    poller.queueRetentionSeconds().then(
      (seconds) => {
        const verdict = judgeRetention(seconds, horizons);
        if (verdict.ok) sqsLogger.info({ retentionSeconds: seconds }, verdict.detail);
        else sqsLogger.warn({ retentionSeconds: seconds, fix: verdict.fix }, verdict.detail);
      },
      (error: unknown) => sqsLogger.warn({ err: error }, "could not read the SQS queue's MessageRetentionPeriod (grant sqs:GetQueueAttributes to check it): the dedupe horizons are not checked against the queue's retention"),
    );
  } else if (roles.has('sqs')) {
    logger.info('AMAZON_SQS_QUEUE_URL is not set: the SQS poller does not run');
  }

  if (roles.has('holds')) {
    timers.push(
      setInterval(() => {
        holds.reapExpired().then(
          (count) => count > 0 && metrics.holdsReaped.inc(count),
          (error: unknown) => logger.warn({ err: error }, 'reaping expired checkout holds failed; retrying next round'),
        );
      }, config.holdReapIntervalMs),
    );
  }

  timers.push(setInterval(() => void updateStreamGauges(runtime, streams, config, metrics).catch(() => metrics.redisErrors.inc()), 5_000));
  if (saleLatency) timers.push(setInterval(() => void saleLatency.publish().catch(() => metrics.redisErrors.inc()), 5_000));

  let pushers: PushCoordinator | undefined;
  if (roles.has('pushers')) {
    pushers = createPushCoordinator({ config, redis, ledger, catalog, metrics, logger, clock, onPush: options.onPush });
    if (pushers) await pushers.start();
    else logger.info('no channel is configured (SHOPIFY_STORE_DOMAIN + SHOPIFY_ACCESS_TOKEN, AMAZON_SELLER_ID + LWA credentials): the pushers do not run');
  }

  // Scheduled reconciliation and snapshots (docs/reconcile.md): one replica per time slot.
  let jobs: ScheduledJobs | undefined;
  if (roles.has('reconcile')) jobs = startScheduledJobs({ runtime, logger: logger.child({ part: 'jobs' }), metrics, clock });

  let http: RunningHttpServer | undefined;
  if (roles.has('http')) {
    const routes: Route[] = [
      { method: 'GET', path: '/healthz', handler: async () => ({ status: 200, body: { status: 'alive' } }) },
      {
        method: 'GET',
        path: '/readyz',
        handler: async () => {
          const checks = { redis: await redis.ping().then(() => true, () => false), consumerGroups: consumersReady };
          return { status: checks.redis && checks.consumerGroups ? 200 : 503, body: checks };
        },
      },
      {
        method: 'GET',
        path: '/metrics',
        handler: async () => ({ status: 200, text: await metrics.registry.metrics(), headers: { 'content-type': metrics.registry.contentType } }),
      },
    ];
    const counters = { webhook: (source: 'shopify' | 'wms', _topic: string, outcome: string) => metrics.webhookRequests.inc({ source, outcome }) };
    if (config.secrets.shopifyAppSecrets.length > 0) {
      routes.push(
        shopifyWebhookRoute({
          sink,
          appSecrets: config.secrets.shopifyAppSecrets,
          maxAgeSeconds: config.webhooks.shopifyMaxAgeSeconds,
          clock,
          logger,
          counters,
          deliveryLag: (seconds) => metrics.channelDeliveryLag.observe({ channel: 'shopify' }, seconds),
        }),
      );
    } else {
      logger.warn('SHOPIFY_APP_SECRET is not set: POST /webhooks/shopify is off');
    }
    if (config.secrets.wmsWebhook) {
      routes.push(wmsWebhookRoute({ sink, secret: config.secrets.wmsWebhook, maxAgeSeconds: config.webhooks.wmsMaxAgeSeconds, clock, logger, counters }));
    } else {
      logger.warn('STOCKGUARD_WMS_WEBHOOK_SECRET is not set: POST /webhooks/wms is off');
    }
    if (config.secrets.apiToken) {
      routes.push(...reservationRoutes({ holds, apiToken: config.secrets.apiToken }));
    } else {
      logger.warn('STOCKGUARD_API_TOKEN is not set: the reservation API is off');
    }
    const server = createHttpServer({
      routes,
      bodyLimitBytes: config.http.bodyLimitBytes,
      logger,
      onResponse: (route, status, seconds) => metrics.httpRequestSeconds.observe({ route, status_class: `${Math.floor(status / 100)}xx` }, seconds),
    });
    http = await listen(server, config.http.port, config.http.host);
    logger.info({ url: http.url }, 'http listening');
  }

  return {
    runtime,
    metrics,
    sink,
    holds,
    http,
    pushers,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      // Stop taking new work first: no new webhooks, no new SQS receives.
      await http?.close();
      await poller?.stop();
      trimmer?.stop();
      await journalTrimmer?.stop();
      await jobs?.stop(config.shutdownDeadlineMs);
      const result = consumer ? await consumer.stop({ deadlineMs: config.shutdownDeadlineMs }) : { graceful: true, unfinished: 0 };
      // After the consumers: their last changes are in the dirty index; what the pushers
      // could not send yet goes back there for the next process.
      await pushers?.stop();
      await runtime.close();
      return result;
    },
  };
}

// The ordering key and the handler both validate the same event object: validate once.
const parsedEvents = new WeakMap<object, ReturnType<typeof StockguardEvent.safeParse>>();
function parseEvent(event: unknown): ReturnType<typeof StockguardEvent.safeParse> {
  if (typeof event !== 'object' || event === null) return StockguardEvent.safeParse(event);
  let parsed = parsedEvents.get(event);
  if (!parsed) {
    parsed = StockguardEvent.safeParse(event);
    parsedEvents.set(event, parsed);
  }
  return parsed;
}

function meteredSink(sink: EventSink, metrics: Metrics): EventSink {
  return {
    async publish(event, options): Promise<PublishResult> {
      const result = await sink.publish(event, options);
      if (result.duplicate) metrics.duplicateDeliveries.inc({ source: event.source });
      else metrics.eventsReceived.inc({ source: event.source, type: event.type });
      return result;
    },
  };
}

function recordApplied(metrics: Metrics, event: StockguardEvent, outcome: Awaited<ReturnType<typeof applyEvent>>, clock: Clock): void {
  metrics.eventsApplied.inc({ type: event.type, outcome: outcome.kind });
  metrics.eventToLedgerSeconds.observe({ type: event.type }, Math.max(0, clock() - event.receivedAtMs) / 1000);
  if (outcome.kind === 'reserved' && event.type === 'order.placed') {
    for (const line of outcome.lines) {
      metrics.orderLines.inc({ channel: event.channel, status: line.status });
      if (line.status !== 'DUPLICATE' && line.shortfall > 0) metrics.oversoldUnits.inc({ channel: event.channel }, line.shortfall);
    }
  }
}

async function updateStreamGauges(runtime: Runtime, streams: readonly string[], config: Config, metrics: Metrics): Promise<void> {
  const totals = new Map<string, { lag: number; pending: number }>();
  for (const stream of streams) {
    const kind = EVENT_KINDS.find((candidate) => stream.includes(`{${candidate}:`)) ?? 'unknown';
    for (const group of await streamGroups(runtime, stream)) {
      if (group.name !== config.streams.group) continue;
      const total = totals.get(kind) ?? { lag: 0, pending: 0 };
      total.lag += group.lag;
      total.pending += group.pending;
      totals.set(kind, total);
    }
  }
  for (const [kind, total] of totals) {
    metrics.consumerLag.set({ kind }, total.lag);
    metrics.consumerPending.set({ kind }, total.pending);
  }
}

/**
 * The consumer groups of one stream with their lag and pending counts (XINFO GROUPS).
 * Redis 7.0 derives `lag` from counters (entries-added − entries-read) that a restart from
 * the AOF does not restore: a group that has read everything can report a lag of tens of
 * thousands for ever (seen in the 1,000,000-operation chaos run, docs/reliability.md).
 * So a group whose last-delivered-id has reached the stream's last-generated-id has no lag,
 * whatever the counter says, and otherwise the lag is at most the stream's length.
 */
async function streamGroups(runtime: Runtime, stream: string): Promise<{ name: string; lag: number; pending: number }[]> {
  const groups = (await runtime.redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[];
  if (groups.length === 0) return [];
  const info = replyFields((await runtime.redis.xinfo('STREAM', stream).catch(() => [])) as unknown[]);
  const lastGenerated = String(info.get('last-generated-id') ?? '0-0');
  const length = Number(info.get('length') ?? 0) || 0;
  return groups.filter(Array.isArray).map((group: unknown[]) => {
    const fields = replyFields(group);
    const delivered = String(fields.get('last-delivered-id') ?? '0-0');
    const reported = Number(fields.get('lag') ?? Number.NaN);
    const lag = compareStreamIds(delivered, lastGenerated) >= 0 ? 0 : Number.isFinite(reported) && reported > 0 ? Math.min(reported, Math.max(length, 1)) : Math.max(length, 1);
    return { name: String(fields.get('name')), lag, pending: Number(fields.get('pending') ?? 0) || 0 };
  });
}

/**
 * True when nothing is in flight: every event stream fully delivered to and acknowledged
 * by its groups, and no SKU waiting in the dirty index for the pushers (the demo and the
 * chaos harness wait for this before they compare channels with the ledger).
 */
export async function isQuiet(runtime: Runtime): Promise<boolean> {
  const { ledger, config } = runtime;
  for (const kind of EVENT_KINDS) {
    for (const stream of ledger.keys.eventStreams(kind, config.streams.partitions)) {
      for (const group of await streamGroups(runtime, stream)) if (group.lag > 0 || group.pending > 0) return false;
    }
  }
  return (await runtime.redis.zcard(ledger.keys.dirtySkus())) === 0;
}

