// Bundles in the catalogue (issue 14 §1): import from JSON and CSV, the rules a bundle row
// must follow (each refused with its row and field, nothing written), and a channel order
// for a bundle's variant reaching the components through the catalogue's mapping.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { importCatalog } from '../../src/catalog/import.ts';
import { formatRowError, type RowError } from '../../src/catalog/row.ts';
import { type ErrorCode, isStockguardError } from '../../src/errors.ts';
import { applyEvent } from '../../src/ledger/applyEvent.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis;
let io: Redis;
let directory: string;
let namespaces = 0;

test.before(async () => {
  redis = await startTestRedis();
  io = redis.client();
  directory = mkdtempSync(join(tmpdir(), 'stockguard-bundles-'));
});
test.after(async () => {
  await redis.close();
});

function fresh() {
  namespaces += 1;
  const keyPrefix = `${redis.prefix}:b${namespaces}`;
  return { keyPrefix, catalog: new Catalog({ redis: io, keyPrefix }), ledger: new Ledger({ redis: io, keyPrefix }) };
}

function file(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

async function keysUnder(keyPrefix: string): Promise<Record<string, string>> {
  const keys = await io.keys(`${keyPrefix}:*`);
  const state: Record<string, string> = {};
  for (const key of keys.sort()) state[key] = JSON.stringify(await io.dump(key));
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

const GIFT_CSV = [
  'sku,onHand,shopifyInventoryItemId,shopifyLocationId,shopifyVariantId,components',
  'MUG-WHT,10,gid://shopify/InventoryItem/101,gid://shopify/Location/1,gid://shopify/ProductVariant/201,',
  'TEA-GRN,3,gid://shopify/InventoryItem/102,gid://shopify/Location/1,gid://shopify/ProductVariant/202,',
  'GIFT-SET,,gid://shopify/InventoryItem/103,gid://shopify/Location/1,gid://shopify/ProductVariant/203,MUG-WHT;TEA-GRN*2',
].join('\n');

test('a bundle imports from CSV and from JSON alike: no ledger of its own, components in the entry, a re-import changes nothing', async () => {
  const csv = fresh();
  const report = await importCatalog({ file: file('gift.csv', `${GIFT_CSV}\n`), catalog: csv.catalog, ledger: csv.ledger });
  assert.equal([report.rows, report.created], [3, 3]);
  const entry = await csv.catalog.get('GIFT-SET');
  assert.equal(entry?.components, [
    { sku: 'MUG-WHT', quantity: 1 },
    { sku: 'TEA-GRN', quantity: 2 },
  ]);
  assert.is(await csv.ledger.inventory('GIFT-SET'), undefined, 'a bundle has no ledger');
  assert.equal(await csv.catalog.bundleComponents(['GIFT-SET', 'MUG-WHT']), [entry?.components, undefined]);
  const again = await importCatalog({ file: file('gift-again.csv', `${GIFT_CSV}\n`), catalog: csv.catalog, ledger: csv.ledger });
  assert.equal([again.unchanged, again.updated, again.created], [3, 0, 0]);

  const json = fresh();
  const rows = [
    { sku: 'GIFT-SET', shopifyInventoryItemId: 'gid://shopify/InventoryItem/103', shopifyLocationId: 'gid://shopify/Location/1', components: [{ sku: 'MUG-WHT', quantity: 1 }, { sku: 'TEA-GRN', quantity: 2 }] },
    { sku: 'MUG-WHT', onHand: 10 },
    { sku: 'TEA-GRN', onHand: 3 },
  ];
  await importCatalog({ file: file('gift.json', JSON.stringify(rows)), catalog: json.catalog, ledger: json.ledger });
  assert.equal((await json.catalog.get('GIFT-SET'))?.components, entry?.components, 'the bundle row before its components is imported after them');
});

test('bad bundle rows are refused with their row and field, and nothing is written', async () => {
  const { keyPrefix, catalog, ledger } = fresh();
  await importCatalog({ file: file('base.json', JSON.stringify([{ sku: 'A', onHand: 5 }, { sku: 'B', onHand: 5 }, { sku: 'KIT-AB', components: 'A;B' }])), catalog, ledger });
  const before = await keysUnder(keyPrefix);
  const bad = [
    { sku: 'KIT-1', components: 'A*0' },
    { sku: 'KIT-2', components: 'MISSING*2' },
    { sku: 'KIT-3', components: 'KIT-AB;A' },
    { sku: 'KIT-4', components: 'A;A' },
    { sku: 'KIT-5', components: 'KIT-5' },
    { sku: 'KIT-6', components: 'A', onHand: 3 },
    { sku: 'KIT-7', components: '' },
    { sku: 'A', components: 'B' },
  ];
  const error = await rejection(importCatalog({ file: file('bad.json', JSON.stringify(bad)), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  const listed = (error.details.errors as RowError[]).map(formatRowError);
  assert.equal(listed, [
    'row 1, field components: component 1 (A): quantity must be a whole number from 1 to 10000, got 0',
    'row 4, field components: component 2: "A" is listed twice; give it once with the total quantity',
    'row 5, field components: component 1: a bundle cannot contain itself',
    'row 6, field onHand: is set on a bundle; a bundle has no stock of its own (set onHand on its components)',
    'row 7, field components: must name at least one component',
  ]);
  assert.equal(await keysUnder(keyPrefix), before, 'nothing written');
  // The rows that pass the row rules are then checked against the file and the catalogue.
  const nested = [
    { sku: 'KIT-2', components: 'MISSING*2' },
    { sku: 'KIT-3', components: 'KIT-AB;A' },
    { sku: 'A', components: 'B' },
  ];
  const second = await rejection(importCatalog({ file: file('nested.json', JSON.stringify(nested)), catalog, ledger }), 'STOCKGUARD_E_CATALOG_ROW');
  assert.equal((second.details.errors as RowError[]).map(formatRowError), [
    'row 1, field components: component "MISSING" is neither in this file nor in the catalogue; add its row',
    'row 2, field components: component "KIT-AB" is a bundle; bundles inside bundles are not supported: list its components instead',
    // The same file makes A a bundle, so KIT-3 would nest it too.
    'row 2, field components: component "A" is a bundle; bundles inside bundles are not supported: list its components instead',
    'row 3, field components: "A" is a component of bundle "KIT-AB", "KIT-3", so it cannot be a bundle itself (bundles inside bundles are not supported)',
  ]);
  assert.equal(await keysUnder(keyPrefix), before, 'nothing written');
  // A component cannot leave the catalogue while a bundle uses it.
  const removal = await rejection(catalog.remove('B'), 'STOCKGUARD_E_BAD_ARGUMENT');
  assert.match(removal.message, /component of bundle "KIT-AB"/);
});

test('a Shopify order line for the bundle\'s variant reserves its components through the catalogue', async () => {
  const { catalog, ledger } = fresh();
  await importCatalog({ file: file('order.csv', `${GIFT_CSV}\n`), catalog, ledger });
  const outcome = await applyEvent(
    {
      eventId: 'webhook-1',
      source: 'shopify-webhook',
      receivedAtMs: Date.now(),
      type: 'order.placed',
      channel: 'shopify',
      orderId: 'gid://shopify/Order/9',
      lines: [{ lineId: 'gid://shopify/LineItem/1', refs: ['shopify-variant:gid://shopify/ProductVariant/203'], quantity: 2 }],
    },
    { ledger, resolveChannelItem: (channel, id) => catalog.skuForChannelItem(channel, id), resolveRefs: (refs) => catalog.resolveRefs(refs), bundleComponents: (skus) => catalog.bundleComponents(skus) },
  );
  if (outcome.kind !== 'reserved') throw new Error(`expected reserved, got ${outcome.kind}`);
  assert.equal(outcome.lines.map((line) => [line.sku, line.held, line.shortfall]), [
    ['MUG-WHT', 2, 0],
    ['TEA-GRN', 3, 1],
  ]);
  assert.equal([(await ledger.inventory('MUG-WHT'))?.reserved, (await ledger.inventory('TEA-GRN'))?.oversold], [2, 1]);
});

test.run();
