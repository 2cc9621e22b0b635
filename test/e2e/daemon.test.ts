// The whole ingest path as users run it: real HTTP requests and the real SQS client
// (against fauxqs) into `startDaemon`, Redis Streams, consumer groups and the ledger.
// The catalogue is shaped like a real one: no channel identifier equals its ledger SKU
// (Shopify lines name a variant and often a blank SKU; Amazon names its seller SKU).
import { CreateQueueCommand, SQSClient, SendMessageCommand } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { type Config, loadConfig } from '../../src/config.ts';
import { listDeadLetters, replayDeadLetters } from '../../src/consumers/deadLetters.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { signShopify, signWms } from '../../src/ingest/http/signatures.ts';
import { reservationId } from '../../src/ledger/reservationId.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const TEE_VARIANT = 'gid://shopify/ProductVariant/900001';
const APP_SECRET = 'shpss_e2e_secret_0123456789';
const WMS_SECRET = 'wms_e2e_secret_0123456789';
const API_TOKEN = 'api_e2e_token_0123456789';
const test = suite('daemon end to end');
let redisHandle: TestRedis;
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let queueUrl: string;
let sqs: SQSClient;
let daemon: Daemon;
let config: Config;

test.before(async () => {
  redisHandle = await startTestRedis();
  fauxqs = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'sp-api-notifications' }))).QueueUrl!;
  config = loadConfig({
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    SHOPIFY_APP_SECRET: APP_SECRET,
    STOCKGUARD_WMS_WEBHOOK_SECRET: WMS_SECRET,
    STOCKGUARD_API_TOKEN: API_TOKEN,
    STOCKGUARD_CONSUMER_NAME: 'e2e-1',
    STOCKGUARD_HOLD_REAP_INTERVAL_MS: '100',
    AMAZON_SQS_QUEUE_URL: queueUrl,
    AMAZON_SQS_ENDPOINT: endpoint,
    STOCKGUARD_SQS_WAIT_SECONDS: '1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
  });
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  const location = 'gid://shopify/Location/71239581843';
  const channels: Record<string, Pick<CatalogEntry, 'shopify' | 'amazon'>> = {
    // Shopify order lines of this SKU name variant 900001 and a blank SKU text.
    'E2E-TEE': { shopify: { inventoryItemId: 'gid://shopify/InventoryItem/800001', locationId: location, variantId: TEE_VARIANT } },
    // This shop's SKU text differs from the ledger SKU; the catalogue allows matching by it.
    'E2E-MUG': { shopify: { inventoryItemId: 'gid://shopify/InventoryItem/800002', locationId: location, sku: 'MUG-SHOP-TEXT' } },
    'E2E-AMZ': { amazon: { sellerSku: 'AMZ-SELLER-1', marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' } },
    'E2E-HOLD': {},
    'E2E-LATE': {},
  };
  for (const [sku, onHand] of [['E2E-TEE', 10], ['E2E-MUG', 10], ['E2E-AMZ', 5], ['E2E-HOLD', 4], ['E2E-LATE', 3]] as const) {
    await daemon.runtime.catalog.put({ sku, holdback: 0, skuClass: 'default', policies: {}, ...channels[sku] });
    await daemon.runtime.ledger.createSku(sku);
    await daemon.runtime.ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
  }
});

test.after(async () => {
  await daemon.stop();
  sqs.destroy();
  await fauxqs.stop();
  await redisHandle.close();
});

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!accept(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

function shopify(topic: string, payload: unknown, eventId: string, secret = APP_SECRET) {
  const body = JSON.stringify(payload);
  return fetch(`${daemon.http!.url}/webhooks/shopify`, {
    method: 'POST',
    headers: { 'x-shopify-topic': topic, 'x-shopify-hmac-sha256': signShopify(body, secret), 'x-shopify-event-id': eventId, 'content-type': 'application/json' },
    body,
  });
}

function wms(events: unknown[]) {
  const body = JSON.stringify({ events });
  const timestamp = String(Math.floor(Date.now() / 1000));
  return fetch(`${daemon.http!.url}/webhooks/wms`, {
    method: 'POST',
    headers: { 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, WMS_SECRET), 'content-type': 'application/json' },
    body,
  });
}

const inventory = (sku: string) => daemon.runtime.ledger.inventory(sku).then((value) => value!);

test('a forged HMAC is 401 and nothing is written', async () => {
  const before = await inventory('E2E-TEE');
  const response = await shopify('orders/create', { id: 1, line_items: [{ id: 1, variant_id: 900001, sku: '', quantity: 1 }] }, 'forged-1', 'wrong-secret');
  assert.is(response.status, 401);
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await inventory('E2E-TEE'), before);
});

test('the same delivery three times is applied once', async () => {
  const order = { id: 5001, line_items: [{ id: 77, variant_id: 900001, sku: '', quantity: 2 }] };
  const statuses = [];
  for (let i = 0; i < 3; i += 1) statuses.push((await shopify('orders/create', order, 'dup-event-1')).status);
  assert.equal(statuses, [200, 200, 200]);
  const after = await eventually(() => inventory('E2E-TEE'), (value) => value.reserved === 2, 'the reservation');
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await inventory('E2E-TEE'), after);
  const records = await daemon.runtime.ledger.reservations('E2E-TEE');
  assert.is(records.length, 1);
  assert.is(records[0]!.reservationId, reservationId('shopify', 'gid://shopify/Order/5001', 'gid://shopify/LineItem/77'));
});

test("an order's events reordered through the whole path end in the same ledger", async () => {
  // In order: reserve 2, ship 1, ship 1. Reversed: ship 1, ship 1, then the reserve.
  const shipments = (orderId: number, prefix: string) => [
    { id: `${prefix}-s1`, type: 'shipment', sku: 'E2E-MUG', quantity: 1, order: { channel: 'shopify', orderId: `gid://shopify/Order/${orderId}`, lineId: 'gid://shopify/LineItem/1' } },
    { id: `${prefix}-s2`, type: 'shipment', sku: 'E2E-MUG', quantity: 1, order: { channel: 'shopify', orderId: `gid://shopify/Order/${orderId}`, lineId: 'gid://shopify/LineItem/1' } },
  ];
  const start = await inventory('E2E-MUG');
  assert.is((await shopify('orders/create', { id: 6001, line_items: [{ id: 1, sku: 'MUG-SHOP-TEXT', quantity: 2 }] }, 'in-order')).status, 200);
  await eventually(() => inventory('E2E-MUG'), (value) => value.reserved === start.reserved + 2, 'the in-order reserve');
  assert.is((await wms(shipments(6001, 'a'))).status, 202);
  const inOrder = await eventually(() => inventory('E2E-MUG'), (value) => value.onHand === start.onHand - 2, 'the in-order shipments');
  assert.is(inOrder.reserved, start.reserved);

  assert.is((await wms(shipments(6002, 'b'))).status, 202);
  await eventually(() => inventory('E2E-MUG'), (value) => value.onHand === start.onHand - 4, 'the early shipments');
  assert.is((await shopify('orders/create', { id: 6002, line_items: [{ id: 1, sku: 'MUG-SHOP-TEXT', quantity: 2 }] }, 'late-reserve')).status, 200);
  const reversed = await eventually(
    () => daemon.runtime.ledger.reservations('E2E-MUG'),
    (records) => records.some((record) => record.reservationId.includes('6002') && record.reserveSeen),
    'the late reserve',
  );
  const first = reversed.find((record) => record.reservationId.includes('6001'))!;
  const second = reversed.find((record) => record.reservationId.includes('6002'))!;
  assert.equal({ ...second, reservationId: '' }, { ...first, reservationId: '' });
  assert.is((await inventory('E2E-MUG')).reserved, start.reserved);
});

test('a line no catalogue entry maps is dead-lettered with the identifier and the fix; the catalogue fix and a replay reserve it', async () => {
  // Line 1 maps (variant 900001, blank SKU); line 2 names variant 900099 and SKU text the catalogue does not know.
  const order = { id: 7001, line_items: [{ id: 1, variant_id: 900001, sku: '', quantity: 1 }, { id: 2, variant_id: 900099, sku: 'NOT-IN-CATALOGUE', quantity: 2 }] };
  const tee = await inventory('E2E-TEE');
  assert.is((await shopify('orders/create', order, 'unknown-item')).status, 200);
  const letters = await eventually(
    () => listDeadLetters(daemon.runtime.redis, daemon.runtime.ledger.keys),
    (list) => list.some((letter) => letter.event.includes('NOT-IN-CATALOGUE')),
    'the dead letter',
  );
  const letter = letters.find((candidate) => candidate.event.includes('NOT-IN-CATALOGUE'))!;
  assert.is(letter.reason, 'STOCKGUARD_E_UNMAPPED_ITEM');
  assert.match(letter.message, 'line gid://shopify/LineItem/2 (Shopify variant "gid://shopify/ProductVariant/900099" or Shopify SKU text "NOT-IN-CATALOGUE")');
  assert.match(letter.message, /shopifyVariantId or shopifySku/);
  // The line that maps was reserved all the same: a sale is a fact.
  assert.is((await inventory('E2E-TEE')).reserved, tee.reserved + 1);

  // The merchant maps the variant, then replays: the missing line is reserved, the other is not reserved twice.
  await daemon.runtime.catalog.put({ sku: 'E2E-LATE', holdback: 0, skuClass: 'default', policies: {}, shopify: { inventoryItemId: 'gid://shopify/InventoryItem/800099', locationId: 'gid://shopify/Location/71239581843', variantId: 'gid://shopify/ProductVariant/900099' } });
  const replayed = await replayDeadLetters(daemon.runtime.redis, daemon.runtime.ledger.keys, { ids: [letter.dlqId] });
  assert.is(replayed.replayed.length, 1);
  await eventually(() => inventory('E2E-LATE'), (value) => value.reserved === 2, 'the replayed line');
  assert.is((await inventory('E2E-TEE')).reserved, tee.reserved + 1);
});

test('a gift card and a custom item are not warehouse stock; an untracked variant that maps to nothing is counted, not dead-lettered', async () => {
  const before = (await listDeadLetters(daemon.runtime.redis, daemon.runtime.ledger.keys)).length;
  const order = {
    id: 7101,
    line_items: [
      { id: 1, variant_id: 500, sku: 'GIFT', quantity: 1, gift_card: true },
      { id: 2, sku: '', quantity: 1 },
      { id: 3, variant_id: 501, sku: 'DIGITAL', quantity: 1, variant_inventory_management: null },
      { id: 4, variant_id: 900001, sku: null, quantity: 1 },
    ],
  };
  const tee = await inventory('E2E-TEE');
  assert.is((await shopify('orders/create', order, 'mixed-lines')).status, 200);
  await eventually(() => inventory('E2E-TEE'), (value) => value.reserved === tee.reserved + 1, 'the stocked line');
  await eventually(
    async () => (await (await fetch(`${daemon.http!.url}/metrics`)).text()).match(/stockguard_untracked_lines_total\{channel="shopify"\} (\d+)/)?.[1],
    (value) => value === '1',
    'the untracked line counted',
  );
  assert.is((await listDeadLetters(daemon.runtime.redis, daemon.runtime.ledger.keys)).length, before);
});

test('Amazon over SQS: an MFN order reserves, an AFN order does not touch the ledger', async () => {
  const order = (id: string, fulfillment: 'MFN' | 'AFN') => ({
    NotificationVersion: '1.0',
    NotificationType: 'ORDER_CHANGE',
    PayloadVersion: '1.0',
    EventTime: new Date().toISOString(),
    Payload: {
      OrderChangeNotification: {
        NotificationLevel: 'OrderLevel',
        SellerId: 'A3TH9S8BH6GOGM',
        AmazonOrderId: id,
        OrderChangeType: 'OrderStatusChange',
        OrderChangeTrigger: { TimeOfOrderChange: new Date().toISOString(), ChangeReason: 'Order Status Change' },
        Summary: {
          MarketplaceId: 'ATVPDKIKX0DER',
          OrderStatus: 'Unshipped',
          PurchaseDate: new Date().toISOString(),
          DestinationPostalCode: '48110',
          FulfillmentType: fulfillment,
          OrderType: 'StandardOrder',
          OrderItems: [{ OrderItemId: `${id}-1`, SellerSKU: 'AMZ-SELLER-1', SupplySourceId: 'd7679e14', Quantity: 2 }],
        },
      },
    },
    NotificationMetadata: { ApplicationId: 'amzn1.sellerapps.app.e2e', SubscriptionId: 'sub-1', PublishTime: new Date().toISOString(), NotificationId: `n-${id}` },
  });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(order('111-0000001-0000001', 'AFN')) }));
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(order('111-0000002-0000002', 'MFN')) }));
  const after = await eventually(() => inventory('E2E-AMZ'), (value) => value.reserved > 0, 'the MFN reservation');
  assert.is(after.reserved, 2);
  const records = await daemon.runtime.ledger.reservations('E2E-AMZ');
  assert.equal(records.map((record) => record.reservationId), ['amazon:111-0000002-0000002:111-0000002-0000002-1']);
});

test('a checkout hold that is never confirmed expires and its stock returns', async () => {
  const response = await fetch(`${daemon.http!.url}/v1/reservations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ orderId: 'checkout-1', ttlSeconds: 1, lines: [{ lineId: '1', sku: 'E2E-HOLD', quantity: 3 }] }),
  });
  assert.is(response.status, 201);
  assert.is((await inventory('E2E-HOLD')).reserved, 3);
  await eventually(() => inventory('E2E-HOLD'), (value) => value.reserved === 0, 'the hold to expire', 10_000);
});

test('/metrics exposes the ingest counters and /readyz reports ready', async () => {
  const metrics = await (await fetch(`${daemon.http!.url}/metrics`)).text();
  assert.match(metrics, /stockguard_webhook_requests_total\{source="shopify",outcome="unauthorized"\} 1/);
  assert.match(metrics, /stockguard_duplicate_deliveries_total\{source="shopify-webhook"\} 2/);
  assert.match(metrics, /stockguard_dead_letters_total\{reason="STOCKGUARD_E_UNMAPPED_ITEM"\} 1/);
  assert.match(metrics, /stockguard_event_to_ledger_seconds_count\{type="order.placed"\} \d+/);
  const ready = await fetch(`${daemon.http!.url}/readyz`);
  assert.is(ready.status, 200);
});

test.run();
