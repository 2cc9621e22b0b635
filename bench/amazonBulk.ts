// The `amazon-bulk` scenario: the opening push of a 10,000-SKU merchant-fulfilled Amazon
// catalogue, how long until Amazon shows every SKU's value?
//
// Two variants, each on a fresh fake and fresh keys, the daemon's pushers as in production
// (the real @sp-api-sdk clients, the coordinator's start-up sweep, the lane):
//   patch-only   patchListingsItem only, one SKU per request at the documented 5 requests/s
//                (the pusher uses 95 % of it). ~33 minutes for 10,000 SKUs, so it is
//                measured until `patchOnlyMeasureSkus` SKUs are in effect and the rest is
//                EXTRAPOLATED at the rate measured between 10 % and 100 % of those SKUs
//                (the rate limit is the bottleneck: the rate is flat). The JSON says so.
//   feeds+patch  the same, with the JSON_LISTINGS_FEED path on at the daemon's defaults
//                (src/config.ts: threshold 300, 25,000 messages per feed, a 5 s window,
//                polled every 10 s): the values that may wait go in feeds, zeros by PATCH.
// The fake's Feeds API processes a feed 60 s after createFeed (IN_QUEUE for 30 s, then
// IN_PROGRESS); a PATCH takes effect when it is answered (no apply lag: this favours the
// PATCH-only variant). Every operation's documented usage plan is enforced by the fake.
//
// Measured, per variant:
//   seconds_to_all_in_effect   from the coordinator's start to the moment the fake shows
//                              every SKU's target (polled every 250 ms)
//   requests_over_limit        429 answers from the fake, any operation: must be 0
//   zeros_in_effect_seconds    when the last sold-out SKU showed 0
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Catalog } from '../src/catalog/catalog.ts';
import { type AmazonFeedSettings, loadConfig, type PusherSettings } from '../src/config.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { AmazonPusher } from '../src/pushers/amazon.ts';
import { type PushEvent, PushCoordinator } from '../src/pushers/coordinator.ts';
import { startAmazonFake } from '../src/sim/amazon/index.ts';
import { listingsOperation } from '../src/sim/amazon/schemas.ts';
import { benchEnv, type BenchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { deleteKeys } from './lib/redis.ts';
import { seededRandom } from './lib/random.ts';
import { round } from './lib/stats.ts';

export type BulkVariantName = 'patch-only' | 'feeds+patch';

export interface AmazonBulkOptions {
  redisUrl: string;
  skus?: number;
  /** The PATCH-only variant is measured until this many SKUs are in effect, then extrapolated. */
  patchOnlyMeasureSkus?: number;
  /** The fake's feed processing delay (ms). */
  feedDelayMs?: number;
  /** Share of the SKUs that are sold out (target 0). */
  zeroShare?: number;
  variants?: readonly BulkVariantName[];
  seed?: number;
  log?: (line: string) => void;
}

export interface BulkVariantResult {
  name: BulkVariantName;
  skus: number;
  /** Null when the variant did not finish within its time cap. */
  seconds_to_all_in_effect: number | null;
  requests_over_limit: number;
  /** True when seconds_to_all_in_effect is extrapolated from a partial run (patch-only). */
  extrapolated: boolean;
  /** What was actually measured: SKUs in effect and when (s). */
  measured: { skus_in_effect: number; seconds: number; method: string };
  zeros: number;
  /** When the last zero was in effect (s), null when not all were by the end. */
  zeros_in_effect_seconds: number | null;
  /** When the daemon had every result (the feeds' reports read; it polls every 10 s), null for a capped run. */
  daemon_done_seconds: number | null;
  patch_requests: number;
  feeds: number;
  /** SKUs acknowledged through a feed / through a PATCH. */
  skus_by_feed: number;
  skus_by_patch: number;
  /** Requests to the fake by operation (LWA, Listings, Feeds, document storage). */
  requests_by_operation: Record<string, number>;
  /** Each 429: the operation and when (s from the start; negative = before). */
  over_limit: Array<{ operation: string; at_seconds: number }>;
  /** SKUs in effect every 10 s (s → count), to see the shape. */
  progress: Array<[number, number]>;
}

export interface AmazonBulkResult {
  scenario: 'amazon-bulk';
  env: BenchEnv;
  date: string;
  settings: {
    skus: number;
    zero_share: number;
    feed_processing_delay_ms: number;
    patch_usage_plan: { rate: number; burst: number };
    feeds: AmazonFeedSettings;
    patch_only_measure_skus: number;
    pushers: PusherSettings;
    seed: number;
  };
  variants: BulkVariantResult[];
  load_average: { start: number; end: number };
  targets: Array<{ target: string; value: number | null; met: boolean | null }>;
}

const PUSHER_SETTINGS: PusherSettings = {
  sweepCron: '0 0 1 1 *',
  lingerMs: 50,
  pollMs: 10,
  maxAttempts: 5,
  requestTimeoutMs: 30_000,
  dynamicHoldback: { windowMs: 60_000, maxUnits: 0, defaultLatencyMs: 1_000 },
  driftSettleMs: 30_000,
  topExposureSkus: 10,
};

const LWA = { clientId: 'amzn1.application-oa2-client.bench', clientSecret: 'bench-secret', refreshToken: 'Atzr|bench' };
const SELLER = 'A3TH9S8BH6GOGM';
const US = 'ATVPDKIKX0DER';
const skuName = (index: number) => `B-${String(index).padStart(5, '0')}`;
/** Every variant gives up after this long (the feeds+patch target is 5 minutes). */
const VARIANT_CAP_MS = 20 * 60_000;

/** The daemon's defaults for the feed path, read from the configuration schema (not restated here). */
function defaultFeedSettings(): AmazonFeedSettings {
  const config = loadConfig({
    REDIS_URL: 'redis://127.0.0.1:1',
    AMAZON_SELLER_ID: SELLER,
    AMAZON_MARKETPLACE_IDS: US,
    AMAZON_LWA_CLIENT_ID: LWA.clientId,
    AMAZON_LWA_CLIENT_SECRET: LWA.clientSecret,
    AMAZON_LWA_REFRESH_TOKEN: LWA.refreshToken,
  });
  const feeds = config.amazon?.feeds;
  if (!feeds) throw new Error('the configuration gave no Amazon feed settings');
  return feeds;
}

export async function runAmazonBulkScenario(options: AmazonBulkOptions): Promise<AmazonBulkResult> {
  const settings: AmazonBulkResult['settings'] = {
    skus: options.skus ?? 10_000,
    zero_share: options.zeroShare ?? 0.05,
    feed_processing_delay_ms: options.feedDelayMs ?? 60_000,
    patch_usage_plan: { rate: 5, burst: 5 },
    feeds: defaultFeedSettings(),
    patch_only_measure_skus: options.patchOnlyMeasureSkus ?? 1_000,
    pushers: PUSHER_SETTINGS,
    seed: options.seed ?? 42,
  };
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error: Error) => console.error(`bench redis client: ${error.message}`));
  const env = await benchEnv(redis).finally(() => redis.disconnect());
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  // The fake compiles the Listings model on its first request, a stall of the event loop the
  // pushers share; compile it before anything is timed.
  listingsOperation('patchListingsItem');
  const variants: BulkVariantResult[] = [];
  for (const name of options.variants ?? (['patch-only', 'feeds+patch'] as const)) variants.push(await runVariant(options, settings, name));
  const feeds = variants.find((variant) => variant.name === 'feeds+patch');
  const overLimit = variants.reduce((sum, variant) => sum + variant.requests_over_limit, 0);
  return {
    scenario: 'amazon-bulk',
    env,
    date: new Date().toISOString(),
    settings,
    variants,
    load_average: { start: loadAtStart, end: round(loadavg()[0] ?? 0, 2) },
    targets: [
      {
        target: `feeds+patch: all ${settings.skus} SKUs in effect < 300 s`,
        value: feeds?.seconds_to_all_in_effect ?? null,
        met: feeds ? feeds.seconds_to_all_in_effect !== null && feeds.seconds_to_all_in_effect < 300 : null,
      },
      { target: 'requests over any limit = 0 (all variants)', value: overLimit, met: overLimit === 0 },
    ],
  };
}

async function runVariant(options: AmazonBulkOptions, settings: AmazonBulkResult['settings'], name: BulkVariantName): Promise<BulkVariantResult> {
  const log = options.log ?? (() => undefined);
  const skus = settings.skus;
  const random = seededRandom(settings.seed);
  const prefix = `bench-amazon-bulk-${name.replace('+', '-')}-${Date.now()}`;
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error: Error) => console.error(`bench redis client: ${error.message}`));
  const amazon = await startAmazonFake({ ...LWA, sellerId: SELLER, notifyQuantityChanges: false, feeds: { processingDelayMs: settings.feed_processing_delay_ms } });
  let coordinator: PushCoordinator | undefined;
  try {
    const ledger = new Ledger({ redis, keyPrefix: prefix });
    const catalog = new Catalog({ redis: redis, keyPrefix: prefix });

    // The catalogue: every SKU's target differs from what Amazon shows (a stale number from
    // the merchant's old tool), `zero_share` of them sold out (Amazon still shows some).
    const targets: number[] = [];
    for (let index = 0; index < skus; index += 1) targets.push(random() < settings.zero_share ? 0 : 1 + Math.floor(random() * 120));
    log(`amazon-bulk/${name}: seeding ${skus} MFN SKUs in the catalogue, the ledger and the fake`);
    for (let start = 0; start < skus; start += 200) {
      await Promise.all(
        targets.slice(start, start + 200).map(async (target, offset) => {
          const index = start + offset;
          const sku = skuName(index);
          const listed = target === 0 ? 1 + Math.floor(random() * 20) : (target + 1 + Math.floor(random() * 30)) % 151;
          amazon.addListing({ sku: `AMZ-${sku}`, marketplaceId: US, productType: 'PRODUCT', fulfillment: 'MFN', quantity: listed === target ? target + 1 : listed });
          await catalog.put({ sku, holdback: 0, skuClass: 'default', amazon: { sellerSku: `AMZ-${sku}`, marketplaceId: US, productType: 'PRODUCT', fulfillment: 'MFN' }, policies: {} });
          await ledger.createSku(sku);
          if (target > 0) await ledger.count(sku, { eventId: `seed-${sku}`, counted: target });
        }),
      );
    }
    await redis.del(ledger.keys.dirtySkus());
    const zeros = targets.filter((target) => target === 0).length;

    const metrics = createMetrics({ defaultMetrics: false });
    const logger = pino({ level: 'warn' });
    const events: PushEvent[] = [];
    coordinator = new PushCoordinator({
      redis,
      ledger,
      catalog,
      pushers: [
        new AmazonPusher({
          metrics,
          logger,
          maxAttempts: PUSHER_SETTINGS.maxAttempts,
          requestTimeoutMs: PUSHER_SETTINGS.requestTimeoutMs,
          settings: {
            sellerId: SELLER,
            marketplaceIds: [US],
            endpoint: amazon.url,
            lwa: { ...LWA, tokenUrl: amazon.lwaTokenUrl },
            ratePerSecond: settings.patch_usage_plan.rate,
            burst: settings.patch_usage_plan.burst,
            ...(name === 'feeds+patch' ? { feeds: settings.feeds } : {}),
          },
        }),
      ],
      settings: PUSHER_SETTINGS,
      metrics,
      logger,
      onPush: (event) => events.push(event),
    });

    const inEffect = () => {
      let count = 0;
      let zerosIn = 0;
      for (let index = 0; index < skus; index += 1) {
        if (amazon.quantity(`AMZ-${skuName(index)}`) === targets[index]) {
          count += 1;
          if (targets[index] === 0) zerosIn += 1;
        }
      }
      return { count, zerosIn };
    };
    const initially = inEffect();
    if (initially.count !== 0) throw new Error(`${initially.count} SKUs are in effect before the push`);

    const measureUntil = name === 'patch-only' ? Math.min(skus, settings.patch_only_measure_skus) : skus;
    const tenth = Math.max(1, Math.floor(measureUntil / 10));
    const started = performance.now();
    const startedAtMs = Date.now();
    const seconds = () => (performance.now() - started) / 1000;
    log(`amazon-bulk/${name}: opening push starts${name === 'patch-only' ? ` (measured until ${measureUntil} SKUs are in effect, then extrapolated)` : ''}`);
    await coordinator.start();
    const progress: Array<[number, number]> = [];
    let zerosAt: number | null = null;
    let tenthAt: number | null = null;
    let lastProgress = -10;
    let count = 0;
    while (performance.now() - started < VARIANT_CAP_MS) {
      const now = seconds();
      const state = inEffect();
      count = state.count;
      if (zerosAt === null && state.zerosIn === zeros) zerosAt = now;
      if (tenthAt === null && count >= tenth) tenthAt = now;
      if (now - lastProgress >= 10) {
        progress.push([Math.round(now), count]);
        lastProgress = now;
        log(`amazon-bulk/${name}: ${round(now, 1)} s, ${count}/${skus} in effect (${state.zerosIn}/${zeros} zeros), ${amazon.feeds.feeds().length} feeds`);
      }
      if (count >= measureUntil) break;
      await sleepMs(250);
    }
    const endedAt = seconds();
    progress.push([Math.round(endedAt), count]);
    const finished = count >= measureUntil;
    // When the daemon itself knew (the feed's report read, every result settled); not for a capped run.
    let idleAt: number | null = null;
    if (finished && measureUntil === skus) {
      while (seconds() - endedAt < 60 && !(await coordinator.isIdle())) await sleepMs(100);
      if (await coordinator.isIdle()) idleAt = seconds();
    }
    let secondsToAll: number | null = null;
    let method: string;
    if (name === 'patch-only' && measureUntil < skus) {
      // Extrapolated: the rate between 10 % and 100 % of the measured SKUs, for the rest.
      const rate = tenthAt !== null && endedAt > tenthAt ? (count - tenth) / (endedAt - tenthAt) : Number.NaN;
      secondsToAll = finished && rate > 0 ? round(endedAt + (skus - count) / rate, 1) : null;
      method = `EXTRAPOLATED: ${count} SKUs in effect after ${round(endedAt, 1)} s; the remaining ${skus - count} at the rate measured from SKU ${tenth} to SKU ${count} (${round(rate, 2)} SKUs/s)`;
    } else {
      secondsToAll = finished ? round(endedAt, 1) : null;
      method = finished ? 'measured: every SKU in effect' : `not finished: ${count} of ${skus} in effect when the ${VARIANT_CAP_MS / 60_000}-minute cap ended the run`;
    }
    const requests = amazon.requests();
    const byOperation: Record<string, number> = {};
    for (const request of requests) byOperation[request.operation] = (byOperation[request.operation] ?? 0) + 1;
    const acked = events.filter((event) => event.outcome.kind === 'acked');
    const patchedSkus = new Set(amazon.acceptedPatches().map((patch) => patch.sku));
    const fedSkus = new Set<string>();
    for (const feed of amazon.feeds.feeds()) {
      const messages = (feed.document as { messages?: Array<{ sku: string }> } | undefined)?.messages ?? [];
      if (feed.status === 'DONE') for (const message of messages) fedSkus.add(message.sku);
    }
    const result: BulkVariantResult = {
      name,
      skus,
      seconds_to_all_in_effect: secondsToAll,
      requests_over_limit: requests.filter((request) => request.outcome === 429).length,
      extrapolated: name === 'patch-only' && measureUntil < skus,
      measured: { skus_in_effect: count, seconds: round(endedAt, 1), method },
      zeros,
      zeros_in_effect_seconds: zerosAt === null ? null : round(zerosAt, 1),
      daemon_done_seconds: idleAt === null ? null : round(idleAt, 1),
      patch_requests: byOperation['patchListingsItem'] ?? 0,
      feeds: amazon.feeds.feeds().length,
      skus_by_feed: fedSkus.size,
      skus_by_patch: patchedSkus.size,
      requests_by_operation: byOperation,
      over_limit: requests.filter((request) => request.outcome === 429).map((request) => ({ operation: request.operation, at_seconds: round((request.atMs - startedAtMs) / 1000, 2) })),
      progress,
    };
    log(`amazon-bulk/${name}: ${method}; ${acked.length} pushes acknowledged, ${result.requests_over_limit} requests over limit`);
    return result;
  } finally {
    await coordinator?.stop();
    await amazon.close();
    await deleteKeys(redis, prefix);
    redis.disconnect();
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const fmt = (value: number | null, unit = '') => (value === null ? '—' : `${value}${unit}`);

const HEADER = ['variant', 'SKUs', 'seconds to all in effect', 'requests over limit', 'zeros in effect (s)', 'daemon done (s)', 'PATCH requests', 'feeds', 'SKUs by feed / PATCH', 'measured'];

function rows(result: AmazonBulkResult): string[][] {
  return result.variants.map((variant) => [
    variant.name,
    String(variant.skus),
    `${fmt(variant.seconds_to_all_in_effect)}${variant.extrapolated ? ' (extrapolated)' : ''}`,
    String(variant.requests_over_limit),
    `${fmt(variant.zeros_in_effect_seconds)} (${variant.zeros} zeros)`,
    fmt(variant.daemon_done_seconds),
    String(variant.patch_requests),
    String(variant.feeds),
    `${variant.skus_by_feed} / ${variant.skus_by_patch}`,
    `${variant.measured.skus_in_effect} SKUs in ${variant.measured.seconds} s`,
  ]);
}

function overLimitNote(variant: BulkVariantResult): string {
  if (variant.over_limit.length === 0) return '';
  return ` Over a limit: ${variant.over_limit.map((entry) => `${entry.operation} at ${entry.at_seconds} s`).join(', ')} (answered 429, paused, retried).`;
}

export function amazonBulkTextReport(result: AmazonBulkResult): string {
  return [
    `${result.settings.skus} MFN SKUs; ${describeEnv(result.env)}; load average ${result.load_average.start} → ${result.load_average.end}`,
    textTable(HEADER, rows(result)),
    ...result.variants.map((variant) => `${variant.name}: ${variant.measured.method}${overLimitNote(variant)}`),
    '',
    ...result.targets.map((target) => `${target.met === null ? '?   ' : target.met ? 'met ' : 'MISS'}  ${target.target}: ${target.value ?? '—'}`),
  ].join('\n');
}

export function amazonBulkMarkdown(result: AmazonBulkResult): string {
  const { settings } = result;
  const feeds = settings.feeds;
  return [
    '<!-- generated by `npm run bench -- amazon-bulk` (bench/amazonBulk.ts); edits here are overwritten -->',
    '## amazon-bulk: the opening push of a 10,000-SKU Amazon catalogue',
    '',
    `The daemon's start-up sweep pushes ${settings.skus} merchant-fulfilled SKUs whose Amazon quantities are all wrong (${Math.round(settings.zero_share * 100)} % sold out) to the in-repo SP-API fake, ` +
      `through the real @sp-api-sdk clients. The fake enforces every documented usage plan (patchListingsItem ${settings.patch_usage_plan.rate}/s burst ${settings.patch_usage_plan.burst}; ` +
      `createFeedDocument 0.5/s, createFeed 0.0083/s, getFeed 2/s, getFeedDocument 0.0222/s; JSON_LISTINGS_FEED 5 per 5 minutes) and processes a feed ${settings.feed_processing_delay_ms / 1000} s after createFeed. ` +
      'A PATCH takes effect as soon as it is answered (no apply lag), which favours PATCH only. "In effect" means the fake shows the target, polled every 250 ms from the coordinator\'s start.',
    '',
    `- **patch-only**: patchListingsItem for every SKU. Run until ${settings.patch_only_measure_skus} SKUs were in effect; **the time for all ${settings.skus} is extrapolated** at the rate measured over those SKUs (the rate limit is the bottleneck and flat).`,
    `- **feeds+patch**: the JSON_LISTINGS_FEED path on at the daemon's defaults (threshold ${feeds.threshold}, up to ${feeds.maxMessages} messages per feed, a ${feeds.windowMs / 1000} s window, polled every ${feeds.pollMs / 1000} s); zeros and large decreases by PATCH.`,
    '',
    `Environment: ${describeEnv(result.env)}; ${result.date}; 1-minute load average ${result.load_average.start} at the start, ${result.load_average.end} at the end. The fake, the pushers and Redis share the machine.`,
    '',
    markdownTable(HEADER, rows(result)),
    '',
    ...result.variants.map((variant) => `- ${variant.name}: ${variant.measured.method}.${overLimitNote(variant)}`),
    '',
    '| target | value | met |',
    '| --- | --- | --- |',
    ...result.targets.map((target) => `| ${target.target} | ${target.value ?? '—'} | ${target.met === null ? '—' : target.met ? 'yes' : '**no**'} |`),
  ].join('\n');
}
