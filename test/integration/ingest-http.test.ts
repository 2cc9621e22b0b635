// The HTTP edge against a real Redis: signatures, limits, dedupe, and a 2xx only once
// the event is in its stream; the reservation API with TTL holds.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { RedisEventSink } from '../../src/ingest/redisSink.ts';
import { reservationRoutes } from '../../src/ingest/http/reservations.ts';
import { createHttpServer, listen, type RunningHttpServer } from '../../src/ingest/http/server.ts';
import { signShopify, signWms } from '../../src/ingest/http/signatures.ts';
import { shopifyWebhookRoute, wmsWebhookRoute } from '../../src/ingest/http/webhooks.ts';
import { CheckoutHolds } from '../../src/ledger/holds.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const APP_SECRET = 'shpss_test_secret';
const WMS_SECRET = 'wms-shared-secret';
const API_TOKEN = 'api-token-123';
const test = suite('ingest over HTTP');
let redisHandle: TestRedis;
let redis: Redis;
let http: RunningHttpServer;
let ledger: Ledger;
let sink: RedisEventSink;
let holds: CheckoutHolds;
let nowMs = Date.parse('2026-11-27T12:00:00Z');
const clock = () => nowMs;
/** What the Shopify route reported as delivery lags: [seconds, topic]. */
const deliveryLags: Array<[number, string]> = [];

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  ledger = new Ledger({ redis, keyPrefix: redisHandle.prefix, clock });
  sink = new RedisEventSink({ redis, keys: ledger.keys, partitions: 4, dedupeWindowSeconds: 3600 });
  holds = new CheckoutHolds(redis, ledger, clock);
  const logger = pino({ level: 'silent' });
  const server = createHttpServer({
    bodyLimitBytes: 64 * 1024,
    logger,
    routes: [
      shopifyWebhookRoute({ sink, appSecrets: [APP_SECRET], maxAgeSeconds: 3600, clock, logger, deliveryLag: (seconds, topic) => deliveryLags.push([seconds, topic]) }),
      wmsWebhookRoute({ sink, secret: WMS_SECRET, maxAgeSeconds: 300, clock, logger }),
      ...reservationRoutes({ holds, apiToken: API_TOKEN }),
    ],
  });
  http = await listen(server, 0, '127.0.0.1');
});
test.after(async () => {
  await http.close();
  await redisHandle.close();
});

async function streamEntries(): Promise<unknown[]> {
  const events: unknown[] = [];
  for (const kind of ['sales', 'wms', 'notifications'] as const) {
    for (const stream of ledger.keys.eventStreams(kind, 4)) {
      for (const [, fields] of await redis.xrange(stream, '-', '+')) events.push(JSON.parse(fields[1]!));
    }
  }
  return events;
}

function shopify(topic: string, body: string, options: { eventId?: string; secret?: string; triggeredAt?: string | null } = {}) {
  return fetch(`${http.url}/webhooks/shopify`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': topic,
      'x-shopify-hmac-sha256': signShopify(body, options.secret ?? APP_SECRET),
      'x-shopify-event-id': options.eventId ?? 'evt-1',
      ...(options.triggeredAt === null ? {} : { 'x-shopify-triggered-at': options.triggeredAt ?? new Date(nowMs).toISOString() }),
    },
    body,
  });
}

function wms(body: string, options: { timestamp?: number; secret?: string } = {}) {
  const timestamp = String(options.timestamp ?? Math.floor(nowMs / 1000));
  return fetch(`${http.url}/webhooks/wms`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, options.secret ?? WMS_SECRET) },
    body,
  });
}

const ORDER = '{"id":9007199254740993,"line_items":[{"id":18446744073709551615,"sku":"TEE","quantity":2}]}';

test('a signed orders/create is in its stream when the 200 arrives, with ids intact', async () => {
  const before = (await streamEntries()).length;
  const response = await shopify('orders/create', ORDER, { eventId: 'e-create' });
  assert.is(response.status, 200);
  assert.equal(await response.json(), { accepted: 1, duplicates: 0, skippedLines: 0 });
  const events = (await streamEntries()) as { type: string; orderId: string; lines: { lineId: string }[] }[];
  assert.is(events.length, before + 1);
  const placed = events.at(-1)!;
  assert.is(placed.type, 'order.placed');
  assert.is(placed.orderId, 'gid://shopify/Order/9007199254740993');
  assert.is(placed.lines[0]!.lineId, 'gid://shopify/LineItem/18446744073709551615');
});

test('a redelivery with the same event id is acknowledged and appended once', async () => {
  const before = (await streamEntries()).length;
  const first = await shopify('orders/create', ORDER, { eventId: 'e-dup' });
  const second = await shopify('orders/create', ORDER, { eventId: 'e-dup' });
  assert.equal([first.status, second.status], [200, 200]);
  assert.equal(await second.json(), { accepted: 0, duplicates: 1, skippedLines: 0 });
  assert.is((await streamEntries()).length, before + 1);
});

test('delivery lag: X-Shopify-Triggered-At (else the payload time) to receipt, for deliveries that bring a new event only', async () => {
  deliveryLags.length = 0;
  const ninetySecondsAgo = new Date(nowMs - 90_000).toISOString();
  assert.is((await shopify('orders/create', ORDER.replace('9007199254740993', '71'), { eventId: 'e-lag-1', triggeredAt: ninetySecondsAgo })).status, 200);
  assert.equal(deliveryLags, [[90, 'orders/create']]);
  // Shopify's retry of the same event keeps the original trigger time; as a duplicate it is not counted again.
  assert.is((await shopify('orders/create', ORDER.replace('9007199254740993', '71'), { eventId: 'e-lag-1', triggeredAt: ninetySecondsAgo })).status, 200);
  assert.is(deliveryLags.length, 1);
  // No header: the order's own time.
  const withTimes = `{"id":72,"created_at":"${new Date(nowMs - 30_000).toISOString()}","line_items":[{"id":1,"sku":"TEE","quantity":1}]}`;
  assert.is((await shopify('orders/create', withTimes, { eventId: 'e-lag-2', triggeredAt: null })).status, 200);
  assert.equal(deliveryLags[1], [30, 'orders/create']);
  // A trigger time ahead of our clock (skew) counts as 0; an unknown topic counts nothing.
  assert.is((await shopify('orders/create', ORDER.replace('9007199254740993', '73'), { eventId: 'e-lag-3', triggeredAt: new Date(nowMs + 5_000).toISOString() })).status, 200);
  assert.equal(deliveryLags[2], [0, 'orders/create']);
  assert.is((await shopify('products/update', '{}', { eventId: 'e-lag-4' })).status, 200);
  assert.is(deliveryLags.length, 3);
});

test('a wrong HMAC is 401 and appends nothing; a stale delivery is refused', async () => {
  const before = (await streamEntries()).length;
  const forged = await shopify('orders/create', ORDER, { secret: 'not-the-secret', eventId: 'e-forged' });
  assert.is(forged.status, 401);
  assert.is(((await forged.json()) as { error: { code: string } }).error.code, 'STOCKGUARD_E_UNAUTHORIZED');
  const stale = await shopify('orders/create', ORDER, { eventId: 'e-stale', triggeredAt: new Date(nowMs - 2 * 3600_000).toISOString() });
  assert.is(stale.status, 401);
  assert.is(((await stale.json()) as { error: { code: string } }).error.code, 'STOCKGUARD_E_STALE_REQUEST');
  assert.is((await streamEntries()).length, before);
});

test('unknown topics are acknowledged, bad JSON is a 400 with the reason, big bodies are 413', async () => {
  const unknown = await shopify('products/update', '{"id":1}', { eventId: 'e-product' });
  assert.is(unknown.status, 200);
  assert.match(JSON.stringify(await unknown.json()), /not one stockguard subscribes to/);
  const broken = await shopify('orders/create', '{"id":', { eventId: 'e-broken' });
  assert.is(broken.status, 400);
  assert.is(((await broken.json()) as { error: { code: string } }).error.code, 'STOCKGUARD_E_BAD_JSON');
  const huge = await shopify('orders/create', JSON.stringify({ id: 1, note: 'x'.repeat(70 * 1024), line_items: [] }), { eventId: 'e-huge' });
  assert.is(huge.status, 413);
});

test('WMS batches: signed and fresh → 202; bad signature, stale timestamp, malformed event → refused, nothing appended', async () => {
  const body = JSON.stringify({ events: [{ id: 'w-1', type: 'receipt', sku: 'TEE', quantity: 10 }, { id: 'w-2', type: 'count', sku: 'TEE', counted: 8 }] });
  const before = (await streamEntries()).length;
  const accepted = await wms(body);
  assert.is(accepted.status, 202);
  assert.equal(await accepted.json(), { accepted: 2, duplicates: 0 });
  assert.is((await streamEntries()).length, before + 2);
  assert.is((await wms(body, { secret: 'wrong' })).status, 401);
  assert.is((await wms(body, { timestamp: Math.floor(nowMs / 1000) - 3600 })).status, 401);
  const malformed = await wms(JSON.stringify({ events: [{ id: 'w-3', type: 'receipt', sku: 'TEE', quantity: 0 }] }));
  assert.is(malformed.status, 400);
  assert.match(JSON.stringify(await malformed.json()), /events\.0\.quantity/);
  assert.is((await streamEntries()).length, before + 2);
});

function reserve(body: unknown, token = API_TOKEN) {
  return fetch(`${http.url}/v1/reservations`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

test('checkout holds: 201 holds stock; a short order is 409 and holds nothing; a wrong token is 401', async () => {
  await ledger.createSku('HOLD-A');
  await ledger.adjust('HOLD-A', { eventId: 'r-a', delta: 3, cause: 'receipt' });
  await ledger.createSku('HOLD-B');
  await ledger.adjust('HOLD-B', { eventId: 'r-b', delta: 1, cause: 'receipt' });
  assert.is((await reserve({ orderId: 'c1', lines: [{ lineId: '1', sku: 'HOLD-A', quantity: 1 }] }, 'wrong')).status, 401);
  const held = await reserve({ orderId: 'c1', ttlSeconds: 60, lines: [{ lineId: '1', sku: 'HOLD-A', quantity: 2 }] });
  assert.is(held.status, 201);
  assert.is((await ledger.inventory('HOLD-A'))?.reserved, 2);
  const short = await reserve({ orderId: 'c2', lines: [{ lineId: '1', sku: 'HOLD-A', quantity: 1 }, { lineId: '2', sku: 'HOLD-B', quantity: 2 }] });
  assert.is(short.status, 409);
  const shortBody = (await short.json()) as { lines: { sku: string; shortfall: number }[] };
  assert.equal(shortBody.lines.map((line) => [line.sku, line.shortfall]), [['HOLD-A', 0], ['HOLD-B', 1]]);
  assert.equal([(await ledger.inventory('HOLD-A'))?.reserved, (await ledger.inventory('HOLD-B'))?.reserved], [2, 0]);
  assert.equal([(await ledger.inventory('HOLD-A'))?.oversold, (await ledger.inventory('HOLD-B'))?.oversold], [0, 0]);
  const bad = await reserve({ orderId: 'c3', lines: [{ lineId: '1', sku: 'HOLD-A', quantity: -1 }] });
  assert.is(bad.status, 400);
});

test('checkout holds: a refused order id cannot come back as held; an open hold keeps its lines', async () => {
  await ledger.createSku('HOLD-D');
  await ledger.adjust('HOLD-D', { eventId: 'r-d', delta: 2, cause: 'receipt' });
  await ledger.createSku('HOLD-E');
  const refused = await reserve({ orderId: 'c-retry', lines: [{ lineId: '1', sku: 'HOLD-D', quantity: 1 }, { lineId: '2', sku: 'HOLD-E', quantity: 1 }] });
  assert.is(refused.status, 409);
  const retried = await reserve({ orderId: 'c-retry', lines: [{ lineId: '1', sku: 'HOLD-D', quantity: 1 }] });
  assert.is(retried.status, 409, 'the reused order id is refused rather than reported held');
  assert.is(((await retried.json()) as { error: { code: string } }).error.code, 'STOCKGUARD_E_CONFLICT');
  assert.is((await ledger.inventory('HOLD-D'))?.reserved, 0);

  const held = await reserve({ orderId: 'c-open', lines: [{ lineId: '1', sku: 'HOLD-D', quantity: 2 }] });
  assert.is(held.status, 201);
  assert.is((await reserve({ orderId: 'c-open', lines: [{ lineId: '1', sku: 'HOLD-D', quantity: 2 }] })).status, 201, 'an identical retry is idempotent');
  const other = await reserve({ orderId: 'c-open', lines: [{ lineId: '9', sku: 'HOLD-D', quantity: 1 }] });
  assert.is(other.status, 409);
  const cancelled = await fetch(`${http.url}/v1/reservations/c-open`, { method: 'DELETE', headers: { authorization: `Bearer ${API_TOKEN}` } });
  assert.is(cancelled.status, 200);
  assert.is((await ledger.inventory('HOLD-D'))?.reserved, 0, 'the first lines were released, not leaked');
});

test('checkout holds: an expired hold is reaped and cannot be confirmed; a confirmed one survives the reaper', async () => {
  await ledger.createSku('HOLD-C');
  await ledger.adjust('HOLD-C', { eventId: 'r-c', delta: 5, cause: 'receipt' });
  assert.is((await reserve({ orderId: 'c-exp', ttlSeconds: 30, lines: [{ lineId: '1', sku: 'HOLD-C', quantity: 2 }] })).status, 201);
  assert.is((await reserve({ orderId: 'c-ok', ttlSeconds: 30, lines: [{ lineId: '1', sku: 'HOLD-C', quantity: 1 }] })).status, 201);
  const confirm = (orderId: string) => fetch(`${http.url}/v1/reservations/${orderId}/confirm`, { method: 'POST', headers: { authorization: `Bearer ${API_TOKEN}` } });
  assert.is((await confirm('c-ok')).status, 200);
  nowMs += 31_000;
  assert.ok((await holds.reapExpired()) >= 1);
  assert.is((await ledger.inventory('HOLD-C'))?.reserved, 1);
  assert.is((await confirm('c-exp')).status, 410);
  assert.is((await reserve({ orderId: 'c-del', lines: [{ lineId: '1', sku: 'HOLD-C', quantity: 4 }] })).status, 201);
  const cancelled = await fetch(`${http.url}/v1/reservations/c-del`, { method: 'DELETE', headers: { authorization: `Bearer ${API_TOKEN}` } });
  assert.is(cancelled.status, 200);
  assert.is((await ledger.inventory('HOLD-C'))?.reserved, 1);
});

test.run();
