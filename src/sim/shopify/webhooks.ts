// Shopify webhook deliveries: REST-shaped JSON payloads, the headers Shopify sends, and the
// HMAC signature (shopify-notes.md §4). Payload ids are bigint and are written as bare JSON
// numbers, so ids above 2^53 reach the receiver exactly as Shopify sends them: a receiver
// that uses plain JSON.parse rounds them, one that reads admin_graphql_api_id does not.
import { createHmac, randomUUID } from 'node:crypto';
import { checkLogLimit, trimLog } from '../boundedLog.ts';
import { gid, inventoryLevelGid } from './ids.ts';

/** JSON with bigint allowed (serialized as a bare number). */
export type WebhookJson = null | boolean | number | string | bigint | readonly WebhookJson[] | { readonly [key: string]: WebhookJson };

export function serializeWebhookBody(value: WebhookJson): string {
  if (typeof value === 'bigint') return value.toString();
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: WebhookJson) => serializeWebhookBody(item)).join(',')}]`;
  const entries = Object.entries(value as { readonly [key: string]: WebhookJson });
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${serializeWebhookBody(item)}`).join(',')}}`;
}

/** Base64 HMAC-SHA256 of the raw body bytes, keyed with the app's client secret. */
export function signWebhookBody(body: string | Uint8Array, appSecret: string): string {
  return createHmac('sha256', appSecret).update(body).digest('base64');
}

export interface StorefrontOrderLine {
  readonly lineItemId: bigint;
  readonly variantId: bigint;
  readonly productId: bigint;
  readonly inventoryItemId: string;
  readonly locationId: string;
  readonly sku: string | null;
  readonly title: string;
  readonly quantity: number;
  readonly price: string;
}

export interface StorefrontOrder {
  readonly id: bigint;
  readonly orderNumber: number;
  readonly createdAt: string;
  updatedAt: string;
  cancelledAt: string | null;
  readonly lines: readonly StorefrontOrderLine[];
}

function money(amount: number): string {
  return amount.toFixed(2);
}

/** The REST Order resource as `orders/create` and `orders/cancelled` deliver it (fields per the 2026-07 REST fixtures). */
export function orderPayload(order: StorefrontOrder, currency = 'USD'): WebhookJson {
  const cancelled = order.cancelledAt !== null;
  const total = order.lines.reduce((sum, line) => sum + Number(line.price) * line.quantity, 0);
  return {
    id: order.id,
    admin_graphql_api_id: gid('Order', order.id),
    name: `#${order.orderNumber}`,
    order_number: order.orderNumber,
    number: order.orderNumber - 1000,
    email: `buyer-${order.orderNumber}@example.com`,
    created_at: order.createdAt,
    updated_at: order.updatedAt,
    processed_at: order.createdAt,
    cancelled_at: order.cancelledAt,
    cancel_reason: cancelled ? 'customer' : null,
    closed_at: null,
    confirmed: true,
    test: false,
    currency,
    presentment_currency: currency,
    financial_status: cancelled ? 'voided' : 'paid',
    fulfillment_status: null,
    source_name: 'web',
    subtotal_price: money(total),
    total_price: money(total),
    line_items: order.lines.map((line) => ({
      id: line.lineItemId,
      admin_graphql_api_id: gid('LineItem', line.lineItemId),
      variant_id: line.variantId,
      product_id: line.productId,
      sku: line.sku,
      title: line.title,
      name: line.title,
      quantity: line.quantity,
      current_quantity: cancelled ? 0 : line.quantity,
      fulfillable_quantity: cancelled ? 0 : line.quantity,
      fulfillment_status: null,
      fulfillment_service: 'manual',
      variant_inventory_management: 'shopify',
      requires_shipping: true,
      taxable: true,
      gift_card: false,
      price: line.price,
    })),
  };
}

/** `inventory_levels/update`: Shopify's sample carries only available, not the other states. */
export function inventoryLevelPayload(level: { itemNumericId: bigint; locationNumericId: bigint; available: number; updatedAt: string }): WebhookJson {
  return {
    inventory_item_id: level.itemNumericId,
    location_id: level.locationNumericId,
    available: level.available,
    updated_at: level.updatedAt,
    admin_graphql_api_id: inventoryLevelGid(level.locationNumericId, level.itemNumericId),
  };
}

export interface WebhookDelivery {
  readonly webhookId: string;
  readonly eventId: string;
  readonly topic: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP status the receiver answered, or undefined when it did not answer. */
  status: number | undefined;
  /** Why the delivery failed without a status (connection refused, 5 s timeout, fake closed). */
  error: string | undefined;
  sentAt: string | undefined;
}

export interface EmitOptions {
  /** Send the same event again: true for one extra delivery, or a count. Same X-Shopify-Event-Id, a new X-Shopify-Webhook-Id. */
  duplicate?: boolean | number;
  /** Wait this long before the first delivery (several emits with different delays arrive out of order). Default: the emitter's delivery lag for the topic, else none. */
  delayMs?: number;
  /** Reuse an event id, e.g. to replay an event as a separate emit. */
  eventId?: string;
  /** X-Shopify-Triggered-At; defaults to now. Retries keep the original. */
  triggeredAt?: string;
}

export interface RedeliverOptions {
  /**
   * X-Shopify-Triggered-At of the redelivery; defaults to the original delivery's. Set it to
   * model a retry that arrives long after its event (the trigger time hours in the past).
   */
  triggeredAt?: string;
}

export interface WebhookEmitterOptions {
  url: string | undefined;
  appSecret: string;
  shopDomain: string;
  apiVersion: string;
  clock: () => number;
  /**
   * Keep at most about this many deliveries in the log (and so redeliverable); the oldest go
   * first, dropped in chunks once the log is a quarter over. Default: keep every delivery.
   */
  logLimit?: number;
  /** Delivery lag per topic: draws the wait before a delivery whose emit sets no `delayMs`; undefined: none. */
  deliveryLag?: (topic: string) => (() => number) | undefined;
}

// Shopify fails a delivery that has not answered within 5 s (shopify-notes.md §4.3).
const DELIVERY_TIMEOUT_MS = 5000;
// A webhook id is a UUID whose last 12 hex digits count the emitter's deliveries, so an id
// the log no longer holds can still be told apart from one this emitter never sent.
const WEBHOOK_SEQUENCE_DIGITS = 12;

export class WebhookEmitter {
  private readonly log: WebhookDelivery[] = [];
  private readonly byWebhookId = new Map<string, WebhookDelivery>();
  private readonly inFlight = new Set<AbortController>();
  private readonly pending = new Set<Promise<unknown>>();
  /** Delays (delayMs, delivery lags) still running: close() ends them, and their deliveries fail as "Shopify fake closed". */
  private readonly sleeping = new Map<NodeJS.Timeout, () => void>();
  private readonly idPrefix = randomUUID().slice(0, 36 - WEBHOOK_SEQUENCE_DIGITS);
  private readonly logLimit: number | undefined;
  private sequence = 0;
  /** Sequence number of the newest delivery dropped from the log (0: none). */
  private droppedThrough = 0;
  private closed = false;

  constructor(private readonly options: WebhookEmitterOptions) {
    this.logLimit = checkLogLimit('webhookLogLimit', options.logLimit);
  }

  set url(url: string | undefined) {
    this.options.url = url;
  }

  get url(): string | undefined {
    return this.options.url;
  }

  deliveries(): readonly WebhookDelivery[] {
    return this.log;
  }

  /** Delivers one event (and any duplicates); resolves with every delivery once all are done. */
  async emit(topic: string, payload: WebhookJson | string, options: EmitOptions = {}): Promise<WebhookDelivery[]> {
    const url = this.options.url;
    if (!url) throw new Error('Shopify fake: no webhookUrl configured (pass webhookUrl to startShopifyFake or call setWebhookUrl)');
    const body = typeof payload === 'string' ? payload : serializeWebhookBody(payload);
    const eventId = options.eventId ?? randomUUID();
    const triggeredAt = options.triggeredAt ?? new Date(this.options.clock()).toISOString();
    const copies = 1 + (options.duplicate === true ? 1 : typeof options.duplicate === 'number' ? options.duplicate : 0);
    const delayMs = options.delayMs ?? this.options.deliveryLag?.(topic)?.();
    const work = (async () => {
      if (delayMs) await this.sleep(delayMs);
      const deliveries: WebhookDelivery[] = [];
      for (let copy = 0; copy < copies; copy += 1) {
        deliveries.push(await this.send(url, this.prepare(topic, body, eventId, triggeredAt)));
      }
      return deliveries;
    })();
    return this.track(work);
  }

  /** The logged delivery with this X-Shopify-Webhook-Id, if the log still holds it. */
  delivery(webhookId: string): WebhookDelivery | undefined {
    return this.byWebhookId.get(webhookId);
  }

  /**
   * Sends a recorded delivery again with its original body and event id, as Shopify's retries
   * do; X-Shopify-Triggered-At stays the original's unless `options.triggeredAt` says otherwise.
   */
  async redeliver(webhookId: string, options: RedeliverOptions = {}): Promise<WebhookDelivery> {
    const original = this.byWebhookId.get(webhookId);
    if (!original) {
      const sequence = this.sequenceOf(webhookId);
      if (sequence !== undefined && sequence <= this.droppedThrough) {
        throw new Error(
          `webhook ${webhookId} cannot be redelivered: it was dropped from the delivery log because of webhookLogLimit (${this.logLimit ?? 'unlimited'}); ` +
            `the fake keeps only the newest deliveries, so raise webhookLogLimit to redeliver older ones`,
        );
      }
      throw new Error(`no delivery with webhook id ${webhookId}`);
    }
    const url = this.options.url;
    if (!url) throw new Error('Shopify fake: no webhookUrl configured');
    const triggeredAt = options.triggeredAt ?? original.headers['X-Shopify-Triggered-At'] ?? new Date(this.options.clock()).toISOString();
    return this.track(this.send(url, this.prepare(original.topic, original.body, original.eventId, triggeredAt)));
  }

  /** Whether deliveries of this topic wait for a delivery lag. */
  lagged(topic: string): boolean {
    return this.options.deliveryLag?.(topic) !== undefined;
  }

  /** Fire-and-forget deliveries made by the fake itself (echoes, storefront orders): failures are only logged. */
  background(topic: string, payload: WebhookJson): void {
    if (!this.options.url || this.closed) return;
    this.emit(topic, payload).catch(() => undefined);
  }

  /** Waits for every delivery started so far. */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const [timer, wake] of this.sleeping) {
      clearTimeout(timer);
      wake();
    }
    this.sleeping.clear();
    for (const controller of this.inFlight) controller.abort(new Error('Shopify fake closed'));
    await this.settle();
  }

  /** The emitter sequence number in one of its own webhook ids; undefined for any other string. */
  private sequenceOf(webhookId: string): number | undefined {
    if (webhookId.length !== 36 || !webhookId.startsWith(this.idPrefix)) return undefined;
    const digits = webhookId.slice(this.idPrefix.length);
    return /^[0-9a-f]+$/.test(digits) ? Number.parseInt(digits, 16) : undefined;
  }

  private prepare(topic: string, body: string, eventId: string, triggeredAt: string): WebhookDelivery {
    this.sequence += 1;
    const webhookId = `${this.idPrefix}${this.sequence.toString(16).padStart(WEBHOOK_SEQUENCE_DIGITS, '0')}`;
    const delivery: WebhookDelivery = {
      webhookId,
      eventId,
      topic,
      body,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': 'Shopify-Captain-Hook',
        'X-Shopify-Topic': topic,
        'X-Shopify-Hmac-Sha256': signWebhookBody(body, this.options.appSecret),
        'X-Shopify-Shop-Domain': this.options.shopDomain,
        'X-Shopify-API-Version': this.options.apiVersion,
        'X-Shopify-Webhook-Id': webhookId,
        'X-Shopify-Event-Id': eventId,
        'X-Shopify-Triggered-At': triggeredAt,
      },
      status: undefined,
      error: undefined,
      sentAt: undefined,
    };
    this.log.push(delivery);
    this.byWebhookId.set(webhookId, delivery);
    const dropped = trimLog(this.log, this.logLimit);
    for (const old of dropped) this.byWebhookId.delete(old.webhookId);
    const newest = dropped.at(-1);
    if (newest) this.droppedThrough = this.sequenceOf(newest.webhookId) ?? this.droppedThrough;
    return delivery;
  }

  private async send(url: string, delivery: WebhookDelivery): Promise<WebhookDelivery> {
    if (this.closed) {
      delivery.error = 'Shopify fake closed';
      return delivery;
    }
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error(`no answer within ${DELIVERY_TIMEOUT_MS} ms`)), DELIVERY_TIMEOUT_MS);
    this.inFlight.add(controller);
    try {
      delivery.sentAt = new Date(this.options.clock()).toISOString();
      const response = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body, signal: controller.signal });
      await response.arrayBuffer();
      delivery.status = response.status;
    } catch (error) {
      const reason: unknown = controller.signal.aborted ? controller.signal.reason : error;
      delivery.error = reason instanceof Error ? reason.message : String(reason);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(controller);
    }
    return delivery;
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    const forget = (): void => {
      this.pending.delete(work);
    };
    work.then(forget, forget);
    return work;
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping.delete(timer);
        resolve();
      }, ms);
      this.sleeping.set(timer, resolve);
    });
  }
}
