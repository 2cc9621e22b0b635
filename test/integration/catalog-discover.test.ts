// `stockguard catalog discover` against the Shopify and Amazon fakes, as a user runs it
// (the CLI's run(), configured by environment variables), then `stockguard catalog import`
// of the proposed file into a private Redis. The shop has 5,000 variants with blank,
// duplicate, case-only and untracked SKUs; Amazon has MFN and FBA listings, one with both
// offers, and seller SKUs that differ from the Shopify text. Every ambiguity must be listed
// exactly, none guessed, and neither channel may answer "throttled".
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { discoverCatalog } from '../../src/catalog/discover/discover.ts';
import type { Ambiguity } from '../../src/catalog/discover/match.ts';
import { run } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { type AmazonFake, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { LWA, SELLER_ID, US } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('catalog discover');
const SHOPIFY_TOKEN = 'shpat_discover';
const LOCATION = 'gid://shopify/Location/71239581843';
const CLOSED_LOCATION = 'gid://shopify/Location/71239581844';
const VARIANTS = 5_000;
// Above 2^53, where a JSON number would round.
const FIRST_ITEM = 9_007_199_254_740_993n;

let redis: TestRedis;
let shopify: ShopifyFake;
let amazon: AmazonFake;
let directory: string;
/** Inventory item and variant gid of variant number i (1-based). */
const items = new Map<number, { itemId: string; variantId: string }>();

const skuOf = (index: number) => `SG-${String(index).padStart(5, '0')}`;
// What the shop's SKU texts are, where they are not SG-<number>.
const SPECIAL: Record<number, { sku: string | null; tracked?: boolean }> = {
  11: { sku: null },
  12: { sku: '' },
  13: { sku: '   ' },
  21: { sku: 'DUP-TEE-M' },
  22: { sku: 'DUP-TEE-M' },
  23: { sku: 'DUP-MUG' },
  24: { sku: ' DUP-MUG' },
  25: { sku: 'DUP-MUG' },
  31: { sku: 'SG-GIFT-CARD', tracked: false },
  32: { sku: null, tracked: false },
  41: { sku: 'sg-case-1' },
  42: { sku: 'Hat-Red' },
  43: { sku: 'HAT-RED' },
  51: { sku: '  SG-SPACED  ' },
  61: { sku: 'SG-{BAD}' },
};

function env(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: redis.prefix,
    SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
    SHOPIFY_ACCESS_TOKEN: SHOPIFY_TOKEN,
    SHOPIFY_ADMIN_BASE_URL: shopify.url,
    AMAZON_SELLER_ID: SELLER_ID,
    AMAZON_MARKETPLACE_IDS: US,
    AMAZON_LWA_CLIENT_ID: LWA.clientId,
    AMAZON_LWA_CLIENT_SECRET: LWA.clientSecret,
    AMAZON_LWA_REFRESH_TOKEN: LWA.refreshToken,
    AMAZON_LWA_TOKEN_URL: amazon.lwaTokenUrl,
    AMAZON_SP_API_ENDPOINT: amazon.url,
    ...overrides,
  };
}

/** The CLI in this process, with `variables` as its environment. */
async function stockguard(args: string[], variables: Record<string, string> = env()): Promise<{ code: number; output: string }> {
  const saved = { ...process.env };
  const lines: string[] = [];
  for (const [name, value] of Object.entries(variables)) process.env[name] = value;
  try {
    const code = await run(args, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  } finally {
    for (const name of Object.keys(variables)) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

test.before(async () => {
  redis = await startTestRedis();
  directory = mkdtempSync(join(tmpdir(), 'sg-discover-'));
  // A bucket that holds two pages of 250 variants (502 points each): the reader must wait
  // for points between pages. Restored fast, so the test does not wait a real shop's 50 s.
  shopify = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: 'discover-secret', shopDomain: 'discover-test.myshopify.com', bucket: { maximumAvailable: 1_100, restoreRate: 2_000 }, inventoryLevelWebhooks: false });
  shopify.addLocation({ id: LOCATION, name: 'Warehouse' });
  shopify.addLocation({ id: CLOSED_LOCATION, name: 'Old shop', isActive: false });
  for (let index = 1; index <= VARIANTS; index += 1) {
    const special = SPECIAL[index];
    const itemId = `gid://shopify/InventoryItem/${FIRST_ITEM + BigInt(index)}`;
    const { variantId } = shopify.addItem({ id: itemId, sku: special ? special.sku : skuOf(index), tracked: special?.tracked ?? true });
    items.set(index, { itemId, variantId });
  }

  amazon = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false });
  const add = (sku: string, fulfillment: 'MFN' | 'FBA') => amazon.addListing({ sku, marketplaceId: US, productType: 'SHIRT', fulfillment, quantity: 5 });
  for (let index = 100; index < 300; index += 1) add(skuOf(index), 'MFN');
  for (let index = 300; index < 320; index += 1) add(skuOf(index), 'FBA');
  add(skuOf(320), 'MFN');
  add(skuOf(320), 'FBA');
  // The same products under another seller SKU on Amazon: nothing says they are one.
  for (let index = 400; index < 410; index += 1) add(`AMZ-${skuOf(index)}`, 'MFN');
  add('DUP-TEE-M', 'MFN');
  add('SG-CASE-1', 'MFN');
  add('SG-SPACED', 'MFN');
  add('AMZ-ONLY-FBA-1', 'FBA');
});

test.after(async () => {
  await Promise.allSettled([shopify?.close(), amazon?.close()]);
  rmSync(directory, { recursive: true, force: true });
  await redis.close();
});

const variant = (index: number, sku: string | null) => ({ variantId: items.get(index)!.variantId, inventoryItemId: items.get(index)!.itemId, sku, displayName: `${sku ?? `Item ${FIRST_ITEM + BigInt(index)}`} - Default Title` });
const mfn = (sellerSku: string) => ({ sellerSku, marketplaceId: US, fulfillment: 'MFN' as const, productType: 'SHIRT' });

test('discover proposes a catalogue that imports cleanly, and lists every ambiguity instead of guessing', async () => {
  const out = join(directory, 'catalog.proposed.json');
  const discovered = await stockguard(['catalog', 'discover', '--out', out]);
  assert.is(discovered.code, 0, discovered.output);

  const review = JSON.parse(readFileSync(join(directory, 'catalog.proposed.review.json'), 'utf8')) as {
    ambiguous: Ambiguity[];
    excluded: Array<{ reason: string; shopify?: { variantId: string } }>;
    notes: Array<{ kind: string; sku: string }>;
    unmatched: { shopifyOnly: Array<{ sku: string }>; amazonOnly: Array<{ sku: string; amazonFulfillment: string }> };
    counts: { rows: number; matched: number; shopifyOnly: number; amazonOnly: number; fba: number };
    fba: string[];
    sources: { shopify: { throttled: number; pages: number }; amazon: { throttled: number } };
  };
  // Exactly these, in the review's order (kind, then text): nothing guessed, nothing missed.
  assert.equal(review.ambiguous, [
    { kind: 'case-only-difference', skuTexts: ['HAT-RED', 'Hat-Red'], shopify: [variant(43, 'HAT-RED'), variant(42, 'Hat-Red')].sort((a, b) => (a.variantId < b.variantId ? -1 : 1)), amazon: [], action: review.ambiguous[0]!.action },
    { kind: 'case-only-difference', skuTexts: ['SG-CASE-1', 'sg-case-1'], shopify: [variant(41, 'sg-case-1')], amazon: [mfn('SG-CASE-1')], action: review.ambiguous[1]!.action },
    { kind: 'shopify-blank-sku', skuTexts: [], shopify: [variant(11, null)], amazon: [], action: review.ambiguous[2]!.action },
    { kind: 'shopify-blank-sku', skuTexts: [], shopify: [variant(12, '')], amazon: [], action: review.ambiguous[3]!.action },
    { kind: 'shopify-blank-sku', skuTexts: [], shopify: [variant(13, '   ')], amazon: [], action: review.ambiguous[4]!.action },
    { kind: 'shopify-duplicate-sku', skuTexts: ['DUP-MUG'], shopify: [variant(23, 'DUP-MUG'), variant(24, ' DUP-MUG'), variant(25, 'DUP-MUG')], amazon: [], action: review.ambiguous[5]!.action },
    { kind: 'shopify-duplicate-sku', skuTexts: ['DUP-TEE-M'], shopify: [variant(21, 'DUP-TEE-M'), variant(22, 'DUP-TEE-M')], amazon: [mfn('DUP-TEE-M')], action: review.ambiguous[6]!.action },
    { kind: 'unusable-sku-text', skuTexts: ['SG-{BAD}'], shopify: [variant(61, 'SG-{BAD}')], amazon: [], action: review.ambiguous[7]!.action },
  ]);
  for (const ambiguity of review.ambiguous) assert.ok(ambiguity.action.length > 20, 'each ambiguity says what a human must decide');
  assert.equal(review.excluded.map((exclusion) => [exclusion.reason, exclusion.shopify?.variantId]), [
    ['shopify-untracked', items.get(31)!.variantId],
    ['shopify-untracked', items.get(32)!.variantId],
  ]);
  assert.equal(review.notes.map((note) => [note.kind, note.sku]), [['amazon-mfn-and-fba', skuOf(320)]]);
  assert.equal(review.unmatched.amazonOnly.map((row) => row.sku), ['AMZ-ONLY-FBA-1', ...Array.from({ length: 10 }, (_, offset) => `AMZ-${skuOf(400 + offset)}`)]);
  assert.ok(review.unmatched.shopifyOnly.some((row) => row.sku === skuOf(400)), 'the Shopify side of a differing seller SKU is its own SKU');
  // Shopify rows: 5,000 variants less 3 blank, 5 duplicate, 2 untracked, 3 case-only, 1 unusable = 4,986.
  // Matched: SG-00100 to SG-00320 (221) and SG-SPACED = 222, so 4,986 − 222 = 4,764 Shopify only.
  // Amazon only: AMZ-ONLY-FBA-1 and the 10 AMZ-SG-… = 11. Rows: 4,986 + 11 = 4,997.
  // FBA: SG-00300 to SG-00319, SG-00320 (both offers) and AMZ-ONLY-FBA-1 = 22.
  assert.equal(
    { rows: review.counts.rows, matched: review.counts.matched, shopifyOnly: review.counts.shopifyOnly, amazonOnly: review.counts.amazonOnly, fba: review.counts.fba },
    { rows: 4_997, matched: 222, shopifyOnly: 4_764, amazonOnly: 11, fba: 22 },
  );
  assert.is(review.counts.rows, review.counts.matched + review.counts.shopifyOnly + review.counts.amazonOnly);
  assert.equal(review.fba.slice().sort(), ['AMZ-ONLY-FBA-1', ...Array.from({ length: 21 }, (_, offset) => skuOf(300 + offset))]);

  // The terminal says the same: every ambiguity and the unmatched.
  assert.match(discovered.output, /ambiguous, left out of the catalogue file for you to decide \(8\):/);
  assert.match(discovered.output, /shopify-duplicate-sku {2}"DUP-TEE-M": shopify gid:\/\/shopify\/ProductVariant\/\d+ sku "DUP-TEE-M"/);
  assert.match(discovered.output, /unmatched: only on Amazon, proposed as their own SKU \(11\):\n {2}AMZ-ONLY-FBA-1 {2}ATVPDKIKX0DER FBA/);
  // 250 variants a page (Shopify's maximum): 20 pages, the last saying hasNextPage false; plus the
  // location and count queries. Amazon: 235 listings at 20 a page. Progress came while reading.
  assert.match(discovered.output, /shopify variants: 5,000, 20 pages, 22 requests,/);
  assert.match(discovered.output, /amazon listings: 235, 12 pages, 12 requests, 0 creation-date splits, 0 throttled/);
  assert.match(discovered.output, /shopify variants: [\d,]+ of 5,000 \(\d+%\), page \d+/);

  // Throttling honoured on both channels: no THROTTLED, no 429, and the Shopify reader did wait.
  assert.is(review.sources.shopify.throttled, 0);
  assert.is(review.sources.amazon.throttled, 0);
  assert.equal(shopify.requests().filter((request) => request.throttled || request.status === 429), []);
  assert.equal(amazon.requests().filter((request) => request.outcome === 429), []);
  assert.match(discovered.output, /shopify variants: .* ([1-9]\d*\.\d|0\.[1-9]) s waiting for the cost bucket, 0 throttled/);
  assert.equal(amazon.modelViolations(), []);

  const rows = JSON.parse(readFileSync(out, 'utf8')) as Array<Record<string, unknown>>;
  assert.equal(rows.find((row) => row.sku === skuOf(100)), {
    sku: skuOf(100),
    shopifyInventoryItemId: items.get(100)!.itemId,
    shopifyLocationId: LOCATION,
    shopifyVariantId: items.get(100)!.variantId,
    amazonSellerSku: skuOf(100),
    amazonMarketplaceId: US,
    amazonProductType: 'SHIRT',
    amazonFulfillment: 'MFN',
  });
  assert.is(rows.find((row) => row.sku === 'SG-SPACED')?.shopifyVariantId, items.get(51)!.variantId);
  assert.is(rows.find((row) => row.sku === skuOf(320))?.amazonFulfillment, 'FBA');
  for (const text of ['DUP-TEE-M', 'DUP-MUG', 'SG-CASE-1', 'sg-case-1', 'HAT-RED', 'Hat-Red', 'SG-GIFT-CARD']) {
    assert.not.ok(rows.some((row) => row.sku === text || row.amazonSellerSku === text), `${text} is not guessed into the file`);
  }

  // The file imports unchanged.
  const imported = await stockguard(['catalog', 'import', out]);
  assert.is(imported.code, 0, imported.output);
  assert.match(imported.output, /^imported 4997 rows from .* 4997 created, 0 updated, 0 unchanged/);
  {
    const catalog = new Catalog({ redis: redis.client(), keyPrefix: redis.prefix });
    const entry = await catalog.get(skuOf(300));
    assert.equal(entry?.amazon, { sellerSku: skuOf(300), marketplaceId: US, productType: 'SHIRT', fulfillment: 'FBA' });
    assert.is(entry?.shopify?.variantId, items.get(300)!.variantId);
    const ledger = new Ledger({ redis: redis.client(), keyPrefix: redis.prefix });
    assert.is((await ledger.inventory(skuOf(300)))?.onHand, 0);
  }
});

test('an existing file is not replaced without --force; with --force a Shopify-only discover writes the first run\'s Shopify rows', async () => {
  const out = join(directory, 'again.json');
  writeFileSync(out, '[]\n');
  const refused = await stockguard(['catalog', 'discover', '--shopify', '--out', out]);
  assert.is(refused.code, 1);
  assert.match(refused.output, /STOCKGUARD_E_OUTPUT_EXISTS: .*again\.json/);
  assert.is(readFileSync(out, 'utf8'), '[]\n');
  assert.not.ok(existsSync(join(directory, 'again.review.json')));
  const forced = await stockguard(['catalog', 'discover', '--shopify', '--out', out, '--force']);
  assert.is(forced.code, 0, forced.output);
  const rows = JSON.parse(readFileSync(out, 'utf8')) as Array<Record<string, unknown>>;
  assert.ok(rows.every((row) => row.amazonSellerSku === undefined), '--shopify reads Shopify only');
  // The first run's rows that carry a Shopify mapping, without their Amazon columns: the same
  // 4,986 rows, plus sg-case-1, which is ambiguous only beside Amazon's SG-CASE-1 and, with
  // Amazon not read, is a SKU of its own. HAT-RED / Hat-Red stay ambiguous (both on Shopify).
  const shopifyColumns = (row: Record<string, unknown>) => ({ sku: row.sku, shopifyInventoryItemId: row.shopifyInventoryItemId, shopifyLocationId: row.shopifyLocationId, shopifyVariantId: row.shopifyVariantId });
  const first = (JSON.parse(readFileSync(join(directory, 'catalog.proposed.json'), 'utf8')) as Array<Record<string, unknown>>).filter((row) => row.shopifyVariantId !== undefined);
  assert.is(first.length, 4_986);
  assert.equal(
    rows.filter((row) => row.sku !== 'sg-case-1').map(shopifyColumns),
    first.map(shopifyColumns),
  );
  assert.equal(rows.find((row) => row.sku === 'sg-case-1'), { sku: 'sg-case-1', shopifyInventoryItemId: items.get(41)!.itemId, shopifyLocationId: LOCATION, shopifyVariantId: items.get(41)!.variantId });
  assert.is(rows.length, 4_987);
  assert.not.ok(rows.some((row) => row.sku === 'HAT-RED' || row.sku === 'Hat-Red'));
});

test('several online locations: discover refuses to pick one, and --location chooses', async () => {
  const second = 'gid://shopify/Location/71239581845';
  shopify.addLocation({ id: second, name: 'Second warehouse' });
  try {
    const refused = await stockguard(['catalog', 'discover', '--shopify', '--out', join(directory, 'two.json')]);
    assert.is(refused.code, 1);
    assert.match(refused.output, /STOCKGUARD_E_DISCOVER_LOCATION: .*2 locations qualify/);
    const closed = await stockguard(['catalog', 'discover', '--shopify', '--location', CLOSED_LOCATION, '--out', join(directory, 'closed.json')]);
    assert.match(closed.output, /STOCKGUARD_E_DISCOVER_LOCATION: .*is inactive/);
    const chosen = await stockguard(['catalog', 'discover', '--shopify', '--location', second, '--out', join(directory, 'second.csv')]);
    assert.is(chosen.code, 0, chosen.output);
    const csv = readFileSync(join(directory, 'second.csv'), 'utf8').split('\n');
    assert.is(csv[0], 'sku,shopifyInventoryItemId,shopifyLocationId,shopifyVariantId');
    assert.ok(csv.slice(1, -1).every((line) => line.split(',')[2] === second));
  } finally {
    shopify.updateLocation(second, { isActive: false });
  }
});

test('Amazon: a search finding more than 1,000 listings is split by creation date, and every listing is read', async () => {
  // A seller granted 20 requests/s: the reader takes the rate from x-amzn-RateLimit-Limit.
  const big = await startAmazonFake({ ...LWA, sellerId: SELLER_ID, notifyQuantityChanges: false, usagePlans: { searchListingsItems: { rate: 20, burst: 5 } } });
  try {
    const start = Date.UTC(2024, 0, 1);
    for (let index = 0; index < 1_050; index += 1) {
      big.addListing({ sku: `BIG-${index}`, marketplaceId: US, productType: 'SHIRT', fulfillment: index % 7 === 0 ? 'FBA' : 'MFN', quantity: 1, createdAtMs: start + index * 3_600_000 });
    }
    const lines: string[] = [];
    const config = loadConfig(env({ AMAZON_LWA_TOKEN_URL: big.lwaTokenUrl, AMAZON_SP_API_ENDPOINT: big.url }));
    const result = await discoverCatalog({ config, amazon: true, out: join(directory, 'big.json'), print: (line) => lines.push(line) });
    assert.is(result.proposal.counts.listings, 1_050);
    assert.is(result.proposal.counts.rows, 1_050);
    assert.is(result.proposal.counts.fba, 150);
    assert.ok((result.amazon?.windows ?? 0) > 0, 'the search was split');
    assert.equal(result.amazon?.truncated, []);
    assert.is(result.amazon?.throttled, 0);
    assert.equal(big.requests().filter((request) => request.outcome === 429), []);
    assert.equal(big.modelViolations(), []);
  } finally {
    await big.close();
  }
});

test.run();
