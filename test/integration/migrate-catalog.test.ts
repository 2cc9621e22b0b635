// The catalogue's part of `stockguard migrate layout` step 3 → 4 on a private Redis: a
// layout-3 catalogue as redis-om and the old Catalog wrote it (an entry hash per SKU with
// every column as text, the set catalog-index, the hash catalog-channel-items), written out
// here rather than by the code under test, migrates with an interruption in the packing and
// one in the channel items, and reads back every entry and every item lookup through the
// current Catalog.
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog, channelItemRef } from '../../src/catalog/catalog.ts';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { migrateCatalogGlobals } from '../../src/catalog/migrateBuckets.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { toBuckets } from '../../src/redis/migrate/toBuckets.ts';
import { layout3Key } from '../helpers/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let client: Redis;

const SKU_COUNT = 300;

/** SKU n's entry: Shopify-mapped, Amazon-mapped (MFN or FBA), both, a bundle of two earlier SKUs, or bare. */
function entryOf(n: number): CatalogEntry {
  const sku = `MC-${n}${n % 11 === 0 ? ':x' : ''}`;
  const entry: CatalogEntry = { sku, holdback: n % 5 === 0 ? n : 0, skuClass: n % 7 === 0 ? 'hot' : 'default', policies: {} };
  if (n % 4 !== 3) {
    entry.shopify = { inventoryItemId: `gid://shopify/InventoryItem/${44012345678901 + n}`, locationId: 'gid://shopify/Location/76543210987' };
    if (n % 2 === 0) entry.shopify.variantId = `gid://shopify/ProductVariant/${40123456789012 + n}`;
    if (n % 13 === 0) entry.shopify.sku = `SHOP ${sku}`;
    if (n % 3 === 0) entry.policies.shopify = { safety: n % 4, maxShown: 100 };
  }
  if (n % 3 === 1) {
    entry.amazon = n % 6 === 1 ? { sellerSku: sku, marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' } : { sellerSku: `SG-${sku}-FBA`, marketplaceId: 'A1PA6795UKMFR9', fulfillment: 'FBA' };
    if (entry.amazon.fulfillment === 'MFN') entry.policies.amazon = { percent: 50, floor: 1 };
  }
  if (n % 50 === 49) {
    delete entry.shopify;
    delete entry.amazon;
    entry.policies = {};
    entry.holdback = 0;
    entry.components = [{ sku: entryOf(n - 1).sku, quantity: 2 }, { sku: entryOf(n - 2).sku, quantity: 1 }];
  }
  if (n % 17 === 0) entry.allocationMode = 'budget:4';
  return entry;
}

const ENTRIES = Array.from({ length: SKU_COUNT }, (_, n) => entryOf(n));

/** What the old Catalog stored: redis-om's HASH entity, every column as text, `sku` included, absent columns left out. */
function redisOmHash(entry: CatalogEntry): Record<string, string> {
  const hash: Record<string, string | number | undefined> = {
    sku: entry.sku,
    holdback: entry.holdback,
    skuClass: entry.skuClass,
    allocationMode: entry.allocationMode,
    shopifyInventoryItemId: entry.shopify?.inventoryItemId,
    shopifyLocationId: entry.shopify?.locationId,
    shopifyVariantId: entry.shopify?.variantId,
    shopifySku: entry.shopify?.sku,
    amazonSellerSku: entry.amazon?.sellerSku,
    amazonMarketplaceId: entry.amazon?.marketplaceId,
    amazonProductType: entry.amazon?.productType,
    amazonFulfillment: entry.amazon?.fulfillment,
    shopifyPercent: entry.policies.shopify?.percent,
    shopifyMaxShown: entry.policies.shopify?.maxShown,
    shopifySafety: entry.policies.shopify?.safety,
    shopifyFloor: entry.policies.shopify?.floor,
    amazonPercent: entry.policies.amazon?.percent,
    amazonMaxShown: entry.policies.amazon?.maxShown,
    amazonSafety: entry.policies.amazon?.safety,
    amazonFloor: entry.policies.amazon?.floor,
    components: entry.components ? JSON.stringify(entry.components) : undefined,
  };
  return Object.fromEntries(Object.entries(hash).flatMap(([field, value]) => (value === undefined ? [] : [[field, String(value)]])));
}

/** The channel item references an entry maps (the old reverse index's fields). */
function refsOf(entry: CatalogEntry): string[] {
  return [
    entry.shopify && channelItemRef('shopify', entry.shopify.inventoryItemId),
    entry.shopify?.variantId && channelItemRef('shopify-variant', entry.shopify.variantId),
    entry.shopify?.sku && channelItemRef('shopify-sku', entry.shopify.sku),
    entry.amazon && channelItemRef('amazon', entry.amazon.sellerSku),
  ].filter((ref): ref is string => typeof ref === 'string');
}

async function seedLayout3(prefix: string): Promise<KeySpace> {
  const keys = new KeySpace(prefix);
  const pipeline = client.pipeline();
  for (const entry of ENTRIES) {
    pipeline.hset(layout3Key(prefix, 'catalogEntry', entry.sku), redisOmHash(entry));
    pipeline.sadd(`${prefix}:catalog-index`, entry.sku);
    for (const ref of refsOf(entry)) pipeline.hset(`${prefix}:catalog-channel-items`, ref, entry.sku);
    if (entry.components) pipeline.hset(`${prefix}:catalog-bundles`, entry.sku, JSON.stringify(entry.components));
  }
  // A stale reverse-index field of a shape the catalogue never wrote is dropped, not moved.
  pipeline.hset(`${prefix}:catalog-channel-items`, 'shopify:4401', ENTRIES[0]!.sku);
  pipeline.set(keys.layoutMarker(), '3');
  await pipeline.exec();
  return keys;
}

async function assertMigrated(keys: KeySpace): Promise<void> {
  const catalog = new Catalog({ redis: client, keyPrefix: keys.prefix });
  assert.equal(await catalog.list(), ENTRIES.map((entry) => entry.sku).sort());
  assert.is(await catalog.count(), SKU_COUNT);
  for (const entry of ENTRIES) assert.equal(await catalog.get(entry.sku), entry, entry.sku);
  const refs = ENTRIES.flatMap((entry) => refsOf(entry).map((ref) => ({ ref, sku: entry.sku })));
  assert.ok(refs.length > SKU_COUNT, `${refs.length} channel items`);
  assert.equal(await catalog.resolveRefs(refs.map(({ ref }) => ref)), refs.map(({ sku }) => sku));
  const fba = ENTRIES.find((entry) => entry.amazon?.fulfillment === 'FBA')!;
  assert.is(await catalog.skuForChannelItem('amazon', fba.amazon!.sellerSku), fba.sku);
  assert.is((await catalog.bundles()).size, ENTRIES.filter((entry) => entry.components).length);
  // The old keys are gone.
  assert.is(await client.exists(`${keys.prefix}:catalog-index`, `${keys.prefix}:catalog-channel-items`), 0);
  for (const entry of ENTRIES) assert.is(await client.exists(layout3Key(keys.prefix, 'catalogEntry', entry.sku)), 0, entry.sku);
}

test.before(async () => {
  redis = await startTestRedis();
  client = redis.client();
});

test.after(async () => {
  await redis.close();
});

test('a layout-3 catalogue migrates across an interrupted run and reads back entry for entry, item for item', async () => {
  const keys = await seedLayout3(`${redis.prefix}-resume`);
  const first = await toBuckets({ redis: client, keys, batchSize: 20, stopAfterSkus: 120 });
  assert.is(first.outcome, 'interrupted');
  assert.equal(first.globals, {}, 'the global step waits for every SKU');
  assert.is(await client.scard(`${keys.prefix}:catalog-index`), SKU_COUNT);
  const second = await toBuckets({ redis: client, keys, batchSize: 20 });
  assert.is(second.outcome, 'done', JSON.stringify(second.conflicts));
  assert.is(first.skusPacked + second.skusPacked, SKU_COUNT);
  assert.ok(Object.values(second.globals)[0]! > SKU_COUNT);
  await assertMigrated(keys);
  const third = await toBuckets({ redis: client, keys });
  assert.equal([third.skusPacked, Object.values(third.globals)], [0, [0]]);
  await assertMigrated(keys);
});

test('the channel-item step resumes after a crash between writing a batch and deleting it, and drops fields the catalogue never wrote', async () => {
  const keys = await seedLayout3(`${redis.prefix}-globals`);
  const packed = await toBuckets({ redis: client, keys, globalSteps: [] });
  assert.is(packed.outcome, 'done');
  // The crash: a third of the fields were written to their item buckets, none deleted from the old hash.
  const old = await client.hgetall(`${keys.prefix}:catalog-channel-items`);
  const early = Object.entries(old).filter(([ref], index) => index % 3 === 0 && ref !== 'shopify:4401');
  const catalog = new Catalog({ redis: client, keyPrefix: keys.prefix });
  assert.equal(await catalog.resolveRefs(early.map(([ref]) => ref)), early.map(() => undefined), 'not yet in an item bucket');
  // A re-put writes the entry's item fields as the step does (the entry itself is unchanged).
  for (const sku of new Set(early.map(([, sku]) => sku))) assert.is(await catalog.put(ENTRIES.find((candidate) => candidate.sku === sku)!), 'unchanged');
  const dry = await migrateCatalogGlobals(client, keys, { dryRun: true });
  assert.is(await client.hlen(`${keys.prefix}:catalog-channel-items`), Object.keys(old).length, 'a dry run deletes nothing');
  const report = await migrateCatalogGlobals(client, keys, { batchSize: 25 });
  assert.equal(report.itemsDropped, ['shopify:4401']);
  assert.equal(dry.itemsDropped, ['shopify:4401']);
  assert.is(report.itemsMoved + report.itemsKept, Object.keys(old).length - 1);
  assert.ok(report.itemsKept >= early.length, `${report.itemsKept} kept`);
  assert.is(report.indexDeleted, true);
  await assertMigrated(keys);
  const again = await migrateCatalogGlobals(client, keys);
  assert.equal(again, { itemsMoved: 0, itemsDropped: [], itemsKept: 0, indexDeleted: false });
});

test.run();
