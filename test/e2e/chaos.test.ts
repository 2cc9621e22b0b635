// Issue 7: a short seeded chaos run with every fault kind — consumer and edge processes
// SIGKILLed, Redis SIGKILLed and restarted from its AOF, delay and connection resets
// between stockguard and Redis, channel latency, 429 storms, 5xx, timeouts and resets, a
// reconciliation against a WMS snapshot mid-burst, Shopify retries hours late (simulated
// clock), duplicate and reordered webhooks and SQS messages — then the outside checker:
// nothing lost, nothing applied twice, I1, I3, I4, on_hand = the warehouse, no FBA write,
// no dead letter, no wrong correction, and the ledger quiet again. The full-size run is
// `npm run chaos` (docs/reliability.md).
//
// Issue 13 §5, the short Cluster case: a local Redis Cluster of 3 masters and 3 replicas
// (AOF always on every node), a master failed over (CLUSTER FAILOVER on its replica) and a
// master SIGKILLed (its replica elected) while the load runs and the two consumer daemons
// apply it, one of them SIGKILLed too; then the same checker. The full-size run is
// `npm run chaos -- --cluster`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkResults, failedChecks, runChaos } from '../../src/chaos/harness.ts';

test('seeded chaos run with every fault kind: all checks hold', async () => {
  const figures = await runChaos({ seed: 11, events: 1500, durationS: 15, skus: 30, convergenceTimeoutMs: 90_000, channelTimeoutMs: 5_000 });
  const context = [...figures.crashes, ...figures.problems].slice(0, 10).join('\n');
  assert.ok(Object.values(figures.faults).every((count) => count > 0), `every fault kind was injected: ${JSON.stringify(figures.faults)}`);
  assert.ok(figures.duplicates.shopifyWebhookCopies > 0 && figures.duplicates.sqsCopies > 0, 'duplicates were sent');
  assert.ok(figures.reconcile.runs > 0 && figures.reconcile.compared > 0, 'a reconciliation compared the WMS snapshot mid-burst');
  assert.ok(figures.delayedRetries.lateDuplicates > 0 && figures.delayedRetries.beyondWindow > 0, 'hours-late retries were sent');
  assert.ok(figures.redisConnectionsReset > 0, 'connections to Redis were reset');
  // lost, doubled, wrong quantity, unexpected reservations, cancels, I1, I3, I4, on_hand,
  // FBA writes, dead letters, reconciliation corrections, crashes, late retries, quiet.
  assert.equal(failedChecks(figures), [], `checks\n${context}`);
});

test('Cluster: a master failed over and a master killed under load, two consumer daemons: all checks hold', async () => {
  // Seed 22 schedules the failover at 4.5 s and the kill at 6.7 s of a 20-s load, so both
  // happen while the load runs even when the machine is slow.
  const figures = await runChaos({
    seed: 22,
    events: 1000,
    durationS: 20,
    skus: 20,
    redis: 'cluster',
    faultKinds: ['cluster-failover', 'cluster-master-kill', 'consumer-kill'],
    convergenceTimeoutMs: 60_000,
    channelTimeoutMs: 5_000,
  });
  const context = [...figures.crashes, ...figures.problems].slice(0, 10).join('\n');
  const { clusterFailovers } = figures;
  assert.ok(clusterFailovers.manual >= 1 && clusterFailovers.masterKills >= 1, `a failover and a kill: ${JSON.stringify(clusterFailovers)}\n${context}`);
  assert.is(clusterFailovers.startedUnderLoad, clusterFailovers.manual + clusterFailovers.masterKills, 'every Cluster fault began while the load was running');
  assert.ok((figures.faults['consumer-kill'] ?? 0) >= 1, 'a consumer daemon was killed as well');
  assert.ok(figures.sent.shopifySales + figures.sent.amazonSales > 0 && figures.sent.shipments > 0, 'sales and WMS events were applied');
  // lost, doubled, writes lost to the master kill, ledger = journal = warehouse, wrong corrections, crashes, quiet.
  assert.equal(failedChecks(figures), [], `checks ${JSON.stringify(checkResults(figures))}\n${context}`);
});

test.run();
