// The WMS fake (src/sim/wms) and the HTTP WMS adapter (src/reconcile/wms.ts) against each
// other over real HTTP: paging, the as-of, the bearer token, retries on 5xx, and the signed
// webhooks the fake sends, checked with the daemon's own verifier and payload schema.
import { createServer, type Server } from 'node:http';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WmsWebhookPayload } from '../../src/domain/wmsWebhooks.ts';
import { isStockguardError } from '../../src/errors.ts';
import { verifyWmsSignature } from '../../src/ingest/http/signatures.ts';
import { HttpWmsAdapter, type WmsStockPage } from '../../src/reconcile/wms.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';

const TOKEN = 'wms-stock-token-0123456789';
const SECRET = 'wms-webhook-secret-0123456789';

interface Received {
  body: string;
  valid: boolean;
}

async function receiver(): Promise<{ server: Server; url: string; received: Received[]; status: { next: number[] } }> {
  const received: Received[] = [];
  const status = { next: [] as number[] };
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const valid = verifyWmsSignature(raw, request.headers['x-stockguard-timestamp'] as string, request.headers['x-stockguard-signature'] as string, SECRET);
      received.push({ body: raw.toString('utf8'), valid });
      response.writeHead(status.next.shift() ?? 202).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${address.port}/webhooks/wms`, received, status };
}

async function collect(adapter: HttpWmsAdapter): Promise<WmsStockPage[]> {
  const pages: WmsStockPage[] = [];
  for await (const page of adapter.snapshot()) pages.push(page);
  return pages;
}

const noSleep = async () => undefined;

test('pages cover every SKU exactly once, all with the snapshot time, and later changes stay out', async () => {
  let now = 1_795_000_000_000;
  const fake = await WmsFake.start({ token: TOKEN, clock: () => now, maxPageSize: 7 });
  try {
    fake.seed(Array.from({ length: 25 }, (_, index) => [`SKU-${index}`, index] as const));
    const adapter = new HttpWmsAdapter({ baseUrl: fake.url, token: TOKEN, pageSize: 10, sleep: noSleep });
    const pages: WmsStockPage[] = [];
    for await (const page of adapter.snapshot()) {
      pages.push(page);
      // Changes after the snapshot was taken do not leak into its later pages.
      now += 1000;
      await fake.receive('SKU-24', 100);
    }
    assert.is(pages.length, 4, 'limit 10 is capped at the fake maximum of 7: 7+7+7+4');
    assert.equal(new Set(pages.map((page) => page.asOfMs)), new Set([1_795_000_000_000]));
    const items = pages.flatMap((page) => page.items);
    // Seeded stock has no movements yet: watermark 0.
    assert.equal(items, Array.from({ length: 25 }, (_, index) => ({ sku: `SKU-${index}`, onHand: index, seq: 0 })));
  } finally {
    await fake.close();
  }
});

test('a wrong token is refused with STOCKGUARD_E_WMS_RESPONSE; 5xx pages are retried, then STOCKGUARD_E_WMS_UNAVAILABLE', async () => {
  const fake = await WmsFake.start({ token: TOKEN });
  try {
    fake.seed([['A', 1]]);
    const wrong = new HttpWmsAdapter({ baseUrl: fake.url, token: 'not-the-token-at-all', sleep: noSleep });
    try {
      await collect(wrong);
      assert.unreachable('a wrong token must be refused');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_WMS_RESPONSE'), String(error));
      assert.match(error.message, /HTTP 401/);
    }

    const retries: string[] = [];
    fake.setPageFaults({ failNext: 2, status: 503 });
    const patient = new HttpWmsAdapter({ baseUrl: fake.url, token: TOKEN, retries: 2, sleep: noSleep, onRetry: (_attempt, reason) => retries.push(reason) });
    assert.equal((await collect(patient)).flatMap((page) => page.items), [{ sku: 'A', onHand: 1, seq: 0 }]);
    assert.equal(retries, ['page 0: HTTP 503', 'page 0: HTTP 503']);

    fake.setPageFaults({ failNext: 3, status: 500 });
    try {
      await collect(patient);
      assert.unreachable('three failures with two retries must fail');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_WMS_UNAVAILABLE'), String(error));
      assert.match(error.message, /HTTP 500, after 3 attempts/);
    }
  } finally {
    await fake.close();
  }
});

test('a body without the documented shape is STOCKGUARD_E_WMS_RESPONSE naming the field', async () => {
  const server = createServer((_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ asOf: 'yesterday', items: [{ sku: 'A', onHand: 1.5 }], nextCursor: null })));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const adapter = new HttpWmsAdapter({ baseUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}`, token: TOKEN, sleep: noSleep });
    await collect(adapter);
    assert.unreachable('a malformed page must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_WMS_RESPONSE'), String(error));
    assert.match(error.message, /asOf/);
    assert.match(error.message, /items\.0\.onHand/);
  } finally {
    server.close();
  }
});

test('operations move on-hand and send signed, schema-valid webhooks; lost events and shrinkage send nothing', async () => {
  const target = await receiver();
  const fake = await WmsFake.start({ token: TOKEN, webhook: { url: target.url, secret: SECRET } });
  try {
    fake.seed([['TEE', 10], ['MUG', 5]]);
    const order = { channel: 'shopify' as const, orderId: 'gid://shopify/Order/1', lineId: 'gid://shopify/LineItem/1' };
    assert.is((await fake.ship('TEE', 2, order)).outcome, 202);
    await fake.receive('MUG', 4);
    await fake.adjust('MUG', -1, 'damaged');
    await fake.count('TEE', 7);
    assert.is((await fake.adjust('TEE', -1, 'lost in transit', { lose: true })).outcome, 'lost');
    fake.shrink('MUG', 2);
    await fake.misPick('TEE', 'MUG', 1, { ...order, lineId: 'gid://shopify/LineItem/2' });
    assert.equal([fake.onHand('TEE'), fake.onHand('MUG')], [6, 5]);

    assert.is(target.received.length, 5, 'ship, receive, adjust, count, mis-picked ship: the lost one never left');
    for (const delivery of target.received) {
      assert.ok(delivery.valid, 'the signature verifies with the shared secret');
      assert.ok(WmsWebhookPayload.safeParse(JSON.parse(delivery.body)).success, delivery.body);
    }
    const events = target.received.map((delivery) => (JSON.parse(delivery.body) as WmsWebhookPayload).events[0]!);
    assert.equal(events.map((event) => [event.type, event.sku]), [['shipment', 'TEE'], ['receipt', 'MUG'], ['adjustment', 'MUG'], ['count', 'TEE'], ['shipment', 'TEE']]);
    assert.is(new Set(events.map((event) => event.id)).size, 5, 'every event has its own id');
    // Movement numbers per SKU (docs/wms.md, "Watermark"): the lost adjustment took TEE's 3.
    assert.equal(events.map((event) => [event.sku, event.seq]), [['TEE', 1], ['MUG', 1], ['MUG', 2], ['TEE', 2], ['TEE', 4]]);
    assert.equal([fake.lastMovement('TEE'), fake.lastMovement('MUG')], [4, 2], 'shrinkage is no movement');

    // A 5xx from the receiver is retried with the same event id.
    target.status.next.push(503);
    const retried = await fake.receive('TEE', 1);
    assert.is(retried.outcome, 202);
    const lastTwo = target.received.slice(-2).map((delivery) => (JSON.parse(delivery.body) as WmsWebhookPayload).events[0]!.id);
    assert.equal(lastTwo, [retried.eventId, retried.eventId]);
    const lastSeqs = target.received.slice(-2).map((delivery) => (JSON.parse(delivery.body) as WmsWebhookPayload).events[0]!.seq);
    assert.equal(lastSeqs, [5, 5], 'a retry keeps its movement number');
  } finally {
    await fake.close();
    target.server.close();
  }
});

test('snapshotBeforeDelivery pins a snapshot holding the change before the webhook leaves', async () => {
  const target = await receiver();
  const fake = await WmsFake.start({ token: TOKEN, webhook: { url: target.url, secret: SECRET } });
  try {
    fake.seed([['TEE', 10]]);
    await fake.ship('TEE', 3, { channel: 'api', orderId: 'o-1', lineId: '1' }, { snapshotBeforeDelivery: true });
    await fake.receive('TEE', 50);
    const pages = await collect(new HttpWmsAdapter({ baseUrl: fake.url, token: TOKEN, sleep: noSleep }));
    assert.equal(pages.flatMap((page) => page.items), [{ sku: 'TEE', onHand: 7, seq: 1 }], 'the pinned snapshot: after the pick, before the receipt');
    const fresh = await collect(new HttpWmsAdapter({ baseUrl: fake.url, token: TOKEN, sleep: noSleep }));
    assert.equal(fresh.flatMap((page) => page.items), [{ sku: 'TEE', onHand: 57, seq: 2 }], 'the pin is used once');
  } finally {
    await fake.close();
    target.server.close();
  }
});

test('watermark:false plays a WMS without a watermark: no seq on webhooks or in the snapshot', async () => {
  const target = await receiver();
  const fake = await WmsFake.start({ token: TOKEN, webhook: { url: target.url, secret: SECRET }, watermark: false });
  try {
    fake.seed([['TEE', 10]]);
    await fake.ship('TEE', 3, { channel: 'api', orderId: 'o-1', lineId: '1' });
    await fake.receive('TEE', 5);
    const events = target.received.map((delivery) => (JSON.parse(delivery.body) as WmsWebhookPayload).events[0]!);
    assert.equal(events.map((event) => [event.type, 'seq' in event]), [['shipment', false], ['receipt', false]]);
    const pages = await collect(new HttpWmsAdapter({ baseUrl: fake.url, token: TOKEN, sleep: noSleep }));
    assert.equal(pages.flatMap((page) => page.items), [{ sku: 'TEE', onHand: 12 }]);
  } finally {
    await fake.close();
    target.server.close();
  }
});

test('webhookRetryDelayMs spaces the attempts, so a delivery gets through a receiver outage', async () => {
  // The receiver is "down" (503) for its first 600 ms, then answers 200.
  const attempts: { atMs: number; eventId: string }[] = [];
  let firstAtMs: number | undefined;
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const atMs = performance.now();
      firstAtMs ??= atMs;
      attempts.push({ atMs, eventId: (JSON.parse(Buffer.concat(chunks).toString('utf8')) as WmsWebhookPayload).events[0]!.id });
      response.writeHead(atMs - firstAtMs < 600 ? 503 : 200).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  const fake = await WmsFake.start({ token: TOKEN, webhook: { url: `http://127.0.0.1:${port}/webhooks/wms`, secret: SECRET }, webhookAttempts: 10, webhookRetryDelayMs: 200 });
  try {
    fake.seed([['TEE', 10]]);
    const delivery = await fake.receive('TEE', 1);
    assert.is(delivery.outcome, 200);
    assert.ok(attempts.length >= 4 && attempts.length <= 6, `about 600 ms of 503s at 200 ms spacing then a 200: ${attempts.length} attempts`);
    assert.ok(attempts.every((attempt) => attempt.eventId === delivery.eventId), 'every attempt carries the same event');
    const gaps = attempts.slice(1).map((attempt, index) => attempt.atMs - attempts[index]!.atMs);
    assert.ok(gaps.every((gap) => gap >= 190), `attempts spaced by the delay: ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms`);
    assert.equal(fake.deliveries.map((entry) => entry.outcome), [200]);
  } finally {
    await fake.close();
    server.close();
  }
});

test('without webhookRetryDelayMs the attempts follow at once; close() cuts a long retry wait short', async () => {
  const target = await receiver();
  const quick = await WmsFake.start({ token: TOKEN, webhook: { url: target.url, secret: SECRET } });
  try {
    target.status.next.push(503, 503, 503);
    const started = performance.now();
    const delivery = await quick.receive('TEE', 1);
    assert.is(delivery.outcome, 503, 'three attempts (the default), all 503');
    assert.is(target.received.length, 3);
    assert.ok(performance.now() - started < 1000, 'no waiting between attempts');
  } finally {
    await quick.close();
  }

  const slow = await WmsFake.start({ token: TOKEN, webhook: { url: target.url, secret: SECRET }, webhookAttempts: 100, webhookRetryDelayMs: 10_000 });
  target.status.next.push(...Array.from({ length: 100 }, () => 503));
  const before = target.received.length;
  const pending = slow.receive('TEE', 1);
  while (target.received.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
  const closing = performance.now();
  await slow.close();
  const delivery = await pending;
  assert.ok(performance.now() - closing < 1000, 'close() did not wait out the 10 s retry delay');
  assert.is(delivery.outcome, 503, 'the last answer before the fake closed');
  assert.is(target.received.length, before + 1, 'no attempt after close()');
  target.server.close();

  try {
    await WmsFake.start({ token: TOKEN, webhookRetryDelayMs: -1 });
    assert.unreachable('a negative delay is refused');
  } catch (error) {
    assert.match(error instanceof Error ? error.message : String(error), /webhookRetryDelayMs must be a number >= 0/);
  }
});

test.run();
