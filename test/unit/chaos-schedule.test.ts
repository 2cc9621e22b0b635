// The chaos fault schedule (src/chaos/faults.ts): drawn from the seed alone, so a seed
// reproduces it exactly; every requested kind appears; faults stay inside the first 85 %
// of the load so the system recovers while still loaded; the CLI's kinds are all known.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FAULT_KINDS, faultSchedule, isFaultKind } from '../../src/chaos/faults.ts';
import { emptyFigures, failedChecks } from '../../src/chaos/figures.ts';

test('a seed gives the same schedule every time; another seed another one', () => {
  assert.equal(faultSchedule(7, 40_000), faultSchedule(7, 40_000));
  assert.not.equal(faultSchedule(7, 40_000), faultSchedule(8, 40_000));
});

test('every kind appears at least once, about one fault per 4 s, all inside 5–85 % of the load, in time order', () => {
  for (const [seed, durationMs] of [[7, 40_000], [11, 15_000], [3, 3_600_000]] as const) {
    const schedule = faultSchedule(seed, durationMs);
    for (const kind of FAULT_KINDS) assert.ok(schedule.some((fault) => fault.kind === kind), `${kind} in seed ${seed}`);
    assert.is(schedule.length, Math.max(FAULT_KINDS.length, Math.round(durationMs / 4000)));
    for (const fault of schedule) {
      assert.ok(fault.atMs >= durationMs * 0.05 && fault.atMs <= durationMs * 0.85, `${fault.kind} at ${fault.atMs}`);
      assert.ok(fault.lengthMs >= 300 && fault.lengthMs < 1500);
      assert.ok(fault.target === 0 || fault.target === 1);
    }
    assert.equal(schedule.map((fault) => fault.atMs), [...schedule.map((fault) => fault.atMs)].sort((a, b) => a - b));
  }
});

test('a subset of kinds gives only those kinds; none gives no faults', () => {
  const schedule = faultSchedule(7, 60_000, ['redis-kill', 'edge-kill']);
  assert.equal([...new Set(schedule.map((fault) => fault.kind))].sort(), ['edge-kill', 'redis-kill']);
  assert.equal(faultSchedule(7, 60_000, []), []);
  assert.ok(isFaultKind('wms-snapshot'));
  assert.not.ok(isFaultKind('disk-full'));
});

test('a run fails on any loss, doubling, invariant break, wrong correction or crash; not on convergence', () => {
  const clean = { ...emptyFigures({ seed: 1, events: 10, durationS: 1, skus: 1 }), ledgerQuiet: true };
  assert.equal(failedChecks(clean), []);
  assert.equal(failedChecks({ ...clean, converged: false }), [], 'convergence is reported, not required');
  assert.equal(failedChecks({ ...clean, lost: 2 }), ['lost 2']);
  assert.equal(failedChecks({ ...clean, i4Violations: 1, onHandMismatches: 1 }), ['I4 1', 'on_hand ≠ warehouse 1']);
  assert.equal(failedChecks({ ...clean, reconcile: { ...clean.reconcile, corrected: 3 } }), ['wrong corrections by reconciliation 3']);
  assert.equal(failedChecks({ ...clean, crashes: ['chaos-edge exited by itself'] }), ['daemon crashes 1']);
  assert.equal(failedChecks({ ...clean, delayedRetries: { ...clean.delayedRetries, beyondWindow: 2, beyondWindowRefused: 1 } }), ['replays beyond the window accepted 1']);
  assert.equal(failedChecks({ ...clean, ledgerQuiet: false }), ['the ledger never went quiet']);
});

test.run();
