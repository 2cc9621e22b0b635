// Reads a seller's Amazon listings for `stockguard catalog discover`: Listings Items API
// 2021-08-01 `searchListingsItems` through @sp-api-sdk/listings-items-api-2021-08-01 (the
// pusher's client family, pointed at the configured endpoint), 20 items a page with
// pageToken, summaries and fulfillmentAvailability included. A client-side token bucket
// keeps us inside the documented usage plan (5 requests/s, burst 5; a higher
// x-amzn-RateLimit-Limit the seller was granted is taken when a response carries it).
//
// Amazon pages through at most 1,000 results of one search (developer-docs.amazon.com/
// sp-api/docs/search-for-listings-items-by-id). When a search finds more, it is split
// into createdAfter / createdBefore windows, halved until each holds 1,000 or fewer.
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, type Item, type ItemSearchResults, ListingsItemsApi } from '@sp-api-sdk/listings-items-api-2021-08-01';
import type { AmazonSettings } from '../../config.ts';
import { type BackoffPolicy, backoffDelayMs } from '../../domain/backoff.ts';
import { TokenBucket } from '../../domain/rateLimit.ts';
import { isStockguardError, StockguardError } from '../../errors.ts';
import { LwaTokenProvider } from '../../pushers/lwa.ts';
import { sleep } from '../../pushers/wait.ts';
import type { DiscoveredListing } from './match.ts';

/** searchListingsItems' documented usage plan (the model's description, amazon-notes.md §1.1). */
export const SEARCH_USAGE_PLAN = { rate: 5, burst: 5 } as const;
/** What one search can page through. */
export const SEARCH_RESULT_LIMIT = 1000;
const PAGE_SIZE = 20;
/** Before any listing: windows start here. */
const EARLIEST = Date.UTC(1995, 0, 1);
/** Share of the plan's rate we use: requests leave on our clock and are counted on Amazon's. */
const RATE_SAFETY = 0.95;

export interface AmazonProgress {
  marketplaceId: string;
  pages: number;
  listings: number;
  /** What the searches so far said they found, for an estimate of what is left. */
  found: number | undefined;
}

export interface AmazonReadOptions {
  settings: AmazonSettings;
  /** Marketplaces to read; the configured ones when left out. */
  marketplaceIds?: readonly string[];
  requestTimeoutMs?: number;
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  onPage?: (progress: AmazonProgress) => void;
  clock?: () => number;
  /** The LWA token cache; built from settings.lwa when left out. */
  auth?: LwaTokenProvider;
}

export interface AmazonRead {
  listings: DiscoveredListing[];
  pages: number;
  requests: number;
  /** 429 answers received (0 when the bucket was right). */
  throttled: number;
  /** Time windows a search was split into because it found more than 1,000 listings. */
  windows: number;
  /** Windows no split could bring under 1,000 (listings created within one millisecond): their listings past 1,000 were not read. */
  truncated: Array<{ marketplaceId: string; createdAfter: string; createdBefore: string; found: number }>;
}

interface Window {
  fromMs: number;
  toMs: number;
}

class AmazonReader {
  private readonly api: ListingsItemsApi;
  private bucket: TokenBucket;
  private readonly clock: () => number;
  private pausedUntilMs = 0;
  requests = 0;
  throttled = 0;

  constructor(private readonly options: AmazonReadOptions) {
    this.clock = options.clock ?? Date.now;
    this.bucket = AmazonReader.bucketFor(SEARCH_USAGE_PLAN.rate, this.clock);
    const auth = options.auth ?? new LwaTokenProvider(options.settings.lwa, { clock: this.clock, timeoutMs: options.requestTimeoutMs ?? 30_000 });
    // Retries are ours (bounded, paced by the bucket), as in the pusher.
    const { axios } = createAxiosInstance({ auth, region: 'na' }, clientRateLimits);
    axios.defaults.timeout = options.requestTimeoutMs ?? 30_000;
    this.api = new ListingsItemsApi(undefined, options.settings.endpoint.replace(/\/+$/, ''), axios);
  }

  private static bucketFor(rate: number, clock: () => number): TokenBucket {
    // One token of the burst stays in reserve at Amazon's end (see the pusher's constructor).
    return new TokenBucket(rate * RATE_SAFETY, Math.max(1, SEARCH_USAGE_PLAN.burst - 1), clock);
  }

  async search(marketplaceId: string, window: Window, pageToken: string | undefined): Promise<ItemSearchResults> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    let problem = 'no attempt made';
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      for (let paused = this.pausedUntilMs - this.clock(); paused > 0; paused = this.pausedUntilMs - this.clock()) await sleep(paused);
      while (!this.bucket.tryTake()) await sleep(this.bucket.waitMs());
      this.requests += 1;
      try {
        const response = await this.api.searchListingsItems({
          sellerId: this.options.settings.sellerId,
          marketplaceIds: [marketplaceId],
          includedData: ['summaries', 'fulfillmentAvailability'],
          // Oldest first, inside a creation window: a listing created during the walk cannot shift a page.
          sortBy: 'createdDate',
          sortOrder: 'ASC',
          createdAfter: new Date(window.fromMs).toISOString(),
          createdBefore: new Date(window.toMs).toISOString(),
          pageSize: PAGE_SIZE,
          ...(pageToken === undefined ? {} : { pageToken }),
        });
        this.adoptRate(response.headers['x-amzn-ratelimit-limit']);
        return response.data;
      } catch (error) {
        if (isStockguardError(error, 'STOCKGUARD_E_AMAZON_AUTH')) throw readError(error.message, error);
        if (!(error instanceof SellingPartnerApiError)) {
          problem = error instanceof Error ? error.message : String(error);
        } else {
          const status = error.response?.status;
          if (status === 429) {
            this.throttled += 1;
            this.pausedUntilMs = Math.max(this.pausedUntilMs, this.clock() + backoffDelayMs(attempt, this.options.backoff ?? { baseMs: 1_000, maxMs: 30_000 }));
            problem = 'HTTP 429 QuotaExceeded';
            continue;
          }
          if (status !== undefined && status < 500) {
            const first = errorList(error.response?.data)[0];
            throw readError(`HTTP ${status} ${first?.code ?? ''}: ${first?.message ?? error.message}${first?.details ? ` (${first.details})` : ''}`, error);
          }
          problem = status === undefined ? `no response (${error.innerMessage})` : `HTTP ${status}`;
        }
        if (attempt + 1 < maxAttempts) await sleep(backoffDelayMs(attempt, this.options.backoff ?? { baseMs: 1_000, maxMs: 30_000 }));
      }
    }
    throw readError(`${problem} after ${maxAttempts} attempts`);
  }

  /** x-amzn-RateLimit-Limit: the rate Amazon applies to this seller and operation. */
  private adoptRate(header: unknown): void {
    const rate = Number(header);
    if (Number.isFinite(rate) && rate > 0 && Math.abs(rate * RATE_SAFETY - this.bucket.rate) > 1e-9) this.bucket = AmazonReader.bucketFor(rate, this.clock);
  }
}

function readError(detail: string, cause?: unknown): StockguardError {
  return new StockguardError('STOCKGUARD_E_DISCOVER_READ', `Amazon: ${detail}`, { cause, details: { channel: 'amazon' } });
}

function errorList(data: unknown): Array<{ code?: string; message?: string; details?: string }> {
  if (typeof data !== 'object' || data === null || !('errors' in data) || !Array.isArray(data.errors)) return [];
  return data.errors.filter((entry: unknown): entry is { code?: string; message?: string; details?: string } => typeof entry === 'object' && entry !== null);
}

function listingsOf(item: Item, marketplaceId: string): DiscoveredListing {
  const summary = (item.summaries ?? []).find((entry) => entry.marketplaceId === marketplaceId) ?? item.summaries?.[0];
  return {
    sellerSku: item.sku,
    marketplaceId,
    ...(summary?.productType ? { productType: summary.productType } : {}),
    fulfillmentChannels: (item.fulfillmentAvailability ?? []).map((entry) => entry.fulfillmentChannelCode),
    ...(summary?.fnSku ? { fnSku: summary.fnSku } : {}),
    ...(summary?.itemName ? { itemName: summary.itemName } : {}),
  };
}

export async function readAmazonListings(options: AmazonReadOptions): Promise<AmazonRead> {
  const reader = new AmazonReader(options);
  const clock = options.clock ?? Date.now;
  const listings: DiscoveredListing[] = [];
  const result: AmazonRead = { listings, pages: 0, requests: 0, throttled: 0, windows: 0, truncated: [] };
  const marketplaceIds = options.marketplaceIds ?? options.settings.marketplaceIds;
  for (const marketplaceId of marketplaceIds) {
    const seen = new Set<string>();
    let found: number | undefined;
    // Windows still to read, oldest first; one search each.
    const windows: Window[] = [{ fromMs: EARLIEST, toMs: clock() }];
    for (let window = windows.shift(); window; window = windows.shift()) {
      let page = await reader.search(marketplaceId, window, undefined);
      result.pages += 1;
      if (page.numberOfResults > SEARCH_RESULT_LIMIT) {
        if (window.toMs > window.fromMs) {
          // Halve the window; the halves meet without overlap (both bounds are inclusive).
          const middle = Math.floor((window.fromMs + window.toMs) / 2);
          windows.unshift({ fromMs: window.fromMs, toMs: middle }, { fromMs: middle + 1, toMs: window.toMs });
          result.windows += 1;
          continue;
        }
        result.truncated.push({ marketplaceId, createdAfter: new Date(window.fromMs).toISOString(), createdBefore: new Date(window.toMs).toISOString(), found: page.numberOfResults });
      }
      // The first window's count is the marketplace's total; split windows add up to it.
      found ??= page.numberOfResults;
      for (;;) {
        for (const item of page.items) {
          if (seen.has(item.sku)) continue;
          seen.add(item.sku);
          listings.push(listingsOf(item, marketplaceId));
        }
        options.onPage?.({ marketplaceId, pages: result.pages, listings: listings.length, found });
        const next = page.pagination?.nextToken;
        if (next === undefined) break;
        page = await reader.search(marketplaceId, window, next);
        result.pages += 1;
      }
    }
  }
  result.requests = reader.requests;
  result.throttled = reader.throttled;
  return result;
}
