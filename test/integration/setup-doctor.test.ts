// `stockguard setup shopify|amazon` and `stockguard doctor` as a user runs them (the CLI's
// run(), configured by environment variables) against the Shopify, Amazon and WMS fakes and
// a private redis-server with AOF on. The fakes check every request against the vendored
// Admin GraphQL schema and notifications.json. Setup run twice: the second run changes
// nothing and says so. Doctor on a healthy install: no problem, exit 0. Then each
// misconfiguration is injected alone, and doctor must fail naming exactly that one.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { NotificationsClient } from '../../src/setup/amazon.ts';
import { type AmazonFake, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { RedisServer } from '../../src/sim/redisServer.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';
import { LWA, SELLER_ID, US } from '../helpers/pushers.ts';

const test = suite('setup and doctor');
const SHOPIFY_TOKEN = 'shpat_setup';
const LOCATION = 'gid://shopify/Location/71239581901';
const PUBLIC_URL = 'https://stockguard.example.com';
const ADDRESS = `${PUBLIC_URL}/webhooks/shopify`;
const OLD_ADDRESS = 'https://old-stockguard.example.com/webhooks/shopify';
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:123456789012:stockguard-notifications';
const WMS_TOKEN = 'wms-setup-token-0123456789';
const PREFIX = 'sgsetup';

let redisServer: RedisServer;
let shopify: ShopifyFake;
let amazon: AmazonFake;
let wms: WmsFake;
let directory: string;
const variants = new Map<string, { itemId: string; variantId: string }>();

function env(): Record<string, string> {
  return {
    REDIS_URL: redisServer.url,
    STOCKGUARD_KEY_PREFIX: PREFIX,
    STOCKGUARD_PUBLIC_URL: PUBLIC_URL,
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
    AMAZON_SQS_QUEUE_ARN: QUEUE_ARN,
    STOCKGUARD_WMS_URL: wms.url,
    STOCKGUARD_WMS_TOKEN: WMS_TOKEN,
  };
}

/** The CLI in this process, with `variables` as its environment. */
async function stockguard(args: string[], variables: Record<string, string> = env()): Promise<{ code: number; output: string }> {
  const saved = { ...process.env };
  const lines: string[] = [];
  for (const [name, value] of Object.entries(variables)) process.env[name] = value;
  try {
    const code = await run(args, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  } finally {
    for (const name of Object.keys(variables)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

const failLines = (output: string) => output.split('\n').filter((line) => line.startsWith('FAIL'));

test.before(async () => {
  redisServer = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  directory = mkdtempSync(join(tmpdir(), 'sg-setup-'));
  shopify = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: 'setup-secret', shopDomain: 'setup-test.myshopify.com', inventoryLevelWebhooks: false });
  shopify.addLocation({ id: LOCATION, name: 'Warehouse' });
  for (const [index, sku] of ['SG-1', 'SG-2', 'SG-3'].entries()) {
    const itemId = `gid://shopify/InventoryItem/${9_007_199_254_740_993n + BigInt(index)}`;
    variants.set(sku, { itemId, variantId: shopify.addItem({ id: itemId, sku }).variantId });
  }
  // A gift card: untracked, so nothing to map and nothing for doctor to report.
  shopify.addItem({ id: 'gid://shopify/InventoryItem/9007199254741100', sku: 'GIFT', tracked: false });
  amazon = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false });
  amazon.addListing({ sku: 'SG-1', marketplaceId: US, productType: 'SHIRT', fulfillment: 'MFN', quantity: 3 });
  amazon.addListing({ sku: 'SG-2', marketplaceId: US, productType: 'SHIRT', fulfillment: 'MFN', quantity: 3 });
  amazon.addListing({ sku: 'SG-3', marketplaceId: US, productType: 'SHIRT', fulfillment: 'FBA', quantity: 3 });
  wms = await WmsFake.start({ token: WMS_TOKEN });
  wms.seed([['SG-1', 5], ['SG-2', 5], ['SG-3', 5]]);

  const rows = ['SG-1', 'SG-2', 'SG-3'].map((sku) => ({
    sku,
    shopifyInventoryItemId: variants.get(sku)!.itemId,
    shopifyLocationId: LOCATION,
    shopifyVariantId: variants.get(sku)!.variantId,
    amazonSellerSku: sku,
    amazonMarketplaceId: US,
    amazonProductType: 'SHIRT',
    amazonFulfillment: sku === 'SG-3' ? 'FBA' : 'MFN',
  }));
  const file = join(directory, 'catalog.json');
  writeFileSync(file, JSON.stringify(rows));
  const imported = await stockguard(['catalog', 'import', file]);
  assert.is(imported.code, 0, imported.output);
});

test.after(async () => {
  await Promise.allSettled([shopify?.close(), amazon?.close(), wms?.close()]);
  await redisServer?.stop();
  rmSync(directory, { recursive: true, force: true });
});

test('doctor before setup: every missing subscription and the destination are named', async () => {
  const doctor = await stockguard(['doctor']);
  assert.is(doctor.code, 1, doctor.output);
  const fails = failLines(doctor.output);
  for (const topic of ['ORDERS_CREATE', 'ORDERS_UPDATED', 'ORDERS_CANCELLED', 'INVENTORY_LEVELS_UPDATE']) {
    assert.ok(fails.some((line) => line.includes(`shopify-subscription: no ${topic} subscription at ${ADDRESS}`)), `${topic} named:\n${doctor.output}`);
  }
  assert.ok(fails.some((line) => line.includes(`amazon-destination: no Notifications API destination delivers to ${QUEUE_ARN}`)), doctor.output);
  for (const type of ['ORDER_CHANGE', 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'FBA_INVENTORY_AVAILABILITY_CHANGES']) {
    assert.ok(fails.some((line) => line.includes(`amazon-subscription: no ${type} subscription`)), `${type} named:\n${doctor.output}`);
  }
  assert.is(fails.length, 8, doctor.output);
  assert.match(doctor.output, /\n {5}fix: stockguard setup shopify/);
});

test('setup shopify twice: the first creates the four subscriptions, the second changes nothing and says so', async () => {
  // An earlier install's subscription at another address: listed, not touched.
  const old = shopify.addWebhookSubscription('ORDERS_CREATE', OLD_ADDRESS);
  const first = await stockguard(['setup', 'shopify']);
  assert.is(first.code, 0, first.output);
  for (const topic of ['ORDERS_CREATE', 'ORDERS_UPDATED', 'ORDERS_CANCELLED', 'INVENTORY_LEVELS_UPDATE']) assert.match(first.output, new RegExp(`  ${topic}: created \\(gid://shopify/WebhookSubscription/\\d+\\)`));
  assert.match(first.output, new RegExp(`note: ORDERS_CREATE also goes to ${OLD_ADDRESS}`));
  assert.match(first.output, new RegExp(`location ${LOCATION} \\(Warehouse\\) is active and fulfils online orders`));
  const after = shopify.webhookSubscriptions();
  assert.equal(
    after.map((subscription) => [subscription.topic, subscription.uri, subscription.format]),
    [
      ['ORDERS_CREATE', OLD_ADDRESS, 'JSON'],
      ['ORDERS_CREATE', ADDRESS, 'JSON'],
      ['ORDERS_UPDATED', ADDRESS, 'JSON'],
      ['ORDERS_CANCELLED', ADDRESS, 'JSON'],
      ['INVENTORY_LEVELS_UPDATE', ADDRESS, 'JSON'],
    ],
  );
  assert.is(after[0]!.id, old.id);

  const before = shopify.requests().length;
  const second = await stockguard(['setup', 'shopify']);
  assert.is(second.code, 0, second.output);
  assert.match(second.output, new RegExp(`shopify: nothing to change — every subscription was already at ${ADDRESS}`));
  assert.not.match(second.output, /created/);
  assert.equal(shopify.webhookSubscriptions(), after);
  const requests = shopify.requests().slice(before);
  assert.ok(requests.length > 0);
  assert.equal(requests.filter((request) => request.operation === 'mutation'), [], 'the second run sent no mutation');
  assert.equal(requests.filter((request) => request.status !== 200), []);
});

test('setup amazon twice: destination and three subscriptions, then nothing; grantless token for destinations', async () => {
  const log = amazon.notificationsApi.requests();
  const start = log.length;
  const first = await stockguard(['setup', 'amazon']);
  assert.is(first.code, 0, first.output);
  assert.match(first.output, new RegExp(`destination: created \\([0-9a-f-]+, ${QUEUE_ARN}\\)`));
  const destinations = amazon.notificationsApi.destinations();
  assert.equal(destinations.map((destination) => [destination.name, destination.arn]), [['stockguard', QUEUE_ARN]]);
  const subscriptions = amazon.notificationsApi.subscriptions();
  assert.equal(
    subscriptions.map((subscription) => [subscription.notificationType, subscription.payloadVersion, subscription.destinationId]).sort(),
    ['FBA_INVENTORY_AVAILABILITY_CHANGES', 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'ORDER_CHANGE'].map((type) => [type, '1.0', destinations[0]!.destinationId]),
  );
  const firstRun = log.slice(start);
  // Destinations with the grantless token, subscriptions with the seller's; a 429 (the
  // operation's bucket still spent by the doctor run before) is only waited out.
  const answered = firstRun.filter((request) => request.status !== 429);
  assert.equal(
    answered.map((request) => [request.operation, request.status, request.token]),
    [
      ['getDestinations', 200, 'grantless'],
      ['createDestination', 200, 'grantless'],
      ...['ORDER_CHANGE', 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'FBA_INVENTORY_AVAILABILITY_CHANGES'].flatMap(() => [
        ['getSubscription', 404, 'seller'],
        ['createSubscription', 200, 'seller'],
      ]),
    ],
  );
  for (const request of firstRun) assert.is(request.token, request.operation.endsWith('Destination') || request.operation === 'getDestinations' ? 'grantless' : 'seller');

  const count = log.length;
  const second = await stockguard(['setup', 'amazon']);
  assert.is(second.code, 0, second.output);
  assert.match(second.output, new RegExp(`amazon: nothing to change — the destination and every subscription were already in place for ${QUEUE_ARN}`));
  assert.equal(amazon.notificationsApi.destinations(), destinations);
  assert.equal(amazon.notificationsApi.subscriptions(), subscriptions);
  const secondRun = log.slice(count);
  assert.equal([...new Set(secondRun.map((request) => request.operation))].sort(), ['getDestinations', 'getSubscription']);
  assert.equal(secondRun.filter((request) => request.status !== 200 && request.status !== 429), []);
  assert.equal(amazon.modelViolations(), []);
});

test('doctor on the set-up install: no problem, exit 0', async () => {
  const doctor = await stockguard(['doctor']);
  assert.is(doctor.code, 0, doctor.output);
  assert.equal(failLines(doctor.output), []);
  assert.match(doctor.output, /^ok {3}redis {3}redis-persistence: AOF on, appendfsync always$/m);
  assert.match(doctor.output, /^ok {3}wms {5}wms-endpoint: /m);
  assert.match(doctor.output, /doctor: no problems/);
});

/** One misconfiguration at a time: doctor exits 1 with exactly one FAIL line, matching `named`, and its fix. */
async function expectOnly(named: RegExp, fix: RegExp): Promise<void> {
  const doctor = await stockguard(['doctor']);
  assert.is(doctor.code, 1, doctor.output);
  const fails = failLines(doctor.output);
  assert.is(fails.length, 1, doctor.output);
  assert.match(fails[0]!, named);
  const lines = doctor.output.split('\n');
  assert.match(lines[lines.indexOf(fails[0]!) + 1] ?? '', fix);
  assert.match(doctor.output, /doctor: 1 problem/);
}

test('doctor names each injected misconfiguration alone', async () => {
  // A Shopify subscription removed (Shopify drops one after repeated failed deliveries).
  const ordersUpdated = shopify.webhookSubscriptions().find((subscription) => subscription.topic === 'ORDERS_UPDATED' && subscription.uri === ADDRESS)!;
  shopify.removeWebhookSubscription(ordersUpdated.id);
  await expectOnly(new RegExp(`FAIL shopify {1}shopify-subscription: no ORDERS_UPDATED subscription at ${ADDRESS}`), /fix: stockguard setup shopify/);
  // Setup repairs it, creating only that one.
  const repaired = await stockguard(['setup', 'shopify']);
  assert.is(repaired.code, 0, repaired.output);
  assert.equal(repaired.output.match(/: created/g), [': created']);
  assert.match(repaired.output, /ORDERS_UPDATED: created/);

  // An Amazon subscription removed.
  assert.ok(amazon.notificationsApi.removeSubscription('ORDER_CHANGE'));
  await expectOnly(/FAIL amazon {2}amazon-subscription: no ORDER_CHANGE subscription/, /fix: stockguard setup amazon/);
  assert.is((await stockguard(['setup', 'amazon'])).code, 0);

  // The mapped location deactivated.
  shopify.updateLocation(LOCATION, { isActive: false });
  await expectOnly(new RegExp(`FAIL shopify {1}shopify-location: ${LOCATION} \\(Warehouse\\) is inactive: 3 SKUs mapped there are never pushed`), /fix: activate the location/);
  // Setup checks it as the pusher does: exit 1 with the fix, subscriptions untouched.
  const subscriptionsNow = shopify.webhookSubscriptions();
  const inactive = await stockguard(['setup', 'shopify']);
  assert.is(inactive.code, 1, inactive.output);
  assert.match(inactive.output, new RegExp(`location ${LOCATION} \\(Warehouse\\) is inactive\n {4}fix: activate the location`));
  assert.equal(shopify.webhookSubscriptions(), subscriptionsNow);
  shopify.updateLocation(LOCATION, { isActive: true });

  // Redis without AOF.
  const admin = new Redis(redisServer.url);
  try {
    await admin.config('SET', 'appendonly', 'no');
    await expectOnly(/FAIL redis {3}redis-persistence: AOF persistence is off/, /fix: CONFIG SET appendonly yes/);
    await admin.config('SET', 'appendonly', 'yes');
  } finally {
    admin.disconnect();
  }

  // ORDER_CHANGE re-pointed at another destination (another queue of the same app).
  const client = new NotificationsClient(loadConfig(env()).amazon!, 10_000);
  const other = await client.call('createDestination', () => client.grantless.createDestination({ body: { name: 'elsewhere', resourceSpecification: { sqs: { arn: 'arn:aws:sqs:us-east-1:123456789012:elsewhere' } } } }));
  const orderChange = amazon.notificationsApi.subscriptions().find((subscription) => subscription.notificationType === 'ORDER_CHANGE')!;
  await client.call('deleteSubscriptionById', () => client.grantless.deleteSubscriptionById({ notificationType: 'ORDER_CHANGE', subscriptionId: orderChange.subscriptionId }));
  await client.call('createSubscription', () => client.seller.createSubscription({ notificationType: 'ORDER_CHANGE', body: { payloadVersion: '1.0', destinationId: other!.payload!.destinationId } }));
  await expectOnly(new RegExp(`FAIL amazon {2}amazon-subscription: ORDER_CHANGE delivers to destination ${other!.payload!.destinationId}, not to ${QUEUE_ARN}`), /fix: stockguard setup amazon/);
  const moved = await stockguard(['setup', 'amazon']);
  assert.is(moved.code, 0, moved.output);
  assert.match(moved.output, new RegExp(`ORDER_CHANGE: moved from destination ${other!.payload!.destinationId}`));
  assert.is(amazon.notificationsApi.subscriptions().find((subscription) => subscription.notificationType === 'ORDER_CHANGE')?.destinationId, orderChange.destinationId);

  // A SKU the catalogue calls MFN whose listing Amazon fulfils (FBA only).
  const mismatch = join(directory, 'mismatch.json');
  writeFileSync(mismatch, JSON.stringify([{ sku: 'SG-4', amazonSellerSku: 'SG-4', amazonMarketplaceId: US, amazonProductType: 'SHIRT', amazonFulfillment: 'MFN' }]));
  amazon.addListing({ sku: 'SG-4', marketplaceId: US, productType: 'SHIRT', fulfillment: 'FBA', quantity: 2 });
  assert.is((await stockguard(['catalog', 'import', mismatch])).code, 0);
  await expectOnly(/FAIL catalog {1}amazon-fulfilment: SG-4 \(SG-4\) is MFN in the catalogue but Amazon shows an FBA offer only/, /fix: set amazonFulfillment FBA/);
  writeFileSync(mismatch, JSON.stringify([{ sku: 'SG-4', amazonSellerSku: 'SG-4', amazonMarketplaceId: US, amazonFulfillment: 'FBA' }]));
  assert.is((await stockguard(['catalog', 'import', mismatch])).code, 0);

  // An MFN listing nobody mapped.
  amazon.addListing({ sku: 'SG-NEW', marketplaceId: US, productType: 'SHIRT', fulfillment: 'MFN', quantity: 2 });
  await expectOnly(/FAIL catalog {1}amazon-unmapped-listing: 1 merchant-fulfilled Amazon listings map to no SKU.*: SG-NEW \(ATVPDKIKX0DER\)$/, /fix: stockguard catalog discover --amazon/);
  assert.equal(amazon.modelViolations(), []);
});

test.run();
