// Issue 12 on real Redis (one server, and a local 3-master Cluster): sales reserved by the
// ledger concurrently with the pushers' decisions, writes and the channels' confirmations.
// Two simulated channels enforce what they show: Shopify (compare-and-set, in effect at
// once) and Amazon (absolute, applied a few ms later and reported over the notifications
// path). The bounded allocator (src/pushers/allocator.ts) must keep every decision within
// Σ exposure ≤ available + budget, and so the ledger records nothing oversold (strict) or at
// most the budget.
import type { Cluster, Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { CatalogEntry, SalesChannel } from '../../src/catalog/entry.ts';
import { type AllocationMode, parseAllocationMode } from '../../src/domain/allocation.ts';
import { DEFAULT_POLICY } from '../../src/domain/sellable.ts';
import { seededRandom } from '../../src/domain/random.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { BoundedAllocator } from '../../src/pushers/allocator.ts';
import type { PushOutcome, PushRequest } from '../../src/pushers/pusher.ts';
import { PushStore } from '../../src/pushers/store.ts';
import { startTestCluster, startTestRedis } from '../helpers/redis.ts';

const TIMING = {
  shopify: { deliveryLagBoundMs: 2_000, applyLagBoundMs: 200, confirmTimeoutMs: 60_000 },
  amazon: { deliveryLagBoundMs: 2_000, applyLagBoundMs: 500, confirmTimeoutMs: 60_000 },
} as const;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Target {
  prefix: string;
  client(): Redis | Cluster;
  close(): Promise<void>;
}

async function flashSale(target: Target, sku: string, mode: AllocationMode, stock: number, seed: number): Promise<{ oversold: number; sold: number; raisesAbove: number; booked: number; shownAtRest: number; availableAtRest: number; budget: number }> {
  const redis = target.client();
  const sales = target.client();
  const ledger = new Ledger({ redis, keyPrefix: target.prefix });
  const salesLedger = new Ledger({ redis: sales, keyPrefix: target.prefix });
  const store = new PushStore(redis, ledger.keys, ledger);
  const allocator = new BoundedAllocator({ redis, keys: ledger.keys, timing: TIMING, velocityWindowMs: 5_000, clock: Date.now, reports: (name, channel) => store.channelReports(name, channel) });
  const random = seededRandom(seed);
  await ledger.createSku(sku);
  await ledger.count(sku, { eventId: `open-${sku}`, counted: stock });
  const entry: CatalogEntry = { sku, holdback: 0, skuClass: 'hot', policies: {} };
  const budget = mode.kind === 'budget' ? mode.budget : 0;

  // What each channel really shows; Amazon's accepted writes wait to apply.
  const shown: Record<SalesChannel, number> = { shopify: 0, amazon: 0 };
  let sold = 0;
  let saleNumber = 0;
  let raisesAbove = Number.NEGATIVE_INFINITY;
  const inFlight = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };
  // Amazon stamps the time the quantity was true; the notification arrives up to 40 ms later.
  const report = (quantity: number) => {
    const observedAtMs = Date.now();
    track(sleep(random() * 40).then(() => store.noteChannelReport(sku, 'amazon', { quantity, observedAtMs })));
  };

  const view = async () => {
    const inventory = (await ledger.inventory(sku))!;
    return { ledger: { onHand: inventory.onHand, reserved: inventory.reserved, holdback: 0, version: 0, updatedMs: 0, oversold: inventory.oversold }, pushed: {}, observed: {}, state: { sales: [], cursor: undefined, dynamicHoldback: 0 } };
  };
  const decideAndSend = async () => {
    const decision = await allocator.decide({
      sku,
      entry,
      mode,
      view: await view(),
      channels: [
        { channel: 'shopify', policy: DEFAULT_POLICY },
        { channel: 'amazon', policy: DEFAULT_POLICY },
      ],
      holdbackUnits: 0,
      nowMs: Date.now(),
    });
    if (!decision) return;
    // I8 at every decision: Σ exposure ≤ available + budget (the ledger as of the journal read).
    // No write leaves that would take Σ exposure above the bound (the allocator's own account).
    for (const choice of decision.decisions) if (choice.send && choice.exposureAfter > choice.exposure) raisesAbove = Math.max(raisesAbove, decision.exposureAfter - decision.limit);
    for (const choice of decision.decisions) {
      if (!choice.send) continue;
      const request = { sku, channel: choice.channel, entry, quantity: choice.value, known: choice.expected, knownAtMs: Date.now(), version: 0, changedAtMs: Date.now(), cause: 'allocation' } as PushRequest;
      const latest = () => allocator.available(sku);
      if (!(await allocator.beforeSend(request, { mode, available: latest }))) continue;
      let outcome: PushOutcome;
      if (choice.channel === 'shopify') {
        // changeFromQuantity: the write wins only if Shopify shows what we expect.
        if (shown.shopify === choice.expected) {
          shown.shopify = choice.value;
          outcome = { kind: 'acked', atMs: Date.now() };
        } else outcome = { kind: 'stale', channelQuantity: shown.shopify };
      } else {
        outcome = { kind: 'acked', atMs: Date.now() };
        const value = choice.value;
        track(
          sleep(5 + random() * 60).then(() => {
            shown.amazon = value;
            report(value);
          }),
        );
      }
      await allocator.afterResult(request, outcome);
    }
  };

  const ends = Date.now() + 2_500;
  const buyers = (async () => {
    while (Date.now() < ends) {
      const channel: SalesChannel = random() < 0.6 ? 'shopify' : 'amazon';
      const quantity = random() < 0.8 ? 1 : 2;
      // The channel enforces what it shows; its sale reaches the ledger a little later.
      if (shown[channel] >= quantity) {
        shown[channel] -= quantity;
        saleNumber += 1;
        const orderId = `o-${seed}-${saleNumber}`;
        // Amazon reports every change, sales included, delivered out of order within 40 ms.
        if (channel === 'amazon') report(shown.amazon);
        track(sleep(random() * 30).then(() => salesLedger.reserveOrder({ channel, orderId, lines: [{ lineId: '1', sku, quantity }] }).then(() => (sold += quantity))));
      }
      await sleep(random() * 4);
    }
  })();
  const pusher = (async () => {
    while (Date.now() < ends + 500) {
      await decideAndSend();
      await sleep(2 + random() * 8);
    }
  })();
  await Promise.all([buyers, pusher]);
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  await decideAndSend();
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  await decideAndSend();
  while (inFlight.size > 0) await Promise.all([...inFlight]);
  // At rest (every sale reserved, every write answered and reported) the books never count
  // less than the channels show (they may count more until an unseen bucket expires).
  await decideAndSend();
  const inventory = (await ledger.inventory(sku))!;
  const booked = await allocator.exposure(sku);
  return { oversold: inventory.oversold, sold, raisesAbove, booked, shownAtRest: shown.shopify + shown.amazon, availableAtRest: inventory.onHand - inventory.reserved, budget };
}

function defineSuite(name: string, start: () => Promise<Target>): void {
  const test = suite(`bounded allocation on ${name}`);
  let target: Target;
  test.before(async () => {
    target = await start();
  });
  test.after(async () => {
    await target.close();
  });

  test('strict: concurrent sales, writes and confirmations never take Σ exposure above available; nothing is oversold', async () => {
    for (const seed of [1, 2, 3]) {
      const result = await flashSale(target, `STRICT-${seed}`, parseAllocationMode('strict'), 40, seed);
      assert.is(result.oversold, 0, `seed ${seed}: oversold`);
      assert.ok(result.raisesAbove <= 0, `seed ${seed}: a raise went out with Σ exposure ${result.raisesAbove} above available`);
      assert.ok(result.booked >= result.shownAtRest, `seed ${seed}: at rest the books (${result.booked}) count less than the channels show (${result.shownAtRest})`);
      assert.ok(result.shownAtRest <= result.availableAtRest, `seed ${seed}: at rest the channels show ${result.shownAtRest} > available ${result.availableAtRest}`);
      assert.ok(result.sold > 0, `seed ${seed}: something sold`);
    }
  });

  test('budget:3: Σ exposure stays within available + 3, and at most 3 units are oversold', async () => {
    for (const seed of [4, 5]) {
      const result = await flashSale(target, `BUDGET-${seed}`, parseAllocationMode('budget:3'), 30, seed);
      assert.ok(result.oversold <= 3, `seed ${seed}: oversold ${result.oversold}`);
      assert.ok(result.raisesAbove <= 0, `seed ${seed}: a raise went out with Σ exposure ${result.raisesAbove} above available + 3`);
      assert.ok(result.booked >= result.shownAtRest, `seed ${seed}: at rest the books (${result.booked}) count less than the channels show (${result.shownAtRest})`);
    }
  });
  test('a raise on Amazon that no write explains (a hand edit) takes the drift path: reported, and the books follow the channel', async () => {
    const redis = target.client();
    const ledger = new Ledger({ redis, keyPrefix: target.prefix });
    const store = new PushStore(redis, ledger.keys, ledger);
    const unexplained: { quantity: number; before: number }[] = [];
    const allocator = new BoundedAllocator({ redis, keys: ledger.keys, timing: { ...TIMING, amazon: { ...TIMING.amazon, deliveryLagBoundMs: 0 } }, velocityWindowMs: 5_000, clock: Date.now, reports: (name, channel) => store.channelReports(name, channel), onUnexplained: (_sku, _channel, report) => unexplained.push(report) });
    const sku = 'HAND-EDIT';
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: 'open', counted: 10 });
    const entry: CatalogEntry = { sku, holdback: 0, skuClass: 'hot', policies: {} };
    const view = { ledger: { onHand: 10, reserved: 0, holdback: 0, version: 0, updatedMs: 0, oversold: 0 }, pushed: {}, observed: {}, state: { sales: [], cursor: undefined, dynamicHoldback: 0 } };
    const decide = () => allocator.decide({ sku, entry, mode: parseAllocationMode('strict'), view, channels: [{ channel: 'amazon', policy: DEFAULT_POLICY }], holdbackUnits: 0, nowMs: Date.now() });
    await decide();
    const opened = Date.now();
    await sleep(30);
    await store.noteChannelReport(sku, 'amazon', { quantity: 0, observedAtMs: opened + 5 });
    await store.noteChannelReport(sku, 'amazon', { quantity: 25, observedAtMs: opened + 10 });
    const decision = (await decide())!;
    assert.equal(unexplained.map((report) => [report.before, report.quantity]), [[0, 25]]);
    const amazon = decision.decisions.find((choice) => choice.channel === 'amazon')!;
    // The books now say Amazon shows 25 of 10 available: strict brings it down.
    assert.is(amazon.account.confirmed, 25);
    assert.ok(amazon.send && amazon.value < 25, `a decrease goes out: ${JSON.stringify(amazon)}`);
  });

  test('a channel\'s reports are kept one horizon behind the newest (plus the one before): a month of reports does not pile up, a late one still finds its predecessor', async () => {
    const redis = target.client();
    const ledger = new Ledger({ redis, keyPrefix: target.prefix });
    const hour = 3_600_000;
    const store = new PushStore(redis, ledger.keys, ledger, 2 * hour);
    const sku = 'REPORT-HORIZON';
    const start = Date.UTC(2026, 10, 1);
    // A report every 3 hours for 30 days: 240 reports.
    for (let at = 0; at < 240; at += 1) await store.noteChannelReport(sku, 'amazon', { quantity: at % 7, observedAtMs: start + at * 3 * hour });
    const newest = start + 239 * 3 * hour;
    let kept = await store.channelReports(sku, 'amazon');
    assert.equal(kept.map((report) => (report.observedAtMs - newest) / hour), [-3, 0], 'the newest and the one before it');
    // Three reports within the horizon, one delivered late (out of order).
    await store.noteChannelReport(sku, 'amazon', { quantity: 9, observedAtMs: newest + hour });
    await store.noteChannelReport(sku, 'amazon', { quantity: 8, observedAtMs: newest + 2.5 * hour });
    await store.noteChannelReport(sku, 'amazon', { quantity: 4, observedAtMs: newest + 2 * hour });
    kept = await store.channelReports(sku, 'amazon');
    assert.equal(kept.map((report) => [(report.observedAtMs - newest) / hour, report.quantity]), [[0, 239 % 7], [1, 9], [2, 4], [2.5, 8]], 'in the channel\'s time order, one before the horizon');
  });

  test('a flash sale drops old channel reports: the oldest kept one, whose predecessor is gone, never confirms a write (it was a sale\'s report equal to the write\'s value)', async () => {
    const redis = target.client();
    const ledger = new Ledger({ redis, keyPrefix: target.prefix });
    const store = new PushStore(redis, ledger.keys, ledger);
    const timing = { ...TIMING, amazon: { ...TIMING.amazon, deliveryLagBoundMs: 0 } };
    const unexplained: number[] = [];
    const allocator = new BoundedAllocator({ redis, keys: ledger.keys, timing, velocityWindowMs: 5_000, clock: Date.now, reports: (name, channel) => store.channelReports(name, channel), onUnexplained: (_sku, _channel, report) => unexplained.push(report.quantity) });
    const sku = 'FLASH-ANCHOR';
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: 'open', counted: 500 });
    const entry: CatalogEntry = { sku, holdback: 0, skuClass: 'hot', policies: {} };
    const view = { ledger: { onHand: 500, reserved: 0, holdback: 0, version: 0, updatedMs: 0, oversold: 0 }, pushed: {}, observed: {}, state: { sales: [], cursor: undefined, dynamicHoldback: 0 } };
    const decide = () => allocator.decide({ sku, entry, mode: parseAllocationMode('strict'), view, channels: [{ channel: 'amazon', policy: DEFAULT_POLICY }], holdbackUnits: 0, nowMs: Date.now() });
    await decide();
    // Amazon sells 100 units one by one (200 → 101), a report each; the store keeps the
    // newest 64 (164 → 101), so the oldest kept is 164. A write of 164 leaves one second
    // after Amazon showed 164 (inside the clock slack).
    const sentAt = Date.now();
    for (let sold = 0; sold < 100; sold += 1) await store.noteChannelReport(sku, 'amazon', { quantity: 200 - sold, observedAtMs: sentAt - 1_000 - 36 + sold });
    const kept = await store.channelReports(sku, 'amazon');
    assert.is(kept.length, 64);
    assert.equal([kept[0]!.quantity, kept[0]!.anchor], [164, true], 'the oldest kept report is marked: its predecessor is gone');
    const request: PushRequest = { sku, channel: 'amazon', entry, quantity: 164, known: undefined, knownAtMs: 0, version: 0, changedAtMs: sentAt, cause: 'allocation' };
    assert.ok(await allocator.beforeSend(request, { mode: parseAllocationMode('strict'), available: async () => 500 }));
    await allocator.afterResult(request, { kind: 'acked', atMs: Date.now() });
    const decision = (await decide())!;
    const amazon = decision.decisions.find((choice) => choice.channel === 'amazon')!;
    assert.ok(amazon.account.pending.some((write) => write.value === 164), `the write of 164 is still pending, counted in full: ${JSON.stringify(amazon.account.pending)}`);
    // When it takes effect, Amazon reports it: confirmed, not a hand edit.
    await store.noteChannelReport(sku, 'amazon', { quantity: 164, observedAtMs: Date.now() });
    await sleep(5);
    const confirmed = (await decide())!.decisions.find((choice) => choice.channel === 'amazon')!;
    assert.equal(confirmed.account.pending.filter((write) => write.value === 164), [], 'its own report confirms it');
    assert.equal(unexplained, [], 'no raise was unexplained');
  });

  test('the channel mix is the prior of a SKU that has not sold: a fresh strict SKU opens 60/40, and without it 50/50', async () => {
    const redis = target.client();
    const ledger = new Ledger({ redis, keyPrefix: target.prefix });
    const store = new PushStore(redis, ledger.keys, ledger);
    const opening = async (sku: string, channelMix?: Partial<Record<SalesChannel, number>>) => {
      const allocator = new BoundedAllocator({ redis, keys: ledger.keys, timing: TIMING, velocityWindowMs: 60_000, clock: Date.now, reports: (name, channel) => store.channelReports(name, channel), ...(channelMix ? { channelMix } : {}) });
      await ledger.createSku(sku);
      await ledger.count(sku, { eventId: 'open', counted: 100 });
      const entry: CatalogEntry = { sku, holdback: 0, skuClass: 'hot', policies: {} };
      const view = { ledger: { onHand: 100, reserved: 0, holdback: 0, version: 0, updatedMs: 0, oversold: 0 }, pushed: {}, observed: {}, state: { sales: [], cursor: undefined, dynamicHoldback: 0 } };
      const decision = (await allocator.decide({ sku, entry, mode: parseAllocationMode('strict'), view, channels: [{ channel: 'shopify', policy: DEFAULT_POLICY }, { channel: 'amazon', policy: DEFAULT_POLICY }], holdbackUnits: 0, nowMs: Date.now() }))!;
      return Object.fromEntries(decision.decisions.map((choice) => [choice.channel, choice.target]));
    };
    assert.equal(await opening('MIX-PRIOR', { shopify: 60, amazon: 40 }), { shopify: 60, amazon: 40 });
    assert.equal(await opening('MIX-NONE'), { shopify: 50, amazon: 50 });
  });

  test.run();
}

defineSuite('one Redis server', async () => {
  const redis = await startTestRedis();
  return { prefix: redis.prefix, client: () => redis.client(), close: () => redis.close() };
});
defineSuite('a local 3-master Redis Cluster', async () => {
  const cluster = await startTestCluster();
  return { prefix: cluster.prefix, client: () => cluster.client(), close: () => cluster.close() };
});
