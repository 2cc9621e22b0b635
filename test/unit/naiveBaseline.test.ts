import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulateNaiveSync } from '../../src/domain/naiveBaseline.ts';

test('two channels that each see the full stock between syncs oversell by what the other sold', () => {
  const attempts = Array.from({ length: 20 }, (_, index) => ({ atMs: index * 1000, channel: index % 2 ? 'amazon' : 'shopify', sku: 'HOT', quantity: 1 }));
  const result = simulateNaiveSync({ onHand: { HOT: 10 }, channels: ['shopify', 'amazon'], attempts, syncIntervalMs: 300_000, startMs: 0 });
  assert.equal(result.acceptedByChannel, { shopify: 10, amazon: 10 });
  assert.is(result.oversoldUnits, 10);
  assert.equal(result.oversoldBySku, { HOT: 10 });
});

test('a sync in between tells every channel what is left', () => {
  const attempts = [
    ...Array.from({ length: 6 }, (_, index) => ({ atMs: index, channel: 'shopify', sku: 'A', quantity: 1 })),
    ...Array.from({ length: 6 }, (_, index) => ({ atMs: 1000 + index, channel: 'amazon', sku: 'A', quantity: 1 })),
  ];
  const result = simulateNaiveSync({ onHand: { A: 10 }, channels: ['shopify', 'amazon'], attempts, syncIntervalMs: 500, startMs: 0 });
  assert.equal(result.acceptedByChannel, { shopify: 6, amazon: 4 });
  assert.is(result.oversoldUnits, 0);
});

test('property: oversold = accepted − stock (when positive) per SKU; one channel never oversells', () => {
  fc.assert(
    fc.property(
      fc.nat({ max: 30 }),
      fc.array(fc.record({ atMs: fc.nat({ max: 600_000 }), channel: fc.constantFrom('shopify', 'amazon'), quantity: fc.integer({ min: 1, max: 3 }) }), { maxLength: 80 }),
      (stock, raw) => {
        const attempts = raw.map((attempt) => ({ ...attempt, sku: 'S' }));
        const both = simulateNaiveSync({ onHand: { S: stock }, channels: ['shopify', 'amazon'], attempts, syncIntervalMs: 300_000, startMs: 0 });
        const accepted = both.acceptedByChannel.shopify! + both.acceptedByChannel.amazon!;
        assert.is(both.oversoldUnits, Math.max(0, accepted - stock));
        const one = simulateNaiveSync({ onHand: { S: stock }, channels: ['shopify'], attempts: attempts.filter((attempt) => attempt.channel === 'shopify'), syncIntervalMs: 300_000, startMs: 0 });
        assert.is(one.oversoldUnits, 0);
      },
    ),
  );
});

test.run();
