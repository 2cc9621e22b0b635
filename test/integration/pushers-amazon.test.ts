// The Amazon pusher against the in-repo SP-API fake (LWA + Listings Items 2021-08-01,
// model-checked) through @sp-api-sdk/listings-items-api-2021-08-01, with a real Redis.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LwaTokenProvider } from '../../src/pushers/lwa.ts';
import { type AmazonFake, type AmazonFakeOptions, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { counterValue, eventually, LWA, pushedLevel, pushHarness, SELLER_ID, setPushedLevel, US } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('Amazon pusher');
let redisHandle: TestRedis;
test.before(async () => {
  redisHandle = await startTestRedis();
});
test.after(async () => {
  await redisHandle.close();
});

async function withAmazon(options: Partial<AmazonFakeOptions>, run: (fake: AmazonFake) => Promise<void>): Promise<void> {
  const fake = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false, ...options });
  try {
    await run(fake);
    assert.equal(fake.modelViolations(), []);
  } finally {
    await fake.close();
  }
}

const mfn = (sku: string, productType = 'LUGGAGE') => ({ sellerSku: `SELLER-${sku}`, marketplaceId: US, productType, fulfillment: 'MFN' as const });

test('MFN SKUs are patched (merge DEFAULT quantity, catalogue productType); FBA SKUs are never patched, and counted (I6)', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-BAG', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    fake.addListing({ sku: 'SELLER-FBA', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'FBA', quantity: 40 });
    const harness = await pushHarness(redisHandle, { amazon: fake });
    try {
      await harness.addSku({ sku: 'BAG', amazon: mfn('BAG') }, 12);
      await harness.addSku({ sku: 'FBA-ONLY', amazon: { sellerSku: 'SELLER-FBA', marketplaceId: US, fulfillment: 'FBA' } }, 30);
      await harness.start();
      await eventually(() => fake.quantity('SELLER-BAG'), (quantity) => quantity === 12, 'the MFN quantity on Amazon');
      await harness.ledger.adjust('FBA-ONLY', { eventId: 'fba-receipt', delta: 5, cause: 'receipt' });
      await harness.coordinator.sweep();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      const patches = fake.acceptedPatches();
      assert.equal(patches.map((patch) => patch.sku), ['SELLER-BAG']);
      assert.equal(patches[0]?.patches, [{ op: 'merge', path: '/attributes/fulfillment_availability', value: [{ fulfillment_channel_code: 'DEFAULT', quantity: 12 }] }]);
      assert.is(patches[0]?.productType, 'LUGGAGE');
      assert.equal(patches[0]?.marketplaceIds, [US]);
      assert.ok(fake.submissions().every((submission) => submission.sku !== 'SELLER-FBA'), 'no request for the FBA SKU at all');
      assert.is(fake.quantity('SELLER-FBA', { fulfillment: 'FBA' }), 40);
      assert.ok((await counterValue(harness.metrics, 'stockguard_fba_skipped_total')) >= 2, 'skipped on the start-up sweep, the change and the sweep');
      assert.ok(harness.events.every((event) => event.sku !== 'FBA-ONLY'));
    } finally {
      await harness.close();
    }
  });
});

test('INVALID answers are surfaced with their issues and counted', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-SHOE', marketplaceId: US, productType: 'SHOES', fulfillment: 'MFN', quantity: 1 });
    const harness = await pushHarness(redisHandle, { amazon: fake });
    try {
      // The catalogue names the wrong product type: Amazon answers 200 with status INVALID.
      await harness.addSku({ sku: 'SHOE', amazon: mfn('SHOE', 'LUGGAGE') }, 5);
      await harness.start();
      const event = await eventually(() => harness.events.find((candidate) => candidate.sku === 'SHOE'), (found) => found !== undefined, 'the push result');
      assert.is(event?.outcome.kind, 'invalid');
      const outcome = event?.outcome;
      assert.ok(outcome?.kind === 'invalid' && Array.isArray(outcome.issues) && outcome.issues.length > 0, 'the issues come with it');
      assert.is(await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'amazon', outcome: 'invalid' }), 1);
      assert.is(fake.quantity('SELLER-SHOE'), 1, 'nothing changed on Amazon');
      assert.is(await pushedLevel(harness.redis, harness.ledger.keys, 'SHOE', 'amazon'), null, 'an INVALID value is not recorded as pushed');
    } finally {
      await harness.close();
    }
  });
});

test('a 429 storm backs off and converges; a storm that does not end gives up after maxAttempts and retries later', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-TENT', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    const harness = await pushHarness(redisHandle, { amazon: fake, settings: { maxAttempts: 4 } });
    try {
      await harness.addSku({ sku: 'TENT', amazon: mfn('TENT') }, 9);
      fake.injectFault({ kind: 'throttle', operations: ['patchListingsItem'], times: 3 });
      await harness.start();
      await eventually(() => fake.quantity('SELLER-TENT'), (quantity) => quantity === 9, 'the push after the storm');
      const outcomes = fake.requests().filter((request) => request.operation === 'patchListingsItem').map((request) => request.outcome);
      assert.equal(outcomes, [429, 429, 429, 200]);
      assert.is(await counterValue(harness.metrics, 'stockguard_channel_throttled_total', { channel: 'amazon' }), 3);

      // A storm that does not end: each push stops after 4 attempts, then waits a backoff.
      const storm = fake.injectFault({ kind: 'throttle', operations: ['patchListingsItem'], rate: 1 });
      await harness.ledger.adjust('TENT', { eventId: 'r-1', delta: 1, cause: 'receipt' });
      await eventually(() => harness.events.filter((event) => event.outcome.kind === 'failed').length, (count) => count >= 2, 'two failed attempt groups');
      const before = fake.requests().filter((request) => request.operation === 'patchListingsItem').length;
      assert.ok(before - 4 <= 4 * 3, `attempts are bounded per push, saw ${before - 4}`);
      fake.removeFault(storm);
      await eventually(() => fake.quantity('SELLER-TENT'), (quantity) => quantity === 10, 'convergence once the storm ends');
    } finally {
      await harness.close();
    }
  });
});

test('a graceful stop during a 429 storm cuts the backoff short and puts the SKU back in the dirty index', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-STUCK', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    // Long backoffs: without cutting them short, stop() would wait for them.
    const harness = await pushHarness(redisHandle, { amazon: fake, backoff: { baseMs: 60_000, maxMs: 60_000 } });
    try {
      await harness.addSku({ sku: 'STUCK', amazon: mfn('STUCK') }, 3);
      fake.injectFault({ kind: 'throttle', operations: ['patchListingsItem'], rate: 1 });
      await harness.start();
      await eventually(() => fake.requests().some((request) => request.outcome === 429), Boolean, 'a 429');
      const { requeued } = await harness.coordinator.stop();
      assert.is(requeued, 1);
      assert.ok((await harness.redis.zscore(harness.ledger.keys.dirtySkus(), 'STUCK')) !== null, 'the next process will push it');
      assert.is(fake.quantity('SELLER-STUCK'), 0);
    } finally {
      await harness.close();
    }
  });
});

test('the client-side token bucket keeps a burst of pushes inside the usage plan: no 429', async () => {
  await withAmazon({}, async (fake) => {
    const harness = await pushHarness(redisHandle, { amazon: fake });
    try {
      // One push first: the fake runs in this process and compiles its schemas on the first
      // PATCH, a stall that would make requests sent apart look simultaneous to it.
      fake.addListing({ sku: 'SELLER-WARM', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
      await harness.addSku({ sku: 'WARM', amazon: mfn('WARM') }, 1);
      await harness.start();
      await eventually(() => fake.acceptedPatches().length, (count) => count === 1, 'the first patch');
      for (let index = 0; index < 15; index += 1) {
        fake.addListing({ sku: `SELLER-BURST-${index}`, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
        await harness.addSku({ sku: `BURST-${index}`, amazon: mfn(`BURST-${index}`) }, index + 1);
      }
      await eventually(() => fake.acceptedPatches().length, (count) => count === 16, 'sixteen patches');
      assert.ok(fake.requests().every((request) => request.outcome !== 429), 'never over the limit');
      assert.is(await counterValue(harness.metrics, 'stockguard_channel_throttled_total', { channel: 'amazon' }), 0);
    } finally {
      await harness.close();
    }
  });
});

test('under a rate limit a drop to zero is sent before the increases that were waiting', async () => {
  await withAmazon({}, async (fake) => {
    // Our bucket at about one request a second: the lane must choose what goes next.
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { ratePerSecond: 1, burst: 1 } });
    try {
      const skus = ['A', 'B', 'C', 'D', 'E'];
      for (const sku of skus) {
        fake.addListing({ sku: `SELLER-${sku}`, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 5 });
        await harness.addSku({ sku, amazon: mfn(sku) }, 5);
      }
      // Tell the pushers Amazon already shows 5 everywhere, so nothing needs pushing yet.
      for (const sku of skus) await setPushedLevel(harness.redis, harness.ledger.keys, sku, 'amazon', { quantity: 5, atMs: Date.now(), version: 1 });
      await harness.start();
      assert.is(fake.acceptedPatches().length, 0);
      // Increases for A, B, C, E; the first goes at once (the bucket's one token).
      for (const sku of ['A', 'B', 'C', 'E']) await harness.ledger.adjust(sku, { eventId: `up-${sku}`, delta: 10, cause: 'receipt' });
      await eventually(() => fake.acceptedPatches().length, (count) => count >= 1, 'the first increase');
      // While the others wait for the next token, D sells out.
      await harness.ledger.reserveOrder({ channel: 'api', orderId: 'sell-out', lines: [{ lineId: '1', sku: 'D', quantity: 5 }] });
      await eventually(() => fake.acceptedPatches().length, (count) => count >= 5, 'all five patches');
      const order = fake.acceptedPatches().map((patch) => patch.sku);
      const zeroAt = order.indexOf('SELLER-D');
      assert.is(zeroAt, 1, `the zero went right after the first increase: ${order.join(', ')}`);
      assert.is(fake.quantity('SELLER-D'), 0);
    } finally {
      await harness.close();
    }
  });
});

test('drift: a Seller Central edit is corrected after the settle window; the channel\'s own ingested sale is not drift', async () => {
  let offsetMs = 0;
  const clock = () => Date.now() + offsetMs;
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-LAMP', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    fake.addListing({ sku: 'SELLER-DESK', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    const harness = await pushHarness(redisHandle, { amazon: fake, clock, settings: { driftSettleMs: 5_000 } });
    try {
      await harness.addSku({ sku: 'LAMP', amazon: mfn('LAMP') }, 8);
      await harness.addSku({ sku: 'DESK', amazon: mfn('DESK') }, 8);
      await harness.start();
      await eventually(() => [fake.quantity('SELLER-LAMP'), fake.quantity('SELLER-DESK')], (quantities) => quantities.every((quantity) => quantity === 8), 'the first pushes');
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'idle');
      const patchesBefore = fake.acceptedPatches().length;

      // LAMP: someone sets 50 in Seller Central; the notification reaches the ledger's observations.
      offsetMs += 1_000;
      await fake.setMfnQuantity('SELLER-LAMP', 50);
      await harness.ledger.recordChannelLevel('LAMP', 'amazon', { quantity: 50, observedAtMs: clock(), eventId: 'n-lamp' });
      // DESK: a sale on Amazon, ingested as an Amazon order, and the channel's report of 6.
      await fake.sellOnAmazon('SELLER-DESK', 2);
      await harness.ledger.reserveOrder({ channel: 'amazon', orderId: '111-1', lines: [{ lineId: '1', sku: 'DESK', quantity: 2 }] });
      await harness.ledger.recordChannelLevel('DESK', 'amazon', { quantity: 6, observedAtMs: clock(), eventId: 'n-desk' });
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'idle after the sale');

      // Inside the settle window: no verdict yet.
      let report = await harness.coordinator.sweep();
      assert.is(report.drift, 0);
      assert.is(fake.quantity('SELLER-LAMP'), 50);

      offsetMs += 6_000;
      report = await harness.coordinator.sweep();
      assert.is(report.drift, 1, 'LAMP drifted, DESK did not');
      await eventually(() => fake.quantity('SELLER-LAMP'), (quantity) => quantity === 8, 'the corrective push');
      assert.is(await counterValue(harness.metrics, 'stockguard_drift_units_total', { channel: 'amazon' }), 42);
      assert.is(await counterValue(harness.metrics, 'stockguard_drift_corrections_total', { channel: 'amazon' }), 1);
      assert.is(fake.quantity('SELLER-DESK'), 6);
      const corrective = fake.acceptedPatches().slice(patchesBefore);
      assert.ok(corrective.some((patch) => patch.sku === 'SELLER-LAMP'));

      // The correction is newer than the report: the next sweep leaves LAMP alone.
      offsetMs += 6_000;
      report = await harness.coordinator.sweep();
      assert.is(report.drift, 0);
    } finally {
      await harness.close();
    }
  });
});

test('sellable back at the value last pushed after a sale on Amazon: Amazon is told again (it shows the push minus its sale)', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-CUP', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    const first = await pushHarness(redisHandle, { amazon: fake });
    try {
      await first.addSku({ sku: 'CUP', amazon: mfn('CUP') }, 10);
      await first.start();
      await eventually(() => fake.quantity('SELLER-CUP'), (quantity) => quantity === 10, 'the first push');
      await eventually(() => first.coordinator.isIdle(), Boolean, 'idle');
    } finally {
      await first.close();
    }
    // While the pushers are down: Amazon sells 1 (it shows 9) and reports it, the order
    // reaches the ledger, and a receipt of 1 brings sellable back to the 10 last pushed.
    await fake.sellOnAmazon('SELLER-CUP', 1);
    assert.is(fake.quantity('SELLER-CUP'), 9);
    await first.ledger.recordChannelLevel('CUP', 'amazon', { quantity: 9, observedAtMs: Date.now(), eventId: 'n-cup' });
    await first.ledger.reserveOrder({ channel: 'amazon', orderId: '111-9', lines: [{ lineId: '1', sku: 'CUP', quantity: 1 }] });
    await first.ledger.adjust('CUP', { eventId: 'receipt-cup', delta: 1, cause: 'receipt' });
    // The pushers start again over the same keys: the start-up sweep finds sellable 10 = pushed 10.
    const second = await pushHarness(redisHandle, { amazon: fake, prefix: first.prefix });
    try {
      await second.start();
      // The fake shows the value before the pusher hears its answer: wait for the push's result.
      const resync = await eventually(() => second.events.find((event) => event.sku === 'CUP' && event.outcome.kind === 'acked'), Boolean, 'the push of CUP');
      assert.equal([resync?.cause, resync?.quantity], ['resync', 10]);
      assert.is(fake.quantity('SELLER-CUP'), 10, 'Amazon told 10 again');
    } finally {
      await second.close();
    }
  });
});

test('the dynamic holdback (sales rate × measured p99 sale-to-ledger latency) is kept in the pushers\' key, never the ledger\'s', async () => {
  await withAmazon({}, async (fake) => {
    fake.addListing({ sku: 'SELLER-HOT', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
    const harness = await pushHarness(redisHandle, { amazon: fake, settings: { dynamicHoldback: { windowMs: 10_000, maxUnits: 5, defaultLatencyMs: 2_000 } } });
    try {
      await harness.addSku({ sku: 'HOT', amazon: mfn('HOT') }, 100);
      await harness.start();
      await eventually(() => fake.quantity('SELLER-HOT'), (quantity) => quantity === 100, 'the first push (no sales yet: no dynamic holdback)');
      // 20 units in the 10 s window: 2 sales/s × 2 s default latency (nothing measured yet) = 4 units.
      for (let index = 0; index < 20; index += 1) {
        await harness.ledger.reserveOrder({ channel: 'api', orderId: `hot-${index}`, lines: [{ lineId: '1', sku: 'HOT', quantity: 1 }] });
      }
      await eventually(() => fake.quantity('SELLER-HOT'), (quantity) => quantity === 80 - 4, 'available 80 minus a dynamic holdback of 4');
      assert.is(await harness.redis.hget(harness.ledger.keys.pushState('HOT'), 'dynamic_holdback'), '4');
      assert.is((await harness.ledger.inventory('HOT'))?.holdback, 0, 'the ledger holdback is untouched');
      await eventually(() => counterValue(harness.metrics, 'stockguard_dynamic_holdback_units'), (units) => units === 4, 'the gauge (refreshed once a second)');

      // The consumers measured a p99 of 500 ms: 2/s × 0.5 s = 1 unit.
      await harness.coordinator.store.publishSaleLatency({ p99Ms: 500, samples: 100, atMs: Date.now() }, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1_100)); // the pushers re-read the measurement once a second
      await harness.ledger.reserveOrder({ channel: 'api', orderId: 'hot-last', lines: [{ lineId: '1', sku: 'HOT', quantity: 1 }] });
      // 21 units in the window now: 2.1/s × 0.5 s = 1.05 → 1 unit.
      await eventually(() => fake.quantity('SELLER-HOT'), (quantity) => quantity === 79 - 1, 'available 79 minus a dynamic holdback of 1');
    } finally {
      await harness.close();
    }
  });
});

test('our LWA token cache: configurable URL, one refresh for concurrent callers, refreshed a margin before expiry', async () => {
  let nowMs = Date.parse('2026-11-27T12:00:00Z');
  const clock = () => nowMs;
  await withAmazon({ now: clock, tokenLifetimeSeconds: 3600 }, async (fake) => {
    const provider = new LwaTokenProvider({ ...LWA, tokenUrl: fake.lwaTokenUrl }, { clock, refreshMarginMs: 60_000 });
    const tokens = await Promise.all(Array.from({ length: 5 }, () => provider.getAccessToken()));
    assert.is(new Set(tokens).size, 1);
    assert.is(provider.requests, 1);
    assert.is(fake.issuedTokenCount(), 1);
    nowMs += 3600_000 - 61_000;
    assert.is(await provider.getAccessToken(), tokens[0], 'still cached 61 s before expiry');
    nowMs += 2_000;
    const refreshed = await provider.getAccessToken();
    assert.is.not(refreshed, tokens[0], 'refreshed 59 s before expiry');
    assert.is(fake.issuedTokenCount(), 2);
    const wrong = new LwaTokenProvider({ ...LWA, refreshToken: 'Atzr|wrong', tokenUrl: fake.lwaTokenUrl }, { clock });
    try {
      await wrong.getAccessToken();
      assert.unreachable('a wrong refresh token must fail');
    } catch (error) {
      assert.match(String(error), /STOCKGUARD_E_AMAZON_AUTH.*invalid_grant/);
      assert.not.match(String(error), /Atzr\|wrong/, 'the refresh token is not in the message');
    }
  });
});

test.run();
