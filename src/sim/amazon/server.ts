// A fake Amazon Selling Partner API for tests, the demo and the benchmarks: the LWA token
// endpoint and the Listings Items API 2021-08-01 get/patch operations over real HTTP,
// checked against the vendored official model, plus SQS notification publishing through
// the real AWS SDK. What it implements and what it leaves out: docs/sim-amazon.md.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Issue, ListingsItemSubmissionResponse } from '@sp-api-sdk/listings-items-api-2021-08-01';
import { FaultInjector, type FaultOperation, type FaultRule } from './faults.ts';
import { type FeedControls, type FeedFakeOptions, type FeedRouteOperation, feedRoute, FeedService } from './feeds.ts';
import {
  type Fulfillment,
  type GetIncludedData,
  itemOf,
  type Listing,
  type ListingSeed,
  ListingStore,
  MFN_CHANNEL,
  mfnQuantity,
  type MfnQuantityChange,
  type PatchOperationRequest,
  type PatchRequest,
  type FbaInventory,
} from './listings.ts';
import { LwaTokenService } from './lwa.ts';
import {
  buildFbaInventoryAvailabilityNotification,
  buildMfnQuantityChangeNotification,
  buildOrderChangeNotification,
  type EnvelopeOptions,
  type OrderChangePayload,
  type OrderStatus,
  type SpApiNotification,
} from './notifications.ts';
import { checkLogLimit, trimLog } from '../boundedLog.ts';
import { lagSampler, type LagSpec } from '../lag.ts';
import { NotificationPublisher, type PublishedNotification, type PublishOptions, type SqsBatchOptions, type SqsDestination } from './publisher.ts';
import { TokenBucket, type UsagePlan } from './rateLimit.ts';
import { describeAjvErrors, isJsonObject, listingsOperation, type ListingsOperation, type ListingsOperationId } from './schemas.ts';
import { searchListings } from './search.ts';
import { NOTIFICATIONS_PREFIX, NotificationsApiFake } from './notificationsApi.ts';

export interface AmazonFakeOptions {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** The merchant token of the one seller this fake serves. */
  sellerId: string;
  /** LWA access token lifetime; 3600 like the real one. */
  tokenLifetimeSeconds?: number;
  /** Where notifications go. Without it they are built, validated and logged, but not sent. */
  sqs?: SqsDestination;
  /** Fault rules active from the start (see `injectFault`). */
  faults?: readonly FaultRule[];
  /** Override the default usage plans (patch 5/s burst 5, get 5/s burst 10). */
  usagePlans?: Partial<Record<ListingsOperationId, UsagePlan>>;
  /**
   * ACCEPTED only means queued (spec notes §1.1): apply accepted patches this long after
   * answering. 0 (the default) applies them before the answer is sent. The same as
   * `applyLag` with a number; set one of the two.
   */
  processingDelayMs?: number;
  /**
   * Apply lag: how long after answering ACCEPTED a patch takes effect (ms, a `{minMs, maxMs,
   * seed?}` range drawn per patch, or a sampler). Until then GET shows the old quantity and
   * buyers (`sellOnAmazon`) buy against it; when it takes effect the fake sends
   * LISTINGS_ITEM_MFN_QUANTITY_CHANGE (with `notifyQuantityChanges`). Patches of one SKU take
   * effect in the order they were accepted, whatever their draws. Default: none (applied
   * before the answer). Sources for realistic values: docs/sim.md, "Lags".
   */
  applyLag?: LagSpec;
  /**
   * Delivery lag of the notifications the fake publishes by itself or through the publish
   * methods (held in the fake, like the `delayMs` publish option, which wins when given):
   * one lag for every type, or one per NotificationType. Default: none. With a lag for
   * ORDER_CHANGE, `sellOnAmazon` resolves as soon as the sale is made; its notifications are
   * then `pending` and `idle()` waits for them.
   */
  deliveryLag?: LagSpec | Partial<Record<SpApiNotification['NotificationType'], LagSpec>>;
  /**
   * Publish LISTINGS_ITEM_MFN_QUANTITY_CHANGE when a DEFAULT quantity changes (patch, sale,
   * manual edit) and FBA_INVENTORY_AVAILABILITY_CHANGES when FBA stock changes. Default
   * true: whether Amazon echoes our own patches is UNCONFIRMED, so assume it does (§3.2).
   */
  notifyQuantityChanges?: boolean;
  /** NotificationMetadata.ApplicationId; a fixed fake app id when left out. */
  applicationId?: string;
  /** Clock for token expiry, rate limits and timestamps (ms since the epoch). */
  now?: () => number;
  /** Random source for fault rates, in [0, 1). */
  random?: () => number;
  /**
   * How notifications are grouped into SQS SendMessageBatch requests (up to 10 per request,
   * sent after `lingerMs`, default 5 ms, or as soon as 10 are queued); `false` sends one
   * SendMessage per message. Each publish still settles when its own messages are sent.
   */
  sqsBatch?: SqsBatchOptions | false;
  /** Keep about this many entries, notification bodies included, in `notifications()`: the newest. Default: keep every one. */
  notificationLogLimit?: number;
  /** Keep about this many entries, patch bodies included, in `submissions()` and in `acceptedPatches()`: the newest. Default: keep every one. */
  submissionLogLimit?: number;
  /** Keep about this many entries in `requests()`: the newest. Default: keep every one. */
  requestLogLimit?: number;
  /** The Feeds API (JSON_LISTINGS_FEED): processing delay, usage plans, report compression (feeds.ts). */
  feeds?: FeedFakeOptions;
}

export type AmazonOperation = FaultOperation;

export interface RequestLogEntry {
  operation: AmazonOperation | FeedRouteOperation | 'unknown';
  method: string;
  path: string;
  /** HTTP status, or how the request ended without one. */
  outcome: number | 'reset' | 'timeout';
  atMs: number;
}

export interface PatchLogEntry {
  submissionId: string;
  receivedAtMs: number;
  sellerId: string;
  sku: string;
  marketplaceIds: string[];
  productType: string;
  patches: PatchOperationRequest[];
  status: 'ACCEPTED' | 'INVALID' | 'VALID';
  issues: Issue[];
  /** When an ACCEPTED patch changed the listing; undefined while it is still queued. */
  appliedAtMs: number | undefined;
}

export interface ListingSnapshot {
  sellerId: string;
  sku: string;
  marketplaceId: string;
  productType: string;
  complete: boolean;
  /** DEFAULT (MFN) quantity, if the listing has one. */
  mfnQuantity: number | undefined;
  fba: FbaInventory | undefined;
  fulfillmentAvailability: Array<Record<string, unknown>>;
}

/** Extra envelope controls for the publish methods. */
export interface NotifyOptions extends PublishOptions {
  /** Reuse an id to model Amazon publishing the same notification twice. */
  notificationId?: string;
  eventTime?: Date;
}

export interface SaleOptions {
  /** Which offer sold; needed only when the listing has both. */
  fulfillment?: Fulfillment;
  marketplaceId?: string;
  orderStatus?: OrderStatus;
  /** Applied to the ORDER_CHANGE notification. */
  publish?: NotifyOptions;
}

export interface SaleResult {
  amazonOrderId: string;
  orderItemId: string;
  fulfillment: Fulfillment;
  /** What Amazon has left to sell on that offer after the sale. */
  remaining: number;
  notifications: PublishedNotification[];
}

export interface AmazonFake {
  /** Base URL of the SP-API endpoint (use as the client's base path). */
  readonly url: string;
  /** The LWA token URL (`${url}/auth/o2/token`). */
  readonly lwaTokenUrl: string;
  close(): Promise<void>;

  addListing(seed: ListingSeed): ListingSnapshot;
  listing(sku: string, marketplaceId?: string): ListingSnapshot;
  /** MFN: the DEFAULT quantity; FBA: fulfillable units. Undefined when the listing has no such offer. */
  quantity(sku: string, options?: { fulfillment?: Fulfillment; marketplaceId?: string }): number | undefined;
  /** A seller edit in Seller Central (drift): sets the DEFAULT quantity without the API. */
  setMfnQuantity(sku: string, quantity: number, options?: { marketplaceId?: string; publish?: NotifyOptions }): Promise<void>;
  /** Amazon's fulfilment centres count FBA stock: sets the fulfillable units. */
  setFbaFulfillable(sku: string, quantity: number, options?: { marketplaceId?: string; publish?: NotifyOptions }): Promise<void>;
  /** A storefront sale, decremented at once (before the returned promise settles). */
  sellOnAmazon(sku: string, quantity: number, options?: SaleOptions): Promise<SaleResult>;

  /** Applies every ACCEPTED patch still waiting for its apply lag (`applyLag`, `processingDelayMs`) now, in arrival order; returns how many. */
  processQueuedPatches(): number;

  /** Every PATCH answered ACCEPTED, in arrival order (the newest `submissionLogLimit` when set). */
  acceptedPatches(): readonly PatchLogEntry[];
  /** Every PATCH answered 200, whatever its status (ACCEPTED, INVALID, VALID); the newest `submissionLogLimit` when set. */
  submissions(): readonly PatchLogEntry[];
  /** Every HTTP request, with how it ended; the newest `requestLogLimit` when set. */
  requests(): readonly RequestLogEntry[];

  publishOrderChange(payload: OrderChangePayload, options?: NotifyOptions): Promise<PublishedNotification>;
  publishMfnQuantityChange(sku: string, options?: NotifyOptions & { marketplaceId?: string }): Promise<PublishedNotification>;
  publishFbaInventoryChange(sku: string, options?: NotifyOptions & { marketplaceId?: string }): Promise<PublishedNotification>;
  /** Publishes any of the three supported notifications, after schema validation. */
  publishNotification(notification: SpApiNotification, options?: PublishOptions): Promise<PublishedNotification>;
  /** Every notification built so far, with its delivery status; the newest `notificationLogLimit` when set. */
  notifications(): readonly PublishedNotification[];
  /** Waits for background notification sends (echoes) and every notification publish started so far, delayed and batched ones included. */
  idle(): Promise<void>;

  /** Makes every access token issued so far expired. */
  expireAccessTokens(): void;
  issuedTokenCount(): number;

  injectFault(rule: FaultRule): string;
  removeFault(id: string): boolean;
  clearFaults(): void;

  /** Responses the fake produced that its own model check rejected (should stay empty). */
  modelViolations(): readonly string[];

  /** The Feeds API's feeds and controls (feeds.ts). */
  readonly feeds: FeedControls;

  /** The Notifications API's destinations, subscriptions and request log (notificationsApi.ts). */
  readonly notificationsApi: NotificationsApiFake;
}

const DEFAULT_USAGE_PLANS: Record<ListingsOperationId, UsagePlan> = {
  patchListingsItem: { rate: 5, burst: 5 },
  getListingsItem: { rate: 5, burst: 10 },
  searchListingsItems: { rate: 5, burst: 5 },
};
const LISTINGS_ITEM_PREFIX = '/listings/2021-08-01/items/';
const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** SP-API error bodies (`ErrorList`). Wording marked in docs/sim-amazon.md where UNCONFIRMED. */
const ERRORS = {
  unauthorized: (details?: string) => ({ errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.', ...(details ? { details } : {}) }] }),
  quotaExceeded: () => ({ errors: [{ code: 'QuotaExceeded', message: 'You exceeded your quota for the requested resource.' }] }),
  // Code and message as the real API answers an unparsable request (jlevers/selling-partner-api#240);
  // the fake adds the schema violation as details, where the real API leaves it empty.
  invalidInput: (details: string) => ({ errors: [{ code: 'InvalidInput', message: 'Request has missing or invalid parameters and cannot be parsed.', details }] }),
  notFound: (message: string) => ({ errors: [{ code: 'NOT_FOUND', message }] }),
  unsupportedMediaType: () => ({ errors: [{ code: 'UnsupportedMediaType', message: 'The request content type is not supported: send application/json.' }] }),
  requestTooLarge: () => ({ errors: [{ code: 'RequestEntityTooLarge', message: 'The request size exceeded the maximum accepted size.' }] }),
  internal: (message = 'We encountered an internal error. Please try again.') => ({ errors: [{ code: 'InternalFailure', message }] }),
  unavailable: () => ({ errors: [{ code: 'ServiceUnavailable', message: 'Service is temporarily unavailable. Please try again.' }] }),
  notImplemented: (what: string) => ({ errors: [{ code: 'NotImplemented', message: `The stockguard Amazon fake does not implement ${what}.` }] }),
};

class BodyTooLarge extends Error {}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new BodyTooLarge());
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

interface Route {
  operation: AmazonOperation | 'unknown';
  /** For the listings operations: the raw (still percent-encoded) path segments after /items/. */
  segments: string[];
}

function route(method: string, path: string): Route | { notImplemented: string } {
  if (path === '/auth/o2/token') return method === 'POST' ? { operation: 'lwaToken', segments: [] } : { operation: 'unknown', segments: [] };
  if (!path.startsWith(LISTINGS_ITEM_PREFIX)) return { operation: 'unknown', segments: [] };
  const segments = path.slice(LISTINGS_ITEM_PREFIX.length).split('/');
  if (segments.length === 1 && segments[0]) return method === 'GET' ? { operation: 'searchListingsItems', segments } : { operation: 'unknown', segments };
  if (segments.length !== 2 || !segments[0] || !segments[1]) return { operation: 'unknown', segments };
  if (method === 'GET') return { operation: 'getListingsItem', segments };
  if (method === 'PATCH') return { operation: 'patchListingsItem', segments };
  if (method === 'PUT') return { notImplemented: 'putListingsItem' };
  if (method === 'DELETE') return { notImplemented: 'deleteListingsItem' };
  return { operation: 'unknown', segments };
}

/** Narrows a body that already passed the ListingsItemPatchRequest schema. */
function patchRequestFrom(body: unknown): PatchRequest {
  if (!isJsonObject(body) || typeof body['productType'] !== 'string' || !Array.isArray(body['patches'])) {
    throw new Error('patch body passed the schema but is not a ListingsItemPatchRequest');
  }
  const patches = body['patches'].map((patch): PatchOperationRequest => {
    if (!isJsonObject(patch) || typeof patch['path'] !== 'string') throw new Error('patch operation passed the schema but is malformed');
    const op = patch['op'];
    if (op !== 'add' && op !== 'replace' && op !== 'merge' && op !== 'delete') throw new Error(`patch op ${String(op)} passed the schema`);
    const value = patch['value'];
    if (value === undefined) return { op, path: patch['path'] };
    if (!Array.isArray(value)) throw new Error('patch value passed the schema but is not an array');
    return { op, path: patch['path'], value: value.filter(isJsonObject).map((record) => ({ ...record })) };
  });
  return { productType: body['productType'], patches };
}

function stringArray(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

function snapshot(listing: Listing): ListingSnapshot {
  return {
    sellerId: listing.sellerId,
    sku: listing.sku,
    marketplaceId: listing.marketplaceId,
    productType: listing.productType,
    complete: listing.complete,
    mfnQuantity: mfnQuantity(listing),
    fba: listing.fba ? { ...listing.fba } : undefined,
    fulfillmentAvailability: [...listing.fulfillmentAvailability.values()].map((record) => ({ ...record })),
  };
}

/** Injected latencies in progress, so close() can end them at once. */
class Sleeps {
  private readonly pending = new Map<NodeJS.Timeout, () => void>();

  sleep(milliseconds: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve();
      }, milliseconds);
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve();
    }
    this.pending.clear();
  }
}

export async function startAmazonFake(options: AmazonFakeOptions): Promise<AmazonFake> {
  const now = options.now ?? Date.now;
  const notifyQuantityChanges = options.notifyQuantityChanges ?? true;
  if (options.processingDelayMs !== undefined && options.applyLag !== undefined) throw new Error('set processingDelayMs or applyLag, not both');
  const applyLag = lagSampler('applyLag', options.applyLag ?? (options.processingDelayMs ? options.processingDelayMs : undefined));
  const deliveryLags = deliveryLagSamplers(options.deliveryLag);
  /** Per listing (seller, marketplaces, SKU): its patches still waiting for their apply lag, in acceptance order. */
  const lanes = new Map<string, QueuedPatch[]>();

  /** Applies the lane's patches from the oldest on, as long as each one's lag has passed. */
  function drainLane(laneKey: string): void {
    const lane = lanes.get(laneKey);
    while (lane && lane[0]?.ready) {
      const head = lane.shift();
      if (!head) break;
      queuedPatches.delete(head.entry);
      head.apply();
    }
    if (lane && lane.length === 0) lanes.delete(laneKey);
  }
  const applicationId = options.applicationId ?? 'amzn1.sellerapps.app.00000000-0000-4000-8000-stockguard00';
  const subscriptionIds: Record<SpApiNotification['NotificationType'], string> = {
    ORDER_CHANGE: randomUUID(),
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE: randomUUID(),
    FBA_INVENTORY_AVAILABILITY_CHANGES: randomUUID(),
  };

  const lwa = new LwaTokenService(
    { clientId: options.clientId, clientSecret: options.clientSecret, refreshToken: options.refreshToken },
    options.tokenLifetimeSeconds ?? 3600,
    now,
  );
  const submissionLogLimit = checkLogLimit('submissionLogLimit', options.submissionLogLimit);
  const requestLogLimit = checkLogLimit('requestLogLimit', options.requestLogLimit);
  const store = new ListingStore(options.sellerId, now);
  let baseUrl = '';
  const publisher = new NotificationPublisher(options.sqs, { batch: options.sqsBatch, logLimit: options.notificationLogLimit });
  const faults = new FaultInjector(options.random ?? Math.random);
  for (const rule of options.faults ?? []) faults.add(rule);
  const buckets = new Map<ListingsOperationId, TokenBucket>();
  for (const operationId of ['patchListingsItem', 'getListingsItem', 'searchListingsItems'] as const) {
    buckets.set(operationId, new TokenBucket(options.usagePlans?.[operationId] ?? DEFAULT_USAGE_PLANS[operationId], now));
  }
  const sleeps = new Sleeps();
  const background = new Set<Promise<unknown>>();
  const hungSockets = new Set<Socket>();
  const submissions: PatchLogEntry[] = [];
  /** The ACCEPTED ones among them, kept as they arrive so acceptedPatches() is not a filter of every submission. */
  const accepted: PatchLogEntry[] = [];
  /** ACCEPTED patches waiting for their apply lag, in arrival order. */
  const queuedPatches = new Map<PatchLogEntry, { timer: NodeJS.Timeout; apply: () => void }>();
  const requestLog: RequestLogEntry[] = [];
  const violations: string[] = [];
  const feedService = new FeedService(
    { store, now, baseUrl: () => baseUrl, checkToken: (token) => lwa.checkSellerToken(token), onChanges: (changes) => echoMfnChanges(changes), violations },
    options.feeds,
  );
  const notificationsApi = new NotificationsApiFake({ lwa, now, violations });
  let closed = false;
  let orderSequence = 0;

  function envelopeOptions(type: SpApiNotification['NotificationType'], notify: NotifyOptions = {}): EnvelopeOptions {
    const eventTime = notify.eventTime ?? new Date(now());
    return { applicationId, subscriptionId: subscriptionIds[type], eventTime, publishTime: new Date(Math.max(now(), eventTime.getTime())), notificationId: notify.notificationId };
  }

  /** Publishes without making the caller wait; failures stay visible in notifications(). */
  function publishInBackground(build: () => SpApiNotification, notify?: PublishOptions): void {
    const sending = Promise.resolve()
      .then(() => {
        const notification = build();
        return publisher.publish(notification, lagged(notification, notify));
      })
      .catch(() => undefined)
      .finally(() => background.delete(sending));
    background.add(sending);
  }

  function mfnQuantityNotification(listing: Listing, notify?: NotifyOptions): SpApiNotification {
    return buildMfnQuantityChangeNotification(
      { SellerId: listing.sellerId, FulfillmentChannelCode: MFN_CHANNEL, Sku: listing.sku, Quantity: mfnQuantity(listing) ?? 0 },
      envelopeOptions('LISTINGS_ITEM_MFN_QUANTITY_CHANGE', notify),
    );
  }

  function fbaInventoryNotification(listing: Listing, notify?: NotifyOptions): SpApiNotification {
    const fba = listing.fba;
    if (!fba || !listing.fnSku || !listing.asin) throw new Error(`SKU ${JSON.stringify(listing.sku)} has no FBA offer`);
    return buildFbaInventoryAvailabilityNotification(
      {
        SellerId: listing.sellerId,
        FNSKU: listing.fnSku,
        ASIN: listing.asin,
        SKU: listing.sku,
        FulfillmentInventoryByMarketplace: [{
          MarketplaceId: listing.marketplaceId,
          ItemName: listing.itemName ?? listing.sku,
          FulfillmentInventory: {
            InboundQuantityBreakdown: { Working: fba.inboundWorking, Shipped: fba.inboundShipped, Receiving: fba.inboundReceiving },
            Fulfillable: fba.fulfillable,
            Unfulfillable: fba.unfulfillable,
            Researching: fba.researching,
            ReservedQuantityBreakdown: {
              WarehouseProcessing: fba.reservedWarehouseProcessing,
              WarehouseTransfer: fba.reservedWarehouseTransfer,
              PendingCustomerOrder: fba.reservedPendingCustomerOrder,
            },
            FutureSupplyBuyable: fba.futureSupplyBuyable,
            PendingCustomerOrderInTransit: fba.pendingCustomerOrderInTransit,
          },
        }],
      },
      envelopeOptions('FBA_INVENTORY_AVAILABILITY_CHANGES', notify),
    );
  }

  function echoMfnChanges(changes: readonly MfnQuantityChange[]): void {
    if (!notifyQuantityChanges) return;
    for (const change of changes) {
      const listing = store.get(change.sellerId, change.marketplaceId, change.sku);
      if (listing && change.after !== undefined) publishInBackground(() => mfnQuantityNotification(listing));
    }
  }

  // -------------------------------------------------------------------------------------
  // HTTP

  function listingsHeaders(operation: ListingsOperation, requestId: string): Record<string, string> {
    const plan = buckets.get(operation.operationId)?.plan;
    return { 'x-amzn-RequestId': requestId, ...(plan ? { 'x-amzn-RateLimit-Limit': String(plan.rate) } : {}) };
  }

  /** Sends an SP-API response after checking its body against the model's schema for that status. */
  function sendListings(response: ServerResponse, operation: ListingsOperation, requestId: string, status: number, body: unknown): number {
    const validate = operation.validateResponse.get(status);
    if (validate && !validate(body)) {
      const violation = `${operation.operationId} ${status}: ${describeAjvErrors(validate.errors)}`;
      violations.push(violation);
      sendJson(response, 500, ERRORS.internal(`stockguard fake response violates the model: ${violation}`), { 'x-amzn-RequestId': requestId });
      return 500;
    }
    // The model documents x-amzn-RateLimit-Limit on 200/400/404 but not on 403; real 429s carry it too (amazon-sp-api reads it there).
    const headers = status === 403 ? { 'x-amzn-RequestId': requestId } : listingsHeaders(operation, requestId);
    sendJson(response, status, body, headers);
    return status;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<RequestLogEntry['outcome']> {
    const requestId = randomUUID();
    const method = request.method ?? 'GET';
    const [rawPath = '/', rawQuery = ''] = (request.url ?? '/').split('?', 2);
    if (rawPath.startsWith(NOTIFICATIONS_PREFIX)) return notificationsApi.handle(request, response, rawPath, rawQuery);
    const feed = feedRoute(method, rawPath);
    if (feed) return feedService.handle(request, response, feed, rawQuery, await readBody(request));
    const matched = route(method, rawPath);
    if ('notImplemented' in matched) {
      sendJson(response, 501, ERRORS.notImplemented(matched.notImplemented), { 'x-amzn-RequestId': requestId });
      return 501;
    }
    if (matched.operation === 'unknown') {
      sendJson(response, 404, ERRORS.notFound(`No operation matches ${method} ${rawPath}.`), { 'x-amzn-RequestId': requestId });
      return 404;
    }
    const operationName = matched.operation;

    const decision = faults.decide(operationName);
    if (decision.latencyMs > 0) await sleeps.sleep(decision.latencyMs);
    if (closed) return 'timeout';
    const fault = decision.terminal;
    if (fault?.kind === 'reset') {
      request.socket.resetAndDestroy();
      return 'reset';
    }

    let rawBody: string;
    try {
      rawBody = await readBody(request);
    } catch (error) {
      if (!(error instanceof BodyTooLarge)) throw error;
      sendJson(response, 413, ERRORS.requestTooLarge(), { 'x-amzn-RequestId': requestId, connection: 'close' });
      return 413;
    }

    if (fault?.kind === 'timeout') {
      hungSockets.add(request.socket);
      request.socket.once('close', () => hungSockets.delete(request.socket));
      return 'timeout';
    }

    if (operationName === 'lwaToken') {
      if (fault?.kind === 'throttle') {
        sendJson(response, 429, { error_description: 'Rate exceeded', error: 'slow_down' });
        return 429;
      }
      if (fault?.kind === 'serverError') {
        sendJson(response, fault.status ?? 503, { error_description: 'The server is temporarily unavailable', error: 'server_error' });
        return fault.status ?? 503;
      }
      const answer = lwa.handleTokenRequest(request.headers['content-type'], rawBody);
      sendJson(response, answer.status, answer.body, { 'cache-control': 'no-store', pragma: 'no-cache' });
      return answer.status;
    }

    const operation = listingsOperation(operationName);
    if (fault?.kind === 'throttle') return sendListings(response, operation, requestId, 429, ERRORS.quotaExceeded());
    if (fault?.kind === 'serverError') {
      const status = fault.status ?? 503;
      return sendListings(response, operation, requestId, status, status === 503 ? ERRORS.unavailable() : ERRORS.internal());
    }

    const tokenCheck = lwa.checkSellerToken(headerValue(request.headers['x-amz-access-token']));
    if (tokenCheck !== 'valid') {
      const details = {
        missing: 'Access token is missing in the request header.',
        invalid: 'The access token you provided is revoked, malformed or invalid.',
        expired: 'The access token you provided has expired.',
      }[tokenCheck];
      return sendListings(response, operation, requestId, 403, ERRORS.unauthorized(details));
    }
    if (!buckets.get(operation.operationId)?.tryTake()) return sendListings(response, operation, requestId, 429, ERRORS.quotaExceeded());

    const parameters = parseParameters(operation, matched.segments, rawQuery);
    if ('error' in parameters) return sendListings(response, operation, requestId, 400, ERRORS.invalidInput(parameters.error));
    if (!operation.validateParameters(parameters.values)) {
      return sendListings(response, operation, requestId, 400, ERRORS.invalidInput(`parameters: ${describeAjvErrors(operation.validateParameters.errors)}`));
    }
    const sellerId = String(parameters.values['sellerId']);
    const sku = String(parameters.values['sku']);
    const marketplaceIds = stringArray(parameters.values['marketplaceIds']);
    if (sellerId !== store.sellerId) return sendListings(response, operation, requestId, 403, ERRORS.unauthorized());

    if (operation.operationId === 'searchListingsItems') {
      const found = searchListings(store, parameters.values);
      if (found.kind === 'notImplemented') {
        sendJson(response, 501, ERRORS.notImplemented(found.what), { 'x-amzn-RequestId': requestId });
        return 501;
      }
      if (found.kind === 'invalid') return sendListings(response, operation, requestId, 400, ERRORS.invalidInput(found.details));
      return sendListings(response, operation, requestId, 200, found.body);
    }

    if (operation.operationId === 'getListingsItem') {
      const listings = marketplaceIds.map((marketplaceId) => store.get(sellerId, marketplaceId, sku)).filter((listing): listing is Listing => listing !== undefined);
      if (listings.length === 0) {
        return sendListings(response, operation, requestId, 404, ERRORS.notFound(`SKU '${sku}' not found in marketplace ${marketplaceIds.join(',')}`));
      }
      const includedData = stringArray(parameters.values['includedData']).filter(isGetIncludedData);
      return sendListings(response, operation, requestId, 200, itemOf(sku, listings, includedData));
    }

    // patchListingsItem
    const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') return sendListings(response, operation, requestId, 415, ERRORS.unsupportedMediaType());
    let body: unknown;
    try {
      body = JSON.parse(rawBody);
    } catch {
      return sendListings(response, operation, requestId, 400, ERRORS.invalidInput('body: not valid JSON'));
    }
    const validateBody = operation.validateBody;
    if (validateBody && !validateBody(body)) {
      return sendListings(response, operation, requestId, 400, ERRORS.invalidInput(`body: ${describeAjvErrors(validateBody.errors)}`));
    }
    const includedData = stringArray(parameters.values['includedData']);
    const preview = parameters.values['mode'] === 'VALIDATION_PREVIEW';
    if (includedData.includes('identifiers') && !preview) {
      return sendListings(response, operation, requestId, 400, ERRORS.invalidInput('includedData=identifiers can only be requested when mode is VALIDATION_PREVIEW'));
    }
    const patch = patchRequestFrom(body);
    const issues = store.reviewPatch(sellerId, sku, marketplaceIds, patch);
    const status = issues.some((issue) => issue.severity === 'ERROR') ? 'INVALID' : preview ? 'VALID' : 'ACCEPTED';
    const entry: PatchLogEntry = {
      submissionId: randomUUID().replaceAll('-', ''),
      receivedAtMs: now(),
      sellerId,
      sku,
      marketplaceIds,
      productType: patch.productType,
      patches: structuredClone(patch.patches),
      status,
      issues,
      appliedAtMs: undefined,
    };
    submissions.push(entry);
    trimLog(submissions, submissionLogLimit);
    if (status === 'ACCEPTED') {
      accepted.push(entry);
      trimLog(accepted, submissionLogLimit);
      const apply = () => {
        entry.appliedAtMs = now();
        echoMfnChanges(store.applyPatch(sellerId, sku, marketplaceIds, patch));
      };
      const lagMs = applyLag?.() ?? 0;
      const laneKey = `${sellerId}|${marketplaceIds.join(',')}|${sku}`;
      const lane = lanes.get(laneKey);
      if (lagMs > 0 || lane) {
        // Patches of one listing take effect in acceptance order: one whose lag ends first
        // waits for the ones before it, and goes right after them.
        const queued: QueuedPatch = { entry, ready: false, apply };
        if (lane) lane.push(queued);
        else lanes.set(laneKey, [queued]);
        const timer = setTimeout(() => {
          queued.ready = true;
          drainLane(laneKey);
        }, lagMs);
        queuedPatches.set(entry, { timer, apply });
      } else {
        apply();
      }
    }
    const answer: ListingsItemSubmissionResponse = { sku, status, submissionId: entry.submissionId };
    if (includedData.includes('issues')) answer.issues = issues;
    if (includedData.includes('identifiers')) {
      answer.identifiers = marketplaceIds.flatMap((marketplaceId) => {
        const asin = store.get(sellerId, marketplaceId, sku)?.asin;
        return asin ? [{ marketplaceId, asin }] : [];
      });
    }
    return sendListings(response, operation, requestId, 200, answer);
  }

  const server = createServer((request, response) => {
    const entry: RequestLogEntry = { operation: 'unknown', method: request.method ?? '', path: (request.url ?? '').split('?')[0] ?? '', outcome: 500, atMs: now() };
    const matched = feedRoute(entry.method, entry.path) ?? route(entry.method, entry.path);
    if (!('notImplemented' in matched)) entry.operation = matched.operation;
    requestLog.push(entry);
    trimLog(requestLog, requestLogLimit);
    handle(request, response).then(
      (outcome) => {
        entry.outcome = outcome;
      },
      (error: unknown) => {
        entry.outcome = 500;
        violations.push(`unhandled error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
        if (!response.headersSent) sendJson(response, 500, ERRORS.internal());
        else response.destroy();
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('the Amazon fake is not listening on a TCP port');
  const url = `http://127.0.0.1:${address.port}`;
  baseUrl = url;

  // -------------------------------------------------------------------------------------
  // Control API

  function findListing(sku: string, marketplaceId?: string): Listing {
    return store.find(sku, marketplaceId);
  }

  /** The publish options with the type's delivery lag drawn, unless the caller set delayMs. */
  function lagged(notification: SpApiNotification, publish?: PublishOptions): PublishOptions | undefined {
    const sample = deliveryLags(notification.NotificationType);
    if (!sample || publish?.delayMs !== undefined) return publish;
    return { ...publish, delayMs: sample() };
  }

  async function publishNow(notification: SpApiNotification, publish?: PublishOptions): Promise<PublishedNotification> {
    return publisher.publish(notification, lagged(notification, publish));
  }

  /** Starts a publish that may wait for its delivery lag: the log entry now, the sending in the background (idle() waits). */
  function publishPending(notification: SpApiNotification, publish?: PublishOptions): PublishedNotification {
    const { entry, sent } = publisher.start(notification, lagged(notification, publish));
    const tracked = sent.catch(() => undefined).finally(() => background.delete(tracked));
    background.add(tracked);
    return entry;
  }

  return {
    url,
    lwaTokenUrl: `${url}/auth/o2/token`,

    async close() {
      if (closed) return;
      closed = true;
      sleeps.cancelAll();
      feedService.close();
      for (const queued of queuedPatches.values()) clearTimeout(queued.timer);
      queuedPatches.clear();
      lanes.clear();
      publisher.close();
      for (const socket of hungSockets) socket.destroy();
      await Promise.allSettled([...background]);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },

    addListing(seed) {
      return snapshot(store.add(seed));
    },

    listing(sku, marketplaceId) {
      return snapshot(findListing(sku, marketplaceId));
    },

    quantity(sku, quantityOptions = {}) {
      const listing = findListing(sku, quantityOptions.marketplaceId);
      const fulfillment = quantityOptions.fulfillment ?? (listing.fulfillmentAvailability.has(MFN_CHANNEL) ? 'MFN' : 'FBA');
      return fulfillment === 'MFN' ? mfnQuantity(listing) : listing.fba?.fulfillable;
    },

    async setMfnQuantity(sku, quantity, setOptions = {}) {
      if (!Number.isInteger(quantity) || quantity < 0) throw new Error(`setMfnQuantity: quantity must be a whole number >= 0, got ${quantity}`);
      const listing = findListing(sku, setOptions.marketplaceId);
      const record = listing.fulfillmentAvailability.get(MFN_CHANNEL);
      if (!record) throw new Error(`SKU ${JSON.stringify(sku)} has no merchant-fulfilled (DEFAULT) offer`);
      const before = mfnQuantity(listing);
      listing.fulfillmentAvailability.set(MFN_CHANNEL, { ...record, quantity });
      listing.updatedAtMs = now();
      if (notifyQuantityChanges && before !== quantity) await publishNow(mfnQuantityNotification(listing, setOptions.publish), setOptions.publish);
    },

    async setFbaFulfillable(sku, quantity, setOptions = {}) {
      if (!Number.isInteger(quantity) || quantity < 0) throw new Error(`setFbaFulfillable: quantity must be a whole number >= 0, got ${quantity}`);
      const listing = findListing(sku, setOptions.marketplaceId);
      if (!listing.fba) throw new Error(`SKU ${JSON.stringify(sku)} has no FBA offer`);
      const before = listing.fba.fulfillable;
      listing.fba.fulfillable = quantity;
      listing.updatedAtMs = now();
      if (notifyQuantityChanges && before !== quantity) await publishNow(fbaInventoryNotification(listing, setOptions.publish), setOptions.publish);
    },

    async sellOnAmazon(sku, quantity, saleOptions = {}) {
      if (!Number.isInteger(quantity) || quantity <= 0) throw new Error(`sellOnAmazon: quantity must be a whole number > 0, got ${quantity}`);
      const listing = findListing(sku, saleOptions.marketplaceId);
      if (!listing.complete) throw new Error(`SKU ${JSON.stringify(sku)} is not buyable: its listing is incomplete`);
      const hasMfn = listing.fulfillmentAvailability.has(MFN_CHANNEL);
      const fulfillment = saleOptions.fulfillment ?? (hasMfn && listing.fba ? undefined : hasMfn ? 'MFN' : 'FBA');
      if (!fulfillment) throw new Error(`SKU ${JSON.stringify(sku)} has MFN and FBA offers; pass { fulfillment }`);

      // Decrement before the first await, so the sale is a fact the moment it is called.
      let remaining: number;
      if (fulfillment === 'MFN') {
        const available = mfnQuantity(listing);
        if (available === undefined || available < quantity) throw new Error(`Amazon would not sell ${quantity} of ${sku}: MFN quantity is ${available ?? 'unset'}`);
        remaining = available - quantity;
        listing.fulfillmentAvailability.set(MFN_CHANNEL, { ...listing.fulfillmentAvailability.get(MFN_CHANNEL), fulfillment_channel_code: MFN_CHANNEL, quantity: remaining });
      } else {
        const fba = listing.fba;
        if (!fba || fba.fulfillable < quantity) throw new Error(`Amazon would not sell ${quantity} of ${sku}: FBA fulfillable is ${fba?.fulfillable ?? 'none'}`);
        fba.fulfillable -= quantity;
        fba.reservedPendingCustomerOrder += quantity;
        remaining = fba.fulfillable;
      }
      listing.updatedAtMs = now();
      orderSequence += 1;
      const amazonOrderId = `113-${String(now() % 10_000_000).padStart(7, '0')}-${String(orderSequence).padStart(7, '0')}`;
      const orderItemId = String(10_000_000_000_000 + orderSequence);
      const purchaseDate = new Date(now()).toISOString();
      const orderStatus = saleOptions.orderStatus ?? 'Unshipped';
      const orderChange = buildOrderChangeNotification(
        {
          OrderChangeNotification: {
            NotificationLevel: 'OrderLevel',
            SellerId: listing.sellerId,
            AmazonOrderId: amazonOrderId,
            OrderChangeType: 'OrderStatusChange',
            OrderChangeTrigger: { TimeOfOrderChange: purchaseDate, ChangeReason: `Order status changed to ${orderStatus}` },
            Summary: {
              MarketplaceId: listing.marketplaceId,
              OrderStatus: orderStatus,
              PurchaseDate: purchaseDate,
              DestinationPostalCode: null,
              FulfillmentType: fulfillment === 'MFN' ? 'MFN' : 'AFN',
              OrderType: 'StandardOrder',
              NumberOfItemsShipped: 0,
              NumberOfItemsUnshipped: quantity,
              OrderItems: [{ OrderItemId: orderItemId, SellerSKU: sku, SupplySourceId: null, Quantity: quantity, OrderItemStatus: 'Unshipped', QuantityShipped: 0 }],
            },
          },
        },
        envelopeOptions('ORDER_CHANGE', saleOptions.publish),
      );
      const quantityChange = !notifyQuantityChanges ? undefined : fulfillment === 'MFN' ? mfnQuantityNotification(listing) : fbaInventoryNotification(listing);
      if (deliveryLags('ORDER_CHANGE') && saleOptions.publish?.delayMs === undefined) {
        // A lagged delivery: the sale is made now, its notifications arrive later, each after its own lag.
        const notifications = [publishPending(orderChange, saleOptions.publish)];
        if (quantityChange) notifications.push(publishPending(quantityChange));
        return { amazonOrderId, orderItemId, fulfillment, remaining, notifications };
      }
      const notifications = [await publishNow(orderChange, saleOptions.publish)];
      if (quantityChange) notifications.push(await publishNow(quantityChange));
      return { amazonOrderId, orderItemId, fulfillment, remaining, notifications };
    },

    processQueuedPatches() {
      const queued = [...queuedPatches.entries()];
      for (const [entry, { timer, apply }] of queued) {
        clearTimeout(timer);
        queuedPatches.delete(entry);
        apply();
      }
      lanes.clear();
      return queued.length;
    },

    acceptedPatches() {
      // A copy, as the filter it replaces returned: callers may keep it as a snapshot.
      return accepted.slice();
    },
    submissions() {
      return submissions;
    },
    requests() {
      return requestLog;
    },

    publishOrderChange(payload, notify = {}) {
      return publishNow(buildOrderChangeNotification(payload, envelopeOptions('ORDER_CHANGE', notify)), notify);
    },
    publishMfnQuantityChange(sku, notify = {}) {
      return publishNow(mfnQuantityNotification(findListing(sku, notify.marketplaceId), notify), notify);
    },
    publishFbaInventoryChange(sku, notify = {}) {
      return publishNow(fbaInventoryNotification(findListing(sku, notify.marketplaceId), notify), notify);
    },
    publishNotification(notification, publish) {
      return publishNow(notification, publish);
    },
    notifications() {
      return publisher.log();
    },
    async idle() {
      do {
        await Promise.allSettled([...background]);
        await publisher.idle();
      } while (background.size > 0);
    },

    expireAccessTokens() {
      lwa.expireAll();
    },
    issuedTokenCount() {
      return lwa.issuedCount;
    },

    injectFault(rule) {
      return faults.add(rule);
    },
    removeFault(id) {
      return faults.remove(id);
    },
    clearFaults() {
      faults.clear();
    },

    modelViolations() {
      return violations;
    },

    feeds: feedService,

    notificationsApi,
  };
}

type NotificationType = SpApiNotification['NotificationType'];

interface QueuedPatch {
  entry: PatchLogEntry;
  /** Its apply lag has passed; it applies once the patches before it did. */
  ready: boolean;
  apply: () => void;
}

/** One sampler per notification type (or none) from the deliveryLag option. */
function deliveryLagSamplers(spec: AmazonFakeOptions['deliveryLag']): (type: NotificationType) => (() => number) | undefined {
  if (spec === undefined) return () => undefined;
  if (typeof spec === 'number' || typeof spec === 'function' || 'minMs' in spec) {
    const sampler = lagSampler('deliveryLag', spec as LagSpec);
    return () => sampler;
  }
  const perType = new Map<NotificationType, () => number>();
  for (const [type, lag] of Object.entries(spec) as Array<[NotificationType, LagSpec | undefined]>) {
    const sampler = lagSampler(`deliveryLag.${type}`, lag);
    if (sampler) perType.set(type, sampler);
  }
  return (type) => perType.get(type);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

const GET_INCLUDED_DATA: ReadonlySet<string> = new Set<GetIncludedData>(['summaries', 'attributes', 'issues', 'offers', 'fulfillmentAvailability', 'procurement', 'relationships', 'productTypes']);

function isGetIncludedData(value: string): value is GetIncludedData {
  return GET_INCLUDED_DATA.has(value);
}

/** Builds `{ name: value }` from the path segments and query string, as the model declares them (csv arrays, defaults). */
function parseParameters(operation: ListingsOperation, segments: readonly string[], rawQuery: string): { values: Record<string, unknown> } | { error: string } {
  const values: Record<string, unknown> = {};
  const [sellerSegment = '', skuSegment] = segments;
  try {
    values['sellerId'] = decodeURIComponent(sellerSegment);
    // searchListingsItems has no {sku} segment.
    if (skuSegment !== undefined) values['sku'] = decodeURIComponent(skuSegment);
  } catch {
    return { error: 'path: malformed percent-encoding' };
  }
  const query = new URLSearchParams(rawQuery);
  for (const parameter of operation.parameters) {
    if (parameter.location !== 'query') continue;
    const given = query.getAll(parameter.name);
    if (given.length > 0) {
      if (parameter.isArray) {
        const items = given.flatMap((value) => value.split(',')).filter((item) => item !== '');
        if (items.length > 0) values[parameter.name] = items;
      } else if (parameter.type === 'integer' && given.length === 1 && /^-?\d+$/.test(given[0] ?? '')) {
        // Query values are text; an integer parameter (pageSize) is checked as a number.
        values[parameter.name] = Number(given[0]);
      } else {
        // A repeated scalar parameter fails the schema's type check, as it should.
        values[parameter.name] = given.length === 1 ? given[0] : given;
      }
    }
    if (values[parameter.name] === undefined && parameter.defaultValue !== undefined) values[parameter.name] = structuredClone(parameter.defaultValue);
  }
  return { values };
}
