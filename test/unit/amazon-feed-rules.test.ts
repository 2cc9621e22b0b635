// Which Amazon values may wait for a JSON_LISTINGS_FEED and which go by patchListingsItem
// (src/pushers/amazonFeed.ts, patchOnly; docs/pushers.md, "Amazon backlogs: feeds").
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { patchOnly } from '../../src/pushers/amazonFeed.ts';
import type { PushRequest } from '../../src/pushers/pusher.ts';

const FEEDS = { urgentDecreaseUnits: 5, urgentDecreasePercent: 20 };
const entry: CatalogEntry = {
  sku: 'TEE-1',
  holdback: 0,
  skuClass: 'default',
  amazon: { sellerSku: 'tee-1', marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' },
  policies: {},
};
const request = (overrides: Partial<PushRequest>): PushRequest => ({
  sku: 'TEE-1',
  channel: 'amazon',
  entry,
  quantity: 40,
  known: undefined,
  knownAtMs: 0,
  version: 1,
  changedAtMs: 0,
  cause: 'change',
  ...overrides,
});

test('an opening value, a raise and a small decrease may wait for a feed', () => {
  assert.is(patchOnly(request({}), FEEDS), false);
  assert.is(patchOnly(request({ known: 30 }), FEEDS), false);
  assert.is(patchOnly(request({ known: 43 }), FEEDS), false);
});

test('zeros, large decreases, corrections and FBA or incomplete listings go by PATCH', () => {
  assert.is(patchOnly(request({ quantity: 0 }), FEEDS), true);
  assert.is(patchOnly(request({ known: 45 }), FEEDS), true);
  assert.is(patchOnly(request({ quantity: 8, known: 10 }), FEEDS), true);
  assert.is(patchOnly(request({ cause: 'drift' }), FEEDS), true);
  assert.is(patchOnly(request({ cause: 'resync' }), FEEDS), true);
  assert.is(patchOnly(request({ entry: { ...entry, amazon: { ...entry.amazon!, fulfillment: 'FBA' } } }), FEEDS), true);
  assert.is(patchOnly(request({ entry: { ...entry, amazon: { ...entry.amazon!, productType: undefined } } }), FEEDS), true);
});

test('a value a bounded allocation mode decided never waits for a feed (its I8 account assumes the PATCH apply-lag bound)', () => {
  // Even a raise on an opening push: strict counts it in full until Amazon reports it and
  // writes it off after the PATCH apply bound; a feed applied later would be unbounded.
  assert.is(patchOnly(request({ cause: 'allocation' }), FEEDS), true);
  assert.is(patchOnly(request({ cause: 'allocation', known: 30 }), FEEDS), true);
});

test.run();
