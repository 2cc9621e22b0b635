// The pure parts of the pushers: the policy arithmetic with the dynamic holdback added,
// the dynamic holdback itself, push ordering under rate limits, the client-side rate
// limiters and the drift verdict. Worked examples, then fast-check properties.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { judgeDrift } from '../../src/domain/drift.ts';
import { burstRatePerSecond, dynamicHoldback, pruneSales, recordSales, salesRatePerSecond } from '../../src/domain/dynamicHoldback.ts';
import { LatencySamples } from '../../src/domain/latencySamples.ts';
import { comparePushes, orderPushes, overPromise, type PushCandidate, pushClass } from '../../src/domain/pushOrder.ts';
import { TokenBucket, predictedPoints, waitForPointsMs } from '../../src/domain/rateLimit.ts';
import { type ChannelPolicy, resolvePolicy, sellable } from '../../src/domain/sellable.ts';

const WINDOW = { windowMs: 60_000, bucketMs: 1_000 };

test('policy steps with a dynamic holdback added to the static one', () => {
  // free = 100 − 10 − (2 static + 3 dynamic) = 85; 50 % → 42; cap 40 → 40; safety 5 → 35; ≥ floor 10
  const policy: ChannelPolicy = { percent: 50, maxShown: 40, safety: 5, floor: 10 };
  assert.is(sellable({ onHand: 100, reserved: 10, holdback: 2 + 3 }, policy), 35);
  // free 20 → 10 → 10 → 5 → below the floor of 10: 0
  assert.is(sellable({ onHand: 25, reserved: 0, holdback: 5 }, policy), 0);
});

const units = fc.integer({ min: 0, max: 100_000 });
const policyArbitrary: fc.Arbitrary<ChannelPolicy> = fc
  .record({
    percent: fc.integer({ min: 0, max: 100 }),
    maxShown: fc.option(units, { nil: undefined }),
    safety: fc.integer({ min: 0, max: 1_000 }),
    floor: fc.integer({ min: 0, max: 1_000 }),
  })
  .map((fields) => resolvePolicy(fields));

test('property: each policy step bounds the result (percent rounded down, cap, safety, floor)', () => {
  fc.assert(
    fc.property(units, units, units, policyArbitrary, (onHand, reserved, holdback, policy) => {
      const free = Math.max(0, onHand - reserved - holdback);
      const shown = sellable({ onHand, reserved, holdback }, policy);
      const share = Math.floor((free * policy.percent) / 100);
      assert.ok(shown <= share, 'never above the percentage, rounded down');
      if (policy.maxShown !== undefined) assert.ok(shown <= policy.maxShown, 'never above the cap');
      assert.ok(shown <= Math.max(0, Math.min(share, policy.maxShown ?? share) - policy.safety), 'the safety quantity is taken off');
      assert.ok(shown === 0 || shown >= policy.floor, 'below the floor means 0');
      // And it is exactly that value when it clears the floor.
      const expected = Math.max(0, Math.min(share, policy.maxShown ?? share) - policy.safety);
      assert.is(shown, expected < policy.floor ? 0 : expected);
    }),
  );
});

test('property: a larger dynamic holdback never shows more', () => {
  fc.assert(
    fc.property(units, units, units, fc.integer({ min: 0, max: 1_000 }), policyArbitrary, (onHand, reserved, holdback, extra, policy) => {
      assert.ok(sellable({ onHand, reserved, holdback: holdback + extra }, policy) <= sellable({ onHand, reserved, holdback }, policy));
    }),
  );
});

test('dynamic holdback: rate × p99 latency, rounded half up, capped', () => {
  assert.is(dynamicHoldback(0, 2_000, { maxUnits: 10 }), 0);
  // 10 sales/s, 250 ms: 2.5 expected → 3
  assert.is(dynamicHoldback(10, 250, { maxUnits: 10 }), 3);
  // one sale a minute, 2 s: 0.033 expected → nothing held back
  assert.is(dynamicHoldback(1 / 60, 2_000, { maxUnits: 10 }), 0);
  // 100 sales/s, 1 s: 100 expected, capped at 10
  assert.is(dynamicHoldback(100, 1_000, { maxUnits: 10 }), 10);
  assert.is(dynamicHoldback(5, 1_000, { maxUnits: 0 }), 0);
  assert.is(dynamicHoldback(Number.NaN, 1_000, { maxUnits: 5 }), 0);
});

test('sales window: records into buckets, forgets what left the window, measures the rate', () => {
  const now = 1_000_000;
  let sales = recordSales([], now - 500, 3, now, WINDOW);
  sales = recordSales(sales, now - 200, 2, now, WINDOW);
  sales = recordSales(sales, now - 5_500, 1, now, WINDOW);
  // a sale older than the window is ignored
  sales = recordSales(sales, now - 61_000, 100, now, WINDOW);
  assert.equal(sales, [
    [Math.floor((now - 5_500) / 1000) * 1000, 1],
    [Math.floor((now - 500) / 1000) * 1000, 5],
  ]);
  assert.is(salesRatePerSecond(sales, now, WINDOW), 6 / 60);
  // a minute later everything has left the window
  assert.equal(pruneSales(sales, now + 62_000, WINDOW), []);
  assert.is(salesRatePerSecond(sales, now + 62_000, WINDOW), 0);
});

test('the burst rate shows the first seconds of a flash sale, which the minute window spreads thin', () => {
  const now = 1_700_000_000_500;
  // 10 sales in the last second, after a quiet minute.
  const burst = recordSales([], now - 200, 10, now, WINDOW);
  assert.is(salesRatePerSecond(burst, now, WINDOW), 10 / 60);
  // The 2 s window holds the bucket of the last second (and counts a straddling one whole): 10 / 2.
  assert.is(burstRatePerSecond(burst, now, WINDOW), 5);
  // A steady 1 sale/s for a minute reads about the same in every window.
  let steady: Array<[number, number]> = [];
  for (let second = 59; second >= 0; second -= 1) steady = recordSales(steady, now - second * 1_000, 1, now, WINDOW);
  assert.ok(burstRatePerSecond(steady, now, WINDOW) <= 1.5, 'steady sales are not read as a burst');
  assert.ok(burstRatePerSecond(steady, now, WINDOW) >= salesRatePerSecond(steady, now, WINDOW));
  // Never below the whole window's rate.
  assert.is(burstRatePerSecond([], now, WINDOW), 0);
});

test('property: dynamic holdback is whole, within [0, max], and grows with rate and latency', () => {
  const rate = fc.double({ min: 0, max: 10_000, noNaN: true });
  const latency = fc.integer({ min: 0, max: 600_000 });
  const max = fc.integer({ min: 0, max: 1_000 });
  fc.assert(
    fc.property(rate, rate, latency, latency, max, (rateA, rateB, latencyA, latencyB, maxUnits) => {
      const held = dynamicHoldback(rateA, latencyA, { maxUnits });
      assert.ok(Number.isSafeInteger(held) && held >= 0 && held <= maxUnits);
      const [lowRate, highRate] = rateA <= rateB ? [rateA, rateB] : [rateB, rateA];
      const [lowLatency, highLatency] = latencyA <= latencyB ? [latencyA, latencyB] : [latencyB, latencyA];
      assert.ok(dynamicHoldback(lowRate, lowLatency, { maxUnits }) <= dynamicHoldback(highRate, highLatency, { maxUnits }));
    }),
  );
});

test('property: the sales window never counts a unit twice nor one outside the window', () => {
  const sale = fc.record({ agoMs: fc.integer({ min: 0, max: 120_000 }), units: fc.integer({ min: 1, max: 50 }) });
  fc.assert(
    fc.property(fc.array(sale, { maxLength: 60 }), (sales) => {
      const now = 10_000_000;
      let buckets: Array<[number, number]> = [];
      for (const { agoMs, units: sold } of sales) buckets = recordSales(buckets, now - agoMs, sold, now, WINDOW);
      const counted = buckets.reduce((sum, [, sold]) => sum + sold, 0);
      const inWindow = sales.filter((entry) => entry.agoMs < WINDOW.windowMs).reduce((sum, entry) => sum + entry.units, 0);
      assert.is(counted, inWindow);
      const starts = buckets.map(([start]) => start);
      assert.equal(starts, [...starts].sort((a, b) => a - b), 'buckets stay sorted');
      assert.is(new Set(starts).size, starts.length, 'one bucket per second');
    }),
  );
});

const candidate = (sku: string, target: number, known: number | undefined, changedAtMs = 0): PushCandidate => ({ sku, target, known, changedAtMs });

test('push order: zeros, then decreases by over-promise, then increases', () => {
  const ordered = orderPushes([
    candidate('up-a', 9, 5, 1),
    candidate('down-small', 4, 5, 2),
    candidate('zero', 0, 3, 9),
    candidate('down-big', 1, 20, 8),
    candidate('unknown', 7, undefined, 0),
    candidate('up-b', 6, 5, 0),
  ]);
  assert.equal(
    ordered.map((entry) => entry.sku),
    ['zero', 'down-big', 'down-small', 'unknown', 'up-b', 'up-a'],
  );
  assert.is(pushClass(candidate('x', 0, undefined)), 'zero', 'a zero for an unknown level is still a zero');
  assert.is(pushClass(candidate('x', 0, 0)), 'decrease', 'a channel already at zero needs no zero push');
  assert.is(overPromise(candidate('x', 3, 10)), 7);
});

const pushCandidate = fc.record({
  sku: fc.string({ minLength: 1, maxLength: 4 }),
  target: fc.integer({ min: 0, max: 50 }),
  known: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
  changedAtMs: fc.integer({ min: 0, max: 1_000 }),
});

test('property: every zero goes before every non-zero, every decrease before every increase', () => {
  fc.assert(
    fc.property(fc.array(pushCandidate, { maxLength: 40 }), (candidates) => {
      const ordered = orderPushes(candidates);
      const rank = { zero: 0, decrease: 1, increase: 2 } as const;
      for (let index = 1; index < ordered.length; index += 1) {
        assert.ok(rank[pushClass(ordered[index - 1]!)] <= rank[pushClass(ordered[index]!)]);
      }
      for (let index = 1; index < ordered.length; index += 1) {
        const [before, after] = [ordered[index - 1]!, ordered[index]!];
        if (pushClass(before) === 'decrease' && pushClass(after) === 'decrease') assert.ok(overPromise(before) >= overPromise(after), 'larger over-promise first');
      }
    }),
  );
});

test('property: the order is a total order, independent of arrival order', () => {
  fc.assert(
    fc.property(fc.array(pushCandidate, { maxLength: 30 }), fc.integer(), (candidates, seed) => {
      const shuffled = fc.sample(fc.shuffledSubarray(candidates, { minLength: candidates.length, maxLength: candidates.length }), { numRuns: 1, seed })[0]!;
      assert.equal(orderPushes(shuffled), orderPushes(candidates));
      for (const a of candidates) {
        assert.is(comparePushes(a, a), 0);
        for (const b of candidates) assert.is(Math.sign(comparePushes(a, b)), -Math.sign(comparePushes(b, a)));
      }
    }),
  );
});

test('token bucket: burst, then one token per 1/rate seconds, refunds', () => {
  let now = 0;
  const bucket = new TokenBucket(5, 5, () => now);
  for (let index = 0; index < 5; index += 1) assert.ok(bucket.tryTake());
  assert.not.ok(bucket.tryTake());
  assert.is(bucket.waitMs(), 200);
  now += 199;
  assert.not.ok(bucket.tryTake());
  now += 1;
  assert.ok(bucket.tryTake());
  bucket.refund();
  assert.ok(bucket.tryTake());
  assert.throws(() => new TokenBucket(0, 5, () => now), /rate > 0/);
});

test('property: a token bucket never grants more than burst + rate × elapsed', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 200 }), (rate, burst, steps) => {
      let now = 0;
      const bucket = new TokenBucket(rate, burst, () => now);
      let granted = 0;
      for (const step of steps) {
        now += step;
        if (bucket.tryTake()) granted += 1;
        assert.ok(granted <= burst + (rate * now) / 1000 + 1e-9, `${granted} granted by ${now} ms`);
      }
    }),
  );
});

test('Shopify cost bucket: predicted points and the wait before a request fits', () => {
  const snapshot = { maximumAvailable: 2000, currentlyAvailable: 5, restoreRate: 100, atMs: 1_000 };
  assert.is(predictedPoints(snapshot, 1_500), 55);
  assert.is(predictedPoints(snapshot, 100_000), 2000);
  assert.is(waitForPointsMs(snapshot, 12, 1_000), 70);
  assert.is(waitForPointsMs(snapshot, 12, 1_070), 0);
  assert.is(waitForPointsMs(undefined, 500, 0), 0, 'nothing known yet: the first response tells');
  assert.is(waitForPointsMs(snapshot, 5_000, 1_000), 19_950, 'more than the bucket holds: wait for a full bucket');
});

test('drift: nothing before a push and a newer report, nothing while settling', () => {
  const base = { channelSalesSincePush: 0, ledgerChangedAtMs: 0, settleMs: 30_000 };
  assert.equal(judgeDrift({ ...base, pushed: undefined, observed: { quantity: 3, observedAtMs: 10 }, nowMs: 100_000 }), { kind: 'none' });
  assert.equal(judgeDrift({ ...base, pushed: { quantity: 5, atMs: 50 }, observed: { quantity: 3, observedAtMs: 10 }, nowMs: 100_000 }), { kind: 'none' }, 'the report predates the push');
  assert.equal(judgeDrift({ ...base, pushed: { quantity: 5, atMs: 50 }, observed: { quantity: 3, observedAtMs: 90_000 }, nowMs: 100_000 }), { kind: 'settling' });
  assert.equal(judgeDrift({ ...base, pushed: { quantity: 5, atMs: 50 }, observed: { quantity: 3, observedAtMs: 60 }, ledgerChangedAtMs: 80_000, nowMs: 100_000 }), { kind: 'settling' }, 'the ledger moved recently');
});

test('drift: the channel\'s own ingested sales are expected; the rest is drift', () => {
  const base = { pushed: { quantity: 10, atMs: 1_000 }, ledgerChangedAtMs: 2_000, nowMs: 100_000, settleMs: 30_000 };
  assert.equal(judgeDrift({ ...base, observed: { quantity: 7, observedAtMs: 5_000 }, channelSalesSincePush: 3 }), { kind: 'agrees', expected: 7 });
  assert.equal(judgeDrift({ ...base, observed: { quantity: 25, observedAtMs: 5_000 }, channelSalesSincePush: 3 }), { kind: 'drift', expected: 7, units: 18 });
  assert.equal(judgeDrift({ ...base, observed: { quantity: 2, observedAtMs: 5_000 }, channelSalesSincePush: 0 }), { kind: 'drift', expected: 10, units: -8 });
});

test('latency samples: nearest-rank percentiles over recent samples only', () => {
  const samples = new LatencySamples(100, 1_000);
  assert.is(samples.percentile(99, 0), undefined);
  for (let index = 1; index <= 100; index += 1) samples.record(index, 0);
  assert.is(samples.percentile(99, 500), 99);
  assert.is(samples.percentile(50, 500), 50);
  samples.record(5_000, 1_500);
  // the first hundred are older than a second at 1,600 ms: only the newest counts
  assert.is(samples.percentile(99, 1_600), 5_000);
  assert.is(samples.count(1_600), 1);
});

test.run();
