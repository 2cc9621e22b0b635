// The chaos fault schedule (src/chaos/faults.ts): drawn from the seed alone, so a seed
// reproduces it exactly; every requested kind appears; faults stay inside the first 85 %
// of the load so the system recovers while still loaded; the CLI's kinds are all known;
// the Cluster kinds (issue 13 §5) and the single-server kinds are never mixed up; the
// checks a run reports are flat and every one of them can fail it.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLUSTER_FAULT_KINDS, FAULT_KINDS, faultSchedule, isFaultKind, unsupportedKinds } from '../../src/chaos/faults.ts';
import { checkResults, emptyFigures, failedChecks } from '../../src/chaos/figures.ts';

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
  assert.equal(failedChecks({ ...clean, i4Violations: 1, onHandMismatches: 1 }), ['I4 1', 'on_hand_vs_warehouse 1']);
  assert.equal(failedChecks({ ...clean, reconcile: { ...clean.reconcile, corrected: 3 } }), ['wrong_corrections 3']);
  assert.equal(failedChecks({ ...clean, crashes: ['chaos-edge exited by itself'] }), ['daemon_crashes 1']);
  assert.equal(failedChecks({ ...clean, delayedRetries: { ...clean.delayedRetries, beyondWindow: 2, beyondWindowRefused: 1 } }), ['replays_beyond_window_accepted 1']);
  assert.equal(failedChecks({ ...clean, ledgerQuiet: false }), ['ledger_never_quiet']);
});

test('a write a killed Cluster master took and never replicated fails the run (told apart from lost)', () => {
  const clean = { ...emptyFigures({ seed: 1, events: 10, durationS: 1, skus: 1, redis: 'cluster' }, CLUSTER_FAULT_KINDS), ledgerQuiet: true };
  assert.equal(failedChecks(clean), []);
  const lostToKill = { ...clean, clusterFailovers: { ...clean.clusterFailovers, masterKills: 1, writesLostToFailover: 2, onHandMismatchesFromLostWrites: 1 } };
  assert.equal(failedChecks(lostToKill), ['writes_lost_to_master_kill 2', 'on_hand_vs_warehouse_after_master_kill 1']);
  assert.is(checkResults(lostToKill).lost!.failed, 0);
});

test('the checks are reported flat, {name: {failed: N}}, with lost, doubled and wrong_corrections', () => {
  const figures = { ...emptyFigures({ seed: 1, events: 10, durationS: 1, skus: 1 }), ledgerQuiet: true, lost: 1, doubled: 2 };
  const checks = checkResults(figures);
  assert.equal(checks.lost, { failed: 1 });
  assert.equal(checks.doubled, { failed: 2 });
  assert.equal(checks.wrong_corrections, { failed: 0 });
  assert.equal(checks.writes_lost_to_master_kill, { failed: 0 });
  // Every check can fail the run: failedChecks names exactly the non-zero ones.
  assert.equal(failedChecks(figures), ['lost 1', 'doubled 2']);
  for (const [name, { failed }] of Object.entries(checks)) assert.ok(Number.isInteger(failed) && failed >= 0, name);
});

test('Cluster runs: failover and master-kill in place of the server faults; the kinds are refused where they cannot run', () => {
  for (const kind of ['cluster-failover', 'cluster-master-kill'] as const) {
    assert.ok(isFaultKind(kind));
    assert.ok(CLUSTER_FAULT_KINDS.includes(kind));
    assert.not.ok((FAULT_KINDS as readonly string[]).includes(kind));
  }
  for (const kind of ['redis-kill', 'redis-delay', 'redis-reset']) assert.not.ok((CLUSTER_FAULT_KINDS as readonly string[]).includes(kind), kind);
  assert.equal(unsupportedKinds(['cluster-failover', 'edge-kill'], 'server'), ['cluster-failover']);
  assert.equal(unsupportedKinds(['redis-delay', 'cluster-master-kill', 'edge-kill'], 'cluster'), ['redis-delay']);
  assert.equal(unsupportedKinds(CLUSTER_FAULT_KINDS, 'cluster'), []);
  assert.equal(unsupportedKinds(FAULT_KINDS, 'server'), []);
  const schedule = faultSchedule(11, 20_000, CLUSTER_FAULT_KINDS);
  for (const kind of CLUSTER_FAULT_KINDS) assert.ok(schedule.some((fault) => fault.kind === kind), kind);
  const figures = emptyFigures({ seed: 1, events: 10, durationS: 1, skus: 1, redis: 'cluster' }, CLUSTER_FAULT_KINDS);
  assert.equal(Object.keys(figures.faults).sort(), [...CLUSTER_FAULT_KINDS].sort());
});

test.run();
