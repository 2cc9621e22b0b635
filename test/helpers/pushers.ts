// A ledger, a catalogue and a push coordinator under a key prefix of their own, wired to
// the in-repo Shopify and/or Amazon fakes through the real client libraries.
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { Catalog } from '../../src/catalog/catalog.ts';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import type { AmazonSettings, PusherSettings, ShopifySettings } from '../../src/config.ts';
import type { BackoffPolicy } from '../../src/domain/backoff.ts';
import { decodeChannelState } from '../../src/domain/channelState.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { recordPushed } from '../../src/pushers/channelStateScripts.ts';
import type { KeySpace } from '../../src/redis/keys.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { AmazonPusher } from '../../src/pushers/amazon.ts';
import { type PushEvent, PushCoordinator } from '../../src/pushers/coordinator.ts';
import type { Pusher } from '../../src/pushers/pusher.ts';
import { ShopifyPusher } from '../../src/pushers/shopify.ts';
import type { AmazonFake } from '../../src/sim/amazon/index.ts';
import type { ShopifyFake } from '../../src/sim/shopify/index.ts';
import type { TestRedis } from './redis.ts';

export const SHOPIFY_TOKEN = 'shpat_pushers_test_token';
export const SHOPIFY_APP_SECRET = 'shpss_pushers_test_secret';
export const LWA = { clientId: 'amzn1.application-oa2-client.pushers', clientSecret: 'lwa-pushers-secret', refreshToken: 'Atzr|pushers-refresh' };
export const SELLER_ID = 'A3TH9S8BH6GOGM';
export const US = 'ATVPDKIKX0DER';
/** A cron expression that does not fire during a test: the tests call sweep() themselves. */
export const NEVER = '0 0 1 1 *';

export const TEST_SETTINGS: PusherSettings = {
  sweepCron: NEVER,
  lingerMs: 20,
  pollMs: 10,
  maxAttempts: 5,
  requestTimeoutMs: 5_000,
  dynamicHoldback: { windowMs: 60_000, maxUnits: 0, defaultLatencyMs: 1_000 },
  driftSettleMs: 30_000,
  topExposureSkus: 5,
};

export function shopifySettings(fake: ShopifyFake, overrides: Partial<ShopifySettings> = {}): ShopifySettings {
  return { storeDomain: fake.shopDomain, accessToken: SHOPIFY_TOKEN, apiVersion: '2026-10', baseUrl: fake.url, batchSize: 250, ...overrides };
}

export function amazonSettings(fake: AmazonFake, overrides: Partial<AmazonSettings> = {}): AmazonSettings {
  return {
    sellerId: SELLER_ID,
    marketplaceIds: [US],
    endpoint: fake.url,
    lwa: { ...LWA, tokenUrl: fake.lwaTokenUrl },
    ratePerSecond: 5,
    burst: 5,
    ...overrides,
  };
}

export interface PushHarness {
  prefix: string;
  redis: Redis;
  ledger: Ledger;
  catalog: Catalog;
  metrics: Metrics;
  coordinator: PushCoordinator;
  shopify: ShopifyPusher | undefined;
  amazon: AmazonPusher | undefined;
  /** Every push result, in order. */
  events: PushEvent[];
  /** Adds the SKU to the catalogue and the ledger with on_hand `onHand`. */
  addSku(entry: Omit<CatalogEntry, 'holdback' | 'skuClass' | 'policies'> & Partial<CatalogEntry>, onHand: number): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

let namespaces = 0;

export async function pushHarness(
  handle: TestRedis,
  options: {
    shopify?: ShopifyFake;
    amazon?: AmazonFake;
    settings?: Partial<PusherSettings>;
    shopifyOverrides?: Partial<ShopifySettings>;
    amazonOverrides?: Partial<AmazonSettings>;
    backoff?: BackoffPolicy;
    clock?: () => number;
    /** Reuse another harness's keys (a restart of the pushers over the same ledger). */
    prefix?: string;
  },
): Promise<PushHarness> {
  namespaces += 1;
  const prefix = options.prefix ?? `${handle.prefix}-${namespaces}`;
  const redis = handle.client();
  const clock = options.clock ?? Date.now;
  const ledger = new Ledger({ redis, keyPrefix: prefix, clock });
  const catalog = new Catalog({ redis, keyPrefix: prefix });
  const metrics = createMetrics({ defaultMetrics: false });
  const logger = pino({ level: process.env.STOCKGUARD_TEST_LOG ?? 'silent' });
  const settings: PusherSettings = { ...TEST_SETTINGS, ...options.settings };
  const backoff = options.backoff ?? { baseMs: 20, maxMs: 200 };
  const pushers: Pusher[] = [];
  const common = { metrics, logger, clock, maxAttempts: settings.maxAttempts, requestTimeoutMs: settings.requestTimeoutMs, backoff };
  const shopify = options.shopify ? new ShopifyPusher({ ...common, settings: shopifySettings(options.shopify, options.shopifyOverrides) }) : undefined;
  const amazon = options.amazon ? new AmazonPusher({ ...common, settings: amazonSettings(options.amazon, options.amazonOverrides) }) : undefined;
  if (shopify) pushers.push(shopify);
  if (amazon) pushers.push(amazon);
  const events: PushEvent[] = [];
  const coordinator = new PushCoordinator({
    redis,
    ledger,
    catalog,
    pushers,
    settings,
    metrics,
    logger,
    clock,
    retryBackoff: backoff,
    onPush: (event) => events.push(event),
  });
  let started = false;
  return {
    prefix,
    redis,
    ledger,
    catalog,
    metrics,
    coordinator,
    shopify,
    amazon,
    events,
    async addSku(entry, onHand) {
      await catalog.put({ holdback: 0, skuClass: 'default', policies: {}, ...entry });
      await ledger.createSku(entry.sku);
      if (onHand > 0) await ledger.count(entry.sku, { eventId: `initial-${entry.sku}`, counted: onHand });
    },
    async start() {
      started = true;
      await coordinator.start();
      await coordinator.initialSweep;
    },
    async close() {
      if (started) await coordinator.stop();
    },
  };
}

/** Polls `read` until `accept` holds; throws with the last value after a generous timeout (never a timed assertion). */
export async function eventually<T>(read: () => T | Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = await read();
  }
  return value;
}

/** Sum of a counter's values with these labels. */
export async function counterValue(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  if (!metric) throw new Error(`no metric ${name}`);
  return metric.values
    .filter((value) => Object.entries(labels).every(([label, wanted]) => String((value.labels as Record<string, unknown>)[label]) === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}

/** The last push `channel` acknowledged for `sku`, as JSON {quantity, atMs, version} (null: none): read from the SKU's packed channel state. */
export async function pushedLevel(redis: Redis, keys: KeySpace, sku: string, channel: string): Promise<string | null> {
  const level = decodeChannelState(await redis.hget(keys.skuBucket('chan', sku), sku)).pushed[channel];
  return level ? JSON.stringify({ quantity: level.quantity, atMs: level.atMs, version: level.version }) : null;
}

/** Records `level` as the last push `channel` acknowledged for `sku`, as the pushers do (recordPushed.lua). */
export async function setPushedLevel(redis: Redis, keys: KeySpace, sku: string, channel: string, level: { quantity: number; atMs: number; version?: number }): Promise<void> {
  await recordPushed(redis, keys.skuBucket('chan', sku), sku, channel, { quantity: level.quantity, atMs: level.atMs, version: level.version ?? 0 });
}
