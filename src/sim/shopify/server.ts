// The fake Shopify Admin GraphQL API: `POST /admin/api/2026-10/graphql.json` on 127.0.0.1,
// validated against the real 2026-10 schema, executed over an in-memory shop, with
// Shopify's cost-based throttling, webhooks, a storefront that sells on its own, fault
// injection and a programmatic control API. docs/sim.md describes it for users.
import { randomUUID } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLError,
  type GraphQLFormattedError,
  Kind,
  execute,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
} from 'graphql';
import { checkLogLimit, trimLog } from '../boundedLog.ts';
import { CostAnalyzer, type CostExtension, LeakyBucket, MAX_QUERY_COST, type ThrottleStatus, actualCost } from './cost.ts';
import { type Fault, type FaultOptions, FaultPlan, type FaultRate, type FaultTarget, type OperationKind } from './faults.ts';
import { gid, requireGid } from './ids.ts';
import { type ItemInput, InventoryStore, type LevelRecord, type LevelSnapshot, type LocationInput, type StockInput } from './inventory.ts';
import { type AcceptedWrite, IdempotencyStore, type ResolverContext, createRootValue, fieldResolver } from './resolvers.ts';
import { SCHEMA_API_VERSION, adminSchema } from './schema.ts';
import { WebhookSubscriptionStore, type WebhookSubscriptionRecord, webhookSubscriptionRootFields } from './webhookSubscriptions.ts';
import { lagSampler, type LagSpec } from '../lag.ts';
import {
  type EmitOptions,
  type RedeliverOptions,
  type StorefrontOrder,
  type StorefrontOrderLine,
  type WebhookDelivery,
  type WebhookJson,
  WebhookEmitter,
  inventoryLevelPayload,
  orderPayload,
} from './webhooks.ts';

export interface ShopifyFakeOptions {
  /** The token clients must send in X-Shopify-Access-Token. */
  accessToken: string;
  /** The app's client secret: the key of X-Shopify-Hmac-Sha256 on webhooks. */
  appSecret: string;
  /** e.g. `stockguard-dev.myshopify.com`; sent as X-Shopify-Shop-Domain. */
  shopDomain: string;
  /** Where webhooks go; without it the fake sends none (emitWebhook throws). */
  webhookUrl?: string;
  faults?: FaultOptions;
  /** Leaky bucket. Shopify's bucket size per plan is UNCONFIRMED; restore 100/s is the Standard plan's. */
  bucket?: { maximumAvailable?: number; restoreRate?: number };
  /** HTTP status of a THROTTLED response: 200 (default, body carries the error) or 429. Sources disagree. */
  throttledHttpStatus?: 200 | 429;
  /** Send `inventory_levels/update` whenever `available` changes, API writes included (echoes). Default true. */
  inventoryLevelWebhooks?: boolean;
  /** Injectable clock (ms) for the bucket, idempotency retention and timestamps. */
  clock?: () => number;
  /** How long an idempotency key is remembered. Default 24 h (Shopify's window is UNCONFIRMED). */
  idempotencyRetentionMs?: number;
  /**
   * Keep about this many webhook deliveries (bodies included) in `webhookDeliveries()`; older
   * ones are dropped in chunks and can no longer be redelivered. Default: keep every delivery.
   */
  webhookLogLimit?: number;
  /** Keep about this many entries in `requests()`, the newest. Default: keep every request. */
  requestLogLimit?: number;
  /** Keep about this many entries in `writes()`, the newest (sequence numbers keep counting). Default: keep every write. */
  writeLogLimit?: number;
  /**
   * Delivery lag of webhooks (ms, a `{minMs, maxMs, seed?}` range drawn per delivery, or a
   * sampler), for every topic or per topic (`{'orders/create': …}`); an emit's own `delayMs`
   * wins. X-Shopify-Triggered-At stays the time of the event. With a lag for `orders/create`
   * (or `orders/cancelled`), storefront orders resolve as soon as the stock moved, with no
   * deliveries in the result: the webhooks follow on their own (`settleWebhooks()` waits,
   * `webhookDeliveries()` lists them). Default: none. Sources for realistic values: docs/sim.md, "Lags".
   */
  deliveryLag?: LagSpec | Readonly<Record<string, LagSpec>>;
}

export interface RequestRecord {
  readonly at: string;
  readonly version: string;
  readonly operation: OperationKind | undefined;
  readonly rootFields: readonly string[];
  readonly status: number | 'reset' | 'timeout';
  readonly fault: Fault['kind'] | undefined;
  readonly throttled: boolean;
  /** A mutation answered from the idempotency store, without applying. */
  readonly replayed: boolean;
  readonly requestedQueryCost: number | undefined;
  readonly actualQueryCost: number | undefined;
}

export interface StorefrontSale {
  readonly order: StorefrontOrder;
  /** The levels after the sale. */
  readonly levels: readonly LevelSnapshot[];
  /** orders/create (or orders/cancelled) then inventory_levels/update per level; empty without a webhookUrl. */
  readonly deliveries: readonly WebhookDelivery[];
}

export interface OrderLineInput {
  itemId: string;
  locationId: string;
  quantity: number;
  /** Unit price as Shopify's decimal string; default "25.00". */
  price?: string;
}

type JsonObject = Record<string, unknown>;

interface GraphQLResponse {
  status: number;
  body: JsonObject;
  /** The cost reported in body.extensions, kept for the request log. */
  cost?: CostExtension;
  throttled?: boolean;
}

const ROUTE = /^\/admin\/api\/([^/]+)\/graphql\.json$/;
const MAX_BODY_BYTES = 5 * 1024 * 1024;
const RATE_LIMIT_DOCS = 'https://shopify.dev/api/usage/rate-limits';
const INVALID_TOKEN = '[API] Invalid API key or access token (unrecognized login or wrong password)';
// Shopify runs graphql-ruby; its static-validation error codes for the rules graphql-js shares.
const VALIDATION_CODES: Readonly<Record<string, string>> = {
  FieldsOnCorrectTypeRule: 'undefinedField',
  KnownArgumentNamesRule: 'argumentNotAccepted',
  ProvidedRequiredArgumentsRule: 'missingRequiredArguments',
  VariablesInAllowedPositionRule: 'variableMismatch',
  ScalarLeafsRule: 'selectionMismatch',
  KnownTypeNamesRule: 'undefinedType',
  KnownDirectivesRule: 'undefinedDirective',
  NoUnusedVariablesRule: 'variableNotUsed',
  NoUndefinedVariablesRule: 'variableNotDefined',
};
// Ids of things the storefront creates: just above 2^53, where plain JSON.parse rounds.
const FIRST_ORDER_ID = 2n ** 53n + 1n;
const FIRST_LINE_ITEM_ID = 2n ** 53n + 100_000_001n;

function errorJson(error: GraphQLError, code?: string): GraphQLFormattedError {
  const formatted = error.toJSON();
  return code ? { ...formatted, extensions: { ...formatted.extensions, code } } : formatted;
}

/** One sampler per topic (or none) from the deliveryLag option. */
function webhookLagSamplers(spec: ShopifyFakeOptions['deliveryLag']): ((topic: string) => (() => number) | undefined) | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec === 'number' || typeof spec === 'function' || 'minMs' in spec) {
    const sampler = lagSampler('deliveryLag', spec as LagSpec);
    return () => sampler;
  }
  const perTopic = new Map<string, () => number>();
  for (const [topic, lag] of Object.entries(spec as Readonly<Record<string, LagSpec>>)) {
    const sampler = lagSampler(`deliveryLag[${topic}]`, lag);
    if (sampler) perTopic.set(topic, sampler);
  }
  return (topic) => perTopic.get(topic);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ShopifyFake {
  readonly shopDomain: string;
  private readonly clock: () => number;
  private readonly store: InventoryStore;
  private readonly subscriptions: WebhookSubscriptionStore;
  private readonly bucket: LeakyBucket;
  private readonly idempotency: IdempotencyStore;
  private readonly faultPlan: FaultPlan;
  private readonly emitter: WebhookEmitter;
  private readonly acceptedWrites: AcceptedWrite[] = [];
  private readonly requestLog: RequestRecord[] = [];
  private readonly storefrontOrders: StorefrontOrder[] = [];
  /** The same orders by id: lookups stay O(1) however many the storefront has taken. */
  private readonly ordersById = new Map<bigint, StorefrontOrder>();
  private readonly requestLogLimit: number | undefined;
  private readonly writeLogLimit: number | undefined;
  private writeCount = 0;
  private readonly sockets = new Set<Socket>();
  private nextOrderId = FIRST_ORDER_ID;
  private nextLineItemId = FIRST_LINE_ITEM_ID;
  private port = 0;

  private constructor(
    private readonly options: ShopifyFakeOptions,
    private readonly server: Server,
  ) {
    this.shopDomain = options.shopDomain;
    this.clock = options.clock ?? Date.now;
    this.store = new InventoryStore(this.clock);
    this.subscriptions = new WebhookSubscriptionStore(this.clock);
    this.bucket = new LeakyBucket(options.bucket?.maximumAvailable ?? 2000, options.bucket?.restoreRate ?? 100, this.clock);
    this.idempotency = new IdempotencyStore(this.clock, options.idempotencyRetentionMs ?? 24 * 60 * 60 * 1000);
    this.faultPlan = new FaultPlan(options.faults);
    this.requestLogLimit = checkLogLimit('requestLogLimit', options.requestLogLimit);
    this.writeLogLimit = checkLogLimit('writeLogLimit', options.writeLogLimit);
    this.emitter = new WebhookEmitter({
      url: options.webhookUrl,
      appSecret: options.appSecret,
      shopDomain: options.shopDomain,
      apiVersion: SCHEMA_API_VERSION,
      clock: this.clock,
      logLimit: options.webhookLogLimit,
      deliveryLag: webhookLagSamplers(options.deliveryLag),
    });
  }

  static async start(options: ShopifyFakeOptions): Promise<ShopifyFake> {
    if (!options.accessToken) throw new Error('startShopifyFake: accessToken is required');
    if (!options.appSecret) throw new Error('startShopifyFake: appSecret is required');
    adminSchema(); // load the schema before the first request, not during it
    const server = createServer();
    const fake = new ShopifyFake(options, server);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => {
      fake.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent && !response.destroyed) {
          response.writeHead(500, { 'Content-Type': 'application/json; charset=utf-8' });
          response.end(JSON.stringify({ errors: `Shopify fake internal error: ${error instanceof Error ? error.message : String(error)}` }));
        }
      });
    });
    server.on('connection', (socket: Socket) => {
      fake.sockets.add(socket);
      socket.on('close', () => fake.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    fake.port = (server.address() as AddressInfo).port;
    return fake;
  }

  /** http://127.0.0.1:<port> */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  graphqlUrl(version: string = SCHEMA_API_VERSION): string {
    return `${this.url}/admin/api/${version}/graphql.json`;
  }

  /** Stops listening, drops held and open connections, aborts webhook deliveries in flight. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([closed, this.emitter.close()]);
  }

  // ---- seeding and reading state

  addLocation(input: LocationInput): void {
    this.store.addLocation(input);
  }

  /** Rename, (de)activate or change fulfillsOnlineOrders of a location. */
  updateLocation(id: string, patch: Partial<Omit<LocationInput, 'id'>>): void {
    this.store.updateLocation(id, patch);
  }

  /** Adds an inventory item with its variant; answers the variant's gid (what order lines name). */
  addItem(input: ItemInput): { variantId: string } {
    return { variantId: `gid://shopify/ProductVariant/${this.store.addItem(input).variantId}` };
  }

  /** Sets a level's states (the item is created when unknown). on_hand follows from them. */
  stock(itemId: string, locationId: string, quantities: StockInput): LevelSnapshot {
    return this.store.snapshot(this.store.stock(itemId, locationId, quantities));
  }

  level(itemId: string, locationId: string): LevelSnapshot | undefined {
    const level = this.store.level(itemId, locationId);
    return level ? this.store.snapshot(level) : undefined;
  }

  levels(): LevelSnapshot[] {
    return this.store.levels().map((level) => this.store.snapshot(level));
  }

  /** Every mutation the fake applied, in order (replays and rejected writes are not here); the newest writeLogLimit when set. */
  writes(): readonly AcceptedWrite[] {
    return this.acceptedWrites;
  }

  /** Every GraphQL request that reached the route with a valid token, in order; the newest requestLogLimit when set. */
  requests(): readonly RequestRecord[] {
    return this.requestLog;
  }

  throttleStatus(): ThrottleStatus {
    return this.bucket.status();
  }

  /** Resize or refill the bucket, e.g. `{ currentlyAvailable: 0 }` to start drained. */
  setBucket(options: { maximumAvailable?: number; restoreRate?: number; currentlyAvailable?: number }): void {
    this.bucket.configure(options);
  }

  // ---- the storefront

  /** A checkout of one line: available -= qty, committed += qty, then orders/create and inventory_levels/update. */
  sellOnStorefront(itemId: string, locationId: string, quantity: number, options: { oversell?: boolean; webhooks?: boolean } = {}): Promise<StorefrontSale> {
    return this.placeStorefrontOrder([{ itemId, locationId, quantity }], options);
  }

  /**
   * A checkout of several lines (the same item may appear twice). The stock moves at once,
   * synchronously within the call, so it races any write in flight; the webhooks follow.
   * A refused order (unknown pair, location that does not sell online, not enough available)
   * rejects and moves nothing.
   */
  async placeStorefrontOrder(lines: readonly OrderLineInput[], options: { oversell?: boolean; webhooks?: boolean } = {}): Promise<StorefrontSale> {
    if (lines.length === 0) throw new Error('an order needs at least one line');
    const wanted = new Map<string, number>();
    for (const line of lines) {
      if (!this.store.item(line.itemId)) throw new Error(`unknown inventory item ${line.itemId}`);
      const key = `${line.itemId}|${line.locationId}`;
      wanted.set(key, (wanted.get(key) ?? 0) + line.quantity);
    }
    // Check every pair with the order's total for it first, so a refused order moves nothing.
    for (const [key, quantity] of wanted) {
      const [itemId = '', locationId = ''] = key.split('|');
      const location = this.store.location(locationId);
      if (!location) throw new Error(`unknown location ${locationId}`);
      // Only active locations that fulfil online orders sell online (shopify-notes.md §2).
      if (!location.isActive || !location.fulfillsOnlineOrders) {
        throw new Error(`location ${locationId} is ${location.isActive ? 'not fulfilling online orders' : 'inactive'}: the storefront cannot sell from it`);
      }
      const level = this.store.level(itemId, locationId);
      if (!level) throw new Error(`${itemId} is not stocked at ${locationId}`);
      if (level.states.available < quantity && !options.oversell) {
        throw new Error(`only ${level.states.available} available of ${itemId} at ${locationId}, the order needs ${quantity} (pass oversell: true to sell anyway)`);
      }
    }
    const touched = new Map<string, LevelRecord>();
    for (const line of lines) {
      const level = this.store.commitForOrder(line.itemId, line.locationId, line.quantity, { oversell: true });
      touched.set(`${line.itemId}|${line.locationId}`, level);
    }
    const now = new Date(this.clock()).toISOString();
    const order: StorefrontOrder = {
      id: this.nextOrderId,
      orderNumber: 1001 + this.storefrontOrders.length,
      createdAt: now,
      updatedAt: now,
      cancelledAt: null,
      lines: lines.map((line): StorefrontOrderLine => {
        const item = this.store.item(line.itemId);
        if (!item) throw new Error(`unknown inventory item ${line.itemId}`);
        const lineItemId = this.nextLineItemId;
        this.nextLineItemId += 1n;
        return {
          lineItemId,
          variantId: item.variantId,
          productId: item.productId,
          inventoryItemId: item.id,
          locationId: line.locationId,
          sku: item.sku,
          title: item.title,
          quantity: line.quantity,
          price: line.price ?? '25.00',
        };
      }),
    };
    this.nextOrderId += 1n;
    this.storefrontOrders.push(order);
    this.ordersById.set(order.id, order);
    return this.announce('orders/create', order, [...touched.values()], options.webhooks);
  }

  /** Cancels a storefront order with restock: committed -= qty, available += qty; orders/cancelled then inventory_levels/update. */
  async cancelStorefrontOrder(orderId: bigint, options: { webhooks?: boolean } = {}): Promise<StorefrontSale> {
    const order = this.requireOrder(orderId);
    if (order.cancelledAt !== null) throw new Error(`order ${orderId} is already cancelled`);
    const touched = new Map<string, LevelRecord>();
    for (const line of order.lines) {
      touched.set(`${line.inventoryItemId}|${line.locationId}`, this.store.releaseForCancel(line.inventoryItemId, line.locationId, line.quantity));
    }
    const now = new Date(this.clock()).toISOString();
    order.cancelledAt = now;
    order.updatedAt = now;
    return this.announce('orders/cancelled', order, [...touched.values()], options.webhooks);
  }

  /** Every storefront order, in the order they were placed. */
  orders(): readonly StorefrontOrder[] {
    return this.storefrontOrders;
  }

  /** One storefront order by id (O(1)), or undefined. */
  order(orderId: bigint): StorefrontOrder | undefined {
    return this.ordersById.get(orderId);
  }

  private async announce(topic: string, order: StorefrontOrder, levels: readonly LevelRecord[], webhooks: boolean | undefined): Promise<StorefrontSale> {
    const snapshots = levels.map((level) => this.store.snapshot(level));
    const deliveries: WebhookDelivery[] = [];
    if (webhooks !== false && this.emitter.url && this.emitter.lagged(topic)) {
      // A lagged delivery: the order is placed now, each webhook arrives after its own lag.
      this.emitter.background(topic, orderPayload(order));
      if (this.options.inventoryLevelWebhooks !== false) for (const level of levels) this.emitter.background('inventory_levels/update', this.levelPayload(level));
    } else if (webhooks !== false && this.emitter.url) {
      deliveries.push(...(await this.emitter.emit(topic, orderPayload(order))));
      if (this.options.inventoryLevelWebhooks !== false) {
        for (const level of levels) deliveries.push(...(await this.emitter.emit('inventory_levels/update', this.levelPayload(level))));
      }
    }
    return { order, levels: snapshots, deliveries };
  }

  // ---- webhook subscriptions (what webhookSubscriptionCreate made; deliveries still go to webhookUrl)

  /** The app's webhook subscriptions, in creation order (copies). */
  webhookSubscriptions(): WebhookSubscriptionRecord[] {
    return this.subscriptions.list().map((record) => ({ ...record, includeFields: [...record.includeFields], metafieldNamespaces: [...record.metafieldNamespaces] }));
  }

  /** Adds a subscription without the API, e.g. one an earlier install left at an old address. */
  addWebhookSubscription(topic: string, uri: string): WebhookSubscriptionRecord {
    return { ...this.subscriptions.add(topic, uri) };
  }

  /** Removes a subscription without the API (Shopify drops one after repeated delivery failures). */
  removeWebhookSubscription(id: string): boolean {
    return this.subscriptions.remove(id);
  }

  // ---- webhooks

  setWebhookUrl(url: string | undefined): void {
    this.emitter.url = url;
  }

  /** POSTs one event to the webhook URL with Shopify's headers; `duplicate` repeats it with the same event id. */
  emitWebhook(topic: string, payload: WebhookJson | string, options: EmitOptions = {}): Promise<WebhookDelivery[]> {
    return this.emitter.emit(topic, payload, options);
  }

  /**
   * Sends a past delivery again, original body and event id (Shopify's retry behaviour), with
   * the original X-Shopify-Triggered-At unless `options.triggeredAt` overrides it (a retry that
   * arrives hours after its event). Throws for a delivery dropped because of webhookLogLimit.
   */
  redeliverWebhook(webhookId: string, options: RedeliverOptions = {}): Promise<WebhookDelivery> {
    return this.emitter.redeliver(webhookId, options);
  }

  /** Every delivery in order, redeliveries included; the newest webhookLogLimit when set. */
  webhookDeliveries(): readonly WebhookDelivery[] {
    return this.emitter.deliveries();
  }

  /** The logged delivery with this X-Shopify-Webhook-Id (O(1)), or undefined. */
  webhookDelivery(webhookId: string): WebhookDelivery | undefined {
    return this.emitter.delivery(webhookId);
  }

  /** Waits for every webhook delivery started so far, including background echoes. */
  settleWebhooks(): Promise<void> {
    return this.emitter.settle();
  }

  /** `orders/create` payload of a storefront order (REST Order JSON). */
  orderCreatePayload(orderId: bigint): WebhookJson {
    return orderPayload(this.requireOrder(orderId));
  }

  /** `orders/cancelled` payload: the order as it is now (cancel it first for cancelled_at to be set). */
  orderCancelledPayload(orderId: bigint): WebhookJson {
    return orderPayload(this.requireOrder(orderId));
  }

  /** `inventory_levels/update` payload of a level as it is now. */
  inventoryLevelUpdatePayload(itemId: string, locationId: string): WebhookJson {
    const level = this.store.level(itemId, locationId);
    if (!level) throw new Error(`${itemId} is not stocked at ${locationId}`);
    return this.levelPayload(level);
  }

  private requireOrder(orderId: bigint): StorefrontOrder {
    const order = this.ordersById.get(orderId);
    if (!order) throw new Error(`no storefront order ${orderId}`);
    return order;
  }

  private levelPayload(level: LevelRecord): WebhookJson {
    return inventoryLevelPayload({
      itemNumericId: requireGid(level.itemId, 'InventoryItem'),
      locationNumericId: requireGid(level.locationId, 'Location'),
      available: level.states.available,
      updatedAt: level.quantityUpdatedAt.available,
    });
  }

  // ---- faults

  /** The next `times` (default 1) matching requests get `fault`. Returns an id for removeFault. */
  injectFault(fault: Fault, options: FaultTarget & { times?: number } = {}): number {
    return this.faultPlan.inject(fault, options);
  }

  /** Drops what no request has taken yet of an injected fault; returns how many were left. */
  removeFault(id: number): number {
    return this.faultPlan.remove(id);
  }

  /** From now on, a share of matching requests get `fault` (seeded by options.faults.seed). */
  addFaultRate(rate: FaultRate): void {
    this.faultPlan.addRate(rate);
  }

  clearFaults(): void {
    this.faultPlan.clear();
  }

  // ---- HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = new URL(request.url ?? '/', 'http://fake').pathname;
    const route = ROUTE.exec(path);
    if (!route || request.method !== 'POST') {
      this.reply(response, { status: 404, body: { errors: 'Not Found' } });
      return;
    }
    const version = route[1] ?? '';
    if (request.headers['x-shopify-access-token'] !== this.options.accessToken) {
      request.resume();
      this.reply(response, { status: 401, body: { errors: INVALID_TOKEN } });
      return;
    }
    if (version !== SCHEMA_API_VERSION) {
      request.resume();
      this.reply(response, { status: 404, body: { errors: `API version ${version} is not served by the stockguard Shopify fake; it implements ${SCHEMA_API_VERSION} only` } });
      return;
    }
    const raw = await this.readBody(request);
    if (raw === undefined) {
      this.reply(response, { status: 413, body: { errors: 'Request body too large' } });
      return;
    }
    const input = this.readGraphQLRequest(raw, request.headers['content-type'] ?? '');
    if (!input) {
      this.reply(response, { status: 400, body: { errors: { query: 'Required parameter missing or invalid' } } });
      return;
    }

    let document: DocumentNode | undefined;
    let parseError: GraphQLError | undefined;
    try {
      document = parse(input.query);
    } catch (error) {
      parseError = error as GraphQLError;
    }
    const operation = document ? getOperationAST(document, input.operationName) : null;
    const kind: OperationKind = operation?.operation === 'mutation' ? 'mutation' : 'query';
    const rootFields = operation ? operation.selectionSet.selections.flatMap((selection) => (selection.kind === Kind.FIELD ? [selection.name.value] : [])) : [];
    const fault = this.faultPlan.pick(kind);
    const phase = fault && fault.kind !== 'throttled' ? (fault.phase ?? 'before') : 'before';
    const record = (status: RequestRecord['status'], extra: Partial<RequestRecord> = {}): void => {
      this.requestLog.push({
        at: new Date(this.clock()).toISOString(),
        version,
        operation: operation ? kind : undefined,
        rootFields,
        status,
        fault: fault?.kind,
        throttled: false,
        replayed: false,
        requestedQueryCost: undefined,
        actualQueryCost: undefined,
        ...extra,
      });
      trimLog(this.requestLog, this.requestLogLimit);
    };

    if (fault && phase === 'before' && fault.kind !== 'throttled') {
      if (fault.kind === 'latency') await sleep(fault.ms);
      else {
        record(this.fail(request, response, fault));
        return;
      }
    }

    const context: ResolverContext = {
      store: this.store,
      idempotency: this.idempotency,
      clock: this.clock,
      holdMs: fault?.kind === 'latency' && phase === 'during' ? fault.ms : 0,
      replayed: false,
      recordWrite: (write) => this.recordWrite(write),
    };
    if (fault?.kind === 'latency' && phase === 'during' && kind === 'query') await sleep(fault.ms);
    const result: GraphQLResponse = parseError
      ? this.errors([errorJson(parseError)])
      : await this.run(document, input, context, fault?.kind === 'throttled');

    if (fault && phase === 'after') {
      if (fault.kind === 'latency') await sleep(fault.ms);
      else if (fault.kind !== 'throttled') {
        record(this.fail(request, response, fault), { replayed: context.replayed });
        return;
      }
    }
    record(result.status, {
      throttled: result.throttled === true,
      replayed: context.replayed,
      requestedQueryCost: result.cost?.requestedQueryCost,
      actualQueryCost: result.cost?.actualQueryCost ?? undefined,
    });
    this.reply(response, result);
  }

  private async run(
    document: DocumentNode | undefined,
    input: { query: string; variables: JsonObject; operationName: string | undefined },
    context: ResolverContext,
    /** The 'throttled' fault: answer THROTTLED at the bucket step whatever the bucket holds. */
    forceThrottle: boolean,
  ): Promise<GraphQLResponse> {
    const schema = adminSchema();
    if (!document) return this.errors([{ message: 'Document is empty' }]);
    const validationErrors = validate(schema, document);
    if (validationErrors.length > 0) return this.errors(this.withValidationCodes(document, validationErrors));
    const operation = getOperationAST(document, input.operationName);
    if (!operation) {
      return this.errors([{ message: input.operationName ? `Unknown operation named "${input.operationName}".` : 'Must provide operation name if query contains multiple operations.' }]);
    }
    if (operation.operation === 'subscription') return this.errors([{ message: 'Subscriptions are not supported over the Admin API.' }]);
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], input.variables);
    if ('errors' in coerced && coerced.errors) return this.errors(coerced.errors.map((error) => errorJson(error)));
    const variables = 'coerced' in coerced ? coerced.coerced : {};

    const fragments = new Map<string, FragmentDefinitionNode>();
    for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
    const analyzer = new CostAnalyzer(schema, fragments, variables);
    const analysis = analyzer.analyze(operation);
    const requested = analysis.requestedCost;
    if (analysis.errors.length > 0) return this.errors(analysis.errors.map((error) => errorJson(error)), requested);
    if (requested > MAX_QUERY_COST) {
      return this.errors(
        [
          {
            message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`,
            extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST, documentation: RATE_LIMIT_DOCS },
          },
        ],
        requested,
        null,
      );
    }
    if (forceThrottle || !this.bucket.take(requested)) return this.throttled(requested);

    const result = await execute({
      schema,
      document,
      rootValue: { ...createRootValue(context), ...webhookSubscriptionRootFields(this.subscriptions) },
      contextValue: context,
      variableValues: input.variables,
      operationName: input.operationName,
      fieldResolver,
    });
    const actual = Math.min(requested, actualCost(analyzer, schema, operation, result.data));
    this.bucket.refund(requested - actual);
    const cost = this.cost(requested, actual);
    const body: JsonObject = {};
    if (result.errors && result.errors.length > 0) body.errors = result.errors.map((error) => errorJson(error));
    body.data = result.data ?? null;
    body.extensions = { cost };
    return { status: 200, body, cost };
  }

  private recordWrite(write: Omit<AcceptedWrite, 'sequence' | 'groupId'>): AcceptedWrite {
    this.writeCount += 1;
    const sequence = this.writeCount;
    const accepted: AcceptedWrite = { ...write, sequence, groupId: gid('InventoryAdjustmentGroup', 30_000_000_000n + BigInt(sequence)) };
    this.acceptedWrites.push(accepted);
    trimLog(this.acceptedWrites, this.writeLogLimit);
    if (this.options.inventoryLevelWebhooks !== false) {
      const echoed = new Set<string>();
      for (const change of write.changes) {
        const key = `${change.itemId}|${change.locationId}`;
        if (change.name !== 'available' || echoed.has(key)) continue;
        echoed.add(key);
        const level = this.store.level(change.itemId, change.locationId);
        if (level) this.emitter.background('inventory_levels/update', this.levelPayload(level));
      }
    }
    return accepted;
  }

  private withValidationCodes(document: DocumentNode, errors: readonly GraphQLError[]): GraphQLFormattedError[] {
    const schema = adminSchema();
    const codes = new Map<string, string>();
    const keyOf = (error: GraphQLError): string => `${error.message}@${JSON.stringify(error.locations ?? [])}`;
    for (const rule of specifiedRules) {
      const code = VALIDATION_CODES[rule.name];
      if (!code) continue;
      for (const error of validate(schema, document, [rule])) codes.set(keyOf(error), code);
    }
    return errors.map((error) => errorJson(error, codes.get(keyOf(error))));
  }

  private cost(requested: number, actual: number | null): CostExtension {
    return { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: this.bucket.status() };
  }

  private errors(errors: readonly GraphQLFormattedError[], requested = 0, actual: number | null = 0): GraphQLResponse {
    const cost = this.cost(requested, actual);
    return { status: 200, body: { errors, extensions: { cost } }, cost };
  }

  /** Shopify's THROTTLED answer: no data, actualQueryCost null (shopify-notes.md §3). */
  private throttled(requested: number): GraphQLResponse {
    const cost = this.cost(requested, null);
    return {
      status: this.options.throttledHttpStatus ?? 200,
      body: {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: RATE_LIMIT_DOCS } }],
        extensions: { cost },
      },
      cost,
      throttled: true,
    };
  }

  private fail(request: IncomingMessage, response: ServerResponse, fault: Exclude<Fault, { kind: 'latency' | 'throttled' }>): RequestRecord['status'] {
    if (fault.kind === 'reset') {
      request.socket.destroy();
      return 'reset';
    }
    if (fault.kind === 'timeout') return 'timeout'; // never answered; close() drops the socket
    response.writeHead(fault.status, { 'Content-Type': 'text/html; charset=utf-8', 'X-Request-Id': randomUUID() });
    response.end(`<!DOCTYPE html><html><head><title>${fault.status}</title></head><body><h1>${fault.status}</h1><p>There was a problem loading this website. Please try again.</p></body></html>`);
    return fault.status;
  }

  private reply(response: ServerResponse, result: GraphQLResponse): void {
    if (response.destroyed) return;
    response.writeHead(result.status, {
      'Content-Type': 'application/json; charset=utf-8',
      'X-Shopify-API-Version': SCHEMA_API_VERSION,
      'X-Request-Id': randomUUID(),
    });
    response.end(JSON.stringify(result.body));
  }

  private readBody(request: IncomingMessage): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      request.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      });
      request.on('end', () => resolve(size <= MAX_BODY_BYTES ? Buffer.concat(chunks) : undefined));
      request.on('error', reject);
    });
  }

  private readGraphQLRequest(raw: Buffer, contentType: string): { query: string; variables: JsonObject; operationName: string | undefined } | undefined {
    const text = raw.toString('utf8');
    if (contentType.includes('application/graphql')) return text.trim() ? { query: text, variables: {}, operationName: undefined } : undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const body = parsed as JsonObject;
    if (typeof body.query !== 'string' || body.query.trim() === '') return undefined;
    const variables = body.variables;
    if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
    return {
      query: body.query,
      variables: (variables ?? {}) as JsonObject,
      operationName: typeof body.operationName === 'string' ? body.operationName : undefined,
    };
  }
}

/** Starts the fake on 127.0.0.1, on a free port. */
export function startShopifyFake(options: ShopifyFakeOptions): Promise<ShopifyFake> {
  return ShopifyFake.start(options);
}
