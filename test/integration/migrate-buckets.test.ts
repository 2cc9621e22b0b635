// Step 3 → 4 of the layout migration (src/redis/migrate/toBuckets.ts) on a private Redis,
// with packers of its own so the mechanics are tested apart from any kind's codec: every
// SKU's old hashes end packed in its bucket and deleted, exactly once, across an
// interrupted run and its resumption; a bucket field written otherwise is a conflict that
// leaves that SKU whole; a dry run writes nothing; global steps run only after every SKU.
// Each kind's own packer is tested with its codec (migrate-layout.test.ts reads every
// figure back through the daemon's readers).
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { layoutPartition } from '../../src/domain/layout.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { type BucketPacker, type GlobalStep, toBuckets } from '../../src/redis/migrate/toBuckets.ts';
import { dumpKeyspace } from '../helpers/keyspace.ts';
import { layout3Key } from '../helpers/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let client: Redis;

/** Packs a SKU's channel levels and FBA stock as `<channel levels JSON>|<fba JSON>`, sorted. */
const packer: BucketPacker = {
  name: 'test-chan',
  from: ['channelLevels', 'fbaStock'],
  to: 'chan',
  pack: (_sku, hashes) => `${sorted(hashes.channelLevels)}|${sorted(hashes.fbaStock)}`,
};

function sorted(fields: Record<string, string> | undefined): string {
  return fields ? JSON.stringify(Object.entries(fields).sort()) : '';
}

const SKUS = Array.from({ length: 600 }, (_, n) => `MB-${n}${n % 7 === 0 ? ':x' : ''}`);

async function seed(prefix: string): Promise<KeySpace> {
  const keys = new KeySpace(prefix);
  const pipeline = client.pipeline();
  SKUS.forEach((sku, n) => {
    pipeline.hset(layout3Key(prefix, 'channelLevels', sku), 'shopify', `{"quantity":${n}}`);
    if (n % 3 === 0) pipeline.hset(layout3Key(prefix, 'fbaStock', sku), 'ATVPDKIKX0DER', String(n));
    // Kinds no packer names stay where they are.
    pipeline.hset(layout3Key(prefix, 'reservations', sku), 'shopify:1:1', '{}');
  });
  await pipeline.exec();
  await client.set(keys.layoutMarker(), '3');
  return keys;
}

function expected(sku: string): string {
  const n = SKUS.indexOf(sku);
  return packer.pack(sku, { channelLevels: { shopify: `{"quantity":${n}}` }, ...(n % 3 === 0 ? { fbaStock: { ATVPDKIKX0DER: String(n) } } : {}) })!;
}

test.before(async () => {
  redis = await startTestRedis();
  client = redis.client();
});

test.after(async () => {
  await redis.close();
});

test('an interrupted run packs exactly what it reached, the next packs the rest, a third changes nothing; global steps run once every SKU is packed', async () => {
  const keys = await seed(`${redis.prefix}-resume`);
  const globals: number[] = [];
  const globalStep: GlobalStep = { name: 'test-global', run: async () => (globals.push(1), 5) };
  const first = await toBuckets({ redis: client, keys, packers: [packer], globalSteps: [globalStep], batchSize: 40, concurrency: 4, stopAfterSkus: 250 });
  assert.is(first.outcome, 'interrupted');
  assert.is(first.skusPacked, 250);
  assert.equal(globals, [], 'no global step before every SKU is packed');
  let packed = 0;
  for (const sku of SKUS) {
    const field = await client.hget(keys.skuBucket('chan', sku), sku);
    const old = await client.exists(layout3Key(keys.prefix, 'channelLevels', sku), layout3Key(keys.prefix, 'fbaStock', sku));
    if (field === null) assert.ok(old >= 1, `${sku} untouched`);
    else {
      packed += 1;
      assert.is(field, expected(sku));
      assert.is(old, 0, `${sku}'s old hashes are deleted with the packing`);
    }
  }
  assert.is(packed, 250, 'a SKU is packed whole or not at all');

  const progress: number[] = [];
  const second = await toBuckets({ redis: client, keys, packers: [packer], globalSteps: [globalStep], onProgress: (step) => step.phase === 'packing' && progress.push(step.skusDone) });
  assert.is(second.outcome, 'done');
  assert.is(second.skusPacked, SKUS.length - 250);
  assert.is(first.keysPacked + second.keysPacked, SKUS.length + SKUS.filter((_sku, n) => n % 3 === 0).length, 'each old hash packed once');
  assert.equal(second.globals, { 'test-global': 5 });
  assert.is(progress.at(-1), SKUS.length - 250);
  for (const sku of SKUS) {
    assert.is(await client.hget(keys.skuBucket('chan', sku), sku), expected(sku));
    assert.is(await client.exists(layout3Key(keys.prefix, 'reservations', sku)), 1, 'kinds no packer names stay');
  }
  const buckets = new Set(SKUS.map((sku) => keys.skuBucket('chan', sku)));
  for (const bucket of buckets) assert.ok(keys.parseBucketKey(bucket)!.bucket % 1024 === Number(/\{p(\d+)\}/u.exec(bucket)![1]));
  assert.ok(SKUS.every((sku) => keys.skuBucket('chan', sku).includes(`{p${layoutPartition(sku)}}`)), 'a SKU\'s bucket has its partition tag');

  const before = await dumpKeyspace(client, keys.prefix);
  const third = await toBuckets({ redis: client, keys, packers: [packer], globalSteps: [globalStep] });
  assert.is(third.outcome, 'done');
  assert.is(third.skusPacked, 0);
  assert.equal(await dumpKeyspace(client, keys.prefix), before);
  assert.is(globals.length, 2, 'a global step runs on each completed run (it is idempotent itself)');
});

test('a bucket field already written otherwise is a conflict: that SKU keeps its old hashes, the others are packed; the same value is no conflict', async () => {
  const keys = await seed(`${redis.prefix}-conflict`);
  const [clash, same] = [SKUS[5]!, SKUS[6]!];
  await client.hset(keys.skuBucket('chan', clash), clash, 'written by a layout-4 daemon');
  await client.hset(keys.skuBucket('chan', same), same, expected(same));
  const report = await toBuckets({ redis: client, keys, packers: [packer], globalSteps: [{ name: 'never', run: async () => (assert.unreachable('no global step after a conflict'), 0) }] });
  assert.is(report.outcome, 'conflicts');
  assert.equal(report.conflicts.map((conflict) => conflict.sku), [clash]);
  assert.match(report.conflicts[0]!.reason, /already holds "written by a layout-4 daemon"/u);
  assert.is(await client.exists(layout3Key(keys.prefix, 'channelLevels', clash)), 1);
  assert.is(await client.hget(keys.skuBucket('chan', clash), clash), 'written by a layout-4 daemon');
  assert.is(await client.exists(layout3Key(keys.prefix, 'channelLevels', same)), 0);
  for (const sku of SKUS.filter((sku) => sku !== clash)) assert.is(await client.hget(keys.skuBucket('chan', sku), sku), expected(sku));
});

test('a dry run counts what it would pack and writes nothing', async () => {
  const keys = await seed(`${redis.prefix}-dry`);
  const before = await dumpKeyspace(client, keys.prefix);
  const report = await toBuckets({ redis: client, keys, packers: [packer], dryRun: true, globalSteps: [{ name: 'dry', run: async ({ dryRun }) => (assert.ok(dryRun), 0) }] });
  assert.is(report.outcome, 'done');
  assert.is(report.skusPacked, SKUS.length);
  assert.equal(await dumpKeyspace(client, keys.prefix), before);
});

test('the pushers\' state keys written before the idle expiry get it, except those holding alloc:keep; a dry run sets none', async () => {
  const keys = new KeySpace(`${redis.prefix}-expiry`);
  const [idle, kept, expiring] = ['PS-1', 'PS-2', 'PS-3'].map((sku) => layout3Key(keys.prefix, 'pushState', sku));
  await client.hset(idle!, 'sales', '[[1,2]]');
  await client.hset(kept!, 'alloc:keep', '1', 'alloc:accounts', '{}');
  await client.hset(expiring!, 'cursor', '1-0');
  await client.pexpire(expiring!, 5_000);
  const horizonMs = 8_400_000;

  const dry = await toBuckets({ redis: client, keys, packers: [], pushStateHorizonMs: horizonMs, dryRun: true });
  assert.is(dry.globals['push-state expiry'], 1);
  assert.is(await client.pttl(idle!), -1);

  const report = await toBuckets({ redis: client, keys, packers: [], pushStateHorizonMs: horizonMs });
  assert.is(report.globals['push-state expiry'], 1);
  const ttl = await client.pttl(idle!);
  assert.ok(ttl > horizonMs - 60_000 && ttl <= horizonMs, `PTTL ${ttl}`);
  assert.is(await client.pttl(kept!), -1, 'alloc:keep keeps no expiry, as writePushState.lua does');
  assert.ok((await client.pttl(expiring!)) <= 5_000, 'an expiry already set is left as it is');
});

test.run();
