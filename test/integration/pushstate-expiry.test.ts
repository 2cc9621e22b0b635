// A SKU's pushstate hash (`<prefix>:pushstate:{p<N>}:<SKU>`: sales window, channel reports,
// I8 accounts) expires after an idle horizon, so an idle SKU keeps no such key at rest
// (docs/pushers.md, "Channel state at rest"). Every write path sets the expiry in the same
// script (writePushState.lua); expiry is simulated here by deleting the key (no timed
// assertion), and what follows must stay on the safe side of I8: the first report after it
// is no "first report" when the channel reported before, so it cannot confirm a write.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Redis } from 'ioredis';
import type { CatalogEntry, SalesChannel } from '../../src/catalog/entry.ts';
import { type AllocationMode, parseAllocationMode } from '../../src/domain/allocation.ts';
import { DEFAULT_POLICY } from '../../src/domain/sellable.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { BoundedAllocator } from '../../src/pushers/allocator.ts';
import type { PushRequest } from '../../src/pushers/pusher.ts';
import { KEEP_FIELD, idleHorizonFor } from '../../src/pushers/pushStateWrite.ts';
import { PushStore } from '../../src/pushers/store.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const HOUR = 3_600_000;
const TIMING = {
  shopify: { deliveryLagBoundMs: 2_000, applyLagBoundMs: 200, confirmTimeoutMs: 60_000 },
  amazon: { deliveryLagBoundMs: 2_000, applyLagBoundMs: 500, confirmTimeoutMs: 60_000 },
} as const;
const T0 = Date.UTC(2026, 11, 6, 12);
const STRICT = parseAllocationMode('strict');

let redis: TestRedis;
let client: Redis;
let ledger: Ledger;
let store: PushStore;
let now = T0;
let allocator: BoundedAllocator;

test.before(async () => {
  redis = await startTestRedis();
  client = redis.client();
  ledger = new Ledger({ redis: client, keyPrefix: redis.prefix, clock: () => now });
  store = new PushStore(client, ledger.keys, ledger, 2 * HOUR, 3 * HOUR);
  allocator = new BoundedAllocator({
    redis: client,
    keys: ledger.keys,
    timing: TIMING,
    velocityWindowMs: 5_000,
    clock: () => now,
    reports: (sku, channel) => store.channelReports(sku, channel),
    anchorReport: (sku, channel, report) => store.noteChannelReport(sku, channel, report),
    idleMs: store.idleMs,
  });
});

test.after(async () => {
  await redis.close();
});

const pttl = (sku: string) => client.pttl(ledger.keys.pushState(sku));
const expiring = async (sku: string, what: string) => {
  const ttl = await pttl(sku);
  assert.ok(ttl > 0 && ttl <= 3 * HOUR, `${what}: the pushstate key expires within the idle horizon (PTTL ${ttl})`);
};
const entryOf = (sku: string): CatalogEntry => ({ sku, holdback: 0, skuClass: 'hot', policies: {} });

async function decide(sku: string, channels: SalesChannel[], mode: AllocationMode = STRICT) {
  const decision = await allocator.decide({ sku, entry: entryOf(sku), mode, view: await store.view(sku), channels: channels.map((channel) => ({ channel, policy: DEFAULT_POLICY })), holdbackUnits: 0, nowMs: now });
  assert.ok(decision, 'the ledger has the SKU');
  return decision;
}

const request = (sku: string, channel: SalesChannel, quantity: number, known?: number): PushRequest => ({ sku, channel, entry: entryOf(sku), quantity, known, knownAtMs: now, version: 0, changedAtMs: now, cause: 'allocation' });

/** A channel report as the consumers take it (daemon.ts): the ledger's observation first, then the report. */
async function channelReport(sku: string, channel: SalesChannel, quantity: number, observedAtMs: number) {
  await ledger.recordChannelLevel(sku, channel, { quantity, observedAtMs, eventId: `${sku}-${channel}-${observedAtMs}` });
  await store.noteChannelReport(sku, channel, { quantity, observedAtMs });
}

test('the idle horizon is the report horizon, at least twice the sales window', () => {
  const timings = Object.values(TIMING);
  assert.is(idleHorizonFor(timings, 60_000), 2 * (60_000 + 2_000));
  assert.is(idleHorizonFor(timings, 3_600_000), 7_200_000);
});

test('every write to the pushstate hash restarts its idle expiry: saveState, a channel report, the allocator\'s decide, beforeSend and afterResult', async () => {
  const sku = 'TTL-PATHS';
  const key = ledger.keys.pushState(sku);
  await ledger.createSku(sku);
  await ledger.count(sku, { eventId: 'open', counted: 8 });

  await store.saveState(sku, { sales: [[now, 2]], cursor: `${now}-0`, dynamicHoldback: 1 });
  await expiring(sku, 'saveState');
  await client.persist(key);
  // An emptied window deletes its fields; the channel report left in the key is touched.
  await store.noteChannelReport(sku, 'amazon', { quantity: 4, observedAtMs: now });
  await expiring(sku, 'noteChannelReport');
  await client.persist(key);
  await store.saveState(sku, { sales: [], cursor: undefined, dynamicHoldback: 0 });
  assert.equal(await client.hkeys(key), ['alloc:reports:amazon']);
  await expiring(sku, 'saveState that only deletes');

  await client.del(key);
  const decision = await decide(sku, ['amazon']);
  await expiring(sku, 'decide');
  const amazon = decision.decisions.find((choice) => choice.channel === 'amazon')!;
  await client.persist(key);
  assert.ok(await allocator.beforeSend(request(sku, 'amazon', amazon.value), { mode: STRICT, available: () => allocator.available(sku) }));
  await expiring(sku, 'beforeSend');
  await client.persist(key);
  await allocator.afterResult(request(sku, 'amazon', amazon.value), { kind: 'invalid', code: 'X', message: 'refused' });
  await expiring(sku, 'afterResult');
});

test('a compare-and-set channel\'s reports are not kept (the allocator never reads them): a Shopify report writes no pushstate', async () => {
  const sku = 'TTL-SHOPIFY';
  await store.noteChannelReport(sku, 'shopify', { quantity: 3, observedAtMs: now });
  assert.is(await client.exists(ledger.keys.pushState(sku)), 0);
});

test('unseen sales of a compare-and-set channel keep the key (alloc:keep: no writer puts a TTL on it); once the ledger sees them it expires again', async () => {
  const sku = 'TTL-KEEP';
  const key = ledger.keys.pushState(sku);
  await ledger.createSku(sku);
  await ledger.count(sku, { eventId: 'open', counted: 10 });
  const first = (await decide(sku, ['shopify'])).decisions[0]!;
  assert.ok(first.send);
  assert.ok(await allocator.beforeSend(request(sku, 'shopify', first.value, first.expected), { mode: STRICT, available: () => allocator.available(sku) }));
  await allocator.afterResult(request(sku, 'shopify', first.value, first.expected), { kind: 'acked', atMs: now });
  now += 1_000;
  // Shopify sold 2 that the ledger has not seen: the next compare-and-set is stale.
  const second = (await decide(sku, ['shopify'])).decisions[0]!;
  const write = request(sku, 'shopify', first.value - 1, first.value);
  assert.ok(await allocator.beforeSend(write, { mode: STRICT, available: () => allocator.available(sku) }));
  await allocator.afterResult(write, { kind: 'stale', channelQuantity: first.value - 2 });
  assert.ok(second);
  assert.is(await client.hget(key, KEEP_FIELD), '1');
  assert.is(await pttl(sku), -1, 'no expiry while Shopify has unseen sales');
  await store.saveState(sku, { sales: [[now, 2]], cursor: `${now}-0`, dynamicHoldback: 0 });
  await store.noteChannelReport(sku, 'amazon', { quantity: 1, observedAtMs: now });
  assert.is(await pttl(sku), -1, 'other writers leave it so');
  // The two sales reach the ledger: booked from the unseen bucket, which empties.
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'late-1', lines: [{ lineId: '1', sku, quantity: 2 }] });
  now += 1_000;
  await decide(sku, ['shopify']);
  assert.is(await client.hget(key, KEEP_FIELD), null);
  await expiring(sku, 'the unseen sales seen');
});

test('after its pushstate expired, a sale\'s report equal to a write sent since does not confirm that write; a brand-new SKU\'s first report still does', async () => {
  // Both SKUs: 5 on hand, Amazon alone, strict. The decision opens the account; the write
  // of 5 is booked as the lane books it (as in allocation-redis.test.ts's flash sale, the
  // send-time check is given room: the confirmation rule is what is tested here).
  const run = async (sku: string, history: boolean) => {
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: `open-${sku}`, counted: 5 });
    if (history) {
      // Amazon showed 10 and said so, long ago; then the SKU sat idle and its pushstate expired.
      await channelReport(sku, 'amazon', 10, now - 4 * HOUR);
      assert.equal(await store.channelReports(sku, 'amazon'), [{ quantity: 10, observedAtMs: now - 4 * HOUR }], 'the channel\'s first report is no anchor');
      await client.del(ledger.keys.pushState(sku));
    }
    await decide(sku, ['amazon']);
    const write = request(sku, 'amazon', 5);
    assert.ok(await allocator.beforeSend(write, { mode: STRICT, available: async () => 500 }));
    await allocator.afterResult(write, { kind: 'acked', atMs: now });
    await store.recordPushed(sku, 'amazon', { quantity: 5, atMs: now, version: 1 });
    // Half a second later Amazon reports 5. Expired SKU: it showed 10 and sold 5 before the
    // write applied (a flash sale), or the write applied; a report alone cannot tell. New
    // SKU: nothing was ever reported, so 5 is the write's.
    await channelReport(sku, 'amazon', 5, now + 500);
    now += 500 + TIMING.amazon.deliveryLagBoundMs + 1;
    const after = (await decide(sku, ['amazon'])).decisions[0]!;
    return { pending: after.account.pending.map((pending) => pending.value), reports: await store.channelReports(sku, 'amazon') };
  };
  const expired = await run('EXPIRED-1', true);
  assert.equal(expired.reports.map((report) => [report.quantity, report.anchor ?? false]), [[10, true], [5, false]], 'the last report before the expiry is kept back as an anchor when the account is opened again');
  assert.equal(expired.pending, [5], 'the write stays pending, counted in full (a lowering report it alone does not explain)');
  const fresh = await run('FRESH-1', false);
  assert.equal(fresh.reports, [{ quantity: 5, observedAtMs: fresh.reports[0]!.observedAtMs }]);
  assert.equal(fresh.pending, [], 'the first report a channel ever made confirms the write of its value');
});

test('a report kept with no stored predecessor, when the channel state shows one (an other observation, a confirmed push), is an anchor', async () => {
  const sku = 'EXPIRED-2';
  await ledger.createSku(sku);
  await channelReport(sku, 'amazon', 7, now);
  await client.del(ledger.keys.pushState(sku));
  // Delivered late, older than the observation: its predecessor is unknown.
  await channelReport(sku, 'amazon', 9, now - 1_000);
  assert.equal(await store.channelReports(sku, 'amazon'), [{ quantity: 9, observedAtMs: now - 1_000, anchor: true }]);

  const confirmed = 'EXPIRED-3';
  await ledger.createSku(confirmed);
  await store.recordPushed(confirmed, 'amazon', { quantity: 4, atMs: now, version: 1 });
  await ledger.recordChannelLevel(confirmed, 'amazon', { quantity: 4, observedAtMs: now + 10, eventId: 'c-1' });
  assert.ok((await store.confirmApplied(confirmed, 'amazon', { quantity: 4, observedAtMs: now + 10 })) !== undefined);
  await channelReport(confirmed, 'amazon', 4, now + 10);
  await client.del(ledger.keys.pushState(confirmed));
  await channelReport(confirmed, 'amazon', 6, now + 20);
  assert.equal(await store.channelReports(confirmed, 'amazon'), [{ quantity: 6, observedAtMs: now + 20, anchor: true }], 'the push a report confirmed is history');
  // An anchor stays one when an older report arrives after it.
  await store.noteChannelReport(confirmed, 'amazon', { quantity: 5, observedAtMs: now + 15 });
  assert.equal((await store.channelReports(confirmed, 'amazon')).map((report) => report.anchor ?? false), [true, true]);
});

test('an expired Amazon account opens at the larger of an unconfirmed push and the older report (the push may never have applied)', async () => {
  const sku = 'EXPIRED-4';
  await ledger.createSku(sku);
  await ledger.count(sku, { eventId: 'open-4', counted: 20 });
  await channelReport(sku, 'amazon', 10, now - HOUR);
  await store.recordPushed(sku, 'amazon', { quantity: 3, atMs: now - HOUR + 60_000, version: 1 });
  await client.del(ledger.keys.pushState(sku));
  const decision = await allocator.decide({ sku, entry: entryOf(sku), mode: STRICT, view: await store.view(sku), channels: [{ channel: 'amazon', policy: DEFAULT_POLICY }], holdbackUnits: 0, nowMs: now });
  assert.ok(decision);
  assert.ok(decision.exposureBefore >= 10, `exposure counts the 10 Amazon may still show: ${decision.exposureBefore}`);
});

test.run();
