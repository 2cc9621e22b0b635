// The Shopify pusher against the in-repo Admin API fake (2026-10, schema-validated) through
// the real @shopify/admin-api-client, with a real Redis ledger and catalogue.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { counterValue, eventually, pushedLevel, pushHarness, SHOPIFY_APP_SECRET, SHOPIFY_TOKEN } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('Shopify pusher');
const WAREHOUSE = 'gid://shopify/Location/1001';
const CLOSED = 'gid://shopify/Location/1002';
const POPUP = 'gid://shopify/Location/1003';
const item = (n: number) => `gid://shopify/InventoryItem/${9_007_199_254_740_993n + BigInt(n)}`;

let redisHandle: TestRedis;
test.before(async () => {
  redisHandle = await startTestRedis();
});
test.after(async () => {
  await redisHandle.close();
});

async function withShopify(run: (fake: ShopifyFake) => Promise<void>): Promise<void> {
  const fake = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: SHOPIFY_APP_SECRET, shopDomain: 'stockguard-test.myshopify.com' });
  try {
    fake.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    await run(fake);
  } finally {
    await fake.close();
  }
}

test('a ledger value reaches Shopify: inventorySetQuantities on available, compare-and-set, idempotency key, reason and reference', async () => {
  await withShopify(async (fake) => {
    fake.stock(item(1), WAREHOUSE, { available: 3, committed: 2 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'TEE-1', shopify: { inventoryItemId: item(1), locationId: WAREHOUSE } }, 10);
      await harness.start();
      await eventually(() => fake.level(item(1), WAREHOUSE)?.available, (available) => available === 10, 'available 10 on Shopify');
      const [write] = fake.writes();
      assert.ok(write);
      assert.is(write.mutation, 'inventorySetQuantities');
      assert.is(write.name, 'available');
      assert.is(write.reason, 'correction');
      assert.match(write.referenceDocumentUri ?? '', /^gid:\/\/stockguard\/InventoryPush\/[0-9a-f-]{36}$/);
      assert.match(write.idempotencyKey, /^[0-9a-f-]{36}$/);
      assert.equal(write.changes.filter((change) => change.name === 'available').map((change) => [change.itemId, change.delta, change.quantityAfterChange]), [[item(1), 7, 10]]);
      // Nothing known about the level before the first push: read it, then write.
      const first = fake.requests().findIndex((request) => request.rootFields.some((field) => field.startsWith('inventoryItem') || field === 'inventoryItem'));
      const mutation = fake.requests().findIndex((request) => request.operation === 'mutation');
      assert.ok(first >= 0 && first < mutation, 'the current level was read before the compare-and-set write');
      // Recorded once the acknowledgement is back (just after Shopify applied it).
      const raw = await eventually(() => pushedLevel(harness.redis, harness.ledger.keys, 'TEE-1', 'shopify'), (value) => value !== null, 'the acknowledged push recorded');
      const stored = JSON.parse(raw ?? 'null') as { quantity: number; atMs: number; version: number };
      assert.is(stored.quantity, 10);
      assert.ok(stored.version >= 2 && stored.atMs > 0);
      assert.is(await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'shopify', outcome: 'acked' }), 1);

      // A change to the same value is not sent again; a real change is.
      await harness.ledger.adjust('TEE-1', { eventId: 'wms-1', delta: 0 + 1, cause: 'receipt' });
      await harness.ledger.adjust('TEE-1', { eventId: 'wms-2', delta: -1, cause: 'adjustment' });
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      assert.is(fake.level(item(1), WAREHOUSE)?.available, 10);
      await harness.ledger.reserveOrder({ channel: 'api', orderId: 'o-1', lines: [{ lineId: '1', sku: 'TEE-1', quantity: 4 }] });
      await eventually(() => fake.level(item(1), WAREHOUSE)?.available, (available) => available === 6, 'available 6 after a sale of 4');
      const writes = fake.writes();
      assert.ok(writes.length >= 2 && writes.length <= 3, `a write per distinct value, got ${writes.length}`);
      assert.not.equal(writes[writes.length - 1]?.idempotencyKey, writes[0]?.idempotencyKey, 'a new key per attempt group');
    } finally {
      await harness.close();
    }
  });
});

test('a stale changeFromQuantity (a storefront sale we had not seen) is re-read and retried, and converges', async () => {
  await withShopify(async (fake) => {
    fake.stock(item(2), WAREHOUSE, { available: 10 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'MUG-1', shopify: { inventoryItemId: item(2), locationId: WAREHOUSE } }, 10);
      await harness.start();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the first push');
      // Shopify sells 2 on its storefront; the daemon has not heard of it (no webhook yet).
      await fake.sellOnStorefront(item(2), WAREHOUSE, 2, { webhooks: false });
      assert.is(fake.level(item(2), WAREHOUSE)?.available, 8);
      // The warehouse receives 5: the pusher sets 15 "from 10", which is stale (Shopify has 8).
      await harness.ledger.adjust('MUG-1', { eventId: 'receipt-1', delta: 5, cause: 'receipt' });
      await eventually(() => harness.events.some((event) => event.outcome.kind === 'stale'), Boolean, 'a stale compare-and-set');
      await eventually(() => fake.level(item(2), WAREHOUSE)?.available, (available) => available === 15, 'the retry with the re-read value');
      const stale = harness.events.find((event) => event.outcome.kind === 'stale');
      assert.equal(stale?.outcome, { kind: 'stale', channelQuantity: 8 });
      // The sale reaches the ledger: the next push takes Shopify to the ledger's 13.
      await harness.ledger.reserveOrder({ channel: 'shopify', orderId: 'storefront-1', lines: [{ lineId: '1', sku: 'MUG-1', quantity: 2 }] });
      await eventually(() => fake.level(item(2), WAREHOUSE)?.available, (available) => available === 13, 'convergence on the ledger value');
      assert.ok((await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'shopify', outcome: 'stale' })) >= 1);

      // A storm of storefront sales racing the pushes: every sale is also ingested, and
      // Shopify ends on exactly the ledger's number.
      await harness.ledger.adjust('MUG-1', { eventId: 'receipt-before-storm', delta: 30, cause: 'receipt' });
      await eventually(() => fake.level(item(2), WAREHOUSE)?.available, (available) => available === 43, 'the receipt on Shopify');
      for (let round = 0; round < 20; round += 1) {
        await fake.sellOnStorefront(item(2), WAREHOUSE, 1, { webhooks: false });
        if (round % 3 === 0) await harness.ledger.adjust('MUG-1', { eventId: `receipt-storm-${round}`, delta: 2, cause: 'receipt' });
        await harness.ledger.reserveOrder({ channel: 'shopify', orderId: `storm-${round}`, lines: [{ lineId: '1', sku: 'MUG-1', quantity: 1 }] });
        await new Promise((resolve) => setTimeout(resolve, round % 4));
      }
      const ledger = await harness.ledger.inventory('MUG-1');
      const expected = (ledger?.onHand ?? 0) - (ledger?.reserved ?? 0);
      await eventually(() => fake.level(item(2), WAREHOUSE)?.available, (available) => available === expected, `Shopify at the ledger's ${expected}`);

      // A storefront sale whose level report reaches us before the order: Shopify already
      // shows what the ledger will say, so nothing is written back (no echo push).
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'idle before the echo check');
      const writesBefore = fake.writes().length;
      await fake.sellOnStorefront(item(2), WAREHOUSE, 1, { webhooks: false });
      const reported = fake.level(item(2), WAREHOUSE)!.available;
      await harness.ledger.recordChannelLevel('MUG-1', 'shopify', { quantity: reported, observedAtMs: Date.now(), eventId: 'level-echo' });
      await harness.ledger.reserveOrder({ channel: 'shopify', orderId: 'echo-1', lines: [{ lineId: '1', sku: 'MUG-1', quantity: 1 }] });
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'idle after the echo');
      assert.is(fake.writes().length, writesBefore, 'the sale Shopify made is not written back to Shopify');
    } finally {
      await harness.close();
    }
  });
});

test('locations that are inactive or do not fulfil online orders are reported and never written to (I6)', async () => {
  await withShopify(async (fake) => {
    fake.addLocation({ id: CLOSED, name: 'Closed shop', isActive: false, fulfillsOnlineOrders: false });
    fake.addLocation({ id: POPUP, name: 'Pop-up', isActive: true, fulfillsOnlineOrders: false });
    fake.stock(item(3), WAREHOUSE, { available: 0 });
    fake.stock(item(4), CLOSED, { available: 1 });
    fake.stock(item(5), POPUP, { available: 1 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'GOOD', shopify: { inventoryItemId: item(3), locationId: WAREHOUSE } }, 7);
      await harness.addSku({ sku: 'AT-CLOSED', shopify: { inventoryItemId: item(4), locationId: CLOSED } }, 7);
      await harness.addSku({ sku: 'AT-POPUP', shopify: { inventoryItemId: item(5), locationId: POPUP } }, 7);
      // A location the shop does not have at all.
      await harness.addSku({ sku: 'AT-NOWHERE', shopify: { inventoryItemId: item(6), locationId: 'gid://shopify/Location/999' } }, 7);
      await harness.start();

      const checks = (await harness.coordinator.checkLocations()).sort((a, b) => a.locationId.localeCompare(b.locationId));
      assert.equal(
        checks.map((check) => [check.locationId, check.writable, check.problem]),
        [
          [WAREHOUSE, true, undefined],
          [CLOSED, false, 'inactive'],
          [POPUP, false, 'not_online'],
          ['gid://shopify/Location/999', false, 'unknown'],
        ].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      );
      assert.is(await counterValue(harness.metrics, 'stockguard_shopify_location_problems', { problem: 'inactive' }), 1);
      assert.is(await counterValue(harness.metrics, 'stockguard_shopify_location_problems', { problem: 'not_online' }), 1);
      assert.is(await counterValue(harness.metrics, 'stockguard_shopify_location_problems', { problem: 'unknown' }), 1);

      await eventually(() => fake.level(item(3), WAREHOUSE)?.available, (available) => available === 7, 'the good location written');
      await harness.ledger.adjust('AT-CLOSED', { eventId: 'more', delta: 3, cause: 'receipt' });
      await harness.coordinator.sweep();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      const written = new Set(fake.writes().flatMap((write) => write.changes.map((change) => change.locationId)));
      assert.equal([...written], [WAREHOUSE], 'only the active, online location was ever written');
      assert.is(fake.level(item(4), CLOSED)?.available, 1);
      assert.is(fake.level(item(5), POPUP)?.available, 1);
      assert.ok((await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'shopify', outcome: 'blocked' })) >= 3);

      // Fixed in Shopify: the next check (every sweep) lets the writes through.
      fake.updateLocation(POPUP, { fulfillsOnlineOrders: true });
      await harness.coordinator.sweep();
      await eventually(() => fake.level(item(5), POPUP)?.available, (available) => available === 7, 'the fixed location written');
      assert.is(fake.level(item(4), CLOSED)?.available, 1);
    } finally {
      await harness.close();
    }
  });
});

test('batches hold at most 250 quantities; a burst of 1,000 changes on one SKU becomes a handful of pushes', async () => {
  await withShopify(async (fake) => {
    const harness = await pushHarness(redisHandle, { shopify: fake, settings: { lingerMs: 100 } });
    try {
      for (let index = 0; index < 300; index += 1) {
        fake.stock(item(100 + index), WAREHOUSE, { available: 0 });
        await harness.addSku({ sku: `BULK-${index}`, shopify: { inventoryItemId: item(100 + index), locationId: WAREHOUSE } }, 1 + index);
      }
      await harness.start();
      await eventually(() => fake.levels().filter((level) => level.available > 0).length, (count) => count === 300, 'all 300 written');
      const sizes = fake.writes().map((write) => write.changes.filter((change) => change.name === 'available').length);
      assert.ok(sizes.every((size) => size <= 250), `batch sizes ${sizes.join(', ')}`);
      assert.ok(sizes.length >= 2);

      const hot = item(100);
      const writesBefore = fake.writes().length;
      await harness.ledger.adjust('BULK-0', { eventId: 'big-receipt', delta: 2_000, cause: 'receipt' });
      await eventually(() => fake.level(hot, WAREHOUSE)?.available, (available) => available === 2_001, 'the receipt pushed');
      const afterReceipt = fake.writes().length;
      const burstStarted = Date.now();
      await Promise.all(
        Array.from({ length: 1_000 }, (_unused, index) =>
          harness.ledger.reserveOrder({ channel: 'api', orderId: `burst-${index}`, lines: [{ lineId: '1', sku: 'BULK-0', quantity: 1 }] }),
        ),
      );
      await eventually(() => fake.level(hot, WAREHOUSE)?.available, (available) => available === 1_001, 'the burst pushed');
      const burstWrites = fake.writes().slice(afterReceipt).filter((write) => write.changes.some((change) => change.itemId === hot));
      // About one push per linger (100 ms) while the burst lasts, plus the last value.
      const burstMs = Date.now() - burstStarted;
      assert.ok(burstWrites.length >= 1 && burstWrites.length <= 10, `1,000 changes over ${burstMs} ms became ${burstWrites.length} pushes`);
      assert.ok(afterReceipt - writesBefore <= 2);
    } finally {
      await harness.close();
    }
  });
});

test('THROTTLED answers are waited out and retried; once the bucket is known, pushes wait instead of being refused', async () => {
  await withShopify(async (fake) => {
    fake.stock(item(7), WAREHOUSE, { available: 0 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'SLOW', shopify: { inventoryItemId: item(7), locationId: WAREHOUSE } }, 4);
      // Two THROTTLED answers whatever the bucket holds: retried, counted, converged.
      fake.injectFault({ kind: 'throttled' }, { times: 2, only: 'mutation' });
      await harness.start();
      await eventually(() => fake.level(item(7), WAREHOUSE)?.available, (available) => available === 4, 'the push after two THROTTLED answers');
      assert.is(fake.requests().filter((request) => request.throttled).length, 2);
      assert.is(await counterValue(harness.metrics, 'stockguard_channel_throttled_total', { channel: 'shopify' }), 2);

      // The bucket runs dry behind our back (another app): the next mutation is refused once,
      // the answer's throttleStatus teaches the pusher, and it waits for the points after that.
      fake.setBucket({ currentlyAvailable: 0, restoreRate: 20 });
      await harness.ledger.adjust('SLOW', { eventId: 'r-1', delta: 1, cause: 'receipt' });
      await eventually(() => fake.level(item(7), WAREHOUSE)?.available, (available) => available === 5, 'the push after the refill');
      const refusedOnce = fake.requests().filter((request) => request.throttled).length;
      assert.is(refusedOnce, 3, 'one THROTTLED answer for the empty bucket');
      await harness.ledger.adjust('SLOW', { eventId: 'r-2', delta: 1, cause: 'receipt' });
      await eventually(() => fake.level(item(7), WAREHOUSE)?.available, (available) => available === 6, 'the next push');
      assert.is(fake.requests().filter((request) => request.throttled).length, refusedOnce, 'it waited for the points instead of being refused');
    } finally {
      await harness.close();
    }
  });
});

// The chaos harness's storms (docs/reliability.md, finding 1), with the daemon's own backoff
// (not the tests' short one): once the storm is over, Shopify must catch up within seconds.
for (const storm of [
  { name: 'THROTTLED', fault: { kind: 'throttled' as const }, times: 30, budgetMs: 15_000 },
  { name: '503', fault: { kind: 'status' as const, status: 503 as const }, times: 20, budgetMs: 20_000 },
]) {
  test(`after a storm of ${storm.name} answers ends, later ledger changes and a sweep reach Shopify`, async () => {
    await withShopify(async (fake) => {
      const skus = [0, 1, 2].map((n) => ({ sku: `STORM-${n}`, item: item(20 + n) }));
      for (const { item: id } of skus) fake.stock(id, WAREHOUSE, { available: 0 });
      const harness = await pushHarness(redisHandle, { shopify: fake, backoff: { baseMs: 250, maxMs: 10_000 } });
      const expected = async (sku: string) => {
        const level = await harness.ledger.inventory(sku);
        return level ? Math.max(0, level.onHand - level.reserved - level.holdback) : undefined;
      };
      const converged = async () => {
        for (const { sku, item: id } of skus) if (fake.level(id, WAREHOUSE)?.available !== (await expected(sku))) return false;
        return true;
      };
      try {
        for (const { sku, item: id } of skus) await harness.addSku({ sku, shopify: { inventoryItemId: id, locationId: WAREHOUSE } }, 10);
        await harness.start();
        await eventually(converged, Boolean, 'the opening push');
        const before = fake.requests().length;

        // The storm: more failing answers than one push's retries.
        const started = Date.now();
        fake.injectFault(storm.fault, { times: storm.times });
        for (const [index, { sku }] of skus.entries()) await harness.ledger.adjust(sku, { eventId: `storm-${index}`, delta: 1, cause: 'receipt' });
        await eventually(() => fake.requests().length - before, (count) => count >= storm.times + 1, 'the storm to pass', storm.budgetMs);

        // After it: further changes, and a sweep, reach Shopify.
        for (const [index, { sku }] of skus.entries()) await harness.ledger.adjust(sku, { eventId: `after-${index}`, delta: 2, cause: 'receipt' });
        await harness.coordinator.sweep();
        await eventually(converged, Boolean, 'Shopify to show the ledger again', Math.max(1, storm.budgetMs - (Date.now() - started)));
        for (const { sku, item: id } of skus) assert.is(fake.level(id, WAREHOUSE)?.available, 13, sku);
      } finally {
        await harness.close();
      }
    });
  });
}

test.run();
