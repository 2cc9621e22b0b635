// The `propagation` scenario: how long does a sale take to reach each channel, and how fast
// does a sold-out SKU show 0, when sales arrive at 1,000/s over 1,000 SKUs?
//
// Two variants, each on fresh fakes and keys:
//   api       sales arrive on stockguard's own channel (`api`: a POS, the merchant's own
//             checkout), written straight into the ledger as the consumers would. Neither
//             Shopify nor Amazon made them, so every push to both is a real propagation.
//             The targets are judged on this variant.
//   shopify   sales happen on Shopify's storefront: Shopify moves at once, the order and
//             Shopify's level report reach the ledger as the consumers would apply them.
//             Pushes back to Shopify are echoes (skipped when Shopify already shows the
//             value); the compare-and-set races the storefront. Amazon is what matters.
// The pushers run as in production: the real @shopify/admin-api-client and
// @sp-api-sdk clients against the in-repo fakes, each answering after 50 ms, with the
// documented limits (Shopify: a 2,000-point bucket restoring 100 points/s, the fake's
// default and the Standard plan's rate; Amazon patchListingsItem: 5 requests/s, burst 5).
//
// Measured, per channel:
//   propagation p50/p99   from the first ledger change a channel has not seen (the dirty
//                         index score) to the channel acknowledging the push
//   time to zero p99      for SKUs that sell out: from the sale that sold the last unit to
//                         the channel acknowledging 0
//   pushes per sale       quantities the channel acknowledged / sales
//   requests over limit   THROTTLED answers (Shopify), 429s (Amazon): must be 0
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Catalog } from '../src/catalog/catalog.ts';
import type { PusherSettings } from '../src/config.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { AmazonPusher } from '../src/pushers/amazon.ts';
import { type PushEvent, PushCoordinator } from '../src/pushers/coordinator.ts';
import { ShopifyPusher } from '../src/pushers/shopify.ts';
import { PushStore } from '../src/pushers/store.ts';
import { startAmazonFake } from '../src/sim/amazon/index.ts';
import { startShopifyFake } from '../src/sim/shopify/index.ts';
import { benchEnv, type BenchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { seededRandom } from './lib/random.ts';
import { percentile, round } from './lib/stats.ts';

export type Origin = 'api' | 'shopify';

export interface PropagationOptions {
  redisUrl: string;
  /** Variants and their sales durations; default api for 30 s, then shopify for 15 s. */
  variants?: ReadonlyArray<{ origin: Origin; durationMs: number }>;
  skus?: number;
  salesPerSecond?: number;
  /** SKUs stocked so that they sell out during the run (the rest never do); default 2 per second of run. */
  sellOutSkus?: number;
  channelLatencyMs?: number;
  /** How long to keep measuring after the last sale. */
  drainMs?: number;
  seed?: number;
  log?: (line: string) => void;
}

export interface ChannelResult {
  channel: 'shopify' | 'amazon';
  propagation_p50_ms: number | null;
  propagation_p99_ms: number | null;
  /** Acknowledged pushes the percentiles are over. */
  propagation_samples: number;
  time_to_zero_p50_ms: number | null;
  time_to_zero_p99_ms: number | null;
  /** SKUs that sold out, and how many of them the channel showed 0 for by the end. */
  sold_out: number;
  zero_acked: number;
  pushes: number;
  pushes_per_sale: number;
  requests: number;
  requests_over_limit: number;
  /** SKUs still waiting for this channel when the measurement ended. */
  waiting_at_end: number;
  /** Age of the oldest change still waiting at the end (ms), null when none waits. */
  oldest_waiting_ms: number | null;
}

export interface VariantResult {
  origin: Origin;
  duration_ms: number;
  sell_out_skus: number;
  sales: number;
  achieved_sales_per_second: number;
  /** Shopify compare-and-set losses (stale) and Shopify pushes skipped as echoes are visible here. */
  shopify_stale: number;
  channels: ChannelResult[];
}

export interface PropagationResult {
  scenario: 'propagation';
  env: BenchEnv;
  date: string;
  settings: {
    skus: number;
    sales_per_second: number;
    channel_latency_ms: number;
    drain_ms: number;
    shopify_bucket: { maximum: number; restore_per_second: number };
    amazon_usage_plan: { rate: number; burst: number };
    pushers: PusherSettings;
    seed: number;
  };
  variants: VariantResult[];
  /** 1-minute load average of the machine at the start and the end (other work on the box shows here). */
  load_average: { start: number; end: number };
  /** Judged on the `api` variant. */
  targets: Array<{ target: string; value: number | null; met: boolean | null }>;
}

const PUSHER_SETTINGS: PusherSettings = {
  sweepCron: '0 0 1 1 *',
  lingerMs: 50,
  pollMs: 10,
  maxAttempts: 5,
  requestTimeoutMs: 10_000,
  // Off, so a target reaches 0 exactly when the SKU sells out and time-to-zero is
  // measured from that sale; the journal is still read for it on every change.
  dynamicHoldback: { windowMs: 60_000, maxUnits: 0, defaultLatencyMs: 1_000 },
  driftSettleMs: 30_000,
  topExposureSkus: 10,
};

const WAREHOUSE = 'gid://shopify/Location/1';
const SHOP = 'bench-shop.myshopify.com';
const TOKEN = 'shpat_bench';
const LWA = { clientId: 'amzn1.application-oa2-client.bench', clientSecret: 'bench-secret', refreshToken: 'Atzr|bench' };
const SELLER = 'A3TH9S8BH6GOGM';
const US = 'ATVPDKIKX0DER';
const itemId = (index: number) => `gid://shopify/InventoryItem/${1_000_000 + index}`;
const skuName = (index: number) => `P-${String(index).padStart(4, '0')}`;

export async function runPropagationScenario(options: PropagationOptions): Promise<PropagationResult> {
  const variants = options.variants ?? [
    { origin: 'api' as const, durationMs: 30_000 },
    { origin: 'shopify' as const, durationMs: 15_000 },
  ];
  const settings = {
    skus: options.skus ?? 1_000,
    sales_per_second: options.salesPerSecond ?? 1_000,
    channel_latency_ms: options.channelLatencyMs ?? 50,
    drain_ms: options.drainMs ?? 10_000,
    shopify_bucket: { maximum: 2000, restore_per_second: 100 },
    amazon_usage_plan: { rate: 5, burst: 5 },
    pushers: PUSHER_SETTINGS,
    seed: options.seed ?? 42,
  };
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error: Error) => console.error(`bench redis client: ${error.message}`));
  const env = await benchEnv(redis).finally(() => redis.disconnect());
  const loadAtStart = round(loadavg()[0] ?? 0, 2);
  const results: VariantResult[] = [];
  for (const variant of variants) results.push(await runVariant(options, settings, variant.origin, variant.durationMs));
  const api = results.find((result) => result.origin === 'api');
  const shopifyApi = api?.channels.find((entry) => entry.channel === 'shopify');
  const amazonApi = api?.channels.find((entry) => entry.channel === 'amazon');
  const overLimit = results.reduce((sum, result) => sum + result.channels.reduce((inner, entry) => inner + entry.requests_over_limit, 0), 0);
  const shopifyP99 = shopifyApi?.propagation_p99_ms ?? null;
  const amazonZero = amazonApi?.time_to_zero_p99_ms ?? null;
  return {
    scenario: 'propagation',
    env,
    date: new Date().toISOString(),
    settings,
    variants: results,
    load_average: { start: loadAtStart, end: round(loadavg()[0] ?? 0, 2) },
    targets: [
      { target: 'Shopify propagation p99 < 1000 ms (api origin)', value: shopifyP99, met: shopifyP99 === null ? null : shopifyP99 < 1000 },
      {
        target: 'Amazon time-to-zero p99 < 2000 ms, every sold-out SKU shown 0 (api origin)',
        value: amazonZero,
        met: amazonZero === null || !amazonApi ? null : amazonZero < 2000 && amazonApi.zero_acked === amazonApi.sold_out,
      },
      { target: 'requests above the rate limit = 0 (all variants)', value: overLimit, met: overLimit === 0 },
    ],
  };
}

async function runVariant(options: PropagationOptions, settings: PropagationResult['settings'], origin: Origin, durationMs: number): Promise<VariantResult> {
  const log = options.log ?? (() => undefined);
  const skus = settings.skus;
  const salesPerSecond = settings.sales_per_second;
  const sellOutSkus = options.sellOutSkus ?? Math.round((durationMs / 1000) * 2);
  const latencyMs = settings.channel_latency_ms;
  const drainMs = settings.drain_ms;
  const random = seededRandom(settings.seed);
  const prefix = `bench-propagation-${origin}-${Date.now()}`;

  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error: Error) => console.error(`bench redis client: ${error.message}`));
  const shopify = await startShopifyFake({ accessToken: TOKEN, appSecret: 'bench-secret', shopDomain: SHOP, inventoryLevelWebhooks: false });
  const amazon = await startAmazonFake({ ...LWA, sellerId: SELLER, notifyQuantityChanges: false });
  let coordinator: PushCoordinator | undefined;
  try {
    const ledger = new Ledger({ redis, keyPrefix: prefix });
    const catalog = new Catalog({ redis: redis, keyPrefix: prefix });

    // Stock: `sellOutSkus` SKUs (every k-th) hold between 15 % and 85 % of the sales they
    // can expect over the run, so they sell out spread across it (about 3/s with the
    // defaults, under Amazon's 5/s); the others hold more than they can sell.
    const expectedPerSku = (salesPerSecond * durationMs) / 1000 / skus;
    const every = Math.max(1, Math.floor(skus / Math.max(1, sellOutSkus)));
    const stock: number[] = [];
    for (let index = 0; index < skus; index += 1) {
      const sellsOut = index % every === 0 && index / every < sellOutSkus;
      stock.push(sellsOut ? Math.max(1, Math.round(expectedPerSku * (0.15 + 0.7 * random()))) : Math.ceil(expectedPerSku * 4) + 20);
    }
    shopify.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    const now = Date.now();
    log(`propagation/${origin}: seeding ${skus} SKUs in the catalogue, the ledger and both fakes`);
    for (let index = 0; index <= skus; index += 1) {
      // Index `skus` is a warm-up SKU, pushed once before the run (see below).
      const sku = skuName(index);
      const onHand = index < skus ? stock[index]! : 10;
      await catalog.put({
        sku,
        holdback: 0,
        skuClass: 'default',
        shopify: { inventoryItemId: itemId(index), locationId: WAREHOUSE },
        amazon: { sellerSku: `AMZ-${sku}`, marketplaceId: US, productType: 'PRODUCT', fulfillment: 'MFN' },
        policies: {},
      });
      await ledger.createSku(sku);
      await ledger.count(sku, { eventId: `seed-${sku}`, counted: onHand });
      shopify.stock(itemId(index), WAREHOUSE, { available: index < skus ? onHand : 0 });
      amazon.addListing({ sku: `AMZ-${sku}`, marketplaceId: US, productType: 'PRODUCT', fulfillment: 'MFN', quantity: index < skus ? onHand : 0 });
      // The channels are in step with the ledger before the run: a daemon that has been running.
      if (index < skus) {
        const pushStore = new PushStore(redis, ledger.keys, ledger);
        await pushStore.recordPushed(sku, 'shopify', { quantity: onHand, atMs: now, version: 2 });
        await pushStore.recordPushed(sku, 'amazon', { quantity: onHand, atMs: now, version: 2 });
      }
    }
    await redis.del(ledger.keys.dirtySkus());

    const metrics = createMetrics({ defaultMetrics: false });
    const logger = pino({ level: 'warn' });
    const events: PushEvent[] = [];
    const common = { metrics, logger, maxAttempts: PUSHER_SETTINGS.maxAttempts, requestTimeoutMs: PUSHER_SETTINGS.requestTimeoutMs };
    coordinator = new PushCoordinator({
      redis,
      ledger,
      catalog,
      pushers: [
        new ShopifyPusher({ ...common, settings: { storeDomain: SHOP, accessToken: TOKEN, apiVersion: '2026-10', baseUrl: shopify.url, batchSize: 250 } }),
        new AmazonPusher({
          ...common,
          settings: { sellerId: SELLER, marketplaceIds: [US], endpoint: amazon.url, lwa: { ...LWA, tokenUrl: amazon.lwaTokenUrl }, ratePerSecond: 5, burst: 5 },
        }),
      ],
      settings: PUSHER_SETTINGS,
      metrics,
      logger,
      onPush: (event) => events.push(event),
    });
    await coordinator.start();
    await coordinator.initialSweep;
    // Warm-up: the fakes run in this process and compile their schemas on the first
    // request, a one-off stall of the event loop that is not the pushers' doing.
    await ledger.adjust(skuName(skus), { eventId: 'warm-up', delta: 5, cause: 'receipt' });
    await waitFor(() => events.filter((event) => event.sku === skuName(skus) && event.outcome.kind === 'acked').length >= 2, 15_000);
    events.length = 0;
    const shopifyRequestsBefore = shopify.requests().length;
    const amazonRequestsBefore = amazon.requests().length;
    // The channels' own latency from here on (a fault on every request).
    shopify.addFaultRate({ fault: { kind: 'latency', ms: latencyMs }, probability: 1 });
    amazon.injectFault({ kind: 'latency', latencyMs, rate: 1 });

    // Sales: a tick every 10 ms issues the sales due by then, on SKUs that still have
    // stock (a channel does not sell what it no longer shows). The sale that takes a SKU's
    // last unit records its time, taken before the call: the earliest the change can exist.
    const remaining = [...stock];
    const soldOutAt = new Map<string, number>();
    let issued = 0;
    let completed = 0;
    const inFlight = new Set<Promise<void>>();
    const started = performance.now();
    const startedMs = Date.now();
    log(`propagation/${origin}: ${salesPerSecond} sales/s for ${durationMs / 1000} s over ${skus} SKUs (${sellOutSkus} stocked to sell out)`);
    while (performance.now() - started < durationMs) {
      const due = Math.floor(((performance.now() - started) / 1000) * salesPerSecond);
      while (issued < due) {
        // Uniform over the SKUs that still have stock: draw again on a sold-out one (moving
        // to the next index instead would pile the sold-out SKUs' sales on their neighbours).
        let index = Math.floor(random() * skus);
        for (let draw = 0; draw < 64 && remaining[index]! <= 0; draw += 1) index = Math.floor(random() * skus);
        if (remaining[index]! <= 0) index = remaining.findIndex((left) => left > 0);
        if (index < 0) break;
        remaining[index] = remaining[index]! - 1;
        const sku = skuName(index);
        const lastUnit = remaining[index] === 0;
        const issuedAtMs = Date.now();
        const orderId = `sale-${issued}`;
        issued += 1;
        if (origin === 'shopify') {
          // The storefront moves Shopify's level at once; the order and the level report
          // reach the ledger as the consumers would apply them.
          void shopify.sellOnStorefront(itemId(index), WAREHOUSE, 1, { webhooks: false, oversell: true });
        }
        const level = origin === 'shopify' ? shopify.level(itemId(index), WAREHOUSE)?.available : undefined;
        const sale = ledger
          .reserveOrder({ channel: origin, orderId, lines: [{ lineId: '1', sku, quantity: 1 }] })
          .then(async () => {
            if (level !== undefined) await ledger.recordChannelLevel(sku, 'shopify', { quantity: level, observedAtMs: issuedAtMs, eventId: `level-${orderId}` });
          })
          .then(() => {
            completed += 1;
            if (lastUnit) soldOutAt.set(sku, issuedAtMs);
          })
          .finally(() => inFlight.delete(sale));
        inFlight.add(sale);
      }
      await sleepMs(10);
    }
    await Promise.all(inFlight);
    const salesElapsedMs = performance.now() - started;
    log(`propagation/${origin}: ${completed} sales in ${round(salesElapsedMs / 1000, 1)} s; measuring for ${drainMs / 1000} s more`);
    await waitFor(async () => (await coordinator!.isIdle()) || false, drainMs);
    const endMs = Date.now();

    const channels: ChannelResult[] = [];
    for (const channel of ['shopify', 'amazon'] as const) {
      const acked = events.filter((event) => event.channel === channel && event.outcome.kind === 'acked' && event.cause === 'change');
      const latencies = Float64Array.from(acked.map((event) => event.atMs - event.changedAtMs)).sort();
      const zeroAckAt = new Map<string, number>();
      for (const event of acked) if (event.quantity === 0 && !zeroAckAt.has(event.sku)) zeroAckAt.set(event.sku, event.atMs);
      const timesToZero = Float64Array.from(
        [...soldOutAt].flatMap(([sku, at]) => {
          const ack = zeroAckAt.get(sku);
          return ack === undefined ? [] : [Math.max(0, ack - at)];
        }),
      ).sort();
      const requests = channel === 'shopify' ? shopify.requests().slice(shopifyRequestsBefore) : amazon.requests().slice(amazonRequestsBefore);
      const overLimit = channel === 'shopify' ? shopify.requests().slice(shopifyRequestsBefore).filter((request) => request.throttled).length : amazon.requests().slice(amazonRequestsBefore).filter((request) => request.outcome === 429).length;
      const lane = coordinator.lane(channel);
      const waiting = lane?.size().waiting ?? 0;
      const oldest = lane?.oldestWaitingChangeMs();
      channels.push({
        channel,
        propagation_p50_ms: nullable(percentile(latencies, 50)),
        propagation_p99_ms: nullable(percentile(latencies, 99)),
        propagation_samples: latencies.length,
        time_to_zero_p50_ms: nullable(percentile(timesToZero, 50)),
        time_to_zero_p99_ms: nullable(percentile(timesToZero, 99)),
        sold_out: soldOutAt.size,
        zero_acked: timesToZero.length,
        pushes: acked.length,
        pushes_per_sale: round(acked.length / Math.max(1, completed), 3),
        requests: requests.length,
        requests_over_limit: overLimit,
        waiting_at_end: waiting,
        oldest_waiting_ms: oldest === undefined ? null : endMs - oldest,
      });
    }
    return {
      origin,
      duration_ms: durationMs,
      sell_out_skus: sellOutSkus,
      sales: completed,
      achieved_sales_per_second: Math.round(completed / (salesElapsedMs / 1000)),
      shopify_stale: events.filter((event) => event.channel === 'shopify' && event.outcome.kind === 'stale').length,
      channels,
    };
  } finally {
    await coordinator?.stop();
    await shopify.close();
    await amazon.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
  }
}

function nullable(value: number): number | null {
  return Number.isNaN(value) ? null : round(value, 1);
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(done: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done()) && Date.now() < deadline) await sleepMs(20);
}

async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

const fmt = (value: number | null, unit = '') => (value === null ? '—' : `${value}${unit}`);

function rows(variant: VariantResult): string[][] {
  return variant.channels.map((entry) => [
    variant.origin,
    entry.channel,
    fmt(entry.propagation_p50_ms),
    fmt(entry.propagation_p99_ms),
    `${fmt(entry.time_to_zero_p50_ms)} / ${fmt(entry.time_to_zero_p99_ms)}`,
    `${entry.zero_acked}/${entry.sold_out}`,
    String(entry.pushes),
    String(entry.pushes_per_sale),
    String(entry.requests),
    String(entry.requests_over_limit),
    `${entry.waiting_at_end}${entry.oldest_waiting_ms === null ? '' : ` (oldest ${round(entry.oldest_waiting_ms / 1000, 1)} s)`}`,
  ]);
}

const HEADER = ['sales on', 'channel', 'propagation p50 ms', 'p99 ms', 'time to zero p50 / p99 ms', 'zeros pushed', 'pushes', 'pushes/sale', 'requests', 'over limit', 'waiting at end'];

function describeVariant(variant: VariantResult): string {
  return `${variant.origin}: ${variant.sales} sales at ${variant.achieved_sales_per_second}/s for ${variant.duration_ms / 1000} s, ${variant.sell_out_skus} SKUs stocked to sell out, ${variant.shopify_stale} Shopify compare-and-set losses`;
}

export function propagationTextReport(result: PropagationResult): string {
  const targets = result.targets.map((target) => `${target.met === null ? '?   ' : target.met ? 'met ' : 'MISS'}  ${target.target}: ${target.value ?? '—'}`);
  return [
    `${result.settings.skus} SKUs; ${describeEnv(result.env)}; load average ${result.load_average.start} → ${result.load_average.end}`,
    ...result.variants.map(describeVariant),
    textTable(HEADER, result.variants.flatMap(rows)),
    '',
    ...targets,
  ].join('\n');
}

export function propagationMarkdown(result: PropagationResult): string {
  const settings = result.settings;
  return [
    '<!-- generated by `npm run bench -- propagation` (bench/propagation.ts); do not edit -->',
    '## propagation: from a sale to every channel',
    '',
    `${settings.sales_per_second} sales/s over ${settings.skus} SKUs. Both fakes answer every request after ${settings.channel_latency_ms} ms; ` +
      `Shopify's bucket holds ${settings.shopify_bucket.maximum} points and restores ${settings.shopify_bucket.restore_per_second}/s (the fake's default, Standard plan rate), ` +
      `Amazon's patchListingsItem plan is ${settings.amazon_usage_plan.rate}/s burst ${settings.amazon_usage_plan.burst}. Pushers: linger ${settings.pushers.lingerMs} ms, ` +
      `Shopify batches up to 250, dynamic holdback off (so a target reaches 0 exactly at the sell-out). The channels start in step with the ledger; ` +
      `measuring stops when everything is pushed or ${settings.drain_ms / 1000} s after the last sale.`,
    '',
    '- **api**: sales on stockguard\'s own channel, written to the ledger as the consumers do: every push to Shopify and Amazon is a real propagation. The targets are judged here.',
    '- **shopify**: sales on Shopify\'s storefront (Shopify moves at once; the order and Shopify\'s level report reach the ledger as the consumers apply them). Pushes back to Shopify are echoes and skipped when Shopify already shows the value; a compare-and-set that loses to the next storefront sale is re-read and retried.',
    '',
    ...result.variants.map((variant) => `- ${describeVariant(variant)}.`),
    '',
    `Environment: ${describeEnv(result.env)}; ${result.date}; 1-minute load average ${result.load_average.start} at the start, ${result.load_average.end} at the end (other work on the machine competes for the two cores: the p99s move with it). Fakes, pushers and the sales generator share one Node process; Redis is a private redis-server.`,
    '',
    markdownTable(HEADER, result.variants.flatMap(rows)),
    '',
    '- **propagation**: first ledger change the channel had not seen (dirty-index score) → push acknowledged, over acknowledged pushes only (so it leaves out what was still waiting at the end: see the last column).',
    '- **time to zero**: the sale that took the last unit → the channel acknowledging 0; "zeros pushed" counts sold-out SKUs that got there (on Shopify-origin sales Shopify is at 0 by itself: nothing to push).',
    '- **over limit**: Shopify THROTTLED answers, Amazon 429s.',
    '',
    '| target | value | met |',
    '| --- | --- | --- |',
    ...result.targets.map((target) => `| ${target.target} | ${target.value ?? '—'} | ${target.met === null ? '—' : target.met ? 'yes' : '**no**'} |`),
  ].join('\n');
}
