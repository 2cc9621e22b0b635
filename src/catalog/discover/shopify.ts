// Reads a shop's variants for `stockguard catalog discover`: the Admin GraphQL
// `productVariants` connection, page by page with cursors (sorted by id, so a variant added
// during the walk does not shift the pages), through the real @shopify/admin-api-client.
// Shopify's cost bucket is read from every response (extensions.cost.throttleStatus) and
// each page waits until its points are there, as the pusher does (shopify-notes.md §3): a
// page of 250 variants costs 2 + 250 × 2 = 502 points, so on a 100 points/s shop one page
// every ~5 s once the bucket's first 2,000 points are spent.
import { type AdminApiClient, createAdminApiClient } from '@shopify/admin-api-client';
import type { ShopifySettings } from '../../config.ts';
import { type BackoffPolicy, backoffDelayMs } from '../../domain/backoff.ts';
import { type ThrottleSnapshot, waitForPointsMs } from '../../domain/rateLimit.ts';
import { StockguardError } from '../../errors.ts';
import { sleep } from '../../pushers/wait.ts';
import type { DiscoveredVariant } from './match.ts';

/** Shopify's page maximum. */
const MAX_PAGE = 250;
/** Per variant: the ProductVariant object and its InventoryItem (scalars cost nothing). */
const COST_PER_VARIANT = 2;
const CONNECTION_COST = 2;

export const DISCOVER_VARIANTS = /* GraphQL */ `
  query StockguardDiscoverVariants($first: Int!, $after: String) {
    productVariants(first: $first, after: $after, sortKey: ID) {
      nodes {
        id
        sku
        displayName
        inventoryItem {
          id
          tracked
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

/** How many variants there are (Shopify counts up to 10,000 by default; `null` lifts the limit). */
export const COUNT_VARIANTS = /* GraphQL */ `
  query StockguardCountVariants {
    productVariantsCount(limit: null) {
      count
      precision
    }
  }
`;

export const DISCOVER_LOCATIONS = /* GraphQL */ `
  query StockguardDiscoverLocations {
    locations(first: 250) {
      nodes {
        id
        name
        isActive
        fulfillsOnlineOrders
      }
    }
  }
`;

export const DISCOVER_LOCATION = /* GraphQL */ `
  query StockguardDiscoverLocation($id: ID!) {
    location(id: $id) {
      id
      name
      isActive
      fulfillsOnlineOrders
    }
  }
`;

/** Every document discover sends to Shopify (validated against the vendored schema in the tests). */
export const DISCOVER_SHOPIFY_DOCUMENTS = { DISCOVER_VARIANTS, COUNT_VARIANTS, DISCOVER_LOCATIONS, DISCOVER_LOCATION } as const;

export interface ShopifyProgress {
  pages: number;
  variants: number;
  /** The shop's variant count, when Shopify gave one. */
  total: number | undefined;
  /** Time spent waiting for the cost bucket so far. */
  throttleWaitMs: number;
}

export interface ShopifyReadOptions {
  settings: ShopifySettings;
  /** The location to map; found when left out (the shop's one active location that fulfils online orders). */
  locationId?: string;
  requestTimeoutMs?: number;
  /** Attempts per request (the first included). */
  maxAttempts?: number;
  backoff?: BackoffPolicy;
  onPage?: (progress: ShopifyProgress) => void;
  clock?: () => number;
}

export interface ShopifyRead {
  variants: DiscoveredVariant[];
  location: { id: string; name: string };
  pages: number;
  requests: number;
  /** THROTTLED answers received (0 when the bucket was read right). */
  throttled: number;
  throttleWaitMs: number;
}

interface LocationNode {
  id: string;
  name: string;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
}

interface VariantsData {
  productVariants: {
    nodes: Array<{ id: string; sku: string | null; displayName: string; inventoryItem: { id: string; tracked: boolean } }>;
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

/**
 * A polite Admin GraphQL caller: waits for each request's points from the cost bucket the
 * last response showed, retries THROTTLED, 5xx and network errors, and fails with a coded
 * error. Also used by `stockguard setup shopify` and `stockguard doctor` (src/setup).
 */
export class ShopifyReader {
  private readonly client: AdminApiClient;
  private readonly clock: () => number;
  private throttle: ThrottleSnapshot | undefined;
  requests = 0;
  throttled = 0;
  throttleWaitMs = 0;

  constructor(
    private readonly options: Omit<ShopifyReadOptions, 'locationId' | 'onPage'>,
    /** The error a failed request becomes (default STOCKGUARD_E_DISCOVER_READ). */
    private readonly fail: (detail: string) => StockguardError = readError,
  ) {
    this.clock = options.clock ?? Date.now;
    const baseUrl = options.settings.baseUrl?.replace(/\/+$/, '');
    this.client = createAdminApiClient({
      storeDomain: options.settings.storeDomain,
      apiVersion: options.settings.apiVersion,
      accessToken: options.settings.accessToken,
      retries: 0,
      // The client always builds https://<storeDomain>/admin/api/...: send it elsewhere (as the pusher does).
      ...(baseUrl ? { customFetchApi: (url: string, init?: Parameters<typeof fetch>[1]) => fetch(url.replace(/^https:\/\/[^/]+/, baseUrl), init) } : {}),
    });
  }

  /** The bucket's size, once a response said it. */
  get bucketSize(): number | undefined {
    return this.throttle?.maximumAvailable;
  }

  /** One query, waiting for its points first; retried on THROTTLED, 5xx and network errors. */
  async query<T>(document: string, variables: Record<string, unknown>, cost: number): Promise<T> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    let problem = 'no attempt made';
    for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
      const wait = waitForPointsMs(this.throttle, cost, this.clock());
      if (wait > 0) {
        this.throttleWaitMs += wait;
        await sleep(wait);
      }
      this.requests += 1;
      const response = await this.client
        .request<T>(document, { variables, signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 30_000) })
        .catch((error: unknown) => ({ data: undefined, extensions: undefined, errors: { message: error instanceof Error ? error.message : String(error), networkStatusCode: undefined, graphQLErrors: undefined } }));
      const status = response.extensions?.cost?.throttleStatus;
      if (status && typeof status.currentlyAvailable === 'number' && typeof status.maximumAvailable === 'number' && typeof status.restoreRate === 'number') {
        this.throttle = { maximumAvailable: status.maximumAvailable, currentlyAvailable: status.currentlyAvailable, restoreRate: status.restoreRate, atMs: this.clock() };
      }
      const errors = response.errors;
      if (!errors) {
        if (response.data === undefined) throw this.fail('Shopify answered without data');
        return response.data;
      }
      const graphQLErrors = errors.graphQLErrors ?? [];
      if (errors.networkStatusCode === 429 || graphQLErrors.some((error) => error.extensions?.code === 'THROTTLED')) {
        // Our model of the bucket was wrong (another app shares it): wait for the points.
        this.throttled += 1;
        problem = 'throttled';
        const requested = response.extensions?.cost?.requestedQueryCost;
        const pause = waitForPointsMs(this.throttle, typeof requested === 'number' ? requested : cost, this.clock());
        await sleep(pause > 0 ? pause : backoffDelayMs(attempt, this.options.backoff ?? { baseMs: 500, maxMs: 10_000 }));
        continue;
      }
      if (graphQLErrors.length > 0) {
        throw this.fail(graphQLErrors.map((error) => `${error.extensions?.code ?? 'ERROR'}: ${error.message}`).join('; '));
      }
      const statusCode = errors.networkStatusCode;
      if (statusCode !== undefined && statusCode < 500 && statusCode !== 408) {
        throw this.fail(`HTTP ${statusCode}${statusCode === 401 ? ' (the access token was refused)' : ''}: ${errors.message ?? ''}`);
      }
      problem = statusCode !== undefined ? `HTTP ${statusCode}` : (errors.message ?? 'network error');
      if (attempt + 1 < maxAttempts) await sleep(backoffDelayMs(attempt, this.options.backoff ?? { baseMs: 500, maxMs: 10_000 }));
    }
    throw this.fail(`${problem} after ${maxAttempts} attempts`);
  }
}

function readError(detail: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_DISCOVER_READ', `Shopify: ${detail}`, { details: { channel: 'shopify' } });
}

/** The location to map: the one named (checked), or the shop's only active, online-fulfilling one. */
async function chooseLocation(reader: ShopifyReader, locationId: string | undefined): Promise<{ id: string; name: string }> {
  const usable = (location: LocationNode) => location.isActive && location.fulfillsOnlineOrders;
  if (locationId !== undefined) {
    const { location } = await reader.query<{ location: LocationNode | null }>(DISCOVER_LOCATION, { id: locationId }, 1);
    if (!location || !usable(location)) {
      const why = !location ? 'is unknown to the shop' : !location.isActive ? 'is inactive' : 'does not fulfil online orders';
      throw new StockguardError('STOCKGUARD_E_DISCOVER_LOCATION', `--location ${locationId} ${why}`, { details: { locationId } });
    }
    return { id: location.id, name: location.name };
  }
  const { locations } = await reader.query<{ locations: { nodes: LocationNode[] } }>(DISCOVER_LOCATIONS, {}, CONNECTION_COST + MAX_PAGE);
  const candidates = locations.nodes.filter(usable);
  const [only] = candidates;
  if (only && candidates.length === 1) return { id: only.id, name: only.name };
  const listed = locations.nodes.map((location) => `${location.id} (${location.name}${usable(location) ? '' : location.isActive ? ', does not fulfil online orders' : ', inactive'})`).join(', ');
  throw new StockguardError(
    'STOCKGUARD_E_DISCOVER_LOCATION',
    candidates.length === 0 ? `no active location fulfils online orders; the shop has ${listed || 'no locations'}` : `${candidates.length} locations qualify: ${listed}`,
    { details: { locations: locations.nodes.map((location) => location.id) } },
  );
}

export async function readShopifyVariants(options: ShopifyReadOptions): Promise<ShopifyRead> {
  const reader = new ShopifyReader(options);
  const location = await chooseLocation(reader, options.locationId);
  const { variants, pages } = await readVariants(reader, options.onPage);
  return { variants, location, pages, requests: reader.requests, throttled: reader.throttled, throttleWaitMs: reader.throttleWaitMs };
}

/** Every variant of the shop, page by page (also `stockguard doctor`'s unmapped-variant check). */
export async function readVariants(reader: ShopifyReader, onPage?: (progress: ShopifyProgress) => void): Promise<{ variants: DiscoveredVariant[]; pages: number }> {
  const counted = await reader.query<{ productVariantsCount: { count: number; precision: string } | null }>(COUNT_VARIANTS, {}, 1);
  const total = counted.productVariantsCount?.count;

  const variants: DiscoveredVariant[] = [];
  const seen = new Set<string>();
  let after: string | null = null;
  let pages = 0;
  for (;;) {
    // A page must fit in the bucket: on a small bucket, smaller pages.
    const bucket = reader.bucketSize;
    const first = Math.max(1, Math.min(MAX_PAGE, bucket === undefined ? MAX_PAGE : Math.floor((bucket - CONNECTION_COST) / COST_PER_VARIANT)));
    const data: VariantsData = await reader.query<VariantsData>(DISCOVER_VARIANTS, { first, after }, CONNECTION_COST + first * COST_PER_VARIANT);
    pages += 1;
    for (const node of data.productVariants.nodes) {
      if (seen.has(node.id)) continue;
      seen.add(node.id);
      variants.push({ variantId: node.id, inventoryItemId: node.inventoryItem.id, sku: node.sku, tracked: node.inventoryItem.tracked, displayName: node.displayName });
    }
    onPage?.({ pages, variants: variants.length, total, throttleWaitMs: reader.throttleWaitMs });
    const { hasNextPage, endCursor } = data.productVariants.pageInfo;
    if (!hasNextPage || endCursor === null) break;
    after = endCursor;
  }
  return { variants, pages };
}
