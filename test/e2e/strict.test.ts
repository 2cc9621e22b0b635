// Issue 12: a flash sale on 3 hot SKUs in strict mode, through the public paths only
// (Shopify webhooks over HTTP, Amazon ORDER_CHANGE and LISTINGS_ITEM_MFN_QUANTITY_CHANGE over
// SQS), with Amazon applying each accepted PATCH 2 s later and delivering its notifications
// up to half a second late. Buyers buy only what each channel shows. strict must oversell
// nothing, and at the end the ledger and the channels agree.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { loadConfig } from '../../src/config.ts';
import { type Daemon, isQuiet, startDaemon } from '../../src/daemon.ts';
import { seededRandom } from '../../src/domain/random.ts';
import { type AmazonFake, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { startLocalSqs } from '../../src/sim/sqs.ts';
import { FAKE_LOCATION, FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv } from '../../src/sim/world.ts';
import { eventually } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const SECRETS = { shopifyToken: 'shpat_strict_token', appSecret: 'shpss_strict_app_secret_0123', wms: 'wms_strict_secret_0123', api: 'api_strict_token_0123456789' };
const LWA = { clientId: 'amzn1.application-oa2-client.strict', clientSecret: 'strict-lwa-secret', refreshToken: 'Atzr|strict-refresh' };
const STOCK = [24, 30, 18];
const test = suite('strict mode under a flash sale');

let redis: TestRedis;
let sqs: Awaited<ReturnType<typeof startLocalSqs>>;
let shopify: ShopifyFake;
let amazon: AmazonFake;
let daemon: Daemon;
const entries: CatalogEntry[] = [];

test.before(async () => {
  redis = await startTestRedis();
  sqs = await startLocalSqs();
  shopify = await startShopifyFake({ accessToken: SECRETS.shopifyToken, appSecret: SECRETS.appSecret, shopDomain: 'strict.myshopify.com', inventoryLevelWebhooks: false, deliveryLag: { minMs: 20, maxMs: 300, seed: 3 } });
  amazon = await startAmazonFake({
    ...LWA,
    sellerId: FAKE_SELLER,
    sqs: { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: 'us-east-1' },
    applyLag: 2_000,
    deliveryLag: { minMs: 50, maxMs: 500, seed: 4 },
  });
  shopify.addLocation({ id: FAKE_LOCATION, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
  const config = loadConfig({
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: redis.prefix,
    STOCKGUARD_ROLES: 'http,consumers,sqs,pushers',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_CONSUMER_NAME: 'strict-e2e',
    STOCKGUARD_PUSH_POLL_MS: '10',
    STOCKGUARD_PUSH_SWEEP_CRON: '*/5 * * * * *',
    // The blind windows this test keeps to: every sale arrives within 5 s, every write applies within 10 s.
    STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS: '5',
    STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS: '5',
    STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS: '10',
    ...fakeChannelsEnv({ shopify, amazon, sqs, credentials: { ...SECRETS, lwa: LWA } }),
  });
  process.env.AWS_ACCESS_KEY_ID = 'local';
  process.env.AWS_SECRET_ACCESS_KEY = 'local';
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  shopify.setWebhookUrl(`${daemon.http!.url}/webhooks/shopify`);
  for (const [index, stock] of STOCK.entries()) {
    const sku = `STRICT-HOT-${index + 1}`;
    const item = `gid://shopify/InventoryItem/${46_000_000_000_000 + index}`;
    const { variantId } = shopify.addItem({ id: item, sku: null });
    shopify.stock(item, FAKE_LOCATION, { available: 0 });
    amazon.addListing({ sku: `SG-${sku}`, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN', quantity: 0 });
    const entry: CatalogEntry = {
      sku,
      holdback: 0,
      skuClass: 'hot',
      allocationMode: 'strict',
      shopify: { inventoryItemId: item, locationId: FAKE_LOCATION, variantId },
      amazon: { sellerSku: `SG-${sku}`, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN' },
      policies: {},
    };
    entries.push(entry);
    await daemon.runtime.catalog.put(entry);
    await daemon.runtime.ledger.createSku(sku);
    await daemon.runtime.ledger.count(sku, { eventId: `opening-${sku}`, counted: stock });
  }
});

test.after(async () => {
  await daemon?.stop();
  await shopify?.close();
  await amazon?.close();
  await sqs?.stop();
  await redis?.close();
});

const shown = (entry: CatalogEntry) => ({ shopify: shopify.level(entry.shopify!.inventoryItemId, FAKE_LOCATION)?.available ?? 0, amazon: amazon.quantity(entry.amazon!.sellerSku) ?? 0 });

test('strict: 0 units oversold with a 2 s Amazon apply lag, and the ledger and the channels agree at the end', async () => {
  // The opening push: strict splits each SKU's stock between the channels, never more in all.
  await eventually(() => entries.every((entry) => shown(entry).shopify > 0 && shown(entry).amazon > 0), Boolean, 'both channels offering every SKU', 30_000);
  for (const [index, entry] of entries.entries()) {
    const { shopify: onShopify, amazon: onAmazon } = shown(entry);
    assert.ok(onShopify + onAmazon <= STOCK[index]!, `${entry.sku}: the channels show ${onShopify} + ${onAmazon} of ${STOCK[index]}`);
  }

  // The sale: 6 s of buyers on both storefronts, 40 attempts/s per SKU; a channel refuses what it does not show.
  const random = seededRandom(12);
  const sold = new Map<string, number>();
  const attempts: Promise<unknown>[] = [];
  const ends = Date.now() + 6_000;
  while (Date.now() < ends) {
    for (const entry of entries) {
      const quantity = random() < 0.85 ? 1 : 2;
      const sale =
        random() < 0.5
          ? shopify.sellOnStorefront(entry.shopify!.inventoryItemId, FAKE_LOCATION, quantity)
          : amazon.sellOnAmazon(entry.amazon!.sellerSku, quantity);
      attempts.push(sale.then(() => sold.set(entry.sku, (sold.get(entry.sku) ?? 0) + quantity), () => undefined));
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await Promise.all(attempts);
  await amazon.idle();
  await eventually(() => isQuiet(daemon.runtime), Boolean, 'the streams drained', 60_000);

  let totalSold = 0;
  for (const [index, entry] of entries.entries()) {
    const units = sold.get(entry.sku) ?? 0;
    totalSold += units;
    // Ground truth: the channels together never accepted more than the warehouse had.
    assert.ok(units <= STOCK[index]!, `${entry.sku}: the channels sold ${units} of ${STOCK[index]}`);
    const inventory = (await daemon.runtime.ledger.inventory(entry.sku))!;
    assert.is(inventory.oversold, 0, `${entry.sku}: nothing recorded oversold`);
    assert.is(inventory.reserved, units, `${entry.sku}: every sale reached the ledger`);
  }
  assert.ok(totalSold > 0, 'the sale sold something');

  // The end: every channel shows no more than the ledger can still sell, and together no more.
  for (const entry of entries) {
    await eventually(
      async () => {
        const inventory = (await daemon.runtime.ledger.inventory(entry.sku))!;
        const { shopify: onShopify, amazon: onAmazon } = shown(entry);
        return { available: inventory.onHand - inventory.reserved, onShopify, onAmazon };
      },
      ({ available, onShopify, onAmazon }) => onShopify + onAmazon <= available && (available > 0 || onShopify + onAmazon === 0),
      `${entry.sku}: the channels agree with the ledger`,
      30_000,
    );
  }
});

test.run();
