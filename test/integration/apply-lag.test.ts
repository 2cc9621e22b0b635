// Apply lag (issue 12 §5): a push the channel acknowledged is confirmed in effect by the first
// fresh channel level that reports its quantity; the lag is the channel's report time minus
// the acknowledgement. Real Redis; the consumers' daemon handler calls PushStore.confirmApplied
// for every fresh channel.level (src/daemon.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEvent } from '../../src/ledger/applyEvent.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { PushStore } from '../../src/pushers/store.ts';
import type { ChannelLevelEvent } from '../../src/domain/events.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let handle: TestRedis;
let ledger: Ledger;
let store: PushStore;
const ACK_MS = Date.parse('2026-11-27T12:00:00Z');

test.before(async () => {
  handle = await startTestRedis();
  const redis = handle.client();
  ledger = new Ledger({ redis, keyPrefix: handle.prefix, clock: () => ACK_MS });
  store = new PushStore(redis, ledger.keys, ledger);
});
test.after(async () => {
  await handle.close();
});

function level(sku: string, quantity: number, observedAtMs: number, eventId: string): ChannelLevelEvent {
  return { type: 'channel.level', eventId, source: 'amazon-sqs', receivedAtMs: observedAtMs + 2_000, channel: 'amazon', sku, channelItemId: sku, quantity, observedAtMs };
}

test('the first report of the pushed quantity confirms the push once; other values, older reports and echoes do not count', async () => {
  await store.recordPushed('LAG-1', 'amazon', { quantity: 4, atMs: ACK_MS, version: 7 });
  assert.is(await store.confirmApplied('LAG-1', 'amazon', { quantity: 9, observedAtMs: ACK_MS + 10_000 }), undefined, 'a sale at the old quantity is not the push');
  assert.is(await store.confirmApplied('LAG-1', 'amazon', { quantity: 4, observedAtMs: ACK_MS - 120_000 }), undefined, 'a report from before the write is not its confirmation');
  assert.is(await store.confirmApplied('LAG-1', 'amazon', { quantity: 4, observedAtMs: ACK_MS + 1_500_000 }), 1_500_000);
  assert.is(await store.confirmApplied('LAG-1', 'amazon', { quantity: 4, observedAtMs: ACK_MS + 1_600_000 }), undefined, 'counted once');
  // A channel with no apply lag applies before we see its answer: up to the slack, that is lag 0.
  await store.recordPushed('LAG-1', 'amazon', { quantity: 2, atMs: ACK_MS + 2_000_000, version: 8 });
  assert.is(await store.confirmApplied('LAG-1', 'amazon', { quantity: 2, observedAtMs: ACK_MS + 1_999_990 }), 0);
  assert.is(await store.confirmApplied('LAG-1', 'shopify', { quantity: 2, observedAtMs: ACK_MS + 2_000_000 }), undefined, 'nothing pushed to that channel');
});

test('wired as the daemon does it: applyEvent names the SKU of a fresh level, and the histogram observes the lag', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const deps = { ledger, resolveChannelItem: async () => undefined, resolveRefs: async (refs: readonly string[]) => refs.map(() => undefined) };
  await ledger.createSku('LAG-2');
  await store.recordPushed('LAG-2', 'amazon', { quantity: 3, atMs: ACK_MS, version: 1 });
  for (const event of [level('LAG-2', 3, ACK_MS + 90_000, 'n-1'), level('LAG-2', 3, ACK_MS + 80_000, 'n-0'), level('LAG-2', 3, ACK_MS + 95_000, 'n-2')]) {
    const outcome = await applyEvent(event, deps);
    if (outcome.kind === 'observed' && outcome.fresh && outcome.sku !== undefined) {
      const lagMs = await store.confirmApplied(outcome.sku, event.channel, event);
      if (lagMs !== undefined) metrics.channelApplyLag.observe({ channel: event.channel }, lagMs / 1000);
    }
  }
  const histogram = (await metrics.registry.getSingleMetricAsString('stockguard_channel_apply_lag_seconds')).split('\n');
  assert.ok(histogram.includes('stockguard_channel_apply_lag_seconds_count{channel="amazon"} 1'), histogram.join('\n'));
  assert.ok(histogram.includes('stockguard_channel_apply_lag_seconds_sum{channel="amazon"} 90'), histogram.join('\n'));
  assert.ok(histogram.includes('stockguard_channel_apply_lag_seconds_bucket{le="120",channel="amazon"} 1'), histogram.join('\n'));
});

test.run();
