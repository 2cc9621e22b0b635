// One flash-sale cell end to end: a private redis-server (or a given Redis URL and key
// prefix), a local SQS, the Shopify fake (webhooks to the daemon over HTTP, a seeded
// delivery lag), the Amazon fake (apply lag, ORDER_CHANGE delivery lag, quantity-change
// notifications over SQS), and `stockguard serve` in this process (http, consumers, sqs,
// pushers) with the configured lag bounds; N hot SKUs in one allocation mode, each counted
// to its stock. A seeded buyer loop then buys on both storefronts, each buyer only what the
// channel shows (a channel refuses the rest), and the cell waits until everything is quiet.
//
// Used by test/e2e/strict.test.ts (the assertions) and bench/allocation.ts (the figures:
// the e2e cells beside the simulator's grid). Development code: the daemon never imports it.
//
// Figures, defined as in the simulator (src/sim/allocationSim.ts, docs/allocation.md):
//   oversold        ground truth: per SKU, units the channels accepted beyond its stock, summed;
//   ledgerOversold  what the ledger recorded as oversold (it should equal the ground truth once every sale arrived);
//   sellThrough     Σ min(sold, stock) ÷ Σ stock;
//   stranded        Σ max(0, onHand − reserved) at the end, though buyers came until the horizon;
//   timeToQuietMs   the last channel write (a Shopify write accepted, an Amazon PATCH accepted or
//                   applied) less the last sale, as the simulator measures it;
//   quietAfterBuyersMs  wall time from the end of the buyers until the fakes and the daemon were quiet.
import { pino } from 'pino';
import type { CatalogEntry } from '../catalog/entry.ts';
import { loadConfig } from '../config.ts';
import { type Daemon, isQuiet, startDaemon } from '../daemon.ts';
import { seededRandom } from '../domain/random.ts';
import { type AmazonFake, startAmazonFake } from './amazon/index.ts';
import type { LagSpec } from './lag.ts';
import { RedisServer } from './redisServer.ts';
import { type ShopifyFake, startShopifyFake } from './shopify/index.ts';
import { type LocalSqs, startLocalSqs } from './sqs.ts';
import { FAKE_LOCATION, FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv } from './world.ts';

const SECRETS = { shopifyToken: 'shpat_flash_cell_token', appSecret: 'shpss_flash_cell_app_secret_0123', wms: 'wms_flash_cell_secret_0123', api: 'api_flash_cell_token_0123456789' };
const LWA = { clientId: 'amzn1.application-oa2-client.flashcell', clientSecret: 'flash-cell-lwa-secret', refreshToken: 'Atzr|flash-cell-refresh' };

export interface FlashCellOptions {
  /** An existing Redis (with `keyPrefix`); without it a private redis-server is started and stopped. */
  redisUrl?: string;
  keyPrefix?: string;
  /** The stock of each hot SKU (one SKU per entry), counted before the sale opens. */
  stock: readonly number[];
  /** The catalogue's allocationMode on every SKU: shared, strict, budget:N, auto. */
  allocationMode: string;
  /** SKU names are `${skuPrefix}-1`, `-2`, …; default FLASH-HOT. */
  skuPrefix?: string;
  /** Webhook delivery lag of the Shopify fake (orders/create and the rest). */
  shopifyDeliveryLag?: LagSpec;
  /** Apply lag of the Amazon fake's accepted PATCHes. */
  amazonApplyLag?: LagSpec;
  /** Delivery lag of the Amazon fake's notifications: one for every type, or per type (e.g. only ORDER_CHANGE). */
  amazonDeliveryLag?: LagSpec | Partial<Record<'ORDER_CHANGE' | 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE' | 'FBA_INVENTORY_AVAILABILITY_CHANGES', LagSpec>>;
  /** The lag bounds the daemon is configured with (seconds). */
  bounds: { shopifyDeliverySeconds: number; amazonDeliverySeconds: number; amazonApplySeconds: number };
  /** STOCKGUARD_ALLOCATION_CHANNEL_MIX, e.g. `shopify=60,amazon=40`; default unset (equal shares at first). */
  channelMix?: string;
  /** STOCKGUARD_PUSH_POLL_MS; default 10. */
  pushPollMs?: number;
  /** Shopify `inventory_levels/update` webhooks; default false (orders/create carries the sales). */
  inventoryLevelWebhooks?: boolean;
  /** Daemon log level; default silent. */
  logLevel?: string;
}

export interface BuyerOptions {
  /** Purchase attempts per second per SKU, both channels together (Poisson arrivals). */
  velocityPerSku: number;
  /** How long buyers come (the horizon). */
  durationMs: number;
  /** Share of attempts on Shopify; the rest on Amazon. */
  shopifyShare: number;
  seed: number;
  /** Units per attempt: probability of 2 units (else 1); default 0. */
  twoUnitShare?: number;
}

export interface BuyerTally {
  attempts: number;
  /** Units each channel accepted, per SKU. */
  sold: Map<string, { shopify: number; amazon: number }>;
  refused: { shopify: number; amazon: number };
  /** Date.now() of the last accepted sale; undefined when nothing sold. */
  lastSaleAtMs: number | undefined;
  startedAtMs: number;
  endedAtMs: number;
}

export interface FlashCellSkuFigures {
  sku: string;
  stock: number;
  sold: number;
  soldShopify: number;
  soldAmazon: number;
  oversold: number;
  ledgerOversold: number;
  reserved: number;
  available: number;
}

export interface FlashCellFigures {
  mode: string;
  stock: number;
  sold: number;
  oversold: number;
  ledgerOversold: number;
  sellThrough: number;
  stranded: number;
  attempts: number;
  refused: { shopify: number; amazon: number };
  /** Writes the channels accepted: Shopify inventory writes, Amazon PATCHes answered ACCEPTED. */
  writes: { shopify: number; amazon: number };
  /** Amazon Listings requests answered 429 (its token bucket: patch 5/s, burst 5, per seller). */
  amazonThrottled: number;
  /** Shopify requests answered THROTTLED. */
  shopifyThrottled: number;
  timeToQuietMs: number;
  quietAfterBuyersMs: number;
  /** At the end every channel shows at most what the ledger can sell, and together no more. */
  channelsWithinLedger: boolean;
  perSku: FlashCellSkuFigures[];
}

export interface FlashCell {
  readonly redisUrl: string;
  readonly daemon: Daemon;
  readonly shopify: ShopifyFake;
  readonly amazon: AmazonFake;
  readonly sqs: LocalSqs;
  readonly entries: readonly CatalogEntry[];
  readonly stock: readonly number[];
  /** What each channel shows now for a SKU. */
  shown(entry: CatalogEntry): { shopify: number; amazon: number };
  /** Waits until both channels offer every SKU (the opening push). */
  waitForOpening(timeoutMs?: number): Promise<void>;
  /** The buyers, until the horizon; resolves when every attempt has settled. */
  runBuyers(options: BuyerOptions): Promise<BuyerTally>;
  /**
   * Waits until the Amazon fake applied every accepted PATCH and delivered every
   * notification, the Shopify fake delivered every webhook, and the daemon is quiet
   * (streams drained, nothing dirty), twice in a row 500 ms apart; returns the wall time it took.
   */
  waitUntilQuiet(timeoutMs?: number): Promise<number>;
  /** The figures from a tally, read from the ledger and the fakes now. */
  figures(tally: BuyerTally, quietAfterBuyersMs: number): Promise<FlashCellFigures>;
  close(): Promise<void>;
}

export async function startFlashCell(options: FlashCellOptions): Promise<FlashCell> {
  const stoppers: (() => Promise<unknown>)[] = [];
  const stopAll = async () => {
    for (const stop of stoppers.reverse()) await stop().catch(() => undefined);
    stoppers.length = 0;
  };
  try {
    let redisUrl = options.redisUrl;
    if (redisUrl === undefined) {
      const server = await RedisServer.start();
      stoppers.push(() => server.stop());
      redisUrl = server.url;
    }
    const sqs = await startLocalSqs();
    stoppers.push(() => sqs.stop());
    const shopify = await startShopifyFake({
      accessToken: SECRETS.shopifyToken,
      appSecret: SECRETS.appSecret,
      shopDomain: 'flash-cell.myshopify.com',
      inventoryLevelWebhooks: options.inventoryLevelWebhooks ?? false,
      ...(options.shopifyDeliveryLag === undefined ? {} : { deliveryLag: options.shopifyDeliveryLag }),
    });
    stoppers.push(() => shopify.close());
    const amazon = await startAmazonFake({
      ...LWA,
      sellerId: FAKE_SELLER,
      sqs: { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: sqs.region },
      notifyQuantityChanges: true,
      ...(options.amazonApplyLag === undefined ? {} : { applyLag: options.amazonApplyLag }),
      ...(options.amazonDeliveryLag === undefined ? {} : { deliveryLag: options.amazonDeliveryLag }),
    });
    stoppers.push(() => amazon.close());
    shopify.addLocation({ id: FAKE_LOCATION, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    const config = loadConfig({
      REDIS_URL: redisUrl,
      ...(options.keyPrefix === undefined ? {} : { STOCKGUARD_KEY_PREFIX: options.keyPrefix }),
      STOCKGUARD_ROLES: 'http,consumers,sqs,pushers',
      STOCKGUARD_HTTP_HOST: '127.0.0.1',
      STOCKGUARD_HTTP_PORT: '0',
      STOCKGUARD_CONSUMER_NAME: 'flash-cell',
      STOCKGUARD_PUSH_POLL_MS: String(options.pushPollMs ?? 10),
      ...(options.channelMix ? { STOCKGUARD_ALLOCATION_CHANNEL_MIX: options.channelMix } : {}),
      STOCKGUARD_PUSH_SWEEP_CRON: '*/5 * * * * *',
      STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS: String(options.bounds.shopifyDeliverySeconds),
      STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS: String(options.bounds.amazonDeliverySeconds),
      STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS: String(options.bounds.amazonApplySeconds),
      ...fakeChannelsEnv({ shopify, amazon, sqs, credentials: { ...SECRETS, lwa: LWA } }),
    });
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    const daemon = await startDaemon({ config, logger: pino({ level: options.logLevel ?? 'silent' }) });
    stoppers.push(() => daemon.stop());
    shopify.setWebhookUrl(`${daemon.http!.url}/webhooks/shopify`);

    const skuPrefix = options.skuPrefix ?? 'FLASH-HOT';
    const entries: CatalogEntry[] = [];
    for (const [index, stock] of options.stock.entries()) {
      const sku = `${skuPrefix}-${index + 1}`;
      const item = `gid://shopify/InventoryItem/${46_000_000_000_000 + index}`;
      const { variantId } = shopify.addItem({ id: item, sku: null });
      shopify.stock(item, FAKE_LOCATION, { available: 0 });
      amazon.addListing({ sku: `SG-${sku}`, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN', quantity: 0 });
      const entry: CatalogEntry = {
        sku,
        holdback: 0,
        skuClass: 'hot',
        allocationMode: options.allocationMode,
        shopify: { inventoryItemId: item, locationId: FAKE_LOCATION, variantId },
        amazon: { sellerSku: `SG-${sku}`, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN' },
        policies: {},
      };
      entries.push(entry);
      await daemon.runtime.catalog.put(entry);
      await daemon.runtime.ledger.createSku(sku);
      await daemon.runtime.ledger.count(sku, { eventId: `opening-${sku}`, counted: stock });
    }

    const shown = (entry: CatalogEntry) => ({
      shopify: shopify.level(entry.shopify!.inventoryItemId, FAKE_LOCATION)?.available ?? 0,
      amazon: amazon.quantity(entry.amazon!.sellerSku) ?? 0,
    });

    const fakesSettled = async (): Promise<boolean> => {
      await amazon.idle();
      await shopify.settleWebhooks();
      return amazon.acceptedPatches().every((patch) => patch.appliedAtMs !== undefined);
    };

    return {
      redisUrl,
      daemon,
      shopify,
      amazon,
      sqs,
      entries,
      stock: [...options.stock],
      shown,
      async waitForOpening(timeoutMs = 30_000) {
        await pollUntil(async () => entries.every((entry) => shown(entry).shopify > 0 && shown(entry).amazon > 0), timeoutMs, 'both channels offering every SKU');
      },
      runBuyers: (buyers) => runBuyers(buyers, entries, shopify, amazon),
      async waitUntilQuiet(timeoutMs = 120_000) {
        const started = Date.now();
        let quietOnce = false;
        await pollUntil(
          async () => {
            const quiet = (await fakesSettled()) && (await isQuiet(daemon.runtime));
            if (quiet && quietOnce) return true;
            quietOnce = quiet;
            return false;
          },
          timeoutMs,
          'the fakes and the daemon quiet',
          500,
        );
        // The first of the two quiet checks is when it became quiet.
        return Math.max(0, Date.now() - started - 500);
      },
      async figures(tally, quietAfterBuyersMs) {
        const perSku: FlashCellSkuFigures[] = [];
        let channelsWithinLedger = true;
        for (const [index, entry] of entries.entries()) {
          const stock = options.stock[index]!;
          const units = tally.sold.get(entry.sku) ?? { shopify: 0, amazon: 0 };
          const sold = units.shopify + units.amazon;
          const inventory = (await daemon.runtime.ledger.inventory(entry.sku))!;
          const available = inventory.onHand - inventory.reserved;
          const { shopify: onShopify, amazon: onAmazon } = shown(entry);
          if (!(onShopify + onAmazon <= Math.max(0, available) && (available > 0 || onShopify + onAmazon === 0))) channelsWithinLedger = false;
          perSku.push({
            sku: entry.sku,
            stock,
            sold,
            soldShopify: units.shopify,
            soldAmazon: units.amazon,
            oversold: Math.max(0, sold - stock),
            ledgerOversold: inventory.oversold,
            reserved: inventory.reserved,
            available,
          });
        }
        const sum = (pick: (sku: FlashCellSkuFigures) => number) => perSku.reduce((total, sku) => total + pick(sku), 0);
        const stock = sum((sku) => sku.stock);
        const shopifyWrites = shopify.writes();
        const amazonPatches = amazon.acceptedPatches();
        const lastWriteMs = Math.max(
          0,
          ...shopifyWrites.map((write) => Date.parse(write.at)),
          ...amazonPatches.map((patch) => Math.max(patch.receivedAtMs, patch.appliedAtMs ?? 0)),
        );
        return {
          mode: options.allocationMode,
          stock,
          sold: sum((sku) => sku.sold),
          oversold: sum((sku) => sku.oversold),
          ledgerOversold: sum((sku) => sku.ledgerOversold),
          sellThrough: stock > 0 ? sum((sku) => Math.min(sku.sold, sku.stock)) / stock : 1,
          stranded: sum((sku) => Math.max(0, sku.available)),
          attempts: tally.attempts,
          refused: { ...tally.refused },
          writes: { shopify: shopifyWrites.length, amazon: amazonPatches.length },
          amazonThrottled: amazon.requests().filter((request) => request.outcome === 429).length,
          shopifyThrottled: shopify.requests().filter((request) => request.throttled).length,
          timeToQuietMs: tally.lastSaleAtMs === undefined ? 0 : Math.max(0, lastWriteMs - tally.lastSaleAtMs),
          quietAfterBuyersMs,
          channelsWithinLedger,
          perSku,
        };
      },
      close: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** Start, open, buy, wait until quiet, read the figures, stop. */
export async function runFlashCell(options: FlashCellOptions & { buyers: BuyerOptions; quietTimeoutMs?: number }): Promise<FlashCellFigures> {
  const cell = await startFlashCell(options);
  try {
    await cell.waitForOpening();
    const tally = await cell.runBuyers(options.buyers);
    const quietAfterBuyersMs = await cell.waitUntilQuiet(options.quietTimeoutMs);
    return await cell.figures(tally, quietAfterBuyersMs);
  } finally {
    await cell.close();
  }
}

async function runBuyers(options: BuyerOptions, entries: readonly CatalogEntry[], shopify: ShopifyFake, amazon: AmazonFake): Promise<BuyerTally> {
  const random = seededRandom(options.seed);
  // Every arrival drawn up front (Poisson per SKU), so the same seed replays the same buyers.
  const arrivals: { atMs: number; entry: CatalogEntry; onShopify: boolean; quantity: number }[] = [];
  for (const entry of entries) {
    let atMs = 0;
    for (;;) {
      atMs += (-Math.log(1 - random()) / options.velocityPerSku) * 1000;
      if (atMs >= options.durationMs) break;
      arrivals.push({ atMs, entry, onShopify: random() < options.shopifyShare, quantity: random() < (options.twoUnitShare ?? 0) ? 2 : 1 });
    }
  }
  arrivals.sort((a, b) => a.atMs - b.atMs);

  const tally: BuyerTally = { attempts: 0, sold: new Map(entries.map((entry) => [entry.sku, { shopify: 0, amazon: 0 }])), refused: { shopify: 0, amazon: 0 }, lastSaleAtMs: undefined, startedAtMs: Date.now(), endedAtMs: 0 };
  const settled: Promise<unknown>[] = [];
  let next = 0;
  while (next < arrivals.length) {
    const elapsed = Date.now() - tally.startedAtMs;
    while (next < arrivals.length && arrivals[next]!.atMs <= elapsed) {
      const { entry, onShopify, quantity } = arrivals[next]!;
      next += 1;
      tally.attempts += 1;
      const channel = onShopify ? 'shopify' : 'amazon';
      // Both fakes decide synchronously, within the call: the stock moves (or the sale is refused) now.
      let sale: Promise<unknown>;
      try {
        sale = onShopify ? shopify.sellOnStorefront(entry.shopify!.inventoryItemId, FAKE_LOCATION, quantity) : amazon.sellOnAmazon(entry.amazon!.sellerSku, quantity);
      } catch (error) {
        sale = Promise.reject(error);
      }
      const soldAtMs = Date.now();
      settled.push(
        sale.then(
          () => {
            tally.sold.get(entry.sku)![channel] += quantity;
            tally.lastSaleAtMs = Math.max(tally.lastSaleAtMs ?? 0, soldAtMs);
          },
          () => {
            tally.refused[channel] += 1;
          },
        ),
      );
    }
    if (next < arrivals.length) await sleep(Math.max(1, arrivals[next]!.atMs - (Date.now() - tally.startedAtMs)));
  }
  const horizon = tally.startedAtMs + options.durationMs;
  if (Date.now() < horizon) await sleep(horizon - Date.now());
  await Promise.all(settled);
  tally.endedAtMs = Date.now();
  return tally;
}

async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
