// The reconciliation diff (src/domain/reconcile.ts): as-of arithmetic, thresholds per SKU
// class, verdicts and totals. Pure, no Redis.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  compareOnHand,
  countComparison,
  DEFAULT_THRESHOLDS,
  emptyTotals,
  onHandAsOf,
  thresholdFor,
  ThresholdsSchema,
} from '../../src/domain/reconcile.ts';
import { KeySpace } from '../../src/redis/keys.ts';

test('on_hand as of the snapshot takes back only the changes applied after it', () => {
  const changes = [
    { atMs: 1_000, dOnHand: 10 },
    { atMs: 2_000, dOnHand: -1 },
    { atMs: 2_001, dOnHand: -2 },
    { atMs: 3_000, dOnHand: 5 },
  ];
  assert.is(onHandAsOf(12, changes, 2_000), 12 - (-2) - 5);
  assert.is(onHandAsOf(12, changes, 3_000), 12);
  assert.is(onHandAsOf(12, changes, 999), 12 - 12);
  // The entry at exactly the as-of is part of the snapshot's moment.
  assert.is(onHandAsOf(12, [{ atMs: 2_000, dOnHand: -1 }], 2_000), 12);
});

test('property: as-of of the final value equals replaying only the changes up to the as-of', () => {
  fc.assert(
    fc.property(fc.array(fc.record({ atMs: fc.integer({ min: 0, max: 100 }), dOnHand: fc.integer({ min: -50, max: 50 }) })), fc.integer({ min: -1, max: 101 }), (changes, asOfMs) => {
      const final = changes.reduce((sum, change) => sum + change.dOnHand, 0);
      const upToAsOf = changes.filter((change) => change.atMs <= asOfMs).reduce((sum, change) => sum + change.dOnHand, 0);
      return onHandAsOf(final, changes, asOfMs) === upToAsOf;
    }),
  );
});

test('a pick confirmed after the snapshot is not a discrepancy (not counted twice)', () => {
  // WMS snapshot at t=100 says 10. The ledger had 10 then, and a pick of 1 landed at t=150.
  const ledgerNow = 9;
  const comparison = compareOnHand({
    wmsOnHand: 10,
    ledgerOnHandAsOf: onHandAsOf(ledgerNow, [{ atMs: 150, dOnHand: -1 }], 100),
    threshold: DEFAULT_THRESHOLDS.default!,
    wmsChangesInSettleWindow: 1,
  });
  assert.equal([comparison.verdict, comparison.delta], ['match', 0]);
});

test('shrinkage at or above both limits is corrected; below either limit it is only reported', () => {
  const threshold = { units: 3, percent: 10 };
  const at = (wmsOnHand: number, ledgerOnHandAsOf: number) => compareOnHand({ wmsOnHand, ledgerOnHandAsOf, threshold, wmsChangesInSettleWindow: 0 });
  assert.equal(pick(at(20, 23)), { verdict: 'correct', reason: 'above-threshold', delta: -3 }); // 3 units, 15 %
  assert.equal(pick(at(40, 43)), { verdict: 'report', reason: 'below-threshold', delta: -3 }); // 3 units but 7.5 %
  assert.equal(pick(at(10, 12)), { verdict: 'report', reason: 'below-threshold', delta: -2 }); // 20 % but 2 units
  assert.equal(pick(at(30, 25)), { verdict: 'correct', reason: 'above-threshold', delta: 5 }); // found stock
  // The WMS says 0: the percentage is of 1 unit, so any difference of enough units counts.
  assert.is(at(0, 3).percent, 300);
  assert.is(at(0, 3).verdict, 'correct');
});

test('a correctable discrepancy with a WMS change right after the snapshot is unsettled, not corrected', () => {
  const comparison = compareOnHand({ wmsOnHand: 9, ledgerOnHandAsOf: 10, threshold: { units: 1, percent: 0 }, wmsChangesInSettleWindow: 2 });
  assert.equal(pick(comparison), { verdict: 'unsettled', reason: 'wms-change-in-settle-window', delta: -1 });
  // Below the threshold it stays a plain report: nothing would have been written anyway.
  const small = compareOnHand({ wmsOnHand: 9, ledgerOnHandAsOf: 10, threshold: { units: 2, percent: 0 }, wmsChangesInSettleWindow: 2 });
  assert.is(small.verdict, 'report');
});

test('thresholds: per class from JSON, the default filled in, unknown classes fall back to it', () => {
  const parsed = ThresholdsSchema.parse({ hot: { units: 5, percent: 2 } });
  assert.equal(thresholdFor(parsed, 'hot'), { units: 5, percent: 2 });
  assert.equal(thresholdFor(parsed, 'default'), { units: 1, percent: 0 });
  assert.equal(thresholdFor(parsed, 'no-such-class'), { units: 1, percent: 0 });
  assert.equal(thresholdFor(parsed, undefined), { units: 1, percent: 0 });
  const overridden = ThresholdsSchema.parse({ default: { units: 2, percent: 1.5 } });
  assert.equal(thresholdFor(overridden, 'x'), { units: 2, percent: 1.5 });
  assert.not.ok(ThresholdsSchema.safeParse({ hot: { units: 0, percent: 1 } }).success, 'units must be ≥ 1');
  assert.not.ok(ThresholdsSchema.safeParse({ hot: { units: 1, percent: -1 } }).success, 'percent must be ≥ 0');
  assert.not.ok(ThresholdsSchema.safeParse({ hot: { units: 1, percent: 1, extra: 1 } }).success, 'unknown fields are refused');
});

test('totals count every verdict, and units only for corrections', () => {
  const totals = emptyTotals();
  const threshold = { units: 2, percent: 0 };
  for (const [wms, ledger, settle] of [[5, 5, 0], [5, 8, 0], [5, 4, 0], [7, 3, 0], [1, 9, 1]] as const) {
    countComparison(totals, compareOnHand({ wmsOnHand: wms, ledgerOnHandAsOf: ledger, threshold, wmsChangesInSettleWindow: settle }));
  }
  assert.equal(
    { compared: totals.compared, matched: totals.matched, discrepancies: totals.discrepancies, corrected: totals.corrected, reported: totals.reported, unsettled: totals.unsettled },
    { compared: 5, matched: 1, discrepancies: 4, corrected: 2, reported: 1, unsettled: 1 },
  );
  assert.is(totals.unitsCorrected, 3 + 4);
  assert.is(totals.netUnitsCorrected, -3 + 4);
});

test('every per-SKU key name parses back to its kind and SKU; other keys do not', () => {
  const keys = new KeySpace('sg.test');
  for (const sku of ['TEE-BLK-M', 'MÜTZE-ROT-黒', 'a:b*c?[d]', 'inv']) {
    for (const [kind, key] of Object.entries(keys.perSkuKeys(sku))) {
      assert.equal(keys.parsePerSkuKey(key), { kind, sku }, key);
    }
  }
  for (const other of ['sg.test:dirty', 'sg.test:catalog-index', 'sg.test:layout', 'sg.test:events:{sales:0}', 'sg.test:lock:reconcile', 'other:inv:{p0}:X', 'sg.test:nope:{p0}:X', 'sg.test:inv:{p0}:', 'sg.test:inv:{X}']) {
    assert.is(keys.parsePerSkuKey(other), undefined, other);
  }
});

function pick(comparison: ReturnType<typeof compareOnHand>) {
  return { verdict: comparison.verdict, reason: comparison.reason, delta: comparison.delta };
}

test.run();
