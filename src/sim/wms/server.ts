// A fake warehouse management system for tests, the demo and the benchmarks. It holds the
// physical on-hand per SKU, tells stockguard about picks, shipments, receipts, adjustments
// and counts the way a WMS does (signed `POST /webhooks/wms`, docs/wms.md), and serves the
// paged stock snapshot reconciliation pulls (`GET /v1/stock`, docs/wms.md "Stock snapshots").
// It can also make the warehouse and stockguard disagree on purpose: shrinkage, mis-picks,
// lost events, a snapshot taken while a webhook is in flight, slow pages and 5xx.
// docs/wms.md ("The WMS fake") lists what it does and leaves out.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WmsWebhookPayload } from '../../domain/wmsWebhooks.ts';
import { signWms } from '../../ingest/http/signatures.ts';
import type { WmsStockResponse } from '../../reconcile/wms.ts';

export interface WmsFakeOptions {
  /** Bearer token `GET /v1/stock` requires. */
  token: string;
  /** Where and how to deliver webhooks; without it, operations change stock and send nothing. */
  webhook?: { url: string; secret: string };
  /** Clock for snapshot times and webhook timestamps (ms since the epoch). */
  clock?: () => number;
  /** The largest `limit` honoured; larger requests get this many. Default 5000. */
  maxPageSize?: number;
  /** Webhook attempts per event batch (5xx answers and network errors are retried). Default 3. */
  webhookAttempts?: number;
  /**
   * Wait this long between two attempts of one event batch. Default 0: the attempts follow
   * each other at once. With e.g. 60 attempts 250 ms apart, a WMS keeps retrying through a
   * receiver outage of several seconds. close() cuts the waiting short and stops retrying.
   */
  webhookRetryDelayMs?: number;
  /**
   * Number every SKU's movements (`seq` on each webhook event: 1, 2, 3, … per SKU) and state
   * in the snapshot, per SKU, the last movement its figure includes (docs/wms.md,
   * "Watermark"). Default true; false plays a WMS without a watermark (reconciliation then
   * uses the settle window).
   */
  watermark?: boolean;
}

export interface OrderRef {
  channel: 'shopify' | 'amazon' | 'api';
  orderId: string;
  lineId: string;
}

export interface OperationOptions {
  /** Change the stock but never tell stockguard (a lost event). */
  lose?: boolean;
  /**
   * Change the stock, pin a snapshot (the next `GET /v1/stock` without a cursor serves it),
   * then send the webhook: the change is in the snapshot but reaches stockguard after it.
   */
  snapshotBeforeDelivery?: boolean;
}

/** What happened to one operation's webhook. */
export interface Delivery {
  eventId: string;
  /**
   * The HTTP status of the last attempt; 'lost' when the event was never sent, 'none'
   * without a webhook target, 'backordered' when nothing could be shipped (the shelf is
   * empty; the line waits for stock, see WmsFake.backorders).
   */
  outcome: number | 'lost' | 'none' | 'network-error' | 'backordered';
  /** For a shipment: the units that left the shelf (fewer than ordered when the rest is backordered). */
  shipped?: number;
}

/** Units of an order line the warehouse could not ship yet: they ship when stock arrives. */
export interface Backorder {
  sku: string;
  quantity: number;
  order: OrderRef;
}

export interface PageFaults {
  /** Wait this long before answering every page. */
  delayMs?: number;
  /** Answer the next `failNext` page requests with `status` (default 503). */
  failNext?: number;
  status?: 500 | 502 | 503 | 504;
}

interface FrozenSnapshot {
  asOfMs: number;
  skus: string[];
  onHand: Float64Array;
  /** Per SKU, the last movement number the figure includes. */
  seq: Float64Array;
}

type WmsEventBody = WmsWebhookPayload['events'][number];

export class WmsFake {
  /** Page requests served (any status), for tests. */
  pageRequests = 0;
  readonly deliveries: Delivery[] = [];
  private readonly stock = new Map<string, number>();
  /** Per SKU, the number of its last movement (the watermark). */
  private readonly movements = new Map<string, number>();
  /** Per SKU, the end of its last webhook delivery (deliveries of one SKU go in order). */
  private readonly skuDeliveries = new Map<string, Promise<void>>();
  /** Lines waiting for stock, per SKU, oldest first. */
  private readonly waiting = new Map<string, Backorder[]>();
  private readonly snapshots = new Map<string, FrozenSnapshot>();
  private pinned: FrozenSnapshot | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly instance = randomUUID().slice(0, 8);
  private sequence = 0;
  private faults: PageFaults = {};
  private paused: { promise: Promise<void>; release: () => void } | undefined;
  private pendingPages = 0;
  private pendingWaiters: (() => void)[] = [];
  private readonly clock: () => number;
  private closed = false;
  /** Retry waits in progress, so close() can end them at once. */
  private readonly retryWaits = new Map<NodeJS.Timeout, () => void>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    private readonly options: WmsFakeOptions,
  ) {
    this.clock = options.clock ?? Date.now;
  }

  static async start(options: WmsFakeOptions): Promise<WmsFake> {
    const retryDelayMs = options.webhookRetryDelayMs ?? 0;
    if (!Number.isFinite(retryDelayMs) || retryDelayMs < 0) throw new Error(`webhookRetryDelayMs must be a number >= 0, got ${retryDelayMs}`);
    let fake: WmsFake | undefined;
    const server = createServer((request, response) => {
      void fake!.handle(request, response).catch((error: unknown) => {
        if (!response.headersSent) answer(response, 500, { error: error instanceof Error ? error.message : String(error) });
        else response.destroy();
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('the WMS fake has no TCP address');
    fake = new WmsFake(server, `http://127.0.0.1:${address.port}`, options);
    server.on('connection', (socket) => {
      fake!.sockets.add(socket);
      socket.once('close', () => fake!.sockets.delete(socket));
    });
    return fake;
  }

  /** Sets the physical on-hand without telling stockguard (the state both sides start from). */
  seed(stock: Iterable<readonly [string, number]>): void {
    for (const [sku, onHand] of stock) this.stock.set(sku, onHand);
  }

  onHand(sku: string): number | undefined {
    return this.stock.get(sku);
  }

  /** The SKU's last movement number (0 before its first movement). */
  lastMovement(sku: string): number {
    return this.movements.get(sku) ?? 0;
  }

  get skuCount(): number {
    return this.stock.size;
  }

  /** Goods received: on-hand += quantity, reported as a `receipt`. Backordered lines of the SKU then ship. */
  async receive(sku: string, quantity: number, options: OperationOptions = {}): Promise<Delivery> {
    const delivery = await this.operate(sku, quantity, { id: this.nextId('rcpt'), type: 'receipt', sku, quantity }, options);
    await this.shipBackorders(sku);
    return delivery;
  }

  /**
   * A pick / shipment confirmation for an order line: on-hand −= what is on the shelf, up to
   * `quantity`, reported as a `shipment` of that many. A warehouse never ships units it does
   * not have: the rest is backordered and ships when stock arrives (receipt, adjustment up,
   * count up). Nothing on the shelf: no webhook, outcome 'backordered'.
   */
  async ship(sku: string, quantity: number, order: OrderRef, options: OperationOptions = {}): Promise<Delivery> {
    const shipped = Math.min(quantity, this.shelf(sku));
    if (shipped < quantity) this.backorder({ sku, quantity: quantity - shipped, order });
    if (shipped === 0) {
      const delivery: Delivery = { eventId: '', outcome: 'backordered', shipped: 0 };
      this.deliveries.push(delivery);
      return delivery;
    }
    const delivery = await this.operate(sku, -shipped, { id: this.nextId('ship'), type: 'shipment', sku, quantity: shipped, order }, options);
    return { ...delivery, shipped };
  }

  /** An adjustment the WMS knows about (damage found, stock found): reported as an `adjustment`. A loss takes at most what is on the shelf. */
  async adjust(sku: string, delta: number, reason?: string, options: OperationOptions = {}): Promise<Delivery> {
    const applied = Math.max(delta, -this.shelf(sku));
    if (applied === 0) throw new Error(`adjust(${sku}, ${delta}): nothing on the shelf to adjust down`);
    const delivery = await this.operate(sku, applied, { id: this.nextId('adj'), type: 'adjustment', sku, delta: applied, ...(reason ? { reason } : {}) }, options);
    if (applied > 0) await this.shipBackorders(sku);
    return delivery;
  }

  /** A cycle count: on-hand := counted (never below 0), reported as a `count`. */
  async count(sku: string, counted: number, options: OperationOptions = {}): Promise<Delivery> {
    if (!Number.isSafeInteger(counted) || counted < 0) throw new Error(`count(${sku}, ${counted}): a count is a whole number >= 0`);
    const before = this.stock.get(sku) ?? 0;
    const delivery = await this.operate(sku, counted - before, { id: this.nextId('cc'), type: 'count', sku, counted }, options);
    if (counted > before) await this.shipBackorders(sku);
    return delivery;
  }

  /** Shrinkage: units disappear (theft, damage nobody recorded), at most what is on the shelf. Nothing is reported. Answers the units lost. */
  shrink(sku: string, units: number): number {
    const lost = Math.min(units, this.shelf(sku));
    this.stock.set(sku, (this.stock.get(sku) ?? 0) - lost);
    return lost;
  }

  /**
   * A mis-pick: the picker took `pickedSku` for a line of `orderedSku`. The WMS confirms the
   * shipment of the ordered SKU (so stockguard moves that one), while physically the picked
   * SKU left the shelf: the ordered SKU is `quantity` over, the picked one `quantity` short.
   * The picker can only take what is on the picked SKU's shelf.
   */
  async misPick(orderedSku: string, pickedSku: string, quantity: number, order: OrderRef): Promise<Delivery> {
    const taken = Math.min(quantity, this.shelf(pickedSku));
    if (taken === 0) return this.ship(orderedSku, quantity, order);
    this.stock.set(pickedSku, (this.stock.get(pickedSku) ?? 0) - taken);
    if (taken < quantity) this.backorder({ sku: orderedSku, quantity: quantity - taken, order });
    return { ...(await this.deliver(this.numbered({ id: this.nextId('ship'), type: 'shipment', sku: orderedSku, quantity: taken, order }))), shipped: taken };
  }

  /** Lines waiting for stock (all SKUs, or one), oldest first. */
  backorders(sku?: string): Backorder[] {
    if (sku !== undefined) return [...(this.waiting.get(sku) ?? [])];
    return [...this.waiting.values()].flat();
  }

  /** Units on the shelf: never negative. */
  private shelf(sku: string): number {
    return Math.max(0, this.stock.get(sku) ?? 0);
  }

  private backorder(line: Backorder): void {
    const queue = this.waiting.get(line.sku) ?? [];
    queue.push(line);
    this.waiting.set(line.sku, queue);
  }

  /** Ships waiting lines of the SKU, oldest first, while the shelf has stock. */
  private async shipBackorders(sku: string): Promise<void> {
    const queue = this.waiting.get(sku);
    if (!queue) return;
    this.waiting.delete(sku);
    for (const line of queue) await this.ship(line.sku, line.quantity, line.order);
  }

  /** Freezes a snapshot now; the next `GET /v1/stock` without a cursor serves it. Returns its as-of. */
  pinSnapshot(): number {
    this.pinned = this.freeze();
    return this.pinned.asOfMs;
  }

  /** Slow pages and 5xx for the page requests that follow; `{}` clears them. */
  setPageFaults(faults: PageFaults): void {
    this.faults = { ...faults };
  }

  /** Page requests wait (after being counted as pending) until resumePages(). */
  pausePages(): void {
    if (this.paused) return;
    let release = () => undefined as void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.paused = { promise, release };
  }

  resumePages(): void {
    this.paused?.release();
    this.paused = undefined;
  }

  /** Resolves once a page request is waiting on pausePages(). */
  waitForPendingPage(): Promise<void> {
    if (this.pendingPages > 0) return Promise.resolve();
    return new Promise((resolve) => this.pendingWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [timer, resolve] of this.retryWaits) {
      clearTimeout(timer);
      resolve();
    }
    this.retryWaits.clear();
    this.resumePages();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private nextId(kind: string): string {
    this.sequence += 1;
    return `wmsfake-${this.instance}-${kind}-${this.sequence}`;
  }

  /**
   * The event with the SKU's next movement number, taken when the warehouse records the
   * movement: a lost event still uses its number, as it would in a real WMS.
   */
  private numbered(event: WmsEventBody): WmsEventBody {
    if (this.options.watermark === false) return event;
    const seq = (this.movements.get(event.sku) ?? 0) + 1;
    this.movements.set(event.sku, seq);
    return { ...event, seq };
  }

  private async operate(sku: string, delta: number, unnumbered: WmsEventBody, options: OperationOptions): Promise<Delivery> {
    this.stock.set(sku, (this.stock.get(sku) ?? 0) + delta);
    const event = this.numbered(unnumbered);
    if (options.lose) {
      const delivery: Delivery = { eventId: event.id, outcome: 'lost' };
      this.deliveries.push(delivery);
      return delivery;
    }
    if (options.snapshotBeforeDelivery) this.pinSnapshot();
    return this.deliver(event);
  }

  /**
   * A WMS reports one SKU's events in the order they happened: a delivery waits for the
   * SKU's previous one (its retries included). Without that a cycle count could reach
   * stockguard before a shipment made before it, and the shipment would be subtracted
   * from the counted stock a second time.
   */
  private deliver(event: WmsEventBody): Promise<Delivery> {
    const previous = this.skuDeliveries.get(event.sku) ?? Promise.resolve();
    const delivery = previous.then(() => this.send(event));
    const tail = delivery.then(
      () => undefined,
      () => undefined,
    );
    this.skuDeliveries.set(event.sku, tail);
    void tail.then(() => {
      if (this.skuDeliveries.get(event.sku) === tail) this.skuDeliveries.delete(event.sku);
    });
    return delivery;
  }

  private async send(event: WmsEventBody): Promise<Delivery> {
    const payload = { events: [event] };
    // The fake never sends what the documented payload does not allow.
    const checked = WmsWebhookPayload.safeParse(payload);
    if (!checked.success) throw new Error(`the WMS fake built an invalid webhook: ${checked.error.message}`);
    const target = this.options.webhook;
    if (!target) {
      const delivery: Delivery = { eventId: event.id, outcome: 'none' };
      this.deliveries.push(delivery);
      return delivery;
    }
    const body = JSON.stringify(payload);
    let outcome: Delivery['outcome'] = 'network-error';
    const retryDelayMs = this.options.webhookRetryDelayMs ?? 0;
    for (let attempt = 0; attempt < (this.options.webhookAttempts ?? 3); attempt += 1) {
      if (attempt > 0 && retryDelayMs > 0) {
        await this.retryWait(retryDelayMs);
        if (this.closed) break;
      }
      const timestamp = String(Math.floor(this.clock() / 1000));
      try {
        const response = await fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, target.secret) },
          body,
        });
        await response.body?.cancel();
        outcome = response.status;
        if (response.status < 500) break;
      } catch {
        outcome = 'network-error';
      }
    }
    const delivery: Delivery = { eventId: event.id, outcome };
    this.deliveries.push(delivery);
    return delivery;
  }

  private retryWait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.retryWaits.delete(timer);
        resolve();
      }, ms);
      this.retryWaits.set(timer, resolve);
    });
  }

  private freeze(): FrozenSnapshot {
    const skus = [...this.stock.keys()];
    return { asOfMs: this.clock(), skus, onHand: Float64Array.from(this.stock.values()), seq: Float64Array.from(skus, (sku) => this.movements.get(sku) ?? 0) };
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://wms.invalid');
    if (request.method !== 'GET' || url.pathname !== '/v1/stock') return answer(response, 404, { error: `no route ${request.method} ${url.pathname}` });
    if (request.headers.authorization !== `Bearer ${this.options.token}`) return answer(response, 401, { error: 'missing or wrong bearer token' });
    this.pageRequests += 1;
    if (this.paused) {
      this.pendingPages += 1;
      for (const waiter of this.pendingWaiters.splice(0)) waiter();
      await this.paused.promise;
      this.pendingPages -= 1;
    }
    if (this.faults.delayMs) await new Promise((resolve) => setTimeout(resolve, this.faults.delayMs));
    if (this.faults.failNext && this.faults.failNext > 0) {
      this.faults.failNext -= 1;
      return answer(response, this.faults.status ?? 503, { error: 'injected failure' });
    }
    const limitParam = url.searchParams.get('limit');
    const limit = limitParam === null ? 1000 : Number(limitParam);
    if (!Number.isInteger(limit) || limit < 1) return answer(response, 400, { error: `limit must be a whole number ≥ 1, got ${JSON.stringify(limitParam)}` });
    const pageSize = Math.min(limit, this.options.maxPageSize ?? 5000);

    const cursor = url.searchParams.get('cursor');
    let snapshotId: string;
    let offset: number;
    if (cursor === null) {
      snapshotId = randomUUID();
      offset = 0;
      this.snapshots.set(snapshotId, this.pinned ?? this.freeze());
      this.pinned = undefined;
      // A few snapshots in flight at most: the oldest go first.
      while (this.snapshots.size > 4) this.snapshots.delete(this.snapshots.keys().next().value!);
    } else {
      const match = /^([0-9a-f-]{36})\.(\d+)$/.exec(cursor);
      if (!match || !this.snapshots.has(match[1]!)) return answer(response, 400, { error: 'unknown or expired cursor' });
      snapshotId = match[1]!;
      offset = Number(match[2]);
    }
    const snapshot = this.snapshots.get(snapshotId)!;
    const end = Math.min(offset + pageSize, snapshot.skus.length);
    const items: WmsStockResponse['items'] = [];
    const watermark = this.options.watermark !== false;
    for (let index = offset; index < end; index += 1) {
      items.push({ sku: snapshot.skus[index]!, onHand: snapshot.onHand[index]!, ...(watermark ? { seq: snapshot.seq[index]! } : {}) });
    }
    const nextCursor = end < snapshot.skus.length ? `${snapshotId}.${end}` : null;
    if (nextCursor === null) this.snapshots.delete(snapshotId);
    const body: WmsStockResponse = { asOf: new Date(snapshot.asOfMs).toISOString(), items, nextCursor };
    answer(response, 200, body);
  }
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}
