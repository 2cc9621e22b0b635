// Maps a verified Shopify webhook (REST-shaped JSON) to stockguard events. Pure: the HTTP
// edge has already checked the HMAC and parsed the body losslessly. Ids come from the
// `admin_graphql_api_id` strings, which carry the exact id (numeric ids can exceed 2^53).
import { type ChannelLevelEvent, type OrderCancelledEvent, type OrderPlacedEvent, StockguardEvent } from './events.ts';

export type WebhookOutcome =
  | { kind: 'events'; events: StockguardEvent[]; skippedLines: number }
  | { kind: 'ignored'; reason: string }
  | { kind: 'rejected'; reason: string };

export interface WebhookContext {
  /** X-Shopify-Event-Id: shared by every delivery of one merchant action. */
  eventId: string;
  receivedAtMs: number;
}

export const SHOPIFY_TOPICS = ['orders/create', 'orders/updated', 'orders/cancelled', 'inventory_levels/update', 'inventory_items/update'] as const;

export function mapShopifyWebhook(topic: string, payload: unknown, context: WebhookContext): WebhookOutcome {
  if (!isRecord(payload)) return { kind: 'rejected', reason: 'the body is not a JSON object' };
  const base = { eventId: `${topic}:${context.eventId}`, source: 'shopify-webhook' as const, receivedAtMs: context.receivedAtMs };
  switch (topic) {
    case 'orders/create':
    case 'orders/updated':
    case 'orders/cancelled':
      return mapOrder(topic, payload, { ...base, ...orderCreatedAt(payload) });
    case 'inventory_levels/update':
      return mapInventoryLevel(payload, base);
    case 'inventory_items/update':
      // Carries no quantity: nothing for the ledger or for drift. Acknowledged and counted.
      return { kind: 'ignored', reason: 'inventory_items/update carries no quantity' };
    default:
      return { kind: 'ignored', reason: `topic ${topic} is not one stockguard subscribes to` };
  }
}

type Base = Pick<OrderPlacedEvent, 'eventId' | 'source' | 'receivedAtMs' | 'occurredAtMs'>;

/**
 * The order's `created_at` as the events' own time: every later `orders/updated` of the order
 * carries the same, so a delivery about an order older than the dedupe horizon whose
 * reservation records were swept is refused as stale instead of reserving it again.
 */
function orderCreatedAt(order: Record<string, unknown>): { occurredAtMs?: number } {
  const createdAtMs = typeof order.created_at === 'string' ? Date.parse(order.created_at) : Number.NaN;
  return Number.isFinite(createdAtMs) && createdAtMs >= 0 ? { occurredAtMs: createdAtMs } : {};
}

function mapOrder(topic: string, order: Record<string, unknown>, base: Base): WebhookOutcome {
  const orderId = gidOrId(order, 'Order');
  if (!orderId) return { kind: 'rejected', reason: 'order has neither admin_graphql_api_id nor id' };
  if (!Array.isArray(order.line_items)) return { kind: 'rejected', reason: `order ${orderId}: line_items is missing or not an array` };
  const lines: OrderPlacedEvent['lines'] = [];
  /** line_items index of each kept line, to name the Shopify field when a value is refused. */
  const itemIndexes: number[] = [];
  let skippedLines = 0;
  for (const [index, item] of order.line_items.entries()) {
    if (!isRecord(item)) return { kind: 'rejected', reason: `order ${orderId}: line_items[${index}] is not an object` };
    const lineId = gidOrId(item, 'LineItem');
    const quantity = item.quantity;
    if (!lineId) return { kind: 'rejected', reason: `order ${orderId}: line_items[${index}] has no id` };
    if (typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 0) {
      return { kind: 'rejected', reason: `order ${orderId}: line_items[${index}].quantity must be a whole number ≥ 0, got ${JSON.stringify(quantity)}` };
    }
    // Gift cards and custom items (no variant, no SKU text) hold no warehouse stock.
    // Every other line names its variant and maybe its SKU text; the consumer resolves
    // them through the catalogue (invariant I9) and dead-letters a line neither maps.
    const variantId = toId(item.variant_id);
    const skuText = typeof item.sku === 'string' && item.sku.trim() !== '' ? item.sku : undefined;
    if (item.gift_card === true || quantity === 0 || (variantId === undefined && skuText === undefined)) {
      skippedLines += 1;
      continue;
    }
    const refs = [
      ...(variantId === undefined ? [] : [`shopify-variant:gid://shopify/ProductVariant/${variantId}`]),
      ...(skuText === undefined ? [] : [`shopify-sku:${skuText}`]),
    ];
    // `variant_inventory_management: null`: Shopify tracks no stock for the variant.
    const tracked = 'variant_inventory_management' in item && item.variant_inventory_management === null ? { tracked: false } : {};
    lines.push({ lineId, refs, ...tracked, quantity });
    itemIndexes.push(index);
  }
  if (lines.length === 0) return { kind: 'ignored', reason: `order ${orderId} has no stocked line (only gift cards, custom items or quantity 0)` };

  const cancelled = topic === 'orders/cancelled' || (typeof order.cancelled_at === 'string' && order.cancelled_at !== '');
  const events: StockguardEvent[] = [];
  if (topic !== 'orders/cancelled') {
    events.push({ ...base, eventId: `${base.eventId}:placed`, type: 'order.placed', channel: 'shopify', orderId, lines });
  }
  if (cancelled) {
    const cancelledLines: OrderCancelledEvent['lines'] = lines.map(({ quantity: _quantity, ...line }) => line);
    events.push({ ...base, eventId: `${base.eventId}:cancelled`, type: 'order.cancelled', channel: 'shopify', orderId, lines: cancelledLines });
  }
  const origin = (path: readonly PropertyKey[]): string => {
    const [field, index, lineField] = path;
    if (field === 'orderId') return 'admin_graphql_api_id';
    if (field !== 'lines' || typeof index !== 'number') return String(field ?? 'order');
    const item = `line_items[${itemIndexes[index] ?? index}]`;
    if (lineField === 'refs') return `${item}.variant_id/sku`;
    return lineField === 'lineId' ? `${item}.admin_graphql_api_id` : lineField === undefined ? item : `${item}.${String(lineField)}`;
  };
  return checked(`order ${orderId}`, events, skippedLines, origin);
}

function mapInventoryLevel(level: Record<string, unknown>, base: Base): WebhookOutcome {
  const itemId = toId(level.inventory_item_id);
  const locationId = toId(level.location_id);
  if (!itemId || !locationId) return { kind: 'rejected', reason: 'inventory_levels/update needs inventory_item_id and location_id' };
  if (typeof level.available !== 'number' || !Number.isInteger(level.available)) {
    // A level disconnected or not tracked: no quantity to compare.
    return { kind: 'ignored', reason: `inventory level ${itemId}@${locationId} has no available quantity` };
  }
  const updatedAt = typeof level.updated_at === 'string' ? Date.parse(level.updated_at) : Number.NaN;
  const event: ChannelLevelEvent = {
    ...base,
    type: 'channel.level',
    channel: 'shopify',
    channelItemId: `gid://shopify/InventoryItem/${itemId}`,
    channelLocationId: `gid://shopify/Location/${locationId}`,
    quantity: level.available,
    observedAtMs: Number.isNaN(updatedAt) ? base.receivedAtMs : updatedAt,
  };
  const fields: Record<string, string> = { quantity: 'available', observedAtMs: 'updated_at', channelItemId: 'inventory_item_id', channelLocationId: 'location_id' };
  return checked(`inventory level ${itemId}@${locationId}`, [event], 0, ([field]) => fields[String(field)] ?? String(field));
}

/**
 * Every event is checked against the stream schema the consumers apply (SKU ≤ 200
 * characters, ids ≤ 256, quantities ≤ 1e9, times ≥ 1970) before anything is published: a
 * signed body can still carry a value no consumer could apply, and refusing the delivery
 * whole is better than publishing an entry that only the dead-letter stream would take,
 * or half an `orders/updated` (its release without its reserve).
 */
function checked(subject: string, events: StockguardEvent[], skippedLines: number, origin: (path: readonly PropertyKey[]) => string): WebhookOutcome {
  const problems = new Set<string>();
  for (const event of events) {
    const result = StockguardEvent.safeParse(event);
    if (!result.success) for (const issue of result.error.issues) problems.add(`${origin(issue.path)}: ${issue.message}`);
  }
  if (problems.size > 0) return { kind: 'rejected', reason: `${subject}: ${[...problems].join('; ')}` };
  return { kind: 'events', events, skippedLines };
}

function gidOrId(record: Record<string, unknown>, resource: string): string | undefined {
  const gid = record.admin_graphql_api_id;
  if (typeof gid === 'string' && gid.startsWith(`gid://shopify/${resource}/`)) return gid;
  const id = toId(record.id);
  return id ? `gid://shopify/${resource}/${id}` : undefined;
}

/** An id as exact digits: a safe integer, or the string the lossless parser kept. */
function toId(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) return value;
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
