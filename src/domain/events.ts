// The events stockguard puts on its Redis streams, after an edge (a webhook, the SQS
// poller, the reservation API) has verified and normalised what a channel or the WMS
// sent. Consumers apply them to the ledger. Every event has a stable `eventId` taken from
// the sender (webhook event id, NotificationId, WMS event id) so a redelivery is
// recognised; the ledger's own idempotency (reservation id, shipment id, WMS event id)
// makes applying it twice harmless (invariant I2).
import { z } from 'zod';

export const CHANNELS = ['shopify', 'amazon', 'api'] as const;
export type Channel = (typeof CHANNELS)[number];

const id = z.string().min(1).max(256);
const sku = z.string().min(1).max(200);
const quantity = z.number().int().min(1).max(1_000_000_000);
/** The WMS movement number of the SKU (docs/wms.md, "Watermark"): 1, 2, 3, … per SKU. */
const movementNumber = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional();
/**
 * A channel identifier of an order line as a catalogue reference `<kind>:<identifier>`
 * (`amazon:<seller SKU>`, `shopify-variant:<variant gid>`, `shopify-sku:<SKU text>`): the
 * consumer resolves it through the catalogue's channel mapping (invariant I9).
 */
const ref = z
  .string()
  .regex(/^[a-z-]+:./, 'must be <kind>:<identifier>')
  // The identifier stays within the longest one a catalogue column holds (shopifySku, 255).
  .refine((value) => value.length - value.indexOf(':') - 1 <= (value.startsWith('amazon:') ? 200 : 255), 'the identifier is too long for the catalogue');
/**
 * Which SKU a line draws on: `sku` when the sender names our SKU (the reservation API, the
 * WMS), else `refs`, tried in order, resolved when the event is applied, so that a line a
 * catalogue fix maps later is applied by a replay of its dead letter.
 */
const lineTarget = {
  sku: sku.optional(),
  refs: z.array(ref).min(1).max(4).optional(),
  /**
   * False when the channel says the item's stock is not tracked (a Shopify variant whose
   * inventory nobody manages): such a line that maps to no SKU is not a warehouse sale.
   */
  tracked: z.boolean().optional(),
};
const targetRule = (line: { sku?: string | undefined; refs?: string[] | undefined }) => line.sku !== undefined || line.refs !== undefined;
const targetMessage = { message: 'a line needs sku or refs' };

const base = {
  eventId: id,
  /** Where the event came from, for logs and the dead-letter stream. */
  source: z.enum(['shopify-webhook', 'amazon-sqs', 'wms-webhook', 'reservation-api', 'replay']),
  receivedAtMs: z.number().int().nonnegative(),
  /**
   * When the event happened at its source (the order's creation time, the WMS `occurredAt`):
   * the ledger refuses an event it has no mark of that is older than the dedupe horizon
   * (STOCKGUARD_E_STALE_EVENT). Absent: `receivedAtMs` stands in.
   */
  occurredAtMs: z.number().int().nonnegative().optional(),
};

/** A sale: reserve these lines (one reserve call per SKU). */
export const OrderPlacedEvent = z.object({
  ...base,
  type: z.literal('order.placed'),
  channel: z.enum(CHANNELS),
  orderId: id,
  lines: z.array(z.object({ lineId: id, ...lineTarget, quantity }).refine(targetRule, targetMessage)).min(1),
});

/** A cancellation before shipment: release these lines. */
export const OrderCancelledEvent = z.object({
  ...base,
  type: z.literal('order.cancelled'),
  channel: z.enum(CHANNELS),
  orderId: id,
  lines: z.array(z.object({ lineId: id, ...lineTarget }).refine(targetRule, targetMessage)).min(1),
});

/** The WMS picked/shipped units of an order line. */
export const WmsShipmentEvent = z.object({
  ...base,
  type: z.literal('wms.shipment'),
  sku,
  channel: z.enum(CHANNELS),
  orderId: id,
  lineId: id,
  quantity,
  seq: movementNumber,
});

/** The WMS received stock or adjusted it (signed delta). */
export const WmsAdjustmentEvent = z.object({
  ...base,
  type: z.literal('wms.adjustment'),
  sku,
  cause: z.enum(['receipt', 'adjustment']),
  delta: z.number().int().min(-1_000_000_000).max(1_000_000_000).refine((value) => value !== 0, 'must not be 0'),
  seq: movementNumber,
});

/** A cycle count: on_hand is what was counted. */
export const WmsCountEvent = z.object({
  ...base,
  type: z.literal('wms.count'),
  sku,
  counted: z.number().int().min(0).max(1_000_000_000),
  seq: movementNumber,
});

/** What a channel says it is selling now (drift detection input). */
export const ChannelLevelEvent = z.object({
  ...base,
  type: z.literal('channel.level'),
  channel: z.enum(['shopify', 'amazon']),
  /** Our SKU when the channel message names it; otherwise resolved from the mapping below. */
  sku: sku.optional(),
  /** Shopify: inventory item gid; Amazon: seller SKU. */
  channelItemId: id,
  /** Shopify: location gid; Amazon: the marketplace (when known). */
  channelLocationId: z.string().max(256).optional(),
  quantity: z.number().int(),
  /** When the channel says the level was true, for ordering out-of-order deliveries. */
  observedAtMs: z.number().int().nonnegative(),
});

/** Amazon FBA stock for a SKU: informational, never pushed, never touches the ledger. */
export const FbaInventoryEvent = z.object({
  ...base,
  type: z.literal('fba.inventory'),
  sellerSku: sku,
  marketplaceId: z.string().min(1).max(64),
  fulfillable: z.number().int().min(0),
  observedAtMs: z.number().int().nonnegative(),
});

export const StockguardEvent = z.discriminatedUnion('type', [
  OrderPlacedEvent,
  OrderCancelledEvent,
  WmsShipmentEvent,
  WmsAdjustmentEvent,
  WmsCountEvent,
  ChannelLevelEvent,
  FbaInventoryEvent,
]);
export type StockguardEvent = z.infer<typeof StockguardEvent>;
export type OrderPlacedEvent = z.infer<typeof OrderPlacedEvent>;
export type OrderCancelledEvent = z.infer<typeof OrderCancelledEvent>;
export type ChannelLevelEvent = z.infer<typeof ChannelLevelEvent>;
export type FbaInventoryEvent = z.infer<typeof FbaInventoryEvent>;

/** Which stream kind an event travels on. */
export function streamKindOf(event: StockguardEvent): 'sales' | 'wms' | 'notifications' {
  switch (event.type) {
    case 'order.placed':
    case 'order.cancelled':
      return 'sales';
    case 'wms.shipment':
    case 'wms.adjustment':
    case 'wms.count':
      return 'wms';
    case 'channel.level':
    case 'fba.inventory':
      return 'notifications';
  }
}

/** The SKU an event is partitioned by (the first line's SKU for multi-SKU orders). */
export function partitionSkuOf(event: StockguardEvent): string {
  switch (event.type) {
    case 'order.placed':
    case 'order.cancelled':
      return event.lines[0]!.sku ?? event.lines[0]!.refs![0]!;
    case 'channel.level':
      return event.sku ?? event.channelItemId;
    case 'fba.inventory':
      return event.sellerSku;
    default:
      return event.sku;
  }
}
