// The pushers' coordinator, the walk from a ledger change to a channel write:
//   1. drain the dirty index the ledger fills (and sweep every catalogue SKU on a schedule,
//      the safety net, where drift is judged);
//   2. decide what each channel should show and whether to tell it (decide.ts: shared via
//      sellable(c), bounded modes via the allocation);
//   3. hand those values to one lane per channel (lane.ts), which coalesces, prioritises and
//      rate-limits them, books bounded writes as they leave (beforeSend) and answers back;
//   4. settle the answers: what was acknowledged, metrics, follow-ups.
// docs/pushers.md explains the whole flow.
import { type ScheduledTask, schedule } from 'node-cron';
import type { Catalog } from '../catalog/catalog.ts';
import { writeDeadLetter } from '../consumers/deadLetters.ts';
import type { CatalogEntry, SalesChannel } from '../catalog/entry.ts';
import type { PusherSettings } from '../config.ts';
import type { ChannelTiming } from '../domain/allocation.ts';
import type { BackoffPolicy } from '../domain/backoff.ts';
import { StockguardError } from '../errors.ts';
import type { Clock, Ledger } from '../ledger/ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { bundlesByComponent } from '../domain/bundles.ts';
import { BoundedAllocator } from './allocator.ts';
import { type ComputeTally, SkuDecider } from './decide.ts';
import { PushLane } from './lane.ts';
import type { PushOutcome, PushRequest, PushResult, Pusher } from './pusher.ts';
import { type LocationCheck, ShopifyPusher } from './shopify.ts';
import { PushStore } from './store.ts';
import { idleHorizonFor, reportHorizonFor } from './pushStateWrite.ts';
import { sleep } from './wait.ts';

/** One push result, for the onPush hook (tests, the benchmark, the demo). */
export interface PushEvent {
  readonly sku: string;
  readonly channel: SalesChannel;
  readonly quantity: number;
  /** What happened, with its details (the ack time, the read-back value, the issues). */
  readonly outcome: PushOutcome;
  readonly cause: PushRequest['cause'];
  /** The oldest ledger change this push carried (ms). */
  readonly changedAtMs: number;
  /** When the channel acknowledged it (acked), else when the result came back (ms). */
  readonly atMs: number;
}

export interface PushCoordinatorOptions {
  redis: RedisClient;
  ledger: Ledger;
  catalog: Catalog;
  pushers: readonly Pusher[];
  settings: PusherSettings;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  /** Dirty SKUs taken per drain. Default 256. */
  drainBatch?: number;
  /** How long a catalogue entry read on the change path is reused; sweeps re-read. Default 30 s. */
  catalogCacheMs?: number;
  /** Backoff between retries of a SKU whose push keeps failing or losing its compare-and-set. */
  retryBackoff?: BackoffPolicy;
  /** Called for every push result (tests, the benchmark). */
  onPush?: (event: PushEvent) => void;
  /** Each channel's blind-window bounds, for the bounded allocation modes (default DEFAULT_TIMING). */
  timing?: Partial<Record<SalesChannel, ChannelTiming>>;
}

/**
 * Blind-window bounds when none are configured: Shopify's webhook retries and a compare-
 * and-set round trip; Amazon's notification delivery and Listings apply lag (docs/sim.md).
 */
export const DEFAULT_TIMING: Readonly<Record<SalesChannel, ChannelTiming>> = {
  shopify: { deliveryLagBoundMs: 60_000, applyLagBoundMs: 1_000, confirmTimeoutMs: 60_000 },
  amazon: { deliveryLagBoundMs: 300_000, applyLagBoundMs: 1_800_000, confirmTimeoutMs: 3_600_000 },
};

export interface SweepReport {
  skus: number;
  /** Quantities handed to the lanes (a value equal to the last acknowledged one is not). */
  offered: number;
  drift: number;
  fbaSkipped: number;
}


const CHUNK = 64;

export class PushCoordinator {
  readonly store: PushStore;
  /** Resolves when the start-up sweep is done (it runs in the background). */
  initialSweep: Promise<SweepReport | undefined> = Promise.resolve(undefined);
  private readonly lanes = new Map<SalesChannel, PushLane>();
  private readonly clock: Clock;
  private readonly entries = new Map<string, { entry: CatalogEntry | undefined; atMs: number }>();
  /** Component SKU → the bundles drawing on it (from the catalogue's bundle table, cached like entries). */
  private bundlesByComponent: { atMs: number; usedBy: Map<string, Array<{ bundle: string; quantity: number }>> } | undefined;
  private readonly allocator: BoundedAllocator;
  private readonly decider: SkuDecider;
  private gaugesAtMs = 0;
  private readonly stopping = new AbortController();
  private drainLoop: Promise<void> | undefined;
  private cron: ScheduledTask | undefined;
  private gaugeTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<SweepReport> | undefined;
  private computing = 0;
  private started = false;

  constructor(private readonly options: PushCoordinatorOptions) {
    this.clock = options.clock ?? Date.now;
    // The same horizons as the consumers' PushStore (daemon.ts: reportHorizonMs, pushStateHorizonMs).
    const timings = Object.values({ ...DEFAULT_TIMING, ...options.timing });
    this.store = new PushStore(options.redis, options.ledger.keys, options.ledger, reportHorizonFor(timings), idleHorizonFor(timings, options.settings.dynamicHoldback.windowMs));
    this.allocator = new BoundedAllocator({
      redis: options.redis,
      keys: options.ledger.keys,
      timing: { ...DEFAULT_TIMING, ...options.timing },
      velocityWindowMs: options.settings.dynamicHoldback.windowMs,
      ...(options.settings.channelMix ? { channelMix: options.settings.channelMix } : {}),
      clock: this.clock,
      reports: (sku, channel) => this.store.channelReports(sku, channel),
      anchorReport: (sku, channel, report) => this.store.noteChannelReport(sku, channel, report),
      idleMs: this.store.idleMs,
      onUnexplained: (sku, channel, report, account) => {
        options.metrics.driftUnits.inc({ channel }, report.quantity - report.before);
        options.logger.warn({ sku, channel, quantity: report.quantity, before: report.before, observedAtMs: report.observedAtMs, account }, 'the channel raised a bounded SKU with no write of ours (a hand edit?): its exposure is recomputed from what it reports');
      },
    });
    this.decider = new SkuDecider({
      store: this.store,
      allocator: this.allocator,
      catalog: options.catalog,
      lanes: this.lanes,
      settings: options.settings,
      metrics: options.metrics,
      logger: options.logger,
      clock: this.clock,
      entryFor: (sku) => this.entryFor(sku, false),
      requeue: (items) => this.requeue(items),
      bundlesUsing: async (sku) => (await this.bundleIndex()).get(sku) ?? [],
    });
    for (const pusher of options.pushers) {
      this.lanes.set(
        pusher.channel,
        new PushLane(pusher, {
          lingerMs: options.settings.lingerMs,
          clock: this.clock,
          backoff: options.retryBackoff ?? { baseMs: 200, maxMs: 30_000 },
          onResults: (results) => this.settle(results),
          beforeSend: (batch) => this.beforeSend(batch),
          onDropped: (dropped) => void this.requeue(dropped.map((request) => ({ sku: request.sku, changedAtMs: request.changedAtMs }))),
        }),
      );
    }
  }

  /** Checks the channels (Shopify locations), starts the lanes, the drain loop and the sweep schedule. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const lane of this.lanes.values()) lane.start();
    // The start-up sweep repairs whatever a crash between popping and pushing left behind.
    this.initialSweep = this.sweep().catch((error: unknown) => {
      this.options.logger.error({ err: error }, 'start-up push sweep failed');
      return undefined;
    });
    this.drainLoop = this.drain();
    // Gauges are computed from what the coordinator holds; refresh them even when idle.
    this.gaugeTimer = setInterval(() => this.updateGauges(true), 1_000);
    this.cron = schedule(
      this.options.settings.sweepCron,
      async () => {
        await this.sweep().catch((error: unknown) => this.options.logger.error({ err: error }, 'scheduled push sweep failed'));
      },
      { name: 'stockguard-push-sweep', noOverlap: true },
    );
  }

  /**
   * Stops draining and sweeping, lets the batches in flight finish, and puts the SKUs
   * still waiting back in the dirty index (with their change time) for the next process.
   */
  async stop(): Promise<{ requeued: number }> {
    this.stopping.abort();
    clearInterval(this.gaugeTimer);
    await this.cron?.destroy();
    await this.drainLoop;
    await this.sweeping?.catch(() => undefined);
    // Stop the lanes taking work, then cut the pushers' waits short (a backoff after a 429
    // can be long): what was in flight ends as failed and joins what was waiting.
    const stopping = [...this.lanes.values()].map((lane) => lane.stop());
    await Promise.all([...this.lanes.values()].map((lane) => lane.pusher.close()));
    let requeued = 0;
    for (const waiting of await Promise.all(stopping)) {
      if (waiting.length === 0) continue;
      requeued += waiting.length;
      await this.options.redis.zadd(this.options.ledger.keys.dirtySkus(), 'NX', ...waiting.flatMap((request) => [request.changedAtMs, request.sku])).catch(() => undefined);
    }
    return { requeued };
  }

  lane(channel: SalesChannel): PushLane | undefined {
    return this.lanes.get(channel);
  }

  /** True when nothing is dirty, waiting, in flight or being computed. */
  async isIdle(): Promise<boolean> {
    if (this.computing > 0 || this.sweeping) return false;
    for (const lane of this.lanes.values()) {
      const size = lane.size();
      if (size.waiting > 0 || size.inFlight > 0) return false;
    }
    return (await this.options.redis.zcard(this.options.ledger.keys.dirtySkus())) === 0;
  }

  /**
   * Checks every Shopify location the catalogue maps to (active, fulfils online orders).
   * Empty when Shopify is not configured.
   */
  async checkLocations(): Promise<LocationCheck[]> {
    const shopify = this.options.pushers.find((pusher): pusher is ShopifyPusher => pusher instanceof ShopifyPusher);
    if (!shopify) return [];
    const entries = await this.catalogEntries();
    const ids = [...new Set(entries.flatMap((entry) => (entry.shopify ? [entry.shopify.locationId] : [])))];
    return shopify.checkLocations(ids);
  }

  /** Re-checks every catalogue SKU: pushes what differs from the last acknowledged value, judges drift. */
  sweep(): Promise<SweepReport> {
    this.sweeping ??= this.runSweep().finally(() => {
      this.sweeping = undefined;
    });
    return this.sweeping;
  }

  /** Takes up to drainBatch SKUs from the dirty index and offers their new values; how many it took. */
  async drainOnce(): Promise<number> {
    // Counted from before the pop, so isIdle() never sees a popped SKU as nowhere.
    this.computing += 1;
    try {
      const raw = await this.options.redis.zpopmin(this.options.ledger.keys.dirtySkus(), this.options.drainBatch ?? 256);
      const items: Array<{ sku: string; changedAtMs: number }> = [];
      for (let index = 0; index + 1 < raw.length; index += 2) items.push({ sku: raw[index]!, changedAtMs: Number(raw[index + 1]) });
      if (items.length > 0) await this.computeMany(await this.withBundles(items), 'change');
      return items.length;
    } finally {
      this.computing -= 1;
    }
  }

  private async drain(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      let taken = 0;
      try {
        taken = await this.drainOnce();
      } catch (error) {
        this.options.logger.warn({ err: error }, 'draining the dirty index failed; retrying');
        await sleep(this.options.settings.pollMs * 20, signal);
      }
      if (taken === 0) await sleep(this.options.settings.pollMs, signal);
    }
  }

  private async runSweep(): Promise<SweepReport> {
    this.bundlesByComponent = undefined;
    const entries = await this.catalogEntries();
    for (const lane of this.lanes.values()) {
      await lane.pusher.prepare(entries).catch((error: unknown) => this.options.logger.error({ err: error, channel: lane.channel }, 'preparing the channel failed'));
    }
    const tally: ComputeTally = { offered: 0, drift: 0, fbaSkipped: 0 };
    const items = entries.map((entry) => ({ sku: entry.sku, changedAtMs: 0 }));
    for (let start = 0; start < items.length && !this.stopping.signal.aborted; start += CHUNK * 4) {
      const part = await this.computeMany(items.slice(start, start + CHUNK * 4), 'sweep');
      tally.offered += part.offered;
      tally.drift += part.drift;
      tally.fbaSkipped += part.fbaSkipped;
    }
    this.updateGauges(true);
    const report = { skus: entries.length, ...tally };
    this.options.logger.info(report, 'push sweep done');
    return report;
  }

  /** Every catalogue entry, read fresh (and cached for the change path). */
  private async catalogEntries(): Promise<CatalogEntry[]> {
    const skus = await this.options.catalog.list();
    const entries: CatalogEntry[] = [];
    for (let start = 0; start < skus.length; start += CHUNK) {
      const chunk = await Promise.all(skus.slice(start, start + CHUNK).map((sku) => this.entryFor(sku, true).catch(() => undefined)));
      for (const entry of chunk) if (entry) entries.push(entry);
    }
    return entries;
  }

  /** The changed SKUs and every bundle that draws on one of them (a component change changes the bundle). */
  private async withBundles(items: Array<{ sku: string; changedAtMs: number }>): Promise<Array<{ sku: string; changedAtMs: number }>> {
    const usedBy = await this.bundleIndex().catch((error: unknown) => {
      this.options.logger.warn({ err: error }, 'reading the bundle table failed; bundles wait for the sweep');
      return new Map<string, Array<{ bundle: string; quantity: number }>>();
    });
    if (usedBy.size === 0) return items;
    const all = new Map(items.map((item) => [item.sku, item]));
    for (const item of items) {
      for (const { bundle } of usedBy.get(item.sku) ?? []) {
        const known = all.get(bundle);
        if (!known || known.changedAtMs > item.changedAtMs) all.set(bundle, { sku: bundle, changedAtMs: item.changedAtMs });
      }
    }
    return [...all.values()];
  }

  private async bundleIndex(): Promise<Map<string, Array<{ bundle: string; quantity: number }>>> {
    const now = this.clock();
    if (this.bundlesByComponent && now - this.bundlesByComponent.atMs < (this.options.catalogCacheMs ?? 30_000)) return this.bundlesByComponent.usedBy;
    const usedBy = bundlesByComponent(await this.options.catalog.bundles());
    this.bundlesByComponent = { atMs: now, usedBy };
    return usedBy;
  }

  private async entryFor(sku: string, fresh: boolean): Promise<CatalogEntry | undefined> {
    const cached = this.entries.get(sku);
    const now = this.clock();
    if (!fresh && cached && now - cached.atMs < (this.options.catalogCacheMs ?? 30_000)) return cached.entry;
    const entry = await this.options.catalog.get(sku);
    this.entries.set(sku, { entry, atMs: now });
    return entry;
  }

  private async computeMany(items: ReadonlyArray<{ sku: string; changedAtMs: number }>, cause: 'change' | 'sweep'): Promise<ComputeTally> {
    const tally: ComputeTally = { offered: 0, drift: 0, fbaSkipped: 0 };
    this.computing += 1;
    try {
      for (let start = 0; start < items.length; start += CHUNK) {
        await Promise.all(
          items.slice(start, start + CHUNK).map(async (item) => {
            try {
              await this.decider.decide(item.sku, item.changedAtMs, cause, tally);
            } catch (error) {
              this.options.logger.warn({ err: error, sku: item.sku }, 'computing what to push failed; the SKU stays dirty');
              if (cause === 'change') {
                await this.options.redis.zadd(this.options.ledger.keys.dirtySkus(), 'NX', item.changedAtMs, item.sku).catch(() => undefined);
              }
            }
          }),
        );
      }
    } finally {
      this.computing -= 1;
    }
    this.updateGauges(false);
    return tally;
  }

  /** Books bounded writes as pending as they leave; drops those that no longer fit. */
  private async beforeSend(batch: readonly PushRequest[]): Promise<readonly PushRequest[]> {
    const sending: PushRequest[] = [];
    for (const request of batch) {
      const mode = this.decider.boundedModes.get(request.sku);
      if (mode === undefined || request.cause !== 'allocation') {
        sending.push(request);
        continue;
      }
      const fits = await this.allocator
        .beforeSend(request, { mode, available: () => this.allocator.available(request.sku) })
        .catch(() => false);
      if (fits) sending.push(request);
    }
    return sending;
  }

  private async requeue(items: ReadonlyArray<{ sku: string; changedAtMs: number }>): Promise<void> {
    if (items.length === 0) return;
    await this.options.redis.zadd(this.options.ledger.keys.dirtySkus(), 'NX', ...items.flatMap((item) => [item.changedAtMs, item.sku])).catch(() => undefined);
  }

  /** A batch's results: durable record of what was acknowledged, metrics, logs, follow-ups. */
  private async settle(results: PushResult[]): Promise<void> {
    this.computing += 1;
    try {
      await this.settleResults(results);
    } finally {
      this.computing -= 1;
    }
  }

  private async settleResults(results: PushResult[]): Promise<void> {
    const now = this.clock();
    const writes: Promise<unknown>[] = [];
    for (const { request, outcome } of results) {
      const { sku, channel } = request;
      this.options.metrics.pushes.inc({ channel, outcome: outcome.kind });
      if (request.cause === 'allocation') writes.push(this.allocator.afterResult(request, outcome).catch((error: unknown) => this.options.logger.warn({ err: error, sku, channel }, 'booking a write answer failed')));
      switch (outcome.kind) {
        case 'acked':
          writes.push(this.store.recordPushed(sku, channel, { quantity: request.quantity, atMs: outcome.atMs, version: request.version }));
          if (request.cause !== 'drift') this.options.metrics.saleToChannelSeconds.observe({ channel }, Math.max(0, outcome.atMs - request.changedAtMs) / 1000);
          break;
        case 'stale':
          // Someone sold on the channel since we last looked: take the ledger's value again
          // (it may have ingested that sale by now) against the value just read back.
          writes.push(this.decider.decide(sku, request.changedAtMs, 'change', { offered: 0, drift: 0, fbaSkipped: 0 }).catch(() => undefined));
          break;
        case 'invalid':
        case 'rejected': {
          const error = new StockguardError('STOCKGUARD_E_CHANNEL_REJECTED', `${channel} refused ${request.quantity} for SKU ${JSON.stringify(sku)}: ${outcome.code}`);
          this.options.logger.warn({ err: { code: error.code, message: error.message }, sku, channel, quantity: request.quantity, code: outcome.code, reason: outcome.message, issues: outcome.issues }, 'push refused');
          if (outcome.feed) writes.push(this.deadLetterFeedMessage(request, outcome.code, outcome.message, outcome.feed, now));
          break;
        }
        case 'blocked':
          this.options.logger.debug({ sku, channel, reason: outcome.reason }, 'push blocked');
          break;
        case 'failed': {
          const error = new StockguardError('STOCKGUARD_E_CHANNEL_REQUEST', `${channel}: ${outcome.message}`);
          this.options.logger.warn({ err: { code: error.code, message: error.message }, sku, channel }, 'push failed; retrying after a backoff');
          this.lanes.get(channel)?.retryLater(request);
          break;
        }
      }
      this.options.onPush?.({
        sku,
        channel,
        quantity: request.quantity,
        outcome,
        cause: request.cause,
        changedAtMs: request.changedAtMs,
        atMs: outcome.kind === 'acked' ? outcome.atMs : now,
      });
    }
    await Promise.all(writes);
    if (now - this.gaugesAtMs >= 1_000) this.updateGauges(true);
  }

  /**
   * A message Amazon refused inside a feed is dead-lettered with Amazon's code, so it is
   * listed with the other events that could not be applied (`stockguard dlq list`); it is
   * not replayable (its stream is not an event stream): the sweep offers the value again.
   */
  private async deadLetterFeedMessage(request: PushRequest, code: string, message: string, feed: { feedId: string; messageId: number }, atMs: number): Promise<void> {
    await writeDeadLetter(this.options.redis, this.options.ledger.keys.deadLetters(), {
      stream: `amazon-feed:${feed.feedId}`,
      id: String(feed.messageId),
      event: JSON.stringify({ sku: request.sku, sellerSku: request.entry.amazon?.sellerSku, marketplaceId: request.entry.amazon?.marketplaceId, quantity: request.quantity }),
      reason: code,
      message,
      deliveries: 1,
      group: 'pushers',
      consumer: 'amazon-feed',
      atMs,
    }).then(
      () => this.options.metrics.deadLetters.inc({ reason: code }),
      (error: unknown) => this.options.logger.error({ err: error, sku: request.sku, feedId: feed.feedId }, 'dead-lettering a refused feed message failed'),
    );
  }

  private updateGauges(force: boolean): void {
    const now = this.clock();
    if (!force && now - this.gaugesAtMs < 1_000) return;
    this.gaugesAtMs = now;
    const metrics = this.options.metrics;
    for (const lane of this.lanes.values()) {
      const size = lane.size();
      metrics.pushQueue.set({ channel: lane.channel }, size.waiting + size.inFlight);
    }
    let total = 0;
    for (const value of this.decider.exposures.values()) if (value > 0) total += value;
    metrics.exposureUnits.set(total);
    const perChannel: Partial<Record<SalesChannel, number>> = {};
    for (const exposures of this.decider.channelExposures.values()) {
      for (const [channel, value] of Object.entries(exposures) as [SalesChannel, number][]) perChannel[channel] = (perChannel[channel] ?? 0) + value;
    }
    for (const lane of this.lanes.values()) metrics.channelExposure.set({ channel: lane.channel }, perChannel[lane.channel] ?? 0);
    let held = 0;
    for (const value of this.decider.dynamicHoldbacks.values()) held += value;
    metrics.dynamicHoldbackUnits.set(held);
    const top = [...this.decider.exposures].filter(([, value]) => value > 0).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, this.options.settings.topExposureSkus);
    metrics.exposureTop.reset();
    top.forEach(([sku, value], index) => metrics.exposureTop.set({ rank: String(index + 1), sku }, value));
  }
}
