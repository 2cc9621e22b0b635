// `startDaemon` with the pushers role, configured through environment variables like a
// deployment, against the Shopify and Amazon fakes: a WMS count goes in over HTTP, through
// the stream and the consumers into the ledger, and out to both channels.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { signShopify, signWms } from '../../src/ingest/http/signatures.ts';
import { type AmazonFake, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { eventually, LWA, SELLER_ID, SHOPIFY_APP_SECRET, SHOPIFY_TOKEN, US } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const WMS_SECRET = 'wms_pushers_e2e_secret_0123';
const WAREHOUSE = 'gid://shopify/Location/501';
const ITEM = 'gid://shopify/InventoryItem/777001';
const test = suite('daemon with the pushers role');
let redisHandle: TestRedis;
let shopify: ShopifyFake;
let amazon: AmazonFake;
let daemon: Daemon;

test.before(async () => {
  redisHandle = await startTestRedis();
  shopify = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: SHOPIFY_APP_SECRET, shopDomain: 'e2e-shop.myshopify.com' });
  shopify.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
  shopify.stock(ITEM, WAREHOUSE, { available: 0 });
  amazon = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false });
  amazon.addListing({ sku: 'E2E-LAMP-AMZ', marketplaceId: US, productType: 'LAMP', fulfillment: 'MFN', quantity: 0 });
  const config = loadConfig({
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_ROLES: 'http,consumers,pushers',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_WMS_WEBHOOK_SECRET: WMS_SECRET,
    SHOPIFY_APP_SECRET: SHOPIFY_APP_SECRET,
    STOCKGUARD_CONSUMER_NAME: 'pushers-e2e',
    SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
    SHOPIFY_ACCESS_TOKEN: SHOPIFY_TOKEN,
    SHOPIFY_ADMIN_BASE_URL: shopify.url,
    AMAZON_SELLER_ID: SELLER_ID,
    AMAZON_MARKETPLACE_IDS: US,
    AMAZON_LWA_CLIENT_ID: LWA.clientId,
    AMAZON_LWA_CLIENT_SECRET: LWA.clientSecret,
    AMAZON_LWA_REFRESH_TOKEN: LWA.refreshToken,
    AMAZON_LWA_TOKEN_URL: amazon.lwaTokenUrl,
    AMAZON_SP_API_ENDPOINT: amazon.url,
    STOCKGUARD_PUSH_SWEEP_CRON: '0 0 1 1 *',
    STOCKGUARD_PUSH_POLL_MS: '10',
  });
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  await daemon.runtime.catalog.put({
    sku: 'E2E-LAMP',
    holdback: 0,
    skuClass: 'default',
    shopify: { inventoryItemId: ITEM, locationId: WAREHOUSE, variantId: 'gid://shopify/ProductVariant/880099' },
    amazon: { sellerSku: 'E2E-LAMP-AMZ', marketplaceId: US, productType: 'LAMP', fulfillment: 'MFN' },
    policies: { amazon: { percent: 50 } },
  });
  await daemon.runtime.ledger.createSku('E2E-LAMP');
});

test.after(async () => {
  await daemon.stop();
  await shopify.close();
  await amazon.close();
  await redisHandle.close();
});

test('a WMS count reaches Shopify and Amazon (each with its policy), and is in /metrics', async () => {
  assert.ok(daemon.pushers, 'the pushers run when a channel is configured');
  const body = JSON.stringify({ events: [{ id: 'count-1', type: 'count', sku: 'E2E-LAMP', counted: 12 }] });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const response = await fetch(`${daemon.http!.url}/webhooks/wms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, WMS_SECRET) },
    body,
  });
  assert.is(response.status, 202);
  await eventually(() => shopify.level(ITEM, WAREHOUSE)?.available, (available) => available === 12, 'Shopify at 12');
  await eventually(() => amazon.quantity('E2E-LAMP-AMZ'), (quantity) => quantity === 6, 'Amazon at 50 % of 12');
  const checks = await daemon.pushers.checkLocations();
  assert.equal(checks.map((check) => [check.locationId, check.writable]), [[WAREHOUSE, true]]);
  const metrics = await (await fetch(`${daemon.http!.url}/metrics`)).text();
  assert.match(metrics, /stockguard_pushes_total\{channel="shopify",outcome="acked"\} [1-9]/);
  assert.match(metrics, /stockguard_pushes_total\{channel="amazon",outcome="acked"\} [1-9]/);
  assert.match(metrics, /stockguard_sale_to_channel_seconds_count\{channel="amazon"\} [1-9]/);
});

test('a Shopify sale is pushed to Amazon, and its sale-to-ledger latency is published for the dynamic holdback', async () => {
  const body = JSON.stringify({ id: 880001, line_items: [{ id: 1, variant_id: 880099, sku: '', quantity: 4 }] });
  const response = await fetch(`${daemon.http!.url}/webhooks/shopify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-shopify-topic': 'orders/create', 'x-shopify-hmac-sha256': signShopify(body, SHOPIFY_APP_SECRET), 'x-shopify-event-id': 'sale-880001' },
    body,
  });
  assert.is(response.status, 200);
  // 12 − 4 = 8 available; Amazon shows 50 % of it minus whatever the dynamic holdback holds (at most 1 here).
  await eventually(() => amazon.quantity('E2E-LAMP-AMZ'), (quantity) => quantity !== undefined && quantity <= 4 && quantity >= 3, 'Amazon lowered after the Shopify sale');
  const store = daemon.pushers!.store;
  const report = await eventually(() => store.saleLatency(), (value) => value !== undefined, 'the consumers publishing their p99 (every 5 s)');
  assert.ok(report && report.samples >= 1 && report.p99Ms >= 0);
});

test.run();
