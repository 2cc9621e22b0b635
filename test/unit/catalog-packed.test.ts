// The packed catalogue entry and channel-item fields (src/catalog/packed.ts): every column
// survives a round trip, defaults are left out, the typical Shopify-mapped entry fits a
// listpack value (≤ 64 bytes), and redis-om's hash of the same entry packs the same.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type CatalogEntry, entryToRecord, rowToEntry } from '../../src/catalog/entry.ts';
import { itemField, PACKED_SEPARATOR, PACKED_TAGS, packRecord, unpackRecord } from '../../src/catalog/packed.ts';
import { CATALOG_COLUMNS, checkRow } from '../../src/catalog/row.ts';

/** Every column set, none at its default, but components (a bundle has no holdback or mode: the next test). */
const FULL: CatalogEntry = {
  sku: 'TEE;BLK*M:1',
  holdback: 4,
  skuClass: 'hot',
  allocationMode: 'budget:3',
  shopify: {
    inventoryItemId: 'gid://shopify/InventoryItem/9007199254740993',
    locationId: 'gid://shopify/Location/71239581843',
    variantId: 'gid://shopify/ProductVariant/40123456789012',
    sku: 'Shopify SKU; with = signs',
  },
  amazon: { sellerSku: 'SG|TEE=BLK', marketplaceId: 'A1PA6795UKMFR9', productType: 'SHIRT', fulfillment: 'MFN' },
  policies: { shopify: { percent: 80, maxShown: 100, safety: 2, floor: 1 }, amazon: { percent: 50, maxShown: 10, safety: 0, floor: 3 } },
};

/** The entry as Catalog.get reads it back: unpacked, checked like a file row, turned into an entry. */
function roundTrip(entry: CatalogEntry): CatalogEntry {
  const packed = packRecord(entry.sku, entryToRecord(entry));
  const checked = checkRow({ row: 1, values: unpackRecord(entry.sku, packed) });
  if (!checked.ok) throw new Error(JSON.stringify(checked.errors));
  return rowToEntry(checked.row);
}

test('every column of an entry survives a round trip, and every stored column has a tag of its own', () => {
  assert.equal(roundTrip(FULL), FULL);
  const record = entryToRecord(FULL);
  const stored = CATALOG_COLUMNS.filter((column) => column !== 'sku' && column !== 'onHand');
  assert.equal(Object.keys(record).filter((column) => column !== 'sku').sort(), stored.filter((column) => column !== 'components').sort(), 'FULL sets every column but components');
  assert.equal(Object.keys(PACKED_TAGS).sort(), [...stored].sort());
  assert.is(new Set(Object.values(PACKED_TAGS)).size, stored.length, 'tags are unique');
  // Exactly the record back, numbers as numbers.
  assert.equal(unpackRecord(FULL.sku, packRecord(FULL.sku, record)), record);
});

test('a bundle, an FBA listing, a seller SKU and Shopify SKU equal to ours, and the defaults', () => {
  const bundle: CatalogEntry = { sku: 'GIFT-SET', holdback: 0, skuClass: 'default', components: [{ sku: 'MUG*2', quantity: 1 }, { sku: 'TEE-M', quantity: 3 }, { sku: 'CARD', quantity: 1 }], policies: {} };
  assert.equal(roundTrip(bundle), bundle);
  assert.is(packRecord(bundle.sku, entryToRecord(bundle)), 'bMUG*2*1;TEE-M*3;CARD');
  const semicolon: CatalogEntry = { ...bundle, components: [{ sku: 'A;B', quantity: 2 }] };
  assert.equal(roundTrip(semicolon), semicolon);
  const fba: CatalogEntry = { sku: 'SOCKS', holdback: 0, skuClass: 'default', amazon: { sellerSku: 'SOCKS', marketplaceId: 'ATVPDKIKX0DER', fulfillment: 'FBA' }, policies: {} };
  assert.equal(roundTrip(fba), fba);
  assert.is(packRecord(fba.sku, entryToRecord(fba)), ['s', 'mUS', 'fFBA'].join(PACKED_SEPARATOR));
  const own: CatalogEntry = {
    sku: 'MUG-WHT',
    holdback: 0,
    skuClass: 'default',
    shopify: { inventoryItemId: 'gid://shopify/InventoryItem/1', locationId: 'gid://shopify/Location/2', sku: 'MUG-WHT' },
    amazon: { sellerSku: 'MUG-WHT', marketplaceId: 'ATVPDKIKX0DER', productType: 'MUG', fulfillment: 'MFN' },
    policies: {},
  };
  assert.equal(roundTrip(own), own);
  assert.is(packRecord(own.sku, entryToRecord(own)), ['i1', 'l2', 'k', 's', 'mUS', 'tMUG'].join(PACKED_SEPARATOR));
  const bare: CatalogEntry = { sku: 'BARE', holdback: 0, skuClass: 'default', policies: {} };
  assert.is(packRecord(bare.sku, entryToRecord(bare)), '');
  assert.equal(roundTrip(bare), bare);
});

test('a SKU listed on Shopify and on Amazon (seller SKU not ours) packs under hash-max-listpack-value (64 bytes)', () => {
  const typical: CatalogEntry = {
    sku: 'TEE-BLK-M',
    holdback: 0,
    skuClass: 'default',
    shopify: { inventoryItemId: 'gid://shopify/InventoryItem/44012345678901', locationId: 'gid://shopify/Location/76543210987', variantId: 'gid://shopify/ProductVariant/40123456789012' },
    amazon: { sellerSku: 'AMZ-TEE-BLK-M', marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' },
    policies: {},
  };
  const packed = packRecord(typical.sku, entryToRecord(typical));
  // Gid numbers in base 36 (44012345678901 = flmzq92r9), the marketplace by Amazon's country code.
  assert.is(packed, ['iflmzq92r9', 'lz5vunl7', 've80gm7qxg', 'sAMZ-TEE-BLK-M', 'mUS', 'tSHIRT'].join(PACKED_SEPARATOR));
  assert.ok(Buffer.byteLength(packed) <= 64, `${Buffer.byteLength(packed)} bytes`);
  assert.equal(unpackRecord(typical.sku, packed), { ...entryToRecord(typical), sku: typical.sku });
});

test('gid numbers past 2^53 and marketplaces Amazon does not list round-trip exactly', () => {
  const record = { sku: 'X', holdback: 0, skuClass: 'default', shopifyInventoryItemId: 'gid://shopify/InventoryItem/123456789012345678901234567890', shopifyLocationId: 'gid://shopify/Location/1', amazonSellerSku: 'X', amazonMarketplaceId: 'A2ZV50J4W1RKNI', amazonFulfillment: 'MFN' };
  const packed = packRecord('X', record);
  assert.ok(packed.includes(`${PACKED_SEPARATOR}mA2ZV50J4W1RKNI`), packed);
  assert.equal(unpackRecord('X', packed), record);
  assert.is(itemField('shopify:gid://shopify/InventoryItem/123456789012345678901234567890'), `i${123456789012345678901234567890n.toString(36)}`);
});

test('redis-om\'s hash of an entry (every value text) packs to the same value as the entry', () => {
  const record = entryToRecord(FULL);
  const redisOm = Object.fromEntries(Object.entries(record).map(([column, value]) => [column, String(value)]));
  assert.is(packRecord(FULL.sku, redisOm), packRecord(FULL.sku, record));
});

test('a hand-edited value is read back as it is, for the row check to refuse', () => {
  const record = unpackRecord('X', ['c', 'hlots', 'fFBM', 'Zodd'].join(PACKED_SEPARATOR));
  assert.equal(record, { sku: 'X', holdback: 'lots', skuClass: '', amazonFulfillment: 'FBM', 'packed tag "Z"': 'odd' });
  assert.not.ok(checkRow({ row: 1, values: record }).ok);
});

test('channel item fields: the column\'s tag and the identifier, a Shopify gid by its number in base 36', () => {
  assert.is(itemField('shopify:gid://shopify/InventoryItem/44012345678901'), 'iflmzq92r9');
  assert.is(itemField('shopify-variant:gid://shopify/ProductVariant/40123456789012'), 've80gm7qxg');
  assert.is(itemField('shopify-sku:TEE: black'), 'kTEE: black');
  assert.is(itemField('amazon:SG-TEE'), 'sSG-TEE');
  // Never mapped by the catalogue, so never looked up.
  assert.is(itemField('shopify:44012345678901'), undefined);
  assert.is(itemField('shopify:gid://shopify/ProductVariant/1'), undefined);
  assert.is(itemField('ebay:1'), undefined);
  assert.is(itemField('amazon:'), undefined);
  assert.is(itemField('constructor:x'), undefined);
});

test('property: any valid seller SKU, Shopify SKU text, class and numbers round-trip', () => {
  const text = (max: number) => fc.string({ minLength: 1, maxLength: max, unit: 'grapheme' }).filter((value) => value.trim() === value && !/\p{Cc}/u.test(value));
  fc.assert(
    fc.property(text(40), text(60), fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.nat({ max: 1_000_000_000 }), fc.nat({ max: 100 }), (sellerSku, shopifySku, skuClass, holdback, percent) => {
      const entry: CatalogEntry = {
        sku: 'PROP-1',
        holdback,
        skuClass,
        shopify: { inventoryItemId: 'gid://shopify/InventoryItem/7', locationId: 'gid://shopify/Location/8', sku: shopifySku },
        amazon: { sellerSku, marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' },
        policies: { shopify: { percent }, amazon: { floor: holdback } },
      };
      assert.equal(roundTrip(entry), entry);
    }),
  );
});

test.run();
