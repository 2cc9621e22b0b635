// Issue 7: a short seeded chaos run — consumer SIGKILLs, Redis SIGKILLed and restarted from
// its AOF, duplicate and reordered webhooks and SQS messages, channel latency, 429 storms
// and 5xx — then the invariant checker: nothing lost, nothing applied twice, I3 and I4 on
// every SKU, no FBA write, and the system quiet again. The full-size run is `npm run chaos`
// (docs/reliability.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runChaos } from '../../src/chaos/harness.ts';

test('seeded chaos run: exactly once, I3, I4, no FBA write, the ledger quiet again', async () => {
  const figures = await runChaos({ seed: 11, events: 1500, durationS: 15, skus: 30, convergenceTimeoutMs: 60_000, channelTimeoutMs: 5_000 });
  const context = figures.problems.slice(0, 10).join('\n');
  assert.ok(Object.values(figures.faults).every((count) => count > 0), `every fault kind was injected: ${JSON.stringify(figures.faults)}`);
  assert.ok(figures.duplicates.shopifyWebhookCopies > 0 && figures.duplicates.sqsCopies > 0, 'duplicates were sent');
  assert.is(figures.lost, 0, `lost events\n${context}`);
  assert.is(figures.doubled, 0, `doubled events\n${context}`);
  assert.is(figures.wrongQuantity, 0, `reservation quantities\n${context}`);
  assert.is(figures.unexpectedReservations, 0, `reservations nobody sold\n${context}`);
  assert.is(figures.i3Violations, 0, `I3\n${context}`);
  assert.is(figures.i4Violations, 0, `I4\n${context}`);
  assert.is(figures.fbaWrites, 0, 'no FBA quantity written');
  assert.is(figures.deadLetters, 0, `dead letters\n${context}`);
  // The ledger side must settle. The channels converging to sellable(c) is not asserted:
  // it does not happen after Shopify 429/5xx faults (docs/reliability.md, findings).
  assert.ok(figures.ledgerQuiet, `the ledger went quiet\n${context}`);
});

test.run();
