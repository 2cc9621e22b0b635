// `stockguard catalog discover`: reads the configured stores (Shopify variants, Amazon
// listings), proposes a catalogue by SKU text (match.ts) and writes two files: the
// catalogue rows, which `stockguard catalog import` takes unchanged, and beside them a
// review file listing what was matched, what only one channel has, and every ambiguity
// left for a human. Nothing touches Redis or the channels' stock.
import { access, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { Config } from '../../config.ts';
import { StockguardError } from '../../errors.ts';
import { CATALOG_COLUMNS, type CatalogRow } from '../row.ts';
import { type AmazonRead, readAmazonListings } from './amazon.ts';
import { type Ambiguity, type DiscoveredListing, type DiscoveredVariant, type Proposal, proposeCatalog } from './match.ts';
import { readShopifyVariants, type ShopifyRead } from './shopify.ts';

export const DEFAULT_DISCOVER_OUT = 'catalog.proposed.json';

export interface DiscoverOptions {
  config: Pick<Config, 'shopify' | 'amazon'>;
  /** The catalogue file to write (.json or .csv); the review goes beside it as <name>.review.json. */
  out?: string;
  /** Replace existing files. */
  force?: boolean;
  /** Channels to read; every configured one when neither is set. */
  shopify?: boolean;
  amazon?: boolean;
  /** The Shopify location to map; found when left out. */
  locationId?: string;
  /** One line of terminal output. */
  print: (line: string) => void;
  /** Plain progress lines at most this often per channel (default 2 s). */
  progressIntervalMs?: number;
  clock?: () => number;
  requestTimeoutMs?: number;
}

export interface DiscoverResult {
  out: string;
  reviewFile: string;
  proposal: Proposal;
  shopify: Omit<ShopifyRead, 'variants'> | undefined;
  amazon: Omit<AmazonRead, 'listings'> | undefined;
  warnings: string[];
  durationMs: number;
}

/** `catalog.proposed.json` → `catalog.proposed.review.json` (also for .csv). */
export function reviewFileFor(out: string): string {
  return `${out.slice(0, out.length - extname(out).length)}.review.json`;
}

// Shown on the terminal per list; the review file has all of them.
const SHOWN = 50;

export async function discoverCatalog(options: DiscoverOptions): Promise<DiscoverResult> {
  const clock = options.clock ?? Date.now;
  const started = clock();
  const out = options.out ?? DEFAULT_DISCOVER_OUT;
  const extension = extname(out).toLowerCase();
  if (extension !== '.json' && extension !== '.csv') {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `--out must name a .json or .csv file (what catalog import reads), got ${JSON.stringify(out)}`);
  }
  const reviewFile = reviewFileFor(out);
  const { config } = options;
  const asked = options.shopify === true || options.amazon === true;
  const readShopify = asked ? options.shopify === true : config.shopify !== undefined;
  const readAmazon = asked ? options.amazon === true : config.amazon !== undefined;
  if (readShopify && !config.shopify) throw new StockguardError('STOCKGUARD_E_CONFIG', 'reading Shopify needs SHOPIFY_STORE_DOMAIN and SHOPIFY_ACCESS_TOKEN (and SHOPIFY_ADMIN_BASE_URL for a proxy or the fake)');
  if (readAmazon && !config.amazon) throw new StockguardError('STOCKGUARD_E_CONFIG', 'reading Amazon needs AMAZON_SELLER_ID, AMAZON_MARKETPLACE_IDS and the AMAZON_LWA_* credentials');
  if (!readShopify && !readAmazon) throw new StockguardError('STOCKGUARD_E_CONFIG', 'no channel is configured: set the Shopify (SHOPIFY_STORE_DOMAIN, SHOPIFY_ACCESS_TOKEN) or Amazon (AMAZON_SELLER_ID, …) variables');
  if (options.locationId !== undefined && !readShopify) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', '--location names a Shopify location, but Shopify is not being read');

  // Refuse before reading for minutes; 'wx' below refuses a file created meanwhile.
  if (!options.force) await refuseExisting([out, reviewFile]);

  const interval = options.progressIntervalMs ?? 2_000;
  const [shopifyRead, amazonRead] = await Promise.all([
    readShopify && config.shopify ? readShopifyChannel(options, config.shopify, clock, interval) : undefined,
    readAmazon && config.amazon ? readAmazonChannel(options, config.amazon, clock, interval) : undefined,
  ]);

  const variants: DiscoveredVariant[] = shopifyRead?.variants ?? [];
  const listings: DiscoveredListing[] = amazonRead?.listings ?? [];
  const proposal = proposeCatalog(variants, listings, {
    ...(shopifyRead ? { shopifyLocationId: shopifyRead.location.id } : {}),
    marketplaceIds: config.amazon?.marketplaceIds ?? [],
  });
  const warnings: string[] = [];
  for (const window of amazonRead?.truncated ?? []) {
    warnings.push(`Amazon ${window.marketplaceId}: ${window.found} listings were created within one millisecond (${window.createdAfter}); searchListingsItems pages through 1,000 of them, the rest were not read`);
  }

  const rows = proposal.rows.map((proposed) => proposed.row);
  const flag = options.force ? 'w' : 'wx';
  await writeOut(out, extension === '.csv' ? toCsv(rows) : `${JSON.stringify(rows, null, 2)}\n`, flag);
  const result: DiscoverResult = {
    out,
    reviewFile,
    proposal,
    shopify: shopifyRead ? withoutKey(shopifyRead, 'variants') : undefined,
    amazon: amazonRead ? withoutKey(amazonRead, 'listings') : undefined,
    warnings,
    durationMs: clock() - started,
  };
  await writeOut(reviewFile, `${JSON.stringify(reviewDocument(result, options, clock()), null, 2)}\n`, flag);
  printSummary(result, options.print);
  return result;
}

function withoutKey<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const copy = { ...value };
  delete copy[key];
  return copy;
}

async function refuseExisting(files: readonly string[]): Promise<void> {
  for (const file of files) {
    const exists = await access(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new StockguardError('STOCKGUARD_E_OUTPUT_EXISTS', `${file} (discover writes the catalogue and its review file ${files.join(' and ')})`, { details: { file } });
  }
}

async function writeOut(file: string, text: string, flag: 'w' | 'wx'): Promise<void> {
  try {
    await writeFile(file, text, { flag });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new StockguardError('STOCKGUARD_E_OUTPUT_EXISTS', file, { cause: error, details: { file } });
    throw new StockguardError('STOCKGUARD_E_FILE', `cannot write ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Progress lines: pages, items, elapsed and an estimate of what is left, at most every `interval` ms. */
function progressLine(label: string, clock: () => number, interval: number, print: (line: string) => void) {
  const started = clock();
  let last = started;
  return (done: number, total: number | undefined, detail: string, final = false) => {
    const now = clock();
    if (!final && now - last < interval) return;
    last = now;
    const seconds = (now - started) / 1000;
    const share = total ? ` of ${total.toLocaleString('en-US')} (${Math.min(100, Math.floor((done / Math.max(1, total)) * 100))}%)` : '';
    const left = !final && total && done > 0 && total > done ? `, about ${Math.ceil((seconds / done) * (total - done))} s left` : '';
    print(`${label}: ${done.toLocaleString('en-US')}${share}, ${detail}, ${seconds.toFixed(1)} s${left}`);
  };
}

async function readShopifyChannel(options: DiscoverOptions, settings: NonNullable<Config['shopify']>, clock: () => number, interval: number): Promise<ShopifyRead> {
  const line = progressLine('shopify variants', clock, interval, options.print);
  const read = await readShopifyVariants({
    settings,
    ...(options.locationId === undefined ? {} : { locationId: options.locationId }),
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    clock,
    onPage: (progress) => line(progress.variants, progress.total, `page ${progress.pages}, ${(progress.throttleWaitMs / 1000).toFixed(1)} s waiting for the cost bucket`),
  });
  line(read.variants.length, undefined, `${read.pages} pages, ${read.requests} requests, ${(read.throttleWaitMs / 1000).toFixed(1)} s waiting for the cost bucket, ${read.throttled} throttled; location ${read.location.id} (${read.location.name})`, true);
  return read;
}

async function readAmazonChannel(options: DiscoverOptions, settings: NonNullable<Config['amazon']>, clock: () => number, interval: number): Promise<AmazonRead> {
  const line = progressLine('amazon listings', clock, interval, options.print);
  const read = await readAmazonListings({
    settings,
    ...(options.requestTimeoutMs === undefined ? {} : { requestTimeoutMs: options.requestTimeoutMs }),
    clock,
    onPage: (progress) => line(progress.listings, progress.found, `${progress.marketplaceId} page ${progress.pages}`),
  });
  line(read.listings.length, undefined, `${read.pages} pages, ${read.requests} requests, ${read.windows} creation-date splits, ${read.throttled} throttled; marketplaces ${settings.marketplaceIds.join(', ')}`, true);
  return read;
}

const MATCHING_RULE =
  'A Shopify variant and an Amazon listing are one SKU when their SKU texts are equal after trimming surrounding spaces, letter case included. Texts equal but for case are never merged: they are listed under ambiguous (case-only-difference). The ledger SKU is that text.';

function reviewDocument(result: DiscoverResult, options: DiscoverOptions, nowMs: number) {
  const { proposal } = result;
  const skusOf = (source: 'shopify-only' | 'amazon-only') =>
    proposal.rows.filter((proposed) => proposed.source === source).map((proposed) => ({
      sku: proposed.row.sku,
      ...(proposed.row.shopifyVariantId ? { shopifyVariantId: proposed.row.shopifyVariantId } : {}),
      ...(proposed.row.amazonSellerSku ? { amazonSellerSku: proposed.row.amazonSellerSku, amazonFulfillment: proposed.row.amazonFulfillment } : {}),
    }));
  return {
    generatedBy: 'stockguard catalog discover',
    generatedAt: new Date(nowMs).toISOString(),
    catalogFile: result.out,
    sources: {
      ...(result.shopify ? { shopify: { storeDomain: options.config.shopify?.storeDomain, location: result.shopify.location, pages: result.shopify.pages, requests: result.shopify.requests, throttled: result.shopify.throttled } } : {}),
      ...(result.amazon ? { amazon: { sellerId: options.config.amazon?.sellerId, marketplaceIds: options.config.amazon?.marketplaceIds, pages: result.amazon.pages, requests: result.amazon.requests, throttled: result.amazon.throttled } } : {}),
    },
    matching: MATCHING_RULE,
    counts: proposal.counts,
    warnings: result.warnings,
    // In the catalogue file, as a row of their own, so their orders resolve (invariant I9); listed here to be checked.
    unmatched: { shopifyOnly: skusOf('shopify-only'), amazonOnly: skusOf('amazon-only') },
    // Not in the catalogue file: each needs a human.
    ambiguous: proposal.ambiguous,
    excluded: proposal.excluded,
    notes: proposal.notes,
    fba: proposal.rows.filter((proposed) => proposed.row.amazonFulfillment === 'FBA').map((proposed) => proposed.row.sku),
    next: [
      `Review ${result.out} and this file; add rows by hand for the ambiguous items you want mapped.`,
      `stockguard catalog import ${result.out}`,
      'The rows carry no onHand: stock comes from the WMS. Run stockguard reconcile before stockguard serve, or the channels are told 0.',
    ],
  };
}

function describeAmbiguity(ambiguity: Ambiguity): string {
  const shopify = ambiguity.shopify.map((variant) => `shopify ${variant.variantId}${variant.sku === null ? '' : ` sku ${JSON.stringify(variant.sku)}`}${variant.displayName ? ` (${variant.displayName})` : ''}`);
  const amazon = ambiguity.amazon.map((listing) => `amazon ${JSON.stringify(listing.sellerSku)} ${listing.marketplaceId} ${listing.fulfillment}`);
  const texts = ambiguity.skuTexts.length > 0 ? `${ambiguity.skuTexts.map((text) => JSON.stringify(text)).join(' / ')}: ` : '';
  return `  ${ambiguity.kind}  ${texts}${[...shopify, ...amazon].join('; ')}`;
}

function printSummary(result: DiscoverResult, print: (line: string) => void): void {
  const { proposal } = result;
  const counts = proposal.counts;
  print(`proposed ${counts.rows} catalogue rows from ${counts.variants} Shopify variants and ${counts.listings} Amazon listings in ${(result.durationMs / 1000).toFixed(1)} s: ${counts.matched} on both channels, ${counts.shopifyOnly} Shopify only, ${counts.amazonOnly} Amazon only; ${counts.fba} FBA (never pushed)`);
  const listed = <T>(title: string, items: readonly T[], line: (item: T) => string) => {
    if (items.length === 0) return;
    print(`${title} (${items.length}):`);
    for (const item of items.slice(0, SHOWN)) print(line(item));
    if (items.length > SHOWN) print(`  … and ${items.length - SHOWN} more in ${result.reviewFile}`);
  };
  listed('ambiguous, left out of the catalogue file for you to decide', proposal.ambiguous, describeAmbiguity);
  listed('unmatched: only on Shopify, proposed as their own SKU', proposal.rows.filter((row) => row.source === 'shopify-only'), (proposed) => `  ${proposed.row.sku}  ${proposed.row.shopifyVariantId ?? ''}`);
  listed('unmatched: only on Amazon, proposed as their own SKU', proposal.rows.filter((row) => row.source === 'amazon-only'), (proposed) => `  ${proposed.row.sku}  ${proposed.row.amazonMarketplaceId ?? ''} ${proposed.row.amazonFulfillment ?? ''}`);
  listed('excluded', proposal.excluded, (exclusion) => `  ${exclusion.reason}  ${exclusion.shopify ? `shopify ${exclusion.shopify.variantId}` : `amazon ${JSON.stringify(exclusion.amazon?.sellerSku)}`}: ${exclusion.detail}`);
  listed('notes', proposal.notes, (note) => `  ${note.kind}  ${JSON.stringify(note.sku)}: ${note.detail}`);
  for (const warning of result.warnings) print(`warning: ${warning}`);
  print(`wrote ${result.out} (${counts.rows} rows) and ${result.reviewFile}`);
  print(`next: review both, then "stockguard catalog import ${result.out}"; the rows carry no onHand, so run "stockguard reconcile" (WMS stock) before "stockguard serve"`);
}

function csvCell(value: unknown): string {
  if (value === undefined) return '';
  const text = String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** The rows as CSV with the columns any row uses, in the documented order. */
function toCsv(rows: readonly CatalogRow[]): string {
  const columns = CATALOG_COLUMNS.filter((column) => column === 'sku' || rows.some((row) => row[column] !== undefined));
  return `${[columns.join(','), ...rows.map((row) => columns.map((column) => csvCell(row[column])).join(','))].join('\n')}\n`;
}
