// Property-based fuzzing of the webhook edge through real HTTP into an in-process daemon
// (http role only, so nothing but the edge writes to Redis while a property runs):
// Shopify and WMS bodies and headers generated and mutated, and raw requests with bad
// paths, methods and lying Content-Length. Properties: the process never sees an
// unhandled rejection; every refusal is a 4xx with a JSON error.code and leaves every key
// byte-identical; every 2xx put exactly what it reports on a stream, and each stream
// entry is an event the consumers can parse.
import fc from 'fast-check';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { StockguardEvent } from '../../src/domain/events.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { signShopify, signWms } from '../../src/ingest/http/signatures.ts';
import { EVENT_KINDS } from '../../src/redis/keys.ts';
import { assertUnchanged, checkProperty, errorCodeOf, fingerprint, rawRequest, trapProcessErrors, type RawResponse } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import type { Redis } from 'ioredis';

const APP_SECRET = 'shpss_fuzz_secret_0123456789';
const WMS_SECRET = 'wms_fuzz_secret_0123456789';
const BODY_LIMIT = 16 * 1024;
const PARTITIONS = 2;
const NOW = Date.parse('2026-11-27T12:00:00Z');
const SHOPIFY_MAX_AGE_S = 6 * 3600;
const WMS_MAX_AGE_S = 300;

const test = suite('fuzz: webhooks over HTTP');
const trap = trapProcessErrors();
let redisHandle: TestRedis;
let redis: Redis;
let daemon: Daemon;
let port: number;
let prefix: string;

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  prefix = redisHandle.prefix;
  const config = loadConfig({
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: prefix,
    STOCKGUARD_ROLES: 'http',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
    STOCKGUARD_STREAM_PARTITIONS: String(PARTITIONS),
    SHOPIFY_APP_SECRET: APP_SECRET,
    STOCKGUARD_WMS_WEBHOOK_SECRET: WMS_SECRET,
  });
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }), clock: () => NOW });
  port = daemon.http!.port;
});

test.after(async () => {
  await daemon.stop();
  await redisHandle.close();
  trap.remove();
});

// ---------------------------------------------------------------------------------------
// Generators. JSON.stringify cannot write a number above 2^53 exactly (or -0, or 1e400),
// so such literals travel as a marker string replaced by the raw text after stringify.

const raw = (literal: string) => `@@RAW:${literal}@@`;
const toJson = (value: unknown) => JSON.stringify(value).replace(/"@@RAW:([^"@]*)@@"/g, '$1');

const bigInteger = fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }).map((value) => raw(String(value)));
const oddNumber = fc.constantFrom('-0', '1.0', '2.50', '1E2', '1e400', '-1e-7', '123456789012345678901234567890').map(raw);
const junk = fc.oneof(fc.string(), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));

const shopifyId = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), weight: 12 },
  { arbitrary: bigInteger, weight: 4 },
  { arbitrary: fc.stringMatching(/^[0-9]{1,25}$/), weight: 1 },
  { arbitrary: fc.integer({ min: -1000, max: 0 }), weight: 1 },
  { arbitrary: fc.oneof(fc.double(), oddNumber, junk), weight: 1 },
);
const sku = fc.oneof(
  { arbitrary: fc.constantFrom('TEE-BLK-M', 'MUG-WHT', 'ТЕЕ-ЧЁРН', '👕-XL', 'Å/ß:ü'), weight: 4 },
  { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }), weight: 1 },
  { arbitrary: fc.string({ minLength: 195, maxLength: 400 }), weight: 1 },
  { arbitrary: fc.constantFrom('', '   ', ' TEE', 'A{B}', 'a\u0000b', 'x'.repeat(5000)), weight: 1 },
  { arbitrary: fc.oneof(fc.integer(), junk), weight: 1 },
);
const quantity = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 20 }), weight: 16 },
  { arbitrary: fc.integer({ min: -20, max: -1 }), weight: 1 },
  { arbitrary: fc.constantFrom(1_000_000_000, 1_000_000_001, 2 ** 31, 2 ** 53, 1e21, 0.5), weight: 1 },
  { arbitrary: fc.oneof(bigInteger, oddNumber, fc.double()), weight: 1 },
  { arbitrary: fc.oneof(fc.constant('2'), junk), weight: 1 },
);
const extraFields = fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
const isoTime = fc.integer({ min: -2_000_000_000_000, max: 4_000_000_000_000 }).map((ms) => new Date(ms).toISOString());

const lineItem = fc.oneof(
  { arbitrary: fc.record({ id: shopifyId, sku, quantity, gift_card: fc.boolean(), title: fc.string({ maxLength: 20 }) }), weight: 12 },
  {
    arbitrary: fc.record(
      { id: shopifyId, admin_graphql_api_id: fc.oneof(fc.string(), shopifyId.map((id) => `gid://shopify/LineItem/${String(id)}`)), sku, quantity, gift_card: junk },
      { requiredKeys: [] },
    ),
    weight: 2,
  },
  { arbitrary: junk, weight: 1 },
);
const order = fc
  .tuple(
    fc.record(
      {
        id: shopifyId,
        admin_graphql_api_id: fc.oneof(fc.string(), shopifyId.map((id) => `gid://shopify/Order/${String(id)}`)),
        line_items: fc.oneof({ arbitrary: fc.array(lineItem, { maxLength: 5 }), weight: 6 }, { arbitrary: junk, weight: 1 }),
        cancelled_at: fc.oneof(isoTime, fc.constant(null), fc.constant('')),
      },
      { requiredKeys: ['id', 'line_items'] },
    ),
    extraFields,
  )
  .map(([fields, extra]) => ({ ...extra, ...fields }));
const inventoryLevel = fc.record(
  { inventory_item_id: shopifyId, location_id: shopifyId, available: fc.oneof(quantity, fc.integer({ min: -1000, max: 1000 })), updated_at: fc.oneof(isoTime, fc.string()) },
  { requiredKeys: ['inventory_item_id', 'location_id'] },
);
const shopifyBody = fc.oneof(
  { arbitrary: order.map(toJson), weight: 6 },
  { arbitrary: inventoryLevel.map(toJson), weight: 2 },
  { arbitrary: fc.json({ maxDepth: 3 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 60 }), weight: 1 },
  { arbitrary: fc.constantFrom('['.repeat(10_000), `{"id":1,"line_items":[],"note":"${'x'.repeat(BODY_LIMIT)}"}`, '\uFEFF{}', '{"id":1e999999}'), weight: 1 },
);

/** A change to the bytes after they were built: none, cut short, one byte changed, bytes inserted. */
type Mutation = { kind: 'none' } | { kind: 'truncate'; at: number } | { kind: 'flip'; at: number; xor: number } | { kind: 'insert'; at: number; bytes: Uint8Array };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.constant<Mutation>({ kind: 'none' }), weight: 5 },
  { arbitrary: fc.nat().map((at): Mutation => ({ kind: 'truncate', at })), weight: 1 },
  { arbitrary: fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }).map((fields): Mutation => ({ kind: 'flip', ...fields })), weight: 1 },
  { arbitrary: fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }).map((fields): Mutation => ({ kind: 'insert', ...fields })), weight: 1 },
);
function mutate(bytes: Buffer, change: Mutation): Buffer {
  if (bytes.length === 0 || change.kind === 'none') return bytes;
  const at = change.at % bytes.length;
  if (change.kind === 'truncate') return bytes.subarray(0, at);
  if (change.kind === 'insert') return Buffer.concat([bytes.subarray(0, at), change.bytes, bytes.subarray(at)]);
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ change.xor;
  return copy;
}

/** How the signature header is made: over the bytes sent, over the bytes before the mutation, or wrong. */
const signing = fc.constantFrom('sent', 'sent', 'sent', 'original', 'wrong-secret', 'missing', 'garbage');
const headerText = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+=@ '.split('')), maxLength: 40 });
const randomHeaders = fc.dictionary(fc.stringMatching(/^x-[a-z-]{1,20}$/), headerText.map((value) => value.trim()), { maxKeys: 3 });

// ---------------------------------------------------------------------------------------
// Observations

/** Every entry of every event stream, keyed by stream and id. */
async function streamEntries(): Promise<Map<string, string>> {
  const pipeline = redis.pipeline();
  const streams = EVENT_KINDS.flatMap((kind) => daemon.runtime.ledger.keys.eventStreams(kind, PARTITIONS));
  for (const stream of streams) pipeline.xrange(stream, '-', '+');
  const replies = (await pipeline.exec()) ?? [];
  const entries = new Map<string, string>();
  streams.forEach((stream, index) => {
    const [, reply] = replies[index] ?? [];
    for (const [id, fields] of reply as [string, string[]][]) entries.set(`${stream} ${id}`, fields[1]!);
  });
  return entries;
}

function newEntries(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...after].filter(([key]) => !before.has(key)).map(([, event]) => event);
}

function assertRefusal(response: RawResponse, context: string): string {
  assert.ok(response.status !== undefined && response.status >= 400 && response.status < 500, `${context}: expected a 4xx, got ${response.status} ${response.body}`);
  const code = errorCodeOf(response.body);
  assert.ok(code, `${context}: a refusal carries a JSON error.code, got ${response.body}`);
  return code;
}

function parseBodyJson(response: RawResponse): Record<string, unknown> {
  const parsed: unknown = JSON.parse(response.body);
  assert.ok(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed), `a JSON object body, got ${response.body}`);
  return parsed as Record<string, unknown>;
}

/** An event parsed back from its stream, checked against the schema the consumers apply. */
function assertConsumable(json: string): StockguardEvent {
  const parsed = StockguardEvent.safeParse(JSON.parse(json));
  assert.ok(parsed.success, `a stream entry the consumers cannot parse: ${json}\n${parsed.success ? '' : parsed.error.message}`);
  return parsed.data;
}

// ---------------------------------------------------------------------------------------

test('Shopify: any body, any header, any mutation: a 4xx with a code writes nothing; a 200 is on a stream, whole', async () => {
  let eventCounter = 0;
  await checkProperty(
    fc.asyncProperty(
      fc.record({
        topic: fc.oneof(
          { arbitrary: fc.constantFrom('orders/create', 'orders/updated', 'orders/cancelled', 'inventory_levels/update'), weight: 8 },
          { arbitrary: fc.oneof(fc.constant('inventory_items/update'), headerText), weight: 1 },
          { arbitrary: fc.constant(undefined), weight: 1 },
        ),
        body: shopifyBody,
        delivery: fc.oneof(
          // Half the runs are deliveries Shopify could have sent, so the bodies get past the HMAC.
          { arbitrary: fc.constant({ mutation: { kind: 'none' } as Mutation, signing: 'sent', triggeredAt: new Date(NOW - 60_000).toISOString(), eventId: 'fresh' }), weight: 1 },
          {
            arbitrary: fc.record({
              mutation,
              signing,
              triggeredAt: fc.oneof(
                { arbitrary: fc.integer({ min: -3600, max: SHOPIFY_MAX_AGE_S - 1 }).map((ageS) => new Date(NOW - ageS * 1000).toISOString()), weight: 4 },
                { arbitrary: fc.integer({ min: SHOPIFY_MAX_AGE_S + 1, max: 400 * 86_400 }).map((ageS) => new Date(NOW - ageS * 1000).toISOString()), weight: 1 },
                { arbitrary: fc.oneof(headerText, fc.constant(undefined)), weight: 1 },
              ),
              // A small pool of event ids repeats deliveries; undefined leaves the header out.
              eventId: fc.oneof({ arbitrary: fc.constant('fresh'), weight: 4 }, { arbitrary: fc.constantFrom('dup-1', 'dup-2'), weight: 2 }, { arbitrary: fc.constant(undefined), weight: 1 }),
            }),
            weight: 1,
          },
        ),
        extra: randomHeaders,
      }),
      async ({ delivery, ...input }) => {
        const original = Buffer.from(input.body, 'utf8');
        const sent = mutate(original, delivery.mutation);
        const signatures = {
          sent: signShopify(sent, APP_SECRET),
          original: signShopify(original, APP_SECRET),
          'wrong-secret': signShopify(sent, 'shpss_not_the_secret_000000'),
          missing: undefined,
          garbage: 'bm90IGEgc2lnbmF0dXJl',
        } as const;
        const hmac = signatures[delivery.signing as keyof typeof signatures];
        const eventId = delivery.eventId === 'fresh' ? `evt-${(eventCounter += 1)}` : delivery.eventId;
        const headers: Record<string, string> = { ...input.extra, 'content-type': 'application/json' };
        if (input.topic !== undefined) headers['x-shopify-topic'] = input.topic.trim();
        if (hmac !== undefined) headers['x-shopify-hmac-sha256'] = hmac;
        if (delivery.triggeredAt !== undefined) headers['x-shopify-triggered-at'] = delivery.triggeredAt.trim();
        if (eventId !== undefined) headers['x-shopify-event-id'] = eventId;

        const keysBefore = await fingerprint(redis, prefix);
        const entriesBefore = await streamEntries();
        const response = await rawRequest(port, { method: 'POST', target: '/webhooks/shopify', headers, body: sent });
        const keysAfter = await fingerprint(redis, prefix);
        const added = newEntries(entriesBefore, await streamEntries());
        trap.assertNone();

        // Expectations read the headers as sent: the random extra ones may name the same fields.
        const sentHmac = headers['x-shopify-hmac-sha256'];
        const sentEventId = headers['x-shopify-event-id'] ?? headers['x-shopify-webhook-id'];
        const validHmac = sentHmac !== undefined && sentHmac === signShopify(sent, APP_SECRET);
        const triggeredMs = Date.parse(headers['x-shopify-triggered-at'] ?? '');
        const stale = !Number.isNaN(triggeredMs) && NOW - triggeredMs > SHOPIFY_MAX_AGE_S * 1000;
        if (sent.length > BODY_LIMIT) {
          assert.is(response.status, 413);
        } else if (!validHmac) {
          assert.is(assertRefusal(response, 'unsigned'), 'STOCKGUARD_E_UNAUTHORIZED');
        } else if (stale) {
          assert.is(assertRefusal(response, 'stale'), 'STOCKGUARD_E_STALE_REQUEST');
        } else if (!sentEventId) {
          assert.is(assertRefusal(response, 'no event id'), 'STOCKGUARD_E_BAD_PAYLOAD');
        }
        if (response.status !== 200) {
          assertRefusal(response, 'not accepted');
          assertUnchanged(keysBefore, keysAfter, 'a refused delivery wrote to Redis');
          return;
        }
        const answer = parseBodyJson(response);
        const accepted = Number(answer.accepted ?? 0);
        assert.is(added.length, accepted, `answered ${response.body} but appended ${added.length}`);
        if (accepted === 0) assertUnchanged(keysBefore, keysAfter, 'nothing accepted, yet Redis changed');
        for (const json of added) {
          const event = assertConsumable(json);
          assert.ok(event.eventId.startsWith(`${headers['x-shopify-topic'] ?? ''}:${sentEventId}`), `event id ${event.eventId}`);
        }
      },
    ),
    { numRuns: 300 },
  );
});

// WMS events: well-formed ones of each type, and chaotic records.
const wmsId = fc.oneof(
  { arbitrary: fc.stringMatching(/^[a-z]{1,6}-[0-9]{1,6}$/), weight: 6 },
  { arbitrary: fc.oneof(fc.constant(''), fc.string({ minLength: 250, maxLength: 300 }), fc.string({ unit: 'grapheme', maxLength: 20 })), weight: 1 },
  { arbitrary: fc.oneof(fc.integer(), junk), weight: 1 },
);
const wmsNumber = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 50 }), weight: 6 },
  { arbitrary: fc.oneof(fc.integer({ min: -50, max: 0 }), fc.constantFrom(1_000_000_001, 2 ** 53, 1e21, 0.5, -0.5)), weight: 1 },
  { arbitrary: fc.oneof(bigInteger, oddNumber, junk), weight: 1 },
);
const orderRef = fc.record({ channel: fc.oneof(fc.constantFrom('shopify', 'amazon', 'api'), fc.string()), orderId: wmsId, lineId: wmsId }, { requiredKeys: ['channel', 'orderId', 'lineId'] });
const goodWmsEvent = fc.oneof(
  fc.record({ id: wmsId, type: fc.constant('shipment'), sku, quantity: wmsNumber, order: orderRef }),
  fc.record({ id: wmsId, type: fc.constant('receipt'), sku, quantity: wmsNumber, occurredAt: fc.oneof(isoTime, fc.string()) }, { requiredKeys: ['id', 'type', 'sku', 'quantity'] }),
  fc.record({ id: wmsId, type: fc.constant('adjustment'), sku, delta: fc.oneof(wmsNumber, wmsNumber.map((value) => (typeof value === 'number' ? -value : value))), reason: fc.string({ maxLength: 250 }) }, { requiredKeys: ['id', 'type', 'sku', 'delta'] }),
  fc.record({ id: wmsId, type: fc.constant('count'), sku, counted: fc.oneof(fc.constant(0), wmsNumber) }),
);
const chaoticWmsEvent = fc
  .tuple(fc.record({ id: wmsId, type: fc.oneof(fc.constantFrom('shipment', 'receipt', 'adjustment', 'count'), fc.string()), sku, quantity: wmsNumber, delta: wmsNumber, counted: wmsNumber, order: fc.oneof(orderRef, junk) }, { requiredKeys: [] }), extraFields)
  .map(([fields, extra]) => ({ ...extra, ...fields }));
const wmsEvent = fc.oneof({ arbitrary: goodWmsEvent, weight: 5 }, { arbitrary: chaoticWmsEvent, weight: 1 }, { arbitrary: junk, weight: 1 });
// A batch in which a later event reuses an earlier event's id with other content.
const repeatedIdBatch = fc
  .tuple(fc.array(goodWmsEvent, { minLength: 1, maxLength: 4 }), fc.nat(), fc.integer({ min: 1, max: 50 }))
  .map(([events, pick, quantity]) => {
    const reused = events[pick % events.length]!;
    return toJson({ events: [...events, { id: reused.id, type: 'receipt', sku: 'TEE-BLK-M', quantity }] });
  });
const wmsBody = fc.oneof(
  { arbitrary: fc.array(wmsEvent, { maxLength: 6 }).map((events) => toJson({ events })), weight: 8 },
  { arbitrary: repeatedIdBatch, weight: 1 },
  { arbitrary: fc.oneof(fc.json({ maxDepth: 3 }), fc.string({ maxLength: 40 }), fc.constant(`{"events":[${'{"id":"a","type":"receipt","sku":"S","quantity":1},'.repeat(501)}{}]}`)), weight: 1 },
);

test('WMS: any batch, any header, any mutation: refused whole with a code and nothing written, or every event on a stream', async () => {
  await checkProperty(
    fc.asyncProperty(
      fc.record({
        body: wmsBody,
        mutation,
        signing: fc.constantFrom('sent', 'sent', 'sent', 'upper-hex', 'original', 'wrong-secret', 'missing', 'no-prefix', 'garbage'),
        timestamp: fc.oneof(
          { arbitrary: fc.integer({ min: -WMS_MAX_AGE_S, max: WMS_MAX_AGE_S }).map((skew) => String(Math.floor(NOW / 1000) + skew)), weight: 6 },
          { arbitrary: fc.integer({ min: WMS_MAX_AGE_S + 1, max: 10_000_000 }).chain((skew) => fc.constantFrom(String(Math.floor(NOW / 1000) + skew), String(Math.floor(NOW / 1000) - skew))), weight: 1 },
          { arbitrary: fc.oneof(headerText, fc.constantFrom(`${Math.floor(NOW / 1000)}.5`, ' ', '1e9', 'NaN'), fc.constant(undefined)), weight: 1 },
        ),
        extra: randomHeaders,
      }),
      async (input) => {
        const original = Buffer.from(input.body, 'utf8');
        const sent = mutate(original, input.mutation);
        const timestamp = input.timestamp?.trim();
        const stamp = timestamp ?? '';
        const signatures = {
          sent: signWms(sent, stamp, WMS_SECRET),
          'upper-hex': `sha256=${signWms(sent, stamp, WMS_SECRET).slice('sha256='.length).toUpperCase()}`,
          original: signWms(original, stamp, WMS_SECRET),
          'wrong-secret': signWms(sent, stamp, 'wms_not_the_secret_00000000'),
          missing: undefined,
          'no-prefix': signWms(sent, stamp, WMS_SECRET).slice('sha256='.length),
          garbage: 'sha256=zz',
        } as const;
        const signature = signatures[input.signing as keyof typeof signatures];
        const headers: Record<string, string> = { ...input.extra, 'content-type': 'application/json' };
        if (timestamp !== undefined) headers['x-stockguard-timestamp'] = timestamp;
        if (signature !== undefined) headers['x-stockguard-signature'] = signature;

        const keysBefore = await fingerprint(redis, prefix);
        const entriesBefore = await streamEntries();
        const response = await rawRequest(port, { method: 'POST', target: '/webhooks/wms', headers, body: sent });
        const keysAfter = await fingerprint(redis, prefix);
        const added = newEntries(entriesBefore, await streamEntries());
        trap.assertNone();

        const sentTimestamp = headers['x-stockguard-timestamp'];
        const sentSignature = headers['x-stockguard-signature'];
        const validSignature =
          sentTimestamp !== undefined && sentTimestamp !== '' && sentSignature !== undefined && sentSignature.toLowerCase() === signWms(sent, sentTimestamp, WMS_SECRET);
        const fresh = Math.abs(NOW / 1000 - Number(sentTimestamp)) <= WMS_MAX_AGE_S;
        if (sent.length > BODY_LIMIT) assert.is(response.status, 413);
        else if (!validSignature) assert.is(assertRefusal(response, 'unsigned'), 'STOCKGUARD_E_UNAUTHORIZED');
        else if (!fresh) assert.is(assertRefusal(response, 'stale'), 'STOCKGUARD_E_STALE_REQUEST');

        if (response.status !== 202) {
          assertRefusal(response, 'not accepted');
          assertUnchanged(keysBefore, keysAfter, 'a refused batch wrote to Redis');
          return;
        }
        const answer = parseBodyJson(response);
        const batch = (JSON.parse(sent.toString('utf8')) as { events: { id: string }[] }).events;
        const ids = batch.map((event) => event.id);
        assert.is(new Set(ids).size, ids.length, `a batch repeating an event id was accepted: ${JSON.stringify(ids)}`);
        assert.is(Number(answer.accepted) + Number(answer.duplicates), batch.length);
        assert.is(added.length, Number(answer.accepted));
        for (const json of added) assert.ok(ids.includes(assertConsumable(json).eventId));
      },
    ),
    { numRuns: 300 },
  );
});

test('WMS: a batch of good events with one bad event anywhere writes nothing and names the bad one', async () => {
  const good = fc.oneof(
    fc.record({ id: fc.uuid(), type: fc.constant('receipt'), sku: fc.constantFrom('TEE-BLK-M', 'MUG-WHT', '👕-XL'), quantity: fc.integer({ min: 1, max: 100 }) }),
    fc.record({ id: fc.uuid(), type: fc.constant('count'), sku: fc.constantFrom('TEE-BLK-M', 'MUG-WHT'), counted: fc.integer({ min: 0, max: 100 }) }),
  );
  const bad = fc.oneof(
    fc.record({ id: fc.uuid(), type: fc.constant('receipt'), sku: fc.constant('TEE-BLK-M'), quantity: fc.constantFrom(0, -1, 1.5, 1_000_000_001) }),
    fc.record({ id: fc.uuid(), type: fc.constant('adjustment'), sku: fc.constant('MUG-WHT'), delta: fc.constant(0) }),
    fc.record({ id: fc.uuid(), type: fc.constant('count'), sku: fc.constantFrom('', 'x'.repeat(201)), counted: fc.constant(1) }),
    fc.record({ id: fc.uuid(), type: fc.constant('shipment'), sku: fc.constant('TEE-BLK-M'), quantity: fc.constant(1) }),
    fc.record({ id: fc.constant(''), type: fc.constant('receipt'), sku: fc.constant('TEE-BLK-M'), quantity: fc.constant(1) }),
    fc.record({ id: fc.uuid(), type: fc.constantFrom('return', 'RECEIPT'), sku: fc.constant('TEE-BLK-M'), quantity: fc.constant(1) }),
  );
  await checkProperty(
    fc.asyncProperty(fc.array(good, { minLength: 1, maxLength: 20 }), bad, fc.nat(), async (events, badEvent, position) => {
      const at = position % (events.length + 1);
      const body = JSON.stringify({ events: [...events.slice(0, at), badEvent, ...events.slice(at)] });
      const timestamp = String(Math.floor(NOW / 1000));
      const keysBefore = await fingerprint(redis, prefix);
      const response = await rawRequest(port, {
        method: 'POST',
        target: '/webhooks/wms',
        headers: { 'content-type': 'application/json', 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, WMS_SECRET) },
        body: Buffer.from(body),
      });
      trap.assertNone();
      assert.is(response.status, 400, response.body);
      assert.is(errorCodeOf(response.body), 'STOCKGUARD_E_BAD_PAYLOAD');
      const problems = (parseBodyJson(response).error as { problems: string[] }).problems;
      assert.ok(problems.length > 0 && problems.every((problem) => problem.startsWith(`events.${at}`)), JSON.stringify(problems));
      assertUnchanged(keysBefore, await fingerprint(redis, prefix), 'a refusal wrote to Redis');
    }),
    { numRuns: 100 },
  );
});

test('raw requests: any method, path, body and a lying Content-Length never crash the process or write', async () => {
  const pathSegment = fc.oneof(
    fc.constantFrom('webhooks', 'shopify', 'wms', 'v1', 'reservations', 'confirm', 'metrics', 'healthz', 'readyz', '', '..', '%', '%E0%A4%A', '%ZZ', '%00', '%2F', '[', ']', '%C0%AF'),
    fc.stringMatching(/^[A-Za-z0-9%._~!$&'()*+,;=:@-]{1,12}$/),
  );
  const target = fc.oneof(
    { arbitrary: fc.array(pathSegment, { minLength: 1, maxLength: 5 }).map((segments) => `/${segments.join('/')}`), weight: 6 },
    { arbitrary: fc.constantFrom('//[', '//', '*', 'http://[x', '/?a=%', '/webhooks/shopify?x=%E0', 'http://127.0.0.1/webhooks/wms', '/\u00e9'), weight: 1 },
    { arbitrary: fc.tuple(fc.constantFrom('/v1/reservations/', '/webhooks/'), pathSegment, fc.constantFrom('', '/confirm', '/x/y')).map((parts) => parts.join('')), weight: 3 },
  );
  await checkProperty(
    fc.asyncProperty(
      fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
      target,
      fc.uint8Array({ maxLength: 256 }),
      fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
      randomHeaders,
      async (method, path, body, extraLength, headers) => {
        const keysBefore = await fingerprint(redis, prefix);
        const declaredLength = extraLength === undefined ? undefined : body.length + extraLength;
        const response = await rawRequest(port, { method, target: path, headers, body: Buffer.from(body), declaredLength });
        trap.assertNone();
        // Node's own parser answers a request line it cannot read (400, no body) before any route runs.
        const parsable = /^[\x21-\x7e]+$/.test(path);
        if (declaredLength !== undefined) {
          // A sender that died mid-body: whatever it gets (Node's bare 400, or nothing), it must not have written.
        } else if (response.status === undefined) {
          assert.ok(!parsable, `${method} ${path} got no answer`);
        } else if (response.status >= 400) {
          assert.ok(response.status < 500, `${method} ${path}: ${response.status} ${response.body}`);
          if (method !== 'HEAD' && parsable) assertRefusal(response, `${method} ${path}`);
        }
        assertUnchanged(keysBefore, await fingerprint(redis, prefix), `${method} ${path} wrote to Redis`);
      },
    ),
    { numRuns: 200 },
  );
  // The daemon still answers after all of it.
  assert.is((await rawRequest(port, { method: 'GET', target: '/healthz' })).status, 200);
});

test.run();
