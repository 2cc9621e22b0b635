// The key layout (src/redis/keys.ts, src/domain/layout.ts): every per-SKU key is tagged by
// the SKU's layout partition, `<prefix>:<kind>:{p<N>}:<SKU>` with N = FNV-1a 32-bit of the
// SKU's UTF-8 bytes mod 1,024; all keys of one SKU share that one tag (invariant I7); key
// names parse back to their kind and SKU, in the current layout and in layout 1.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LAYOUT_BUCKETS, LAYOUT_PARTITIONS, layoutBucket, layoutPartition } from '../../src/domain/layout.ts';
import { BUCKET_KINDS, KeySpace } from '../../src/redis/keys.ts';

const keys = new KeySpace('sg.test');
// ':' (even a ':{p1}:' look-alike), glob characters, unicode, a SKU named like a key kind.
const SKUS = ['TEE-BLK-M', 'MÜTZE-ROT-黒', 'a:b*c?[d]', 'inv', 'x:p1:y', 'A:B:C', 'p1:inv', '🧦-ROT', 'x'.repeat(200)];

/** FNV-1a 32-bit written out again from the spec, over the UTF-8 bytes (an independent check of the partition). */
function referencePartition(sku: string): number {
  let hash = 0x811c9dc5n;
  for (const byte of Buffer.from(sku, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x01000193n) & 0xffffffffn;
  return Number(hash % 1024n);
}

/** The hash tag Redis Cluster routes a key by: the first `{…}` with something in it. */
function hashTag(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : key;
}

test('the layout partition is FNV-1a 32-bit of the UTF-8 bytes mod 1,024, with known values', () => {
  assert.is(LAYOUT_PARTITIONS, 1024);
  // 0xe40c292c and 0xbf9cf968 are the FNV spec's vectors for "a" and "foobar".
  assert.is(layoutPartition('a'), 0xe40c292c % 1024);
  assert.is(layoutPartition('foobar'), 0xbf9cf968 % 1024);
  assert.is(layoutPartition('HOODIE-BLK-M'), 885);
  for (const sku of SKUS) assert.is(layoutPartition(sku), referencePartition(sku), sku);
});

test('every per-SKU key is <prefix>:<kind>:{p<N>}:<SKU> and all keys of one SKU share that one tag (I7)', () => {
  for (const sku of SKUS) {
    const all = keys.perSkuKeys(sku);
    const tag = `p${layoutPartition(sku)}`;
    assert.equal(Object.keys(all).sort(), ['catalogEntry', 'channelLevels', 'eventMarks', 'fbaStock', 'inventory', 'pushState', 'pushedLevels', 'reservations']);
    for (const key of Object.values(all)) {
      assert.ok(key.startsWith('sg.test:') && key.endsWith(`:{${tag}}:${sku}`), key);
      assert.is(hashTag(key), tag, key);
    }
    // The journal is the partition's, in the same slot.
    assert.is(keys.sku(sku).journal, `sg.test:journal:{${tag}}`);
    assert.is(hashTag(keys.sku(sku).journal), tag);
  }
  assert.equal(keys.perSkuKeys('TEE-BLK-M'), {
    inventory: 'sg.test:inv:{p9}:TEE-BLK-M',
    reservations: 'sg.test:res:{p9}:TEE-BLK-M',
    eventMarks: 'sg.test:marks:{p9}:TEE-BLK-M',
    channelLevels: 'sg.test:chan:{p9}:TEE-BLK-M',
    fbaStock: 'sg.test:fba:{p9}:TEE-BLK-M',
    pushedLevels: 'sg.test:pushed:{p9}:TEE-BLK-M',
    pushState: 'sg.test:pushstate:{p9}:TEE-BLK-M',
    catalogEntry: 'sg.test:catalog:{p9}:TEE-BLK-M',
  });
  assert.is(keys.catalogEntry('TEE-BLK-M'), `${keys.catalogEntryPrefix()}:${keys.catalogEntryId('TEE-BLK-M')}`);
});

test('parsePerSkuKey is the inverse of perSkuKeys, for SKUs with ":" and unicode', () => {
  for (const sku of SKUS) {
    for (const [kind, key] of Object.entries(keys.perSkuKeys(sku))) assert.equal(keys.parsePerSkuKey(key), { kind, sku }, key);
  }
  // A prefix holding ':' parses too.
  const nested = new KeySpace('tenant:7:sg');
  for (const [kind, key] of Object.entries(nested.perSkuKeys('A:B'))) assert.equal(nested.parsePerSkuKey(key), { kind, sku: 'A:B' }, key);
});

test('parsePerSkuKey refuses a wrong partition, layout-1 names, other kinds and other prefixes', () => {
  const wrong = `p${(layoutPartition('TEE-BLK-M') + 1) % 1024}`;
  for (const other of [
    `sg.test:inv:{${wrong}}:TEE-BLK-M`,
    'sg.test:inv:{p09}:TEE-BLK-M',
    'sg.test:inv:{TEE-BLK-M}',
    'sg.test:inv:{p9}:',
    'sg.test:inv:{p9}: TEE-BLK-M',
    'sg.test:inv:{p9}TEE-BLK-M',
    'sg.test:nope:{p9}:TEE-BLK-M',
    'other:inv:{p9}:TEE-BLK-M',
    'sg.test:layout',
    'sg.test:events:{sales:0}',
  ]) {
    assert.is(keys.parsePerSkuKey(other), undefined, other);
  }
});

test('partition journals: one per layout partition, parsed back; layout-2 journals (one per SKU) parse as nothing else', () => {
  assert.is(keys.partitionJournal(0), 'sg.test:journal:{p0}');
  assert.is(keys.partitionJournals().length, LAYOUT_PARTITIONS);
  assert.is(new Set(keys.partitionJournals()).size, LAYOUT_PARTITIONS);
  for (const [partition, key] of keys.partitionJournals().entries()) assert.is(keys.parsePartitionJournal(key), partition, key);
  for (const bad of [-1, LAYOUT_PARTITIONS, 1.5]) assert.throws(() => keys.partitionJournal(bad));
  for (const other of ['sg.test:journal:{p1024}', 'sg.test:journal:{p01}', 'sg.test:journal:{p9}:TEE-BLK-M', 'other:journal:{p9}', 'sg.test:inv:{p9}']) {
    assert.is(keys.parsePartitionJournal(other), undefined, other);
  }
  for (const sku of SKUS) {
    const old = keys.layout2Journal(sku);
    assert.is(old, `sg.test:journal:{p${layoutPartition(sku)}}:${sku}`);
    assert.is(hashTag(old), `p${layoutPartition(sku)}`);
    assert.is(keys.parseLayout2Journal(old), sku);
    assert.is(keys.parsePerSkuKey(old), undefined, old);
    assert.is(keys.parsePartitionJournal(old), undefined, old);
  }
  assert.is(keys.parseLayout2Journal(`sg.test:journal:{p${(layoutPartition('TEE-BLK-M') + 1) % 1024}}:TEE-BLK-M`), undefined);
  assert.is(keys.parseLayout2Journal('sg.test:journal:{TEE-BLK-M}'), undefined);
});

test('layout-1 names (tagged by the SKU) round-trip through their own parser, and never parse as the current layout', () => {
  for (const sku of SKUS) {
    const old = keys.layout1PerSkuKeys(sku);
    const current = { ...keys.perSkuKeys(sku), journal: keys.layout2Journal(sku) };
    assert.equal(Object.keys(old).sort(), Object.keys(current).sort());
    for (const [kind, key] of Object.entries(old)) {
      assert.is(key, current[kind as keyof typeof current].replace(`{p${layoutPartition(sku)}}:${sku}`, `{${sku}}`), key);
      assert.equal(keys.parseLayout1PerSkuKey(key), { kind, sku }, key);
      assert.is(keys.parsePerSkuKey(key), undefined, key);
      assert.is(keys.parseLayout1PerSkuKey(current[kind as keyof typeof current]), undefined, key);
    }
  }
  assert.is(keys.layout1PerSkuKeys('TEE-BLK-M').inventory, 'sg.test:inv:{TEE-BLK-M}');
  assert.is(keys.layoutMarker(), 'sg.test:layout');
});

test('a SKU\'s bucket hashes share its partition tag (I7), and bucket keys parse back, nothing else does', () => {
  assert.is(LAYOUT_BUCKETS, 16_384);
  for (const sku of SKUS) {
    const bucket = layoutBucket(sku);
    assert.is(bucket % LAYOUT_PARTITIONS, layoutPartition(sku), sku);
    for (const kind of ['inv', 'catalog', 'chan'] as const) {
      const key = keys.skuBucket(kind, sku);
      assert.is(hashTag(key), hashTag(keys.perSkuKeys(sku).reservations), key);
      assert.is(hashTag(key), hashTag(keys.sku(sku).journal), key);
      assert.equal(keys.parseBucketKey(key), { kind, bucket }, key);
      assert.is(keys.parsePerSkuKey(key), undefined, key);
      assert.ok(keys.partitionBuckets(kind, layoutPartition(sku)).includes(key), key);
    }
  }
  assert.is(keys.bucketKey('inv', 1025), 'sg.test:inv-bucket:{p1}:1025');
  assert.equal(keys.partitionBuckets('item', 3).length, 16);
  assert.ok(new Set(BUCKET_KINDS.flatMap((kind) => Array.from({ length: LAYOUT_PARTITIONS }, (_, partition) => keys.partitionBuckets(kind, partition))).flat()).size === BUCKET_KINDS.length * LAYOUT_BUCKETS);
  for (const key of ['sg.test:inv-bucket:{p2}:1025', 'sg.test:inv-bucket:{p1}:16384', 'sg.test:nope-bucket:{p1}:1', 'sg.test:inv-bucket:{p1}:01', 'other:inv-bucket:{p1}:1', 'sg.test:inv:{p1}:1']) {
    assert.is(keys.parseBucketKey(key), undefined, key);
  }
  assert.throws(() => keys.bucketKey('inv', LAYOUT_BUCKETS), /0 … 16383/u);
});

test.run();
