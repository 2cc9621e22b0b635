// The Shopify pusher: `inventorySetQuantities` (name "available") through the real
// @shopify/admin-api-client, in batches of up to 250 quantities, each with the value we
// last saw on the channel as changeFromQuantity (compare-and-set) and one @idempotent key
// per attempt group. Shopify's cost bucket is read from every response and respected
// before each request; THROTTLED answers (HTTP 200 or 429) wait for the points to come
// back. Only locations that are active and fulfil online orders are ever written (I6).
// Facts and sources: shopify-notes.md §1–§3, §5. How it fits together: docs/pushers.md.
import { randomUUID } from 'node:crypto';
import { type AdminApiClient, createAdminApiClient } from '@shopify/admin-api-client';
import type { CatalogEntry } from '../catalog/entry.ts';
import type { ShopifySettings } from '../config.ts';
import { type BackoffPolicy, backoffDelayMs } from '../domain/backoff.ts';
import { type ThrottleSnapshot, waitForPointsMs } from '../domain/rateLimit.ts';
import { StockguardError } from '../errors.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Eligibility, PushRequest, PushResult, Pusher } from './pusher.ts';
import { LOCATION, READ_AVAILABLE_SIZES, SET_AVAILABLE, readAvailableDocument } from './shopifyDocuments.ts';
import { sleep } from './wait.ts';

/** A reason Shopify accepts (shopify-notes.md §1.6: "Use `correction` for sync pushes"). */
export const PUSH_REASON = 'correction';
const MAX_BATCH = 250;
/** Cost of SET_AVAILABLE until a response tells us: 10 for the mutation plus its selection. */
const INITIAL_MUTATION_COST = 12;
/** Per read-back alias: inventoryItem + inventoryLevel + quantities. */
const READ_COST_PER_PAIR = 3;

export type LocationProblem = 'unknown' | 'inactive' | 'not_online';

/** The start-up check of one mapped location (invariant I6). */
export interface LocationCheck {
  readonly locationId: string;
  readonly name: string | undefined;
  /** True only when the location exists, is active and fulfils online orders. */
  readonly writable: boolean;
  readonly problem: LocationProblem | undefined;
  readonly checkedAtMs: number;
}

export interface ShopifyPusherOptions {
  settings: ShopifySettings;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  /** Attempts per request (transport) and per batch (compare-and-set rounds). */
  maxAttempts: number;
  requestTimeoutMs: number;
  backoff?: BackoffPolicy;
  random?: () => number;
}

type RequestOutcome<T> =
  | { ok: true; data: T }
  /** permanent: a GraphQL or HTTP 4xx error that a retry will not fix. */
  | { ok: false; permanent: boolean; message: string };

interface UserError {
  field: string[] | null;
  message: string;
  code: string | null;
}

interface SetAvailableData {
  inventorySetQuantities: { inventoryAdjustmentGroup: { id: string } | null; userErrors: UserError[] } | null;
}

interface LocationData {
  location: { id: string; name: string; isActive: boolean; fulfillsOnlineOrders: boolean } | null;
}

type ReadAvailableData = Record<string, { id: string; inventoryLevel: { quantities: Array<{ name: string; quantity: number }> } | null } | null>;

interface Pending {
  request: PushRequest;
  changeFrom: number;
}

const pairKey = (itemId: string, locationId: string) => `${itemId}|${locationId}`;

export class ShopifyPusher implements Pusher {
  readonly channel = 'shopify' as const;
  readonly maxBatch: number;
  readonly concurrency = 1;
  private readonly client: AdminApiClient;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly locations = new Map<string, LocationCheck>();
  private throttle: ThrottleSnapshot | undefined;
  private mutationCost = INITIAL_MUTATION_COST;
  private readonly closing = new AbortController();

  constructor(private readonly options: ShopifyPusherOptions) {
    this.maxBatch = Math.min(MAX_BATCH, options.settings.batchSize);
    this.clock = options.clock ?? Date.now;
    this.backoff = options.backoff ?? { baseMs: 250, maxMs: 10_000 };
    this.random = options.random ?? Math.random;
    const baseUrl = options.settings.baseUrl?.replace(/\/+$/, '');
    this.client = createAdminApiClient({
      storeDomain: options.settings.storeDomain,
      apiVersion: options.settings.apiVersion,
      accessToken: options.settings.accessToken,
      // Our own loop retries (same idempotency key), so throttling and failures are counted.
      retries: 0,
      // The client always builds https://<storeDomain>/admin/api/...: send it elsewhere (§5).
      ...(baseUrl ? { customFetchApi: (url: string, init?: Parameters<typeof fetch>[1]) => fetch(url.replace(/^https:\/\/[^/]+/, baseUrl), init) } : {}),
      logger: (entry) => {
        if (entry.type === 'HTTP-Response-GraphQL-Deprecation-Notice') options.logger.warn({ notice: entry.content.deprecationNotice }, 'Shopify deprecation notice');
        if (entry.type === 'Unsupported_Api_Version') options.logger.warn({ apiVersion: options.settings.apiVersion }, 'Shopify API version outside the supported window');
      },
    });
  }

  eligibility(entry: CatalogEntry): Eligibility {
    return entry.shopify ? { push: true } : { push: false, reason: 'unmapped' };
  }

  async prepare(entries: readonly CatalogEntry[]): Promise<void> {
    const ids = [...new Set(entries.flatMap((entry) => (entry.shopify ? [entry.shopify.locationId] : [])))];
    await this.checkLocations(ids);
  }

  /** The last check of every mapped location seen so far. */
  locationChecks(): LocationCheck[] {
    return [...this.locations.values()].sort((a, b) => a.locationId.localeCompare(b.locationId));
  }

  /**
   * Checks that each location exists, is active and fulfils online orders (shopify-notes.md
   * §2: only those sell on the storefront). A bad one is logged as an error, counted in
   * stockguard_shopify_location_problems, and never written to until a later check passes.
   * A location whose check could not be made (network) keeps its previous verdict, or is
   * not written to when it has none.
   */
  async checkLocations(locationIds: readonly string[]): Promise<LocationCheck[]> {
    const checks: LocationCheck[] = [];
    for (const locationId of locationIds) {
      const response = await this.request<LocationData>(LOCATION, { id: locationId }, 1);
      if (!response.ok) {
        this.options.logger.warn({ locationId, reason: response.message }, 'could not check a Shopify location; it is not written to until a check succeeds');
        const previous = this.locations.get(locationId);
        if (previous) checks.push(previous);
        continue;
      }
      const location = response.data.location;
      const problem: LocationProblem | undefined = !location ? 'unknown' : !location.isActive ? 'inactive' : !location.fulfillsOnlineOrders ? 'not_online' : undefined;
      const check: LocationCheck = { locationId, name: location?.name, writable: problem === undefined, problem, checkedAtMs: this.clock() };
      const previous = this.locations.get(locationId);
      this.locations.set(locationId, check);
      checks.push(check);
      if (problem && previous?.problem !== problem) {
        const error = new StockguardError('STOCKGUARD_E_SHOPIFY_LOCATION', `${locationId}${location ? ` (${location.name})` : ''} is ${describeProblem(problem)}`, {
          details: { locationId, problem },
        });
        this.options.logger.error({ err: { code: error.code, message: error.message }, locationId, problem }, 'Shopify location refused for writes');
      } else if (!problem && previous?.problem) {
        this.options.logger.info({ locationId }, 'Shopify location is writable again');
      }
    }
    const counts: Record<LocationProblem, number> = { unknown: 0, inactive: 0, not_online: 0 };
    for (const check of this.locations.values()) if (check.problem) counts[check.problem] += 1;
    for (const [problem, count] of Object.entries(counts)) this.options.metrics.shopifyLocationProblems.set({ problem }, count);
    return checks;
  }

  async acquire(signal: AbortSignal): Promise<void> {
    await sleep(waitForPointsMs(this.throttle, this.mutationCost, this.clock()), signal);
  }

  release(): void {
    // The cost bucket is Shopify's: nothing was taken locally.
  }

  async push(batch: readonly PushRequest[]): Promise<PushResult[]> {
    const results: PushResult[] = [];
    const unchecked = [...new Set(batch.flatMap((request) => (request.entry.shopify && !this.locations.has(request.entry.shopify.locationId) ? [request.entry.shopify.locationId] : [])))];
    if (unchecked.length > 0) await this.checkLocations(unchecked);

    const writable: PushRequest[] = [];
    for (const request of batch) {
      const listing = request.entry.shopify;
      const check = listing ? this.locations.get(listing.locationId) : undefined;
      if (!listing) results.push({ request, outcome: { kind: 'blocked', reason: 'the SKU has no Shopify mapping' } });
      else if (!check) results.push({ request, outcome: { kind: 'failed', message: `location ${listing.locationId} could not be checked yet` } });
      else if (!check.writable) results.push({ request, outcome: { kind: 'blocked', reason: `location ${listing.locationId} is ${describeProblem(check.problem ?? 'unknown')}` } });
      else writable.push(request);
    }

    // changeFromQuantity is "the value we last saw on the channel": read it when we have none.
    let pending: Pending[] = [];
    const unknown = writable.filter((request) => request.known === undefined);
    const read = unknown.length > 0 ? await this.readAvailable(unknown) : { ok: true as const, values: new Map<string, number | undefined>() };
    for (const request of writable) {
      if (request.known !== undefined) pending.push({ request, changeFrom: request.known });
      else if (!read.ok) results.push({ request, outcome: { kind: 'failed', message: `reading the current level failed: ${read.message}` } });
      else pending.push({ request, changeFrom: read.values.get(pairKey(request.entry.shopify!.inventoryItemId, request.entry.shopify!.locationId)) ?? 0 });
    }

    for (let attempt = 1; pending.length > 0; attempt += 1) {
      if (attempt > this.options.maxAttempts) {
        for (const entry of pending) results.push({ request: entry.request, outcome: { kind: 'failed', message: `no attempt of ${this.options.maxAttempts} succeeded` } });
        break;
      }
      const outcome = await this.setAvailable(pending);
      if (outcome.kind === 'failed') {
        for (const entry of pending) results.push({ request: entry.request, outcome: { kind: 'failed', message: outcome.message } });
        break;
      }
      if (outcome.kind === 'applied') {
        const atMs = this.clock();
        for (const entry of pending) results.push({ request: entry.request, outcome: { kind: 'acked', atMs } });
        break;
      }
      // All-or-nothing: nothing was written. Take out the entries Shopify named and send the rest again.
      const named = new Set<number>();
      const stale: PushRequest[] = [];
      for (const error of outcome.userErrors) {
        const index = quantityIndex(error);
        const entry = index === undefined ? undefined : pending[index];
        if (!entry || index === undefined || named.has(index)) continue;
        named.add(index);
        if (error.code === 'CHANGE_FROM_QUANTITY_STALE') stale.push(entry.request);
        else results.push({ request: entry.request, outcome: { kind: 'rejected', code: error.code ?? 'UNKNOWN', message: error.message } });
      }
      const unnamed = outcome.userErrors.filter((error) => quantityIndex(error) === undefined);
      if (named.size === 0) {
        // Errors about the whole call (INVALID_REASON, idempotency): retrying the same batch
        // under a new key is safe (compare-and-set), except for codes that cannot change.
        const retryable = unnamed.every((error) => error.code === 'IDEMPOTENCY_CONCURRENT_REQUEST' || error.code === 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED');
        if (!retryable) {
          const first = unnamed[0];
          for (const entry of pending) results.push({ request: entry.request, outcome: { kind: 'rejected', code: first?.code ?? 'UNKNOWN', message: first?.message ?? 'rejected' } });
          break;
        }
        await sleep(backoffDelayMs(attempt - 1, this.backoff, this.random), this.closing.signal);
        continue;
      }
      if (stale.length > 0) {
        // Re-read what the channel shows now; the coordinator recomputes the target from
        // the ledger (which may have ingested the sale meanwhile) and pushes again.
        const fresh = await this.readAvailable(stale);
        for (const request of stale) {
          const listing = request.entry.shopify!;
          const channelQuantity = fresh.ok ? fresh.values.get(pairKey(listing.inventoryItemId, listing.locationId)) : undefined;
          results.push({ request, outcome: { kind: 'stale', channelQuantity } });
        }
      }
      pending = pending.filter((_entry, index) => !named.has(index));
    }
    return results;
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  private async setAvailable(pending: readonly Pending[]): Promise<{ kind: 'applied' } | { kind: 'userErrors'; userErrors: UserError[] } | { kind: 'failed'; message: string }> {
    // One key per attempt group: transport retries below resend the same variables under
    // it (Shopify answers a replay from its idempotency store); a new batch content gets a
    // new key, as Shopify requires (IDEMPOTENCY_KEY_PARAMETER_MISMATCH otherwise).
    const idempotencyKey = randomUUID();
    const input = {
      name: 'available',
      reason: PUSH_REASON,
      referenceDocumentUri: `gid://stockguard/InventoryPush/${idempotencyKey}`,
      quantities: pending.map(({ request, changeFrom }) => ({
        inventoryItemId: request.entry.shopify!.inventoryItemId,
        locationId: request.entry.shopify!.locationId,
        quantity: request.quantity,
        changeFromQuantity: changeFrom,
      })),
    };
    const response = await this.request<SetAvailableData>(SET_AVAILABLE, { input, idempotencyKey }, this.mutationCost);
    if (!response.ok) return { kind: 'failed', message: response.message };
    const payload = response.data.inventorySetQuantities;
    if (!payload) return { kind: 'failed', message: 'inventorySetQuantities returned no payload' };
    if (payload.userErrors.length === 0) return { kind: 'applied' };
    return { kind: 'userErrors', userErrors: payload.userErrors };
  }

  /** `available` now at each request's (item, location); undefined for an unknown item, 0 where no level exists yet. */
  private async readAvailable(requests: readonly PushRequest[]): Promise<{ ok: true; values: Map<string, number | undefined> } | { ok: false; message: string }> {
    const pairs = [...new Map(requests.map((request) => [pairKey(request.entry.shopify!.inventoryItemId, request.entry.shopify!.locationId), request.entry.shopify!])).values()];
    const values = new Map<string, number | undefined>();
    const largest = READ_AVAILABLE_SIZES[READ_AVAILABLE_SIZES.length - 1]!;
    for (let start = 0; start < pairs.length; start += largest) {
      const chunk = pairs.slice(start, start + largest);
      const size = READ_AVAILABLE_SIZES.find((candidate) => candidate >= chunk.length) ?? largest;
      const variables: Record<string, string> = {};
      for (let index = 0; index < size; index += 1) {
        const pair = chunk[Math.min(index, chunk.length - 1)]!;
        variables[`item${index}`] = pair.inventoryItemId;
        variables[`location${index}`] = pair.locationId;
      }
      const response = await this.request<ReadAvailableData>(readAvailableDocument(size), variables, size * READ_COST_PER_PAIR);
      if (!response.ok) return { ok: false, message: response.message };
      chunk.forEach((pair, index) => {
        const item = response.data[`level${index}`];
        const available = item?.inventoryLevel?.quantities.find((quantity) => quantity.name === 'available')?.quantity;
        values.set(pairKey(pair.inventoryItemId, pair.locationId), item ? (item.inventoryLevel ? available : 0) : undefined);
      });
    }
    return { ok: true, values };
  }

  /**
   * One GraphQL request, retried on throttling (waiting for the points), 5xx and network
   * failures with backoff, at most maxAttempts times. Variables are the same on every
   * attempt, so a mutation keeps its idempotency key.
   */
  private async request<T>(document: string, variables: Record<string, unknown>, cost: number): Promise<RequestOutcome<T>> {
    const isMutation = document.trimStart().startsWith('mutation');
    let lastProblem = 'no attempt made';
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt += 1) {
      if (this.closing.signal.aborted) return { ok: false, permanent: false, message: 'the pusher is closing' };
      await sleep(waitForPointsMs(this.throttle, cost, this.clock()), this.closing.signal);
      const started = this.clock();
      const timeout = AbortSignal.timeout(this.options.requestTimeoutMs);
      const response = await this.client
        .request<T>(document, { variables, signal: AbortSignal.any([timeout, this.closing.signal]) })
        .catch((error: unknown) => ({ data: undefined, extensions: undefined, errors: { message: error instanceof Error ? error.message : String(error), networkStatusCode: undefined, graphQLErrors: undefined } }));
      this.options.metrics.pushRequestSeconds.observe({ channel: 'shopify' }, Math.max(0, this.clock() - started) / 1000);
      const costExtension = response.extensions?.cost;
      const status = costExtension?.throttleStatus;
      if (status && typeof status.currentlyAvailable === 'number' && typeof status.maximumAvailable === 'number' && typeof status.restoreRate === 'number') {
        this.throttle = { maximumAvailable: status.maximumAvailable, currentlyAvailable: status.currentlyAvailable, restoreRate: status.restoreRate, atMs: this.clock() };
      }
      if (isMutation && typeof costExtension?.requestedQueryCost === 'number') this.mutationCost = costExtension.requestedQueryCost;
      const errors = response.errors;
      if (!errors) {
        if (response.data === undefined) return { ok: false, permanent: true, message: 'Shopify answered without data' };
        return { ok: true, data: response.data };
      }
      const graphQLErrors = errors.graphQLErrors ?? [];
      const throttled = errors.networkStatusCode === 429 || graphQLErrors.some((error) => error.extensions?.code === 'THROTTLED');
      if (throttled) {
        this.options.metrics.channelThrottled.inc({ channel: 'shopify' });
        const requested = typeof costExtension?.requestedQueryCost === 'number' ? costExtension.requestedQueryCost : cost;
        lastProblem = 'throttled';
        // No pause after the last attempt: the lane's retry waits for the SKUs anyway.
        if (attempt + 1 >= this.options.maxAttempts) break;
        // Wait for the missing points. When the answer's throttleStatus says they are there
        // already (a throttle we cannot see in the bucket), wait for one request's worth of
        // restore, not a growing backoff: that made a storm of THROTTLED answers cost seconds
        // per answer, so the lane fell behind for minutes (docs/reliability.md, finding 1).
        const wait = this.throttle ? waitForPointsMs(this.throttle, requested, this.clock()) : 0;
        const restore = this.throttle && this.throttle.restoreRate > 0 ? Math.ceil((Math.min(requested, this.throttle.maximumAvailable) / this.throttle.restoreRate) * 1000) : 0;
        await sleep(wait > 0 ? wait : restore > 0 ? restore : backoffDelayMs(attempt, this.backoff, this.random), this.closing.signal);
        continue;
      }
      if (graphQLErrors.length > 0) {
        // Validation errors, MAX_COST_EXCEEDED, a missing @idempotent: the same request fails again.
        return { ok: false, permanent: true, message: graphQLErrors.map((error) => `${error.extensions?.code ?? 'ERROR'}: ${error.message}`).join('; ') };
      }
      const statusCode = errors.networkStatusCode;
      if (statusCode !== undefined && statusCode < 500 && statusCode !== 408) {
        return { ok: false, permanent: true, message: `HTTP ${statusCode}: ${errors.message ?? ''}` };
      }
      // 5xx, a timeout, a reset: try again after a pause, under the same idempotency key.
      lastProblem = statusCode !== undefined ? `HTTP ${statusCode}` : (errors.message ?? 'network error');
      if (attempt + 1 >= this.options.maxAttempts) break;
      await sleep(backoffDelayMs(attempt, this.backoff, this.random), this.closing.signal);
    }
    return { ok: false, permanent: false, message: `${lastProblem} after ${this.options.maxAttempts} attempts` };
  }
}

function describeProblem(problem: LocationProblem): string {
  return problem === 'unknown' ? 'unknown to Shopify' : problem === 'inactive' ? 'inactive' : 'not fulfilling online orders';
}

/** The index of the quantity a userError names: field ["input", "quantities", "3", ...]. */
function quantityIndex(error: UserError): number | undefined {
  const field = error.field;
  if (!field || field.length < 3 || field[0] !== 'input' || field[1] !== 'quantities') return undefined;
  const index = Number(field[2]);
  return Number.isInteger(index) && index >= 0 ? index : undefined;
}
