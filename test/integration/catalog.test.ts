// The SKU catalogue (packed into the catalog and item buckets, over ioredis) and `importCatalog`, against a private
// redis-server; one test repeats the essentials on a local Redis Cluster.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { allocationModeOf, type CatalogEntry } from '../../src/catalog/entry.ts';
import { importCatalog } from '../../src/catalog/import.ts';
import { formatRowError, type RowError } from '../../src/catalog/row.ts';
import { DEFAULT_POLICY } from '../../src/domain/sellable.ts';
import { type ErrorCode, isStockguardError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { startTestCluster, startTestRedis, type TestRedis } from '../helpers/redis.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/catalog/${name}`, import.meta.url));

// What test/fixtures/catalog/valid.json and valid.csv hold, as entries.
const HOODIE: CatalogEntry = {
  sku: 'HOODIE-BLK-M',
  holdback: 2,
  skuClass: 'hot',
  // above 2^53: a number would have come back as ...992
  shopify: { inventoryItemId: 'gid://shopify/InventoryItem/9007199254740993', locationId: 'gid://shopify/Location/71239581843' },
  amazon: { sellerSku: 'SG-HOODIE-BLK-M', marketplaceId: 'ATVPDKIKX0DER', productType: 'SWEATSHIRT', fulfillment: 'MFN' },
  policies: { amazon: { percent: 50, maxShown: 10, safety: 1, floor: 2 } },
};
const TEE: CatalogEntry = {
  sku: 'TEE-WHT-S',
  holdback: 0,
  skuClass: 'default',
  shopify: { inventoryItemId: 'gid://shopify/InventoryItem/49127744356537', locationId: 'gid://shopify/Location/71239581843' },
  policies: { shopify: { safety: 3 } },
};
const SOCKS: CatalogEntry = {
  sku: 'SOCKS-3PK-GRY',
  holdback: 0,
  skuClass: 'default',
  amazon: { sellerSku: 'SG-SOCKS-3PK-GRY-FBA', marketplaceId: 'A1PA6795UKMFR9', fulfillment: 'FBA' },
  policies: {},
};
const BEANIE: CatalogEntry = { sku: 'MÜTZE-ROT-黒', holdback: 0, skuClass: 'default', policies: {} };
const VALID_ENTRIES = [HOODIE, TEE, SOCKS, BEANIE];
/** onHand and holdback the ledger must have after importing the valid fixture into an empty ledger. */
const VALID_LEDGER: Record<string, { onHand: number; holdback: number }> = {
  'HOODIE-BLK-M': { onHand: 24, holdback: 2 },
  'TEE-WHT-S': { onHand: 0, holdback: 0 },
  'SOCKS-3PK-GRY': { onHand: 0, holdback: 0 },
  'MÜTZE-ROT-黒': { onHand: 7, holdback: 0 },
};

let redis: TestRedis;
let io: Redis;
let namespaces = 0;

/** A catalogue and ledger under a key prefix of their own, so every test starts empty. */
function fresh() {
  namespaces += 1;
  const keyPrefix = `${redis.prefix}:t${namespaces}`;
  return { keyPrefix, catalog: new Catalog({ redis: io, keyPrefix }), ledger: new Ledger({ redis: io, keyPrefix }) };
}

async function keysUnder(client: Redis, keyPrefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys.sort();
}

/** Every key under the prefix with its full content, to prove an import wrote nothing. */
async function dump(keyPrefix: string): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {};
  for (const key of await keysUnder(io, keyPrefix)) {
    const type = await io.type(key);
    if (type === 'hash') state[key] = await io.hgetall(key);
    else if (type === 'set') state[key] = (await io.smembers(key)).sort();
    else if (type === 'zset') state[key] = await io.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'stream') state[key] = await io.xrange(key, '-', '+');
    else state[key] = `${type}:${await io.get(key)}`;
  }
  return state;
}

async function rejection(promise: Promise<unknown>, code: ErrorCode) {
  try {
    await promise;
  } catch (error) {
    if (isStockguardError(error, code)) return error;
    throw error;
  }
  throw new Error(`expected ${code}, but the call succeeded`);
}

function rowErrorsOf(error: { details: Readonly<Record<string, unknown>> }): string[] {
  const errors = error.details.errors as RowError[];
  return errors.map(formatRowError);
}

test.before(async () => {
  redis = await startTestRedis();
  io = redis.client();
});
test.after(async () => {
  await redis.close();
});

for (const file of ['valid.json', 'valid.csv']) {
  test(`importing ${file} creates every SKU in the catalogue and the ledger`, async () => {
    const { keyPrefix, catalog, ledger } = fresh();
    const report = await importCatalog({ file: fixture(file), catalog, ledger });
    assert.equal(
      { rows: report.rows, created: report.created, updated: report.updated, unchanged: report.unchanged, ignored: report.ignoredOnHand },
      { rows: 4, created: 4, updated: 0, unchanged: 0, ignored: [] },
    );
    assert.ok(report.durationMs >= 0);
    assert.equal(await catalog.list(), VALID_ENTRIES.map((entry) => entry.sku).sort());
    for (const expected of VALID_ENTRIES) {
      assert.equal(await catalog.get(expected.sku), expected, expected.sku);
      const inventory = await ledger.inventory(expected.sku);
      assert.equal({ onHand: inventory?.onHand, holdback: inventory?.holdback }, VALID_LEDGER[expected.sku], expected.sku);
    }
    // The entry is the field HOODIE-BLK-M of a catalog bucket in the slot of the SKU's layout
    // partition (FNV-1a("HOODIE-BLK-M") mod 1024 = 885), packed (src/catalog/packed.ts): the
    // gids by their exact number, MFN and the seller SKU's defaults left out.
    const bucket = catalog.keys.skuBucket('catalog', 'HOODIE-BLK-M');
    assert.match(bucket, new RegExp(`^${keyPrefix}:catalog-bucket:\\{p885\\}:\\d+$`));
    assert.is(await io.hget(bucket, 'HOODIE-BLK-M'), ['h2', 'chot', `i${(9007199254740993n).toString(36)}`, `l${(71239581843n).toString(36)}`, 'sSG-HOODIE-BLK-M', 'mUS', 'tSWEATSHIRT', 'p50', 'n10', 'e1', 'o2'].join('\u001f'));
    assert.is(await catalog.skuForChannelItem('shopify', 'gid://shopify/InventoryItem/9007199254740993'), 'HOODIE-BLK-M');
    assert.is(await catalog.skuForChannelItem('amazon', 'SG-HOODIE-BLK-M'), 'HOODIE-BLK-M');
    assert.is(await catalog.count(), VALID_ENTRIES.length);
    // The initial stock went in as a journaled count with the import's event id.
    const journal = await ledger.journal('HOODIE-BLK-M');
    assert.ok(journal.some((entry) => entry.event === 'catalog-import:HOODIE-BLK-M' && entry.dOnHand === 24), JSON.stringify(journal));
  });
}

test('the JSON and the CSV fixture hold the same catalogue: importing one after the other changes nothing', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  const before = await dump(keyPrefix);
  const report = await importCatalog({ file: fixture('valid.csv'), catalog, ledger });
  assert.equal([report.created, report.updated, report.unchanged], [0, 0, 4]);
  assert.equal(await dump(keyPrefix), before);
});

test('examples/catalog.json and examples/catalog.csv are valid and hold the same catalogue', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));
  const first = await importCatalog({ file: example('catalog.json'), catalog, ledger });
  assert.equal([first.rows, first.created], [12, 12]);
  const before = await dump(keyPrefix);
  const second = await importCatalog({ file: example('catalog.csv'), catalog, ledger });
  assert.equal([second.rows, second.unchanged], [12, 12]);
  assert.equal(await dump(keyPrefix), before);
});

test('re-importing the same file changes nothing and reports the onHand values it ignored', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  const before = await dump(keyPrefix);
  const again = await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  assert.equal([again.created, again.updated, again.unchanged], [0, 0, 4]);
  assert.equal(again.ignoredOnHand, [
    { sku: 'HOODIE-BLK-M', fileOnHand: 24, ledgerOnHand: 24 },
    { sku: 'MÜTZE-ROT-黒', fileOnHand: 7, ledgerOnHand: 7 },
    { sku: 'TEE-WHT-S', fileOnHand: 0, ledgerOnHand: 0 },
  ]);
  // Catalogue hashes, the index, the ledger hashes, journals and the dirty index are all as they were.
  assert.equal(await dump(keyPrefix), before);
});

test('onHand is ignored for a SKU the ledger already has; its holdback is still set', async () => {
  const { catalog, ledger } = fresh();
  await ledger.createSku('HOODIE-BLK-M');
  await ledger.adjust('HOODIE-BLK-M', { eventId: 'wms-receipt-1', delta: 11, cause: 'receipt' });
  const report = await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  assert.equal([report.created, report.updated, report.unchanged], [4, 0, 0]);
  assert.equal(report.ignoredOnHand, [{ sku: 'HOODIE-BLK-M', fileOnHand: 24, ledgerOnHand: 11 }]);
  const inventory = await ledger.inventory('HOODIE-BLK-M');
  assert.equal({ onHand: inventory?.onHand, holdback: inventory?.holdback }, { onHand: 11, holdback: 2 });
  const journal = await ledger.journal('HOODIE-BLK-M');
  assert.not.ok(journal.some((entry) => entry.event.startsWith('catalog-import:')), JSON.stringify(journal));
});

test('a changed file updates the entry (dropping removed fields) and the ledger holdback, not the stock', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  const report = await importCatalog({ file: fixture('updated.json'), catalog, ledger });
  assert.equal([report.rows, report.created, report.updated, report.unchanged], [2, 0, 1, 1]);
  const { amazon: _dropped, ...withoutAmazon } = HOODIE;
  assert.equal(await catalog.get('HOODIE-BLK-M'), { ...withoutAmazon, holdback: 5, policies: {} });
  assert.is(await io.hget(catalog.keys.skuBucket('catalog', 'HOODIE-BLK-M'), 'HOODIE-BLK-M'), ['h5', 'chot', `i${(9007199254740993n).toString(36)}`, `l${(71239581843n).toString(36)}`].join('\u001f'));
  // The seller SKU it gave up maps to nothing any more.
  assert.is(await catalog.skuForChannelItem('amazon', 'SG-HOODIE-BLK-M'), undefined);
  const inventory = await ledger.inventory('HOODIE-BLK-M');
  assert.equal({ onHand: inventory?.onHand, holdback: inventory?.holdback }, { onHand: 24, holdback: 5 });
  // SKUs missing from the file stay: an import adds and updates, it never deletes.
  assert.equal(await catalog.list(), VALID_ENTRIES.map((entry) => entry.sku).sort());
});

test('a malformed CSV lists every bad row with its line and field, and nothing is written', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const error = await rejection(importCatalog({ file: fixture('malformed.csv'), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  const gidRule = (resource: string) => `must be a Shopify gid like "gid://shopify/${resource}/123" (a string)`;
  assert.equal(rowErrorsOf(error), [
    'row 2 (line 3), field onHand: must be a whole number from 0 to 1000000000, got -3',
    'row 2 (line 3), field holdback: must be a whole number from 0 to 1000000000, got "1.5"',
    `row 3 (line 5), field shopifyInventoryItemId: ${gidRule('InventoryItem')}, got "1003"`,
    'row 4 (line 6), field amazonFulfillment: must be MFN or FBA, got "FBM"',
    'row 5 (line 7), field shopifyLocationId: is required when the row has a Shopify mapping',
    'row 5 (line 7), field amazonSellerSku: is required when the row has an Amazon mapping',
    'row 5 (line 7), field amazonMarketplaceId: is required when the row has an Amazon mapping',
    'row 5 (line 7), field amazonProductType: is required for an MFN listing (patchListingsItem needs it)',
    'row 6 (line 8), field sku: must be 1 to 200 characters without "{", "}", control characters or surrounding spaces, got "BAD{SKU}"',
    'row 8 (line 10), field shopifyFloor: 9 is above shopifyMaxShown 5, so the channel would always be told 0',
    'row 9 (line 11): has 2 cells where the header has 11 columns',
    `row 10 (line 12), field shopifyInventoryItemId: ${gidRule('InventoryItem')}, got "gid://shopify/InventoryItem/1010\\nx"`,
  ]);
  assert.match(error.message, /8 of 10 rows are bad, nothing was imported/);
  assert.match(error.message, /row 4 \(line 6\), field amazonFulfillment: must be MFN or FBA, got "FBM"/);
  // Not even the good rows (GOOD-1, GOOD-2): no catalogue index, no entry, no ledger.
  assert.equal(await catalog.list(), []);
  assert.is(await ledger.inventory('GOOD-1'), undefined);
  assert.equal(await keysUnder(io, keyPrefix), []);
});

test('a malformed JSON file lists every bad row with its field', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const error = await rejection(importCatalog({ file: fixture('malformed.json'), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  assert.equal(rowErrorsOf(error), [
    'row 2, field shopifyInventoryItemId: must be a Shopify gid like "gid://shopify/InventoryItem/123" (a string), got 1234',
    'row 3, field onHand: must be a whole number from 0 to 1000000000, got "12"',
    'row 3, field shopifyLocation: is not a catalogue column (see docs/catalog.md)',
    'row 4: must be an object with one property per column, got "NOT-AN-OBJECT"',
    'row 5, field sku: is required',
    'row 6, field amazonPercent: must be a whole number from 0 to 100, got 120',
    "row 6, field amazonPercent: does not apply to an FBA listing: FBA quantities are Amazon's and never pushed",
    'row 7, field amazonSellerSku: must be an Amazon seller SKU: 1 to 40 characters, no control characters or surrounding spaces, got " SG-MFN"',
    'row 7, field amazonProductType: is required for an MFN listing (patchListingsItem needs it)',
    'row 7, field shopifySafety: is set but the row has no Shopify mapping, so it would never apply',
  ]);
  assert.equal(await keysUnder(io, keyPrefix), []);
});

test('a SKU that appears twice in a file is refused, naming both rows, and nothing is written', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const error = await rejection(importCatalog({ file: fixture('duplicate.csv'), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  assert.equal(rowErrorsOf(error), ['row 3 (line 4), field sku: "DUP-A" is already in row 1; a SKU may appear once']);
  assert.equal(await keysUnder(io, keyPrefix), []);
});

function catalogFile(rows: readonly Record<string, unknown>[]): string {
  const file = join(mkdtempSync(join(tmpdir(), 'stockguard-catalog-')), 'catalog.json');
  writeFileSync(file, JSON.stringify(rows));
  return file;
}

const ITEM = 'gid://shopify/InventoryItem/700000000000001';
const LOCATION = 'gid://shopify/Location/71239581843';
const shopifyRow = (sku: string, item = ITEM) => ({ sku, onHand: 5, shopifyInventoryItemId: item, shopifyLocationId: LOCATION });

test('two rows of a file mapping the same channel item are refused, naming both rows, and nothing is written', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const file = catalogFile([shopifyRow('MUG-A'), { sku: 'MUG-B', amazonSellerSku: 'SG-MUG', amazonMarketplaceId: 'ATVPDKIKX0DER', amazonFulfillment: 'FBA' }, { ...shopifyRow('MUG-C'), amazonSellerSku: 'SG-MUG', amazonMarketplaceId: 'ATVPDKIKX0DER', amazonFulfillment: 'FBA' }]);
  const error = await rejection(importCatalog({ file, catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  assert.equal(rowErrorsOf(error), [
    `row 3, field shopifyInventoryItemId: "${ITEM}" is already mapped to SKU "MUG-A" in row 1; a channel item maps to one SKU`,
    'row 3, field amazonSellerSku: "SG-MUG" is already mapped to SKU "MUG-B" in row 2; a channel item maps to one SKU',
  ]);
  assert.equal(await keysUnder(io, keyPrefix), []);
});

test('an allocation mode that does not parse, or a negative budget, is refused with the row and field, and nothing is written', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const file = catalogFile([{ sku: 'MODE-OK', onHand: 1, allocationMode: 'budget:3' }, { sku: 'MODE-BAD', onHand: 1, allocationMode: 'strictly' }, { sku: 'MODE-NEG', onHand: 1, allocationMode: 'budget:-2' }]);
  const error = await rejection(importCatalog({ file, catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  const errors = rowErrorsOf(error);
  assert.is(errors.length, 2);
  assert.match(errors[0]!, /^row 2, field allocationMode: allocation mode "strictly" is not one of shared, strict, budget:N \(N ≥ 0 units\), auto, got "strictly"$/);
  assert.match(errors[1]!, /^row 3, field allocationMode: allocation mode "budget:-2": the budget cannot be negative/);
  assert.equal(await keysUnder(io, keyPrefix), []);
  // A valid mode is stored and read back; a row without one takes its class's default.
  const good = catalogFile([{ sku: 'MODE-OK', onHand: 1, allocationMode: 'budget:3' }, { sku: 'MODE-HOT', onHand: 1, skuClass: 'hot' }, { sku: 'MODE-PLAIN', onHand: 1 }]);
  await importCatalog({ file: good, catalog, ledger });
  assert.equal(allocationModeOf((await catalog.get('MODE-OK'))!), { kind: 'budget', budget: 3 });
  assert.equal(allocationModeOf((await catalog.get('MODE-HOT'))!), { kind: 'strict' });
  assert.equal(allocationModeOf((await catalog.get('MODE-PLAIN'))!), { kind: 'shared' });
});

test('a channel item another SKU has is refused (put and import), and webhooks keep reaching the SKU that has it', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  await importCatalog({ file: catalogFile([shopifyRow('MUG-A')]), catalog, ledger });
  const before = await dump(keyPrefix);
  const putError = await rejection(catalog.put({ sku: 'MUG-B', holdback: 0, skuClass: 'default', shopify: { inventoryItemId: ITEM, locationId: LOCATION }, policies: {} }), 'STOCKGUARD_E_BAD_ARGUMENT');
  assert.match(putError.message, /already mapped to SKU "MUG-A"/);
  const importError = await rejection(importCatalog({ file: catalogFile([shopifyRow('MUG-B')]), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  assert.match(importError.message, /row 1, field shopifyInventoryItemId: .* already mapped to SKU "MUG-A" in the catalogue/);
  assert.equal(await dump(keyPrefix), before, 'nothing was written');
  assert.is(await catalog.skuForChannelItem('shopify', ITEM), 'MUG-A');
});

test('an item moved from one SKU to another in one file follows the file, whatever the write order', async () => {
  const { catalog, ledger } = fresh();
  const OTHER = 'gid://shopify/InventoryItem/700000000000002';
  await importCatalog({ file: catalogFile([shopifyRow('MUG-A'), shopifyRow('MUG-B', OTHER)]), catalog, ledger });
  // MUG-B takes ITEM, MUG-A takes OTHER: the rows swap items.
  for (const concurrency of [1, 2]) {
    const rows = concurrency === 1 ? [shopifyRow('MUG-B', ITEM), shopifyRow('MUG-A', OTHER)] : [shopifyRow('MUG-A', ITEM), shopifyRow('MUG-B', OTHER)];
    await importCatalog({ file: catalogFile(rows), catalog, ledger, concurrency });
    const owner = (item: string) => catalog.skuForChannelItem('shopify', item);
    assert.equal([await owner(ITEM), await owner(OTHER)], [rows[0]!.sku, rows[1]!.sku], `concurrency ${concurrency}`);
  }
  // Removing a SKU removes only the mappings it still has.
  await catalog.remove('MUG-A');
  assert.is(await catalog.skuForChannelItem('shopify', ITEM), undefined);
  assert.is(await catalog.skuForChannelItem('shopify', OTHER), 'MUG-B');
});

test('a file that cannot be read as rows is STOCKGUARD_E_CATALOG_FILE', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  const cases: [string, RegExp][] = [
    [fixture('catalog.xlsx'), /must end in \.json or \.csv, got "\.xlsx"/],
    [fixture('missing.json'), /ENOENT/],
    [fixture('not-an-array.json'), /must be an array of row objects/],
    [fixture('unknown-column.csv'), /unknown column "shopifyLocation" in the header/],
  ];
  for (const [file, message] of cases) {
    const error = await rejection(importCatalog({ file, catalog, ledger }), 'STOCKGUARD_E_CATALOG_FILE');
    assert.match(error.message, message, file);
  }
  assert.equal(await keysUnder(io, keyPrefix), []);
});

test('policyFor fills absent fields from the default policy', async () => {
  const { catalog, ledger } = fresh();
  await importCatalog({ file: fixture('valid.json'), catalog, ledger });
  const beanie = await catalog.get('MÜTZE-ROT-黒');
  assert.ok(beanie);
  assert.equal(catalog.policyFor(beanie, 'shopify'), DEFAULT_POLICY);
  assert.equal(catalog.policyFor(beanie, 'amazon'), DEFAULT_POLICY);
  const tee = await catalog.get('TEE-WHT-S');
  assert.ok(tee);
  assert.equal(catalog.policyFor(tee, 'shopify'), { percent: 100, safety: 3, floor: 0 });
  const hoodie = await catalog.get('HOODIE-BLK-M');
  assert.ok(hoodie);
  assert.equal(catalog.policyFor(hoodie, 'amazon'), { percent: 50, maxShown: 10, safety: 1, floor: 2 });
});

test('put checks an entry with the file rules; get, list and remove work on single SKUs', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  assert.is(await catalog.get('NOPE'), undefined);
  assert.is(await catalog.put(TEE), 'created');
  assert.is(await catalog.put(TEE), 'unchanged');
  assert.is(await catalog.put({ ...TEE, skuClass: 'slow' }), 'updated');
  const fbaWithPolicy: CatalogEntry = { ...SOCKS, policies: { amazon: { safety: 2 } } };
  const refused = await rejection(catalog.put(fbaWithPolicy), 'STOCKGUARD_E_BAD_ARGUMENT');
  assert.match(refused.message, /amazonSafety: does not apply to an FBA listing/);
  await rejection(catalog.get('a{b}'), 'STOCKGUARD_E_BAD_SKU');
  assert.equal(await catalog.list(), ['TEE-WHT-S']);
  assert.is(await catalog.remove('TEE-WHT-S'), true);
  assert.is(await catalog.remove('TEE-WHT-S'), false);
  assert.is(await catalog.get('TEE-WHT-S'), undefined);
  assert.equal(await catalog.list(), []);
  // The catalogue never touches the ledger.
  assert.is(await ledger.inventory('TEE-WHT-S'), undefined);
  assert.equal(await keysUnder(io, keyPrefix), []);
});

test('a stored entry edited into nonsense is refused on read, not handed to the pushers', async () => {
  const { catalog } = fresh();
  await catalog.put(HOODIE);
  const bucket = catalog.keys.skuBucket('catalog', 'HOODIE-BLK-M');
  await io.hset(bucket, 'HOODIE-BLK-M', `${await io.hget(bucket, 'HOODIE-BLK-M')}\u001ffFBM`);
  const error = await rejection(catalog.get('HOODIE-BLK-M'), 'STOCKGUARD_E_CATALOG_ROW');
  assert.match(error.message, /field amazonFulfillment: must be MFN or FBA, got "FBM"/);
});

test('on a Redis Cluster, entries sit in their SKU slot and import works', async () => {
  const target = await startTestCluster();
  try {
    const ioCluster = target.client();
    const catalog = new Catalog({ redis: ioCluster, keyPrefix: target.prefix });
    const ledger = new Ledger({ redis: ioCluster, keyPrefix: target.prefix });
    const report = await importCatalog({ file: fixture('valid.csv'), catalog, ledger });
    assert.equal([report.created, report.updated, report.unchanged], [4, 0, 0]);
    assert.equal(await catalog.list(), VALID_ENTRIES.map((entry) => entry.sku).sort());
    for (const expected of VALID_ENTRIES) assert.equal(await catalog.get(expected.sku), expected, expected.sku);
    // Invariant I7: the catalogue entry shares the Cluster slot of the SKU's ledger.
    const entrySlot = await ioCluster.cluster('KEYSLOT', catalog.keys.skuBucket('catalog', 'HOODIE-BLK-M'));
    const inventorySlot = await ioCluster.cluster('KEYSLOT', ledger.keys.sku('HOODIE-BLK-M').inventoryBucket);
    assert.is(entrySlot, inventorySlot);
    const again = await importCatalog({ file: fixture('valid.json'), catalog, ledger });
    assert.equal([again.created, again.updated, again.unchanged], [0, 0, 4]);
    assert.is(await catalog.remove('SOCKS-3PK-GRY'), true);
    assert.is(await catalog.get('SOCKS-3PK-GRY'), undefined);
    assert.equal(await catalog.resolveRefs(['shopify:gid://shopify/InventoryItem/49127744356537', 'amazon:SG-SOCKS-3PK-GRY-FBA', 'amazon:SG-HOODIE-BLK-M']), ['TEE-WHT-S', undefined, 'HOODIE-BLK-M']);
  } finally {
    await target.close();
  }
});

test.run();
