// The sellable-quantity policy: worked examples for each step and its order, then
// fast-check properties that must hold for any ledger and any valid policy.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ChannelPolicy, DEFAULT_POLICY, exposure, type LedgerQuantities, resolvePolicy, sellable } from '../../src/domain/sellable.ts';

const stock = (onHand: number, reserved = 0, holdback = 0): LedgerQuantities => ({ onHand, reserved, holdback });

test('the default policy shows everything that is not reserved or held back', () => {
  assert.equal(DEFAULT_POLICY, { percent: 100, safety: 0, floor: 0 });
  assert.is(sellable(stock(50, 12, 3), DEFAULT_POLICY), 35);
  assert.is(sellable(stock(50, 50, 0), DEFAULT_POLICY), 0);
});

test('an oversold or fully held-back SKU shows 0, never a negative number', () => {
  assert.is(sellable(stock(10, 14, 0), DEFAULT_POLICY), 0);
  assert.is(sellable(stock(10, 4, 8), DEFAULT_POLICY), 0);
});

test('the percentage is rounded down', () => {
  assert.is(sellable(stock(7), resolvePolicy({ percent: 29 })), 2);
  // 29 % of 100 is exactly 29; computed as 100 × 0.29 in floating point it would floor to 28
  assert.is(sellable(stock(100), resolvePolicy({ percent: 29 })), 29);
  assert.is(sellable(stock(9), resolvePolicy({ percent: 50 })), 4);
  assert.is(sellable(stock(100), resolvePolicy({ percent: 0 })), 0);
});

test('maximum shown caps the result', () => {
  assert.is(sellable(stock(40), resolvePolicy({ maxShown: 25 })), 25);
  assert.is(sellable(stock(10), resolvePolicy({ maxShown: 25 })), 10);
  assert.is(sellable(stock(10), resolvePolicy({ maxShown: 0 })), 0);
});

test('safety is subtracted and clamped at 0', () => {
  assert.is(sellable(stock(10), resolvePolicy({ safety: 3 })), 7);
  assert.is(sellable(stock(2), resolvePolicy({ safety: 3 })), 0);
});

test('a result below the floor becomes 0; one at the floor is shown', () => {
  assert.is(sellable(stock(4), resolvePolicy({ floor: 5 })), 0);
  assert.is(sellable(stock(5), resolvePolicy({ floor: 5 })), 5);
});

test('the steps apply in order: percentage, cap, safety, floor', () => {
  const policy: ChannelPolicy = { percent: 50, maxShown: 12, safety: 2, floor: 8 };
  // free = 40 − 6 − 4 = 30; 50 % → 15; cap 12 → 12; safety 2 → 10; 10 ≥ floor 8 → 10
  assert.is(sellable(stock(40, 6, 4), policy), 10);
  // cap before safety: 100 → 50 → 12 → 10. Safety before the cap would give min(48, 12) = 12.
  assert.is(sellable(stock(100), policy), 10);
  // free 20 → 10 → 10 → 8 → exactly the floor: shown
  assert.is(sellable(stock(20), policy), 8);
  // free 18 → 9 → 9 → 7 → below the floor: 0. The floor looks at the result after safety.
  assert.is(sellable(stock(18), policy), 0);
});

test('resolvePolicy fills absent fields from the default and keeps the ones given', () => {
  assert.equal(resolvePolicy(), { percent: 100, safety: 0, floor: 0 });
  assert.equal(resolvePolicy({ safety: 2 }), { percent: 100, safety: 2, floor: 0 });
  assert.equal(resolvePolicy({ percent: 0, maxShown: 0, floor: 0 }), { percent: 0, maxShown: 0, safety: 0, floor: 0 });
});

test('exposure: what the channels were shown beyond what is available', () => {
  // available 20, Shopify shown 20 and Amazon shown 15: 15 units at risk
  assert.is(exposure(20, [20, 15]), 15);
  // oversold (available −3) counts as 0 available: everything shown is at risk
  assert.is(exposure(-3, [2, 1]), 3);
  // a holdback makes exposure negative: units withheld from every channel
  assert.is(exposure(20, [17]), -3);
  assert.is(exposure(0, []), 0);
});

const quantity = fc.integer({ min: 0, max: 100_000 });
const ledgerArbitrary = fc.record({ onHand: quantity, reserved: quantity, holdback: quantity });
const policyArbitrary: fc.Arbitrary<ChannelPolicy> = fc
  .record({
    percent: fc.integer({ min: 0, max: 100 }),
    maxShown: fc.option(quantity, { nil: undefined }),
    safety: fc.integer({ min: 0, max: 1_000 }),
    floor: fc.integer({ min: 0, max: 1_000 }),
  })
  .map((fields) => resolvePolicy(fields));

test('property: never negative and never more than onHand − reserved − holdback', () => {
  fc.assert(
    fc.property(ledgerArbitrary, policyArbitrary, (ledger, policy) => {
      const units = sellable(ledger, policy);
      assert.ok(Number.isSafeInteger(units), `whole number, got ${units}`);
      assert.ok(units >= 0);
      assert.ok(units <= Math.max(0, ledger.onHand - ledger.reserved - ledger.holdback));
    }),
  );
});

test('property: more stock on hand never shows less', () => {
  fc.assert(
    fc.property(ledgerArbitrary, quantity, policyArbitrary, (ledger, received, policy) => {
      const before = sellable(ledger, policy);
      const after = sellable({ ...ledger, onHand: ledger.onHand + received }, policy);
      assert.ok(after >= before, `${before} → ${after} after receiving ${received}`);
    }),
  );
});

test('property: 0 whenever reserved ≥ onHand', () => {
  fc.assert(
    fc.property(quantity, quantity, quantity, policyArbitrary, (onHand, extraReserved, holdback, policy) => {
      assert.is(sellable({ onHand, reserved: onHand + extraReserved, holdback }, policy), 0);
    }),
  );
});

test('property: one channel on the default policy with no holdback has exposure 0', () => {
  fc.assert(
    fc.property(quantity, quantity, (onHand, reserved) => {
      const shown = sellable({ onHand, reserved, holdback: 0 }, DEFAULT_POLICY);
      assert.is(exposure(onHand - reserved, [shown]), 0);
    }),
  );
});

test.run();
