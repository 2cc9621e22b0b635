// Issue 7: a short seeded chaos run with every fault kind — consumer and edge processes
// SIGKILLed, Redis SIGKILLed and restarted from its AOF, delay and connection resets
// between stockguard and Redis, channel latency, 429 storms, 5xx, timeouts and resets, a
// reconciliation against a WMS snapshot mid-burst, Shopify retries hours late (simulated
// clock), duplicate and reordered webhooks and SQS messages — then the outside checker:
// nothing lost, nothing applied twice, I1, I3, I4, on_hand = the warehouse, no FBA write,
// no dead letter, no wrong correction, and the ledger quiet again. The full-size run is
// `npm run chaos` (docs/reliability.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { failedChecks, runChaos } from '../../src/chaos/harness.ts';

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

test.run();
