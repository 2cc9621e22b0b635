// A SKU's packed channel state (src/domain/channelState.ts, its field of the `chan` layout
// bucket) on a real Redis: the Lua codec (includes/decodeChannelState.lua and
// encodeChannelState.lua) reads what the TypeScript codec wrote and writes the very bytes
// the TypeScript codec writes for the same state; and the ledger's and the pushers' writers
// of the one field each keep the others' entries.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ChannelState, decodeChannelState, encodeChannelState } from '../../src/domain/channelState.ts';
import { seededRandom } from '../../src/domain/random.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { confirmApplied, recordPushed } from '../../src/pushers/channelStateScripts.ts';
import { PushStore } from '../../src/pushers/store.ts';
import { startTestRedis } from '../helpers/redis.ts';

const redis = await startTestRedis();
const client = redis.client();
const ledger = new Ledger({ redis: client, keyPrefix: redis.prefix });
const store = new PushStore(client, ledger.keys, ledger);
const NOW = Date.UTC(2026, 11, 6, 12);

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  const outcome = await promise.then(() => undefined, (error: unknown) => error);
  assert.ok(outcome instanceof Error, 'it was refused');
  assert.match(outcome.message, pattern);
}

function randomState(random: () => number): ChannelState {
  const state: ChannelState = { pushed: {}, observed: {}, fba: {} };
  const names = ['shopify', 'amazon', 'ATVPDKIKX0DER', 'A1F83G8C2ARO7P', 'ebay', 'B2', 'a_b-C9'];
  const pick = () => names[Math.floor(random() * names.length)]!;
  const time = () => NOW - Math.floor(random() * 40 * 86_400_000);
  const quantity = () => Math.floor(random() * 2_000) - (random() < 0.1 ? 1_000 : 0);
  for (let count = Math.floor(random() * 4); count > 0; count -= 1) state.pushed[pick()] = { quantity: Math.abs(quantity()), atMs: time(), version: random() < 0.2 ? 0 : Math.floor(random() * 1e6), applied: random() < 0.5 };
  for (let count = Math.floor(random() * 4); count > 0; count -= 1) state.observed[pick()] = { quantity: quantity(), observedAtMs: time() };
  for (let count = Math.floor(random() * 3); count > 0; count -= 1) state.fba[pick()] = { quantity: quantity(), observedAtMs: random() < 0.1 ? 0 : time() };
  return state;
}

test('Lua reads what TypeScript packed and writes the bytes TypeScript writes for the result (500 random states)', async () => {
  const random = seededRandom(13);
  for (let index = 0; index < 500; index += 1) {
    const sku = `CODEC-${index}`;
    const state = randomState(random);
    const bucket = ledger.keys.skuBucket('chan', sku);
    const packed = encodeChannelState(state);
    if (packed !== undefined) await client.hset(bucket, sku, packed);
    assert.equal(decodeChannelState(packed), state, 'TypeScript reads back what it wrote');
    // One more entry through Lua: it decodes the TypeScript bytes, adds, encodes.
    const level = { quantity: index, atMs: NOW + index, version: index % 3 };
    assert.is((await recordPushed(client, bucket, sku, 'zz-lua', level)).status, 'APPLIED');
    const expected: ChannelState = { ...state, pushed: { ...state.pushed, 'zz-lua': { ...level, applied: false } } };
    const written = await client.hget(bucket, sku);
    assert.is(written, encodeChannelState(expected), `the same bytes as TypeScript's for ${packed ?? '(empty)'}`);
    assert.equal(decodeChannelState(written), expected);
  }
});

test('a SKU pushed to both channels and reported by each packs into ≤ 64 bytes (a listpack value)', async () => {
  const sku = 'REST-1';
  await ledger.recordChannelLevel(sku, 'shopify', { quantity: 12, observedAtMs: NOW - 3_600_000, eventId: '5f1c3a2e-8d7b-4c1e-9a0f-2b6d8e4c7a11' });
  await ledger.recordChannelLevel(sku, 'amazon', { quantity: 12, observedAtMs: NOW - 3_000_000, eventId: 'e3b0c442-98fc-1c14-9afb-f4c8996fb924' });
  await store.recordPushed(sku, 'shopify', { quantity: 12, atMs: NOW - 3_700_000, version: 1_234 });
  await store.recordPushed(sku, 'amazon', { quantity: 12, atMs: NOW - 3_650_000, version: 1_234 });
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 12, observedAtMs: NOW - 3_000_000 }), 650_000);
  const packed = (await client.hget(ledger.keys.skuBucket('chan', sku), sku))!;
  assert.ok(packed.length <= 64, `${packed} is ${packed.length} bytes`);
  assert.is(await client.call('OBJECT', 'ENCODING', ledger.keys.skuBucket('chan', sku)), 'listpack');
  assert.equal(await ledger.observations(sku, 'channelLevels'), { shopify: { quantity: 12, observedAtMs: NOW - 3_600_000 }, amazon: { quantity: 12, observedAtMs: NOW - 3_000_000 } });
  assert.equal(await store.pushed(sku), { shopify: { quantity: 12, atMs: NOW - 3_700_000, version: 1_234 }, amazon: { quantity: 12, atMs: NOW - 3_650_000, version: 1_234, applied: true } });
});

test('observations: the newest wins, FBA apart from channel levels, the pushers\' entries kept', async () => {
  const sku = 'OBS-1';
  await store.recordPushed(sku, 'shopify', { quantity: 3, atMs: NOW, version: 7 });
  assert.ok(await ledger.recordChannelLevel(sku, 'shopify', { quantity: 5, observedAtMs: NOW, eventId: 'e1' }));
  assert.not.ok(await ledger.recordChannelLevel(sku, 'shopify', { quantity: 9, observedAtMs: NOW - 1, eventId: 'e0' }), 'an older report is STALE');
  assert.ok(await ledger.recordChannelLevel(sku, 'shopify', { quantity: 4, observedAtMs: NOW, eventId: 'e2' }), 'one of the same time replaces it');
  assert.ok(await ledger.recordFbaStock(sku, 'ATVPDKIKX0DER', { quantity: 40, observedAtMs: NOW - 5, eventId: 'f1' }));
  assert.equal(await ledger.observations(sku, 'channelLevels'), { shopify: { quantity: 4, observedAtMs: NOW } });
  assert.equal(await ledger.observations(sku, 'fbaStock'), { ATVPDKIKX0DER: { quantity: 40, observedAtMs: NOW - 5 } });
  assert.equal(await store.pushed(sku), { shopify: { quantity: 3, atMs: NOW, version: 7 } });
  await rejects(ledger.recordChannelLevel(sku, 's', { quantity: 1, observedAtMs: NOW, eventId: 'e3' }), /shopify, amazon or 2–64/);
});

test('confirmApplied counts a push once, and a new push can be confirmed again', async () => {
  const sku = 'LAG-1';
  await store.recordPushed(sku, 'amazon', { quantity: 8, atMs: NOW, version: 1 });
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 7, observedAtMs: NOW + 10 }), undefined, 'another value');
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 8, observedAtMs: NOW - 61_000 }), undefined, 'a report from before the push');
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 8, observedAtMs: NOW - 1_000 }), 0, 'within the slack: lag 0');
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 8, observedAtMs: NOW + 5_000 }), undefined, 'an echo is not counted twice');
  await store.recordPushed(sku, 'amazon', { quantity: 8, atMs: NOW + 10_000, version: 2 });
  assert.is(await store.confirmApplied(sku, 'amazon', { quantity: 8, observedAtMs: NOW + 12_000 }), 2_000);
});

test('a field that is not packed channel state is refused, never overwritten', async () => {
  const sku = 'BAD-1';
  const bucket = ledger.keys.skuBucket('chan', sku);
  for (const bad of ['{"at":1}', 'm4;Ps:1', 'm4;Xs:1,0', 'm4;Os:1,0,1', 'm4;Ps:1,0,', 'x m4']) {
    await client.hset(bucket, sku, bad);
    await rejects(ledger.recordChannelLevel(sku, 'shopify', { quantity: 1, observedAtMs: NOW, eventId: 'e' }), /recordObservation refused/);
    await rejects(store.recordPushed(sku, 'shopify', { quantity: 1, atMs: NOW, version: 0 }), /recordPushed refused/);
    assert.is((await confirmApplied(client, bucket, sku, 'shopify', { quantity: 1, observedAtMs: NOW }, 0)).status, 'BAD_ARGUMENT');
    assert.throws(() => decodeChannelState(bad), /not a packed channel state/);
    assert.is(await client.hget(bucket, sku), bad);
  }
  // A blank SKU names no field: each script refuses it and writes nothing.
  await client.del(bucket);
  assert.is((await recordPushed(client, bucket, '', 'shopify', { quantity: 1, atMs: NOW, version: 0 })).status, 'BAD_ARGUMENT');
  assert.is((await confirmApplied(client, bucket, '', 'shopify', { quantity: 1, observedAtMs: NOW }, 0)).status, 'BAD_ARGUMENT');
  assert.is(await client.exists(bucket), 0);
});

test.after(async () => {
  client.disconnect();
  await redis.close();
});

test.run();
