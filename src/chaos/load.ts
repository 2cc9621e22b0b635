// The load of a chaos run and its ground-truth log: every fact the outside world saw
// (channel sales accepted, cancels, WMS events answered 2xx), which the checker compares
// with Redis. Every choice comes from the seeded PRNG. Shopify webhooks that get no 2xx are
// redelivered until acknowledged, as Shopify does; Amazon notifications stay in SQS until
// the poller deletes them; the WMS fake retries its deliveries.
import type { WebhookDelivery } from '../sim/shopify/webhooks.ts';
import type { ChaosFigures } from './figures.ts';
import { sleep } from '../pushers/wait.ts';
import { FAKE_LOCATION } from '../sim/world.ts';
import type { ChaosSystem } from './system.ts';

export interface ChannelOrder {
  channel: 'shopify' | 'amazon';
  orderId: string;
  lineId: string;
  shopifyOrderId: bigint | undefined;
  sku: string;
  quantity: number;
  acceptedAtMs: number;
  cancelled: boolean;
  /** When the cancel was made on the channel (before its webhook was sent). */
  cancelledAtMs?: number;
  shipped: boolean;
  /** Position in the open Shopify orders (cancel candidates), -1 when not there. */
  openIndex: number;
}

export interface WmsAck {
  eventId: string;
  type: 'shipment' | 'receipt';
  sku: string;
  quantity: number;
  /** When the daemon's 2xx reached the WMS. */
  ackedAtMs: number;
}

interface AcknowledgedDelivery {
  topic: string;
  body: string;
  eventId: string;
}

type OrderTopic = 'orders/create' | 'orders/cancelled';

const RECENT = 64;

export class LoadGenerator {
  readonly orders: ChannelOrder[] = [];
  readonly wmsAcked: WmsAck[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Orders in acceptance order; the head is the next to ship once it is 1.5 s old. */
  private readonly shipQueue: ChannelOrder[] = [];
  private shipHead = 0;
  private readonly openShopify: ChannelOrder[] = [];
  private readonly recent: AcknowledgedDelivery[] = [];
  private withhold = 0;
  private readonly withheld: { topic: OrderTopic; orderId: bigint }[] = [];

  constructor(
    private readonly system: ChaosSystem,
    private readonly figures: ChaosFigures,
    private readonly random: () => number,
  ) {}

  /** Sends one operation drawn from the PRNG. */
  async step(): Promise<void> {
    const { random, figures, system } = this;
    const { entries, shopify, amazon, wms } = system;
    const roll = random();
    const entry = entries[Math.floor(random() * entries.length)]!;
    const quantity = random() < 0.85 ? 1 : 2;
    const shippable = roll < 0.15 ? this.nextShippable(Date.now() - 1500) : undefined;
    if (shippable) {
      shippable.shipped = true;
      this.closeOpen(shippable);
      figures.sent.shipments += 1;
      this.track(
        wms.ship(shippable.sku, shippable.quantity, { channel: shippable.channel, orderId: shippable.orderId, lineId: shippable.lineId }).then((delivery) => {
          // A line the shelf cannot cover is shipped in part or backordered (it ships with a later receipt).
          if (typeof delivery.outcome === 'number' && isOk(delivery.outcome)) this.wmsAcked.push({ eventId: delivery.eventId, type: 'shipment', sku: shippable.sku, quantity: delivery.shipped ?? shippable.quantity, ackedAtMs: Date.now() });
          else if (delivery.outcome !== 'backordered') figures.wmsUnacknowledged += 1;
        }),
      );
    } else if (roll < 0.2) {
      // Receipts about match the units sold, so a long run keeps selling.
      const receiptQuantity = 1 + Math.floor(random() * 30);
      figures.sent.receipts += 1;
      this.track(
        wms.receive(entry.sku, receiptQuantity).then((delivery) => {
          if (typeof delivery.outcome === 'number' && isOk(delivery.outcome)) this.wmsAcked.push({ eventId: delivery.eventId, type: 'receipt', sku: entry.sku, quantity: receiptQuantity, ackedAtMs: Date.now() });
          else figures.wmsUnacknowledged += 1;
        }),
      );
    } else if (roll < 0.25) {
      if (this.openShopify.length === 0) return;
      const victim = this.openShopify[Math.floor(random() * this.openShopify.length)]!;
      victim.cancelled = true;
      victim.cancelledAtMs = Date.now();
      this.closeOpen(victim);
      figures.sent.cancels += 1;
      const orderId = victim.shopifyOrderId!;
      this.track(shopify.cancelStorefrontOrder(orderId, { webhooks: false }).then(() => this.orderWebhook('orders/cancelled', orderId)));
    } else if (roll < 0.62) {
      let sale;
      try {
        sale = await shopify.sellOnStorefront(entry.shopify!.inventoryItemId, FAKE_LOCATION, quantity, { webhooks: false });
      } catch {
        figures.sent.refusedByChannel += 1;
        return;
      }
      figures.sent.shopifySales += 1;
      const order = sale.order;
      this.accept({ channel: 'shopify', orderId: `gid://shopify/Order/${order.id}`, lineId: `gid://shopify/LineItem/${order.lines[0]!.lineItemId}`, shopifyOrderId: order.id, sku: entry.sku, quantity, acceptedAtMs: Date.now(), cancelled: false, shipped: false, openIndex: -1 });
      if (this.withhold > 0) {
        // Every attempt of this delivery is lost until the delayed-retry fault sends it, hours late.
        this.withhold -= 1;
        this.withheld.push({ topic: 'orders/create', orderId: order.id });
        return;
      }
      this.track(this.orderWebhook('orders/create', order.id));
    } else {
      const copies = random() < 0.25 ? 1 : 0;
      const delayMs = 50 + Math.floor(random() * 400);
      // Decrements synchronously; a refusal rejects.
      this.track(
        amazon.sellOnAmazon(entry.amazon!.sellerSku, quantity, { publish: { duplicates: copies, delayMs } }).then(
          (sale) => {
            if (sale.fulfillment === 'FBA') return;
            figures.sent.amazonSales += 1;
            figures.duplicates.sqsCopies += copies;
            this.accept({ channel: 'amazon', orderId: sale.amazonOrderId, lineId: sale.orderItemId, shopifyOrderId: undefined, sku: entry.sku, quantity, acceptedAtMs: Date.now(), cancelled: false, shipped: false, openIndex: -1 });
          },
          () => void (figures.sent.refusedByChannel += 1),
        ),
      );
    }
  }

  /** Operations still in flight (deliveries and their retries). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Waits for every delivery started so far (retries included). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /** The next `count` orders/create deliveries are held back (delayed-retry fault). */
  withholdOrderWebhooks(count: number): void {
    this.withhold += count;
  }

  /** Sends the held deliveries now with a back-dated trigger time; returns how many. */
  releaseWithheld(triggeredAt: () => string): number {
    this.withhold = 0;
    const held = this.withheld.splice(0);
    for (const { topic, orderId } of held) this.track(this.orderWebhook(topic, orderId, triggeredAt()));
    return held.length;
  }

  /** The last `count` order deliveries Shopify got a 2xx for (newest first). */
  recentlyAcknowledged(count: number): AcknowledgedDelivery[] {
    return this.recent.slice(-count).reverse();
  }

  private accept(order: ChannelOrder): void {
    this.orders.push(order);
    this.shipQueue.push(order);
    if (order.channel === 'shopify') {
      order.openIndex = this.openShopify.length;
      this.openShopify.push(order);
    }
  }

  private closeOpen(order: ChannelOrder): void {
    if (order.openIndex < 0) return;
    const last = this.openShopify.pop()!;
    if (last !== order) {
      this.openShopify[order.openIndex] = last;
      last.openIndex = order.openIndex;
    }
    order.openIndex = -1;
  }

  private nextShippable(acceptedBefore: number): ChannelOrder | undefined {
    while (this.shipHead < this.shipQueue.length) {
      const head = this.shipQueue[this.shipHead]!;
      if (head.cancelled || head.shipped) {
        this.shipHead += 1;
        continue;
      }
      if (head.acceptedAtMs >= acceptedBefore) return undefined;
      this.shipHead += 1;
      if (this.shipHead > 100_000) {
        this.shipQueue.splice(0, this.shipHead);
        this.shipHead = 0;
      }
      return head;
    }
    return undefined;
  }

  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise));
  }

  // ≥ 20 % of deliveries twice (same event id), and a random delay that reorders them.
  private async orderWebhook(topic: OrderTopic, orderId: bigint, triggeredAt?: string): Promise<void> {
    const { shopify } = this.system;
    const duplicate = this.random() < 0.25;
    if (duplicate) this.figures.duplicates.shopifyWebhookCopies += 1;
    const payload = topic === 'orders/create' ? shopify.orderCreatePayload(orderId) : shopify.orderCancelledPayload(orderId);
    const order = shopify.order(orderId)!;
    const levels = order.lines.map((line) => shopify.inventoryLevelUpdatePayload(line.inventoryItemId, line.locationId));
    const deliveries = await shopify.emitWebhook(topic, payload, { duplicate, delayMs: Math.floor(this.random() * 300), triggeredAt });
    const acknowledged = await this.untilAcknowledged(deliveries);
    if (acknowledged) {
      this.recent.push({ topic, body: acknowledged.body, eventId: acknowledged.eventId });
      if (this.recent.length > RECENT * 2) this.recent.splice(0, RECENT);
    }
    // What Shopify believes after the checkout (drift detection's input), sent once.
    for (const level of levels) await shopify.emitWebhook('inventory_levels/update', level).catch(() => undefined);
  }

  // Shopify retries a webhook that got no 2xx (for hours); the generator plays that part.
  private async untilAcknowledged(deliveries: readonly WebhookDelivery[]): Promise<WebhookDelivery | undefined> {
    const ok = deliveries.find((delivery) => isOk(delivery.status));
    if (ok) return ok;
    const first = deliveries[0];
    if (!first) return undefined;
    const why = String(first.status ?? first.error);
    this.figures.webhookFailures[why] = (this.figures.webhookFailures[why] ?? 0) + 1;
    await sleep(250);
    // The original body, event id and trigger time (the fake keeps only recent deliveries).
    const retry = await resendUntil(this.system.shopify, first, first.headers['X-Shopify-Triggered-At'], isOk, 480, () => void (this.figures.duplicates.shopifyRedeliveries += 1));
    if (retry) return retry;
    this.figures.problems.push(`Shopify webhook ${first.eventId} never acknowledged`);
    return undefined;
  }
}

/**
 * Sends a Shopify delivery again (same topic, body and event id, with `triggeredAt`) every
 * 250 ms, as Shopify retries, until `accept` takes the answer's status; undefined when
 * `attempts` run out.
 */
export async function resendUntil(
  shopify: ChaosSystem['shopify'],
  delivery: { topic: string; body: string; eventId: string },
  triggeredAt: string | undefined,
  accept: (status: number | undefined) => boolean,
  attempts: number,
  onAttempt: () => void = () => undefined,
): Promise<WebhookDelivery | undefined> {
  for (let attempt = 0; attempt < attempts; attempt += 1) {
    onAttempt();
    const [sent] = await shopify.emitWebhook(delivery.topic, delivery.body, { eventId: delivery.eventId, triggeredAt });
    if (sent && accept(sent.status)) return sent;
    if (attempt + 1 < attempts) await sleep(250);
  }
  return undefined;
}

export function isOk(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}
