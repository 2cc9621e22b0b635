// The Amazon pusher's bulk path (JSON_LISTINGS_FEED, src/pushers/amazonFeed.ts and the
// lane's bulk worker) against the in-repo SP-API fake with its Feeds API, through
// @sp-api-sdk/feeds-api-2021-06-30, with a real Redis. docs/pushers.md, "Amazon backlogs: feeds".
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { AmazonFeedSettings } from '../../src/config.ts';
import { listDeadLetters } from '../../src/consumers/deadLetters.ts';
import { type AmazonFake, type AmazonFakeOptions, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { listingsOperation } from '../../src/sim/amazon/schemas.ts';
import { counterValue, eventually, LWA, type PushHarness, pushedLevel, pushHarness, SELLER_ID, setPushedLevel, US } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('Amazon pusher: feeds');
let redisHandle: TestRedis;
test.before(async () => {
  redisHandle = await startTestRedis();
});
test.after(async () => {
  await redisHandle.close();
});

/** Feeds on at a small threshold; the fake's feed delay is set per test. */
const FEEDS: AmazonFeedSettings = { threshold: 20, maxMessages: 25_000, windowMs: 200, pollMs: 100, timeoutMs: 60_000, urgentDecreaseUnits: 5, urgentDecreasePercent: 20, patchSettleMs: 0 };

async function withAmazon(options: Partial<AmazonFakeOptions>, run: (fake: AmazonFake) => Promise<void>): Promise<void> {
  // The fake compiles the Listings model on its first request, a stall of the event loop it
  // shares with the pushers (a few hundred ms) after which the requests they paced arrive
  // together; compile it first, so a 429 here is the pushers' doing.
  listingsOperation('patchListingsItem');
  const fake = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false, ...options });
  try {
    await run(fake);
    assert.equal(fake.modelViolations(), []);
    assert.equal(fake.requests().filter((request) => request.outcome === 429).map((request) => `${request.operation} at ${request.atMs}`), [], 'no request over any usage plan');
  } finally {
    await fake.close();
  }
}

const mfn = (sku: string, productType = 'LUGGAGE') => ({ sellerSku: `SELLER-${sku}`, marketplaceId: US, productType, fulfillment: 'MFN' as const });
const skuName = (index: number) => `F-${String(index).padStart(3, '0')}`;

/** Every message of every feed the fake received: seller SKU → the quantities it carried. */
function feedQuantities(fake: AmazonFake): Map<string, number[]> {
  const carried = new Map<string, number[]>();
  for (const feed of fake.feeds.feeds()) {
    const messages = (feed.document as { messages?: Array<{ sku: string; patches: Array<{ op: string; value: Array<{ quantity: number }> }> }> } | undefined)?.messages ?? [];
    for (const message of messages) {
      const list = carried.get(message.sku) ?? [];
      list.push(message.patches[0]!.value[0]!.quantity);
      carried.set(message.sku, list);
    }
  }
  return carried;
}

const patchedSkus = (fake: AmazonFake) => new Set(fake.acceptedPatches().map((patch) => patch.sku));

async function seed(harness: PushHarness, fake: AmazonFake, count: number, onHand: (index: number) => number, listed = 5): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    fake.addListing({ sku: `SELLER-${skuName(index)}`, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: listed });
    await harness.addSku({ sku: skuName(index), amazon: mfn(skuName(index)) }, onHand(index));
  }
}

test('a backlog above the threshold goes by feed (merge of the DEFAULT quantity, catalogue productType) and is in effect on Amazon; zeros go by PATCH', async () => {
  await withAmazon({ feeds: { processingDelayMs: 300 } }, async (fake) => {
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: FEEDS } });
    try {
      // 60 SKUs, every tenth sold out: the opening push of a catalogue Amazon shows 5 of each.
      const onHand = (index: number) => (index % 10 === 0 ? 0 : 10 + index);
      await seed(harness, fake, 60, onHand);
      await harness.start();
      for (let index = 0; index < 60; index += 1) {
        await eventually(() => fake.quantity(`SELLER-${skuName(index)}`), (quantity) => quantity === onHand(index), `${skuName(index)} on Amazon`);
      }
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      const feeds = fake.feeds.feeds();
      assert.ok(feeds.length >= 1, 'a feed was sent');
      assert.ok(feeds.every((feed) => feed.status === 'DONE' && feed.feedType === 'JSON_LISTINGS_FEED' && feed.marketplaceIds.join() === US));
      const document = feeds[0]!.document as { header: unknown; messages: Array<{ productType: string; operationType: string; patches: unknown }> };
      assert.equal(document.header, { sellerId: SELLER_ID, version: '2.0', issueLocale: 'en_US' });
      assert.is(document.messages[0]?.operationType, 'PATCH');
      assert.is(document.messages[0]?.productType, 'LUGGAGE');
      assert.equal((document.messages[0]?.patches as Array<{ op: string; path: string }>).map(({ op, path }) => ({ op, path })), [{ op: 'merge', path: '/attributes/fulfillment_availability' }]);
      const carried = feedQuantities(fake);
      assert.ok(carried.size >= FEEDS.threshold, `at least a threshold's worth of SKUs went by feed (${carried.size})`);
      // Zeros never wait for a feed: they are PATCHed, and no feed carries them.
      const patched = patchedSkus(fake);
      for (let index = 0; index < 60; index += 10) {
        assert.ok(patched.has(`SELLER-${skuName(index)}`), `${skuName(index)} (0) went by PATCH`);
        assert.not.ok(carried.has(`SELLER-${skuName(index)}`), `${skuName(index)} (0) is in no feed`);
      }
      // Each SKU written once: by feed or by PATCH.
      for (let index = 0; index < 60; index += 1) {
        const sellerSku = `SELLER-${skuName(index)}`;
        assert.is((carried.get(sellerSku)?.length ?? 0) + (patched.has(sellerSku) ? 1 : 0), 1, `${sellerSku} written once`);
      }
      assert.ok(patched.size < 60 - FEEDS.threshold, `fewer PATCHes than SKUs (${patched.size})`);
      // An accepted feed message is an acknowledged push, recorded as one.
      const [fedSku] = [...carried.keys()];
      const recorded = await pushedLevel(harness.redis, harness.ledger.keys, fedSku!.replace(/^SELLER-/, ''), 'amazon');
      assert.is(JSON.parse(recorded ?? '{}').quantity, carried.get(fedSku!)![0]);
      assert.ok((await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'amazon', outcome: 'acked' })) >= 60);
    } finally {
      await harness.close();
    }
  });
});

test('decreases large enough to oversell go by PATCH; small decreases and increases go by feed', async () => {
  await withAmazon({ feeds: { processingDelayMs: 200 } }, async (fake) => {
    // A slow PATCH path (1/s): what the feed does not take is visibly left to it.
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: FEEDS, ratePerSecond: 1, burst: 1 } });
    try {
      // Amazon was told 50 of each; now 30 SKUs go up by 1, 5 drop by 1 (2 %), 5 drop to 40 (-10 units).
      const target = (index: number) => (index < 30 ? 51 : index < 35 ? 49 : 40);
      await seed(harness, fake, 40, target, 50);
      for (let index = 0; index < 40; index += 1) {
        await setPushedLevel(harness.redis, harness.ledger.keys, skuName(index), 'amazon', { quantity: 50, atMs: Date.now() - 60_000, version: 1 });
      }
      await harness.start();
      for (let index = 0; index < 40; index += 1) {
        await eventually(() => fake.quantity(`SELLER-${skuName(index)}`), (quantity) => quantity === target(index), `${skuName(index)} on Amazon`);
      }
      const carried = feedQuantities(fake);
      const patched = patchedSkus(fake);
      for (let index = 35; index < 40; index += 1) {
        assert.ok(patched.has(`SELLER-${skuName(index)}`) && !carried.has(`SELLER-${skuName(index)}`), `${skuName(index)} (50 → 40) went by PATCH only`);
      }
      assert.ok(carried.size >= FEEDS.threshold, `the rest went by feed (${carried.size})`);
      assert.ok([...carried.keys()].some((sku) => Number(sku.slice(-3)) >= 30 && Number(sku.slice(-3)) < 35), 'a small decrease (50 → 49) may wait for a feed');
    } finally {
      await harness.close();
    }
  });
});

test('a feed whose report refuses some messages leaves the others in effect and dead-letters the refused ones with Amazon\'s codes', async () => {
  await withAmazon({ feeds: { processingDelayMs: 200 } }, async (fake) => {
    // A slow PATCH path (1/s), so the few SKUs it takes before the feed goes are the first seeded ones.
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: FEEDS, ratePerSecond: 1, burst: 1 } });
    try {
      await seed(harness, fake, 30, (index) => 20 + index);
      // Three catalogue entries name the wrong product type: Amazon refuses those messages (90000900).
      const wrong = [21, 25, 29].map(skuName);
      for (const sku of wrong) {
        const entry = await harness.catalog.get(sku);
        await harness.catalog.put({ ...entry!, amazon: mfn(sku, 'SHOES') });
      }
      await harness.start();
      for (let index = 0; index < 30; index += 1) {
        if (wrong.includes(skuName(index))) continue;
        await eventually(() => fake.quantity(`SELLER-${skuName(index)}`), (quantity) => quantity === 20 + index, `${skuName(index)} on Amazon`);
      }
      const letters = await eventually(() => listDeadLetters(harness.redis, harness.ledger.keys), (list) => list.length >= wrong.length, 'the dead letters');
      const carried = feedQuantities(fake);
      for (const sku of wrong) assert.ok(carried.has(`SELLER-${sku}`), `${sku} went in the feed`);
      assert.is(letters.length, wrong.length);
      const feedId = fake.feeds.feeds()[0]!.feedId;
      const report = fake.feeds.feeds()[0]!.report!;
      for (const letter of letters) {
        const event = JSON.parse(letter.event) as { sku: string; quantity: number; sellerSku: string };
        assert.ok(wrong.includes(event.sku), `${event.sku} is one of the refused`);
        assert.is(letter.reason, '90000900', 'Amazon\'s code');
        assert.is(letter.stream, `amazon-feed:${feedId}`);
        // The dead letter names the message the report refused.
        const issue = report.issues.find((candidate) => candidate.messageId === Number(letter.id));
        assert.is(issue?.code, '90000900');
        assert.match(letter.message, /90000900/);
        assert.is(fake.quantity(event.sellerSku), 5, 'nothing changed for a refused message');
      }
      assert.is(report.summary.messagesInvalid, wrong.length);
      assert.is(await counterValue(harness.metrics, 'stockguard_pushes_total', { channel: 'amazon', outcome: 'invalid' }), wrong.length);
      assert.is(await counterValue(harness.metrics, 'stockguard_dead_letters_total', { reason: '90000900' }), wrong.length);
      for (const sku of wrong) assert.is(await pushedLevel(harness.redis, harness.ledger.keys, sku, 'amazon'), null, 'a refused value is not recorded as pushed');
    } finally {
      await harness.close();
    }
  });
});

test('a feed that ends FATAL is retried: its values go out again and take effect', async () => {
  await withAmazon({ feeds: { processingDelayMs: 200 } }, async (fake) => {
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: FEEDS } });
    try {
      await seed(harness, fake, 30, (index) => 40 + index);
      fake.feeds.failNextFeeds(1);
      await harness.start();
      for (let index = 0; index < 30; index += 1) {
        await eventually(() => fake.quantity(`SELLER-${skuName(index)}`), (quantity) => quantity === 40 + index, `${skuName(index)} on Amazon`);
      }
      const statuses = fake.feeds.feeds().map((feed) => feed.status);
      assert.is(statuses[0], 'FATAL');
      assert.ok(harness.events.some((event) => event.outcome.kind === 'failed'), 'the FATAL feed\'s values came back as failed');
    } finally {
      await harness.close();
    }
  });
});

test('a PATCH that overtakes a feed in flight wins: the feed\'s older value, applied later, is overwritten again', async () => {
  // A long processing delay: the test processes the feed itself, after the PATCH took effect.
  await withAmazon({ feeds: { processingDelayMs: 600_000 } }, async (fake) => {
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: FEEDS } });
    try {
      await seed(harness, fake, 30, () => 25);
      await harness.start();
      await eventually(() => fake.feeds.feeds().length, (count) => count === 1, 'the feed');
      await eventually(() => harness.coordinator.lane('amazon')!.size().inFlight, (count) => count >= FEEDS.threshold, 'the feed\'s values in flight');
      const carried = feedQuantities(fake);
      const [overtaken, raised] = [...carried.keys()];
      const sku = overtaken!.replace(/^SELLER-/, '');
      const raisedSku = raised!.replace(/^SELLER-/, '');
      assert.equal(carried.get(overtaken!), [25]);
      // While the feed waits at Amazon, the SKU sells out (urgent: PATCHed at once) and
      // another one is restocked (may wait: it goes once the feed is done).
      await harness.ledger.adjust(sku, { eventId: 'sell-out', delta: -25, cause: 'adjustment' });
      await harness.ledger.adjust(raisedSku, { eventId: 'restock', delta: 10, cause: 'receipt' });
      await eventually(() => fake.quantity(overtaken!), (quantity) => quantity === 0, 'the PATCH of 0 taking effect before the feed');
      assert.is(fake.feeds.feeds()[0]!.status, 'IN_QUEUE');
      assert.is(fake.quantity(raised!), 5, 'the restock waits for the feed');
      // Amazon now processes the feed: it writes 25 over the 0.
      assert.is(fake.feeds.processFeedsNow(), 1);
      assert.is(fake.quantity(overtaken!), 25, 'the feed applied its older value after the PATCH');
      const zeroPatches = () => fake.acceptedPatches().filter((patch) => patch.sku === overtaken && (patch.patches[0]?.value as Array<{ quantity: number }>)[0]?.quantity === 0);
      // The rule: once the feed is done, the value that overtook it is sent again.
      await eventually(() => fake.quantity(overtaken!), (quantity) => quantity === 0, 'the overtaking value in effect again');
      assert.is(zeroPatches().length, 2, 'the 0 was PATCHed before the feed and again after it');
      await eventually(() => fake.quantity(raised!), (quantity) => quantity === 35, 'the restock after the feed');
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      assert.is(fake.quantity(overtaken!), 0);
      assert.is(JSON.parse((await pushedLevel(harness.redis, harness.ledger.keys, sku, 'amazon')) ?? '{}').quantity, 0, 'the last value recorded as pushed is the PATCH\'s');
    } finally {
      await harness.close();
    }
  });
});

test('a SKU PATCHed a moment ago stays off the next feed: the feed cannot take effect before that PATCH and leave its older value last', async () => {
  // Both wait at Amazon until the test processes them: the feed first, then the PATCHes.
  await withAmazon({ processingDelayMs: 600_000, feeds: { processingDelayMs: 600_000 } }, async (fake) => {
    // A slow PATCH path (1/s): the restock backlog cannot all go by PATCH before the feed.
    const harness = await pushHarness(redisHandle, { amazon: fake, amazonOverrides: { feeds: { ...FEEDS, patchSettleMs: 60_000 }, ratePerSecond: 1, burst: 1 } });
    try {
      await seed(harness, fake, 30, () => 25, 25);
      // Amazon is in step with the ledger, except for F-000, which the opening push PATCHes (25).
      for (let index = 1; index < 30; index += 1) {
        await setPushedLevel(harness.redis, harness.ledger.keys, skuName(index), 'amazon', { quantity: 25, atMs: Date.now() - 60_000, version: 1 });
      }
      const target = `SELLER-${skuName(0)}`;
      const patchesOf = () => fake.acceptedPatches().filter((patch) => patch.sku === target).map((patch) => (patch.patches[0]?.value as Array<{ quantity: number }>)[0]?.quantity);
      await harness.start();
      await eventually(patchesOf, (values) => values.length === 1, 'the first PATCH');
      assert.equal(patchesOf(), [25]);
      // Then a restock of every SKU: a backlog over the threshold, F-000 included (25 → 35).
      // F-000's change comes last: of the increases waiting, the PATCH path takes it last.
      for (let index = 1; index <= 30; index += 1) await harness.ledger.adjust(skuName(index % 30), { eventId: `restock-${index}`, delta: index === 30 ? 10 : 1, cause: 'receipt' });
      await eventually(() => fake.feeds.feeds().length, (count) => count === 1, 'the feed');
      await eventually(() => patchesOf().length === 2 || feedQuantities(fake).has(target), Boolean, 'F-000 to go out again');
      assert.ok(feedQuantities(fake).size >= FEEDS.threshold);
      // Amazon processes the feed, then the PATCHes (25, then 35) in the order it took them.
      assert.is(fake.feeds.processFeedsNow(), 1);
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the feed\'s results');
      fake.processQueuedPatches();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      assert.is(fake.quantity(target), 35, 'the newest value is the one in effect');
      assert.not.ok(feedQuantities(fake).has(target), 'F-000 is not in the feed');
      for (let index = 1; index < 30; index += 1) assert.is(fake.quantity(`SELLER-${skuName(index)}`), 26);
    } finally {
      await harness.close();
    }
  });
});

test('the PATCH path beside a backlog: requests held up on the way and answered late are not followed by a burst (no 429)', async () => {
  // Amazon counts a request when it arrives. The first 5 PATCHes are held 1.5 s before the
  // fake counts them (all 5 workers wait); a client bucket that refilled meanwhile would
  // send its whole burst on top of them as soon as they are answered.
  await withAmazon({ faults: [{ kind: 'latency', latencyMs: 1_500, operations: ['patchListingsItem'], times: 5 }] }, async (fake) => {
    const harness = await pushHarness(redisHandle, { amazon: fake });
    try {
      await seed(harness, fake, 15, (index) => 30 + index);
      await harness.start();
      for (let index = 0; index < 15; index += 1) {
        await eventually(() => fake.quantity(`SELLER-${skuName(index)}`), (quantity) => quantity === 30 + index, `${skuName(index)} on Amazon`);
      }
      // withAmazon checks that no request drew a 429.
    } finally {
      await harness.close();
    }
  });
});

test.run();
