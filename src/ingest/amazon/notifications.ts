// Turns one Amazon SP-API notification (an SQS message body: the notification JSON itself,
// no SNS wrapper) into stockguard events. Pure: no I/O, no clock; the caller passes the
// receive time. docs/amazon-notifications.md explains each mapping and why.
import { createHash } from 'node:crypto';
import {
  StockguardEvent,
  type ChannelLevelEvent,
  type FbaInventoryEvent,
  type OrderCancelledEvent,
  type OrderPlacedEvent,
} from '../../domain/events.ts';
import {
  SUPPORTED_NOTIFICATION_TYPES,
  describeSchemaErrors,
  validatorFor,
  type SupportedNotificationType,
} from './schemas.ts';

/** Why a well-formed notification produced no event. A bounded set: it labels a counter. */
export type IgnoreReason =
  /** A notification type stockguard does not consume (pricing, feeds, reports, ...). */
  | 'unsupported-type'
  /** An FBA (AFN) order: Amazon ships it from its own stock, never from the warehouse. */
  | 'afn-order'
  /** Shipped / InvoiceUnconfirmed: every item left; the WMS reports shipments to the ledger. */
  | 'order-shipped'
  /** PendingAvailability: a pre-order not yet payable; it reserves when it turns Pending/Unshipped. */
  | 'order-pending-availability'
  /** Unfulfillable: Multi-Channel Fulfillment orders Amazon cannot fulfil; not a warehouse sale. */
  | 'order-unfulfillable'
  /** Every order line was left out (quantity 0, or a SKU the policy says the ledger does not manage). */
  | 'no-ledger-lines'
  /** A quantity change for a SKU the policy says the ledger does not manage. */
  | 'sku-not-managed'
  /** An MFN quantity for a FulfillmentChannelCode other than DEFAULT, the only one stockguard pushes. */
  | 'not-default-channel'
  /** An FBA notification listing no marketplace. */
  | 'no-marketplaces';

export type NotificationOutcome =
  | {
      kind: 'events';
      events: StockguardEvent[];
      /** NotificationMetadata.NotificationId; each event's eventId is this id, suffixed `:<index>` when there are several. */
      deliveryId: string;
      notificationType: SupportedNotificationType;
      /** When the change happened at Amazon: EventTime, else NotificationMetadata.PublishTime (ms); undefined when neither parses. */
      eventTimeMs?: number | undefined;
      /** What was applied differently from what Amazon sent (a repeated OrderItemId), to log. */
      warnings?: string[];
    }
  | { kind: 'ignored'; reason: IgnoreReason; detail: string; notificationType: string; deliveryId: string | undefined }
  | { kind: 'rejected'; reason: string; notificationType: string | undefined; deliveryId: string | undefined };

export interface ParseNotificationOptions {
  /** When the message was received (ms since the epoch), copied to every event. */
  receivedAtMs: number;
  /**
   * MFN-only SKU policy: true when the seller SKU's stock is kept in the warehouse ledger.
   * Order lines and MFN quantity changes for other SKUs (drop-shipped, digital, not yet
   * imported) are left out. Default: every SKU is managed. FBA stock is reported either way:
   * it is informational and never touches the ledger.
   */
  isLedgerSku?: (sellerSku: string) => boolean;
}

const LIVE_ORDER_STATUSES = new Set(['Pending', 'Unshipped', 'PartiallyShipped']);

export function parseAmazonNotification(body: string, options: ParseNotificationOptions): NotificationOutcome {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    return rejected(`the message body is not valid JSON (${why})`, undefined, undefined);
  }
  if (!isObject(parsed)) {
    return rejected(`the message body is JSON but not an object (got ${describeJsonType(parsed)})`, undefined, undefined);
  }
  // camelCase types (FEED_PROCESSING_FINISHED, ...) spell the envelope differently (spec §3.1).
  const type = parsed['NotificationType'] ?? parsed['notificationType'];
  const deliveryId = notificationIdOf(parsed);
  if (typeof type !== 'string' || type === '') {
    return rejected('NotificationType is missing: the body is not an SP-API notification', undefined, deliveryId);
  }
  if (!isSupported(type)) {
    return { kind: 'ignored', reason: 'unsupported-type', detail: `${type} is not consumed`, notificationType: type, deliveryId };
  }
  const validate = validatorFor(type);
  if (!validate(parsed)) {
    return rejected(`${type} does not match Amazon's schema: ${describeSchemaErrors(validate.errors)}`, type, deliveryId);
  }
  // The FBA schema leaves NotificationMetadata out (spec §3.1). An FBA notification is a
  // snapshot of Amazon's own stock, never a sale: without its id it is recognised by its
  // content (a redelivery has the same body). Sales and quantity reports must carry the id.
  const id = deliveryId ?? (type === 'FBA_INVENTORY_AVAILABILITY_CHANGES' ? `fba-body:${createHash('sha256').update(body).digest('hex').slice(0, 32)}` : undefined);
  if (id === undefined) {
    return rejected(`${type}: NotificationMetadata.NotificationId is missing or empty`, type, undefined);
  }
  const context: MappingContext = { notification: parsed, notificationId: id, options };
  const outcome = mapNotification(type, context);
  if (outcome.kind === 'events') outcome.eventTimeMs = eventTimeOf(parsed);
  return outcome;
}

function mapNotification(type: SupportedNotificationType, context: MappingContext): NotificationOutcome {
  switch (type) {
    case 'ORDER_CHANGE':
      return mapOrderChange(context);
    case 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE':
      return mapMfnQuantityChange(context);
    case 'FBA_INVENTORY_AVAILABILITY_CHANGES':
      return mapFbaInventory(context);
  }
}

/** EventTime (when the change happened), else PublishTime (when Amazon sent it): the start of the delivery lag. */
function eventTimeOf(notification: JsonObject): number | undefined {
  const metadata = notification['NotificationMetadata'] ?? notification['notificationMetadata'];
  const candidates = [notification['EventTime'] ?? notification['eventTime'], isObject(metadata) ? (metadata['PublishTime'] ?? metadata['publishTime']) : undefined];
  for (const candidate of candidates) {
    const parsed = typeof candidate === 'string' ? Date.parse(candidate) : Number.NaN;
    if (Number.isFinite(parsed)) return parsed;
  }
  return undefined;
}

interface MappingContext {
  notification: JsonObject;
  notificationId: string;
  options: ParseNotificationOptions;
}

/**
 * An event as built, with the notification field each event field came from, so a value
 * the event schema refuses is reported by the name Amazon uses for it.
 */
interface Draft {
  event: StockguardEvent;
  origins: ReadonlyMap<string, string>;
}

function mapOrderChange({ notification, notificationId, options }: MappingContext): NotificationOutcome {
  const type = 'ORDER_CHANGE';
  const change = object(object(notification['Payload'])['OrderChangeNotification']);
  const summary = object(change['Summary']);
  const orderId = string(change['AmazonOrderId']);
  const status = string(summary['OrderStatus']);
  const items = array(summary['OrderItems']).map(object);
  const itemsPath = 'Payload.OrderChangeNotification.Summary.OrderItems';
  const ignored = (reason: IgnoreReason, detail: string): NotificationOutcome => ({
    kind: 'ignored',
    reason,
    detail: `order ${orderId}: ${detail}`,
    notificationType: type,
    deliveryId: notificationId,
  });

  // AFN orders ship from Amazon's stock: they must never reserve (or release) warehouse units.
  if (string(summary['FulfillmentType']) === 'AFN') return ignored('afn-order', `FulfillmentType AFN, status ${status}`);

  // The ledger reserves one record per `amazon:order:line`. An OrderItemId that repeats is
  // never dropped (a sale is a fact): its n-th occurrence is line `<id>#n`, the same on every
  // redelivery and in the cancellation, and the outcome carries a warning.
  const lineIds: string[] = [];
  const warnings: string[] = [];
  const occurrences = new Map<string, number>();
  for (const [index, item] of items.entries()) {
    const lineId = string(item['OrderItemId']);
    const count = (occurrences.get(lineId) ?? 0) + 1;
    occurrences.set(lineId, count);
    lineIds.push(count === 1 ? lineId : `${lineId}#${count}`);
    if (count > 1) warnings.push(`order ${orderId}: ${itemsPath}[${index}].OrderItemId "${lineId}" repeats an earlier item; applied as line "${lineId}#${count}"`);
  }
  const lineIdOf = (index: number) => lineIds[index]!;
  const managed = (item: JsonObject) => options.isLedgerSku?.(string(item['SellerSKU'])) ?? true;
  // The order's own time (PurchaseDate, else EventTime): later changes of one order share it,
  // so a change about an order older than the dedupe horizon is refused as stale, not re-reserved.
  const purchasedAtMs = [summary['PurchaseDate'], notification['EventTime']].map((value) => (typeof value === 'string' ? Date.parse(value) : Number.NaN)).find((ms) => Number.isFinite(ms) && ms >= 0);
  const base = { eventId: notificationId, source: 'amazon-sqs', receivedAtMs: options.receivedAtMs, ...(purchasedAtMs === undefined ? {} : { occurredAtMs: purchasedAtMs }) } as const;
  const orderOrigins: Array<[string, string]> = [
    ['occurredAtMs', 'Payload.OrderChangeNotification.Summary.PurchaseDate'],
    ['eventId', 'NotificationMetadata.NotificationId'],
    ['orderId', 'Payload.OrderChangeNotification.AmazonOrderId'],
    ['receivedAtMs', 'options.receivedAtMs'],
  ];

  if (status === 'Canceled') {
    // Release every line, whatever its quantity: a cancelled item may be reported with 0.
    const lines = items.flatMap((item, index) => (managed(item) ? [{ item, index }] : []));
    if (lines.length === 0) return ignored('no-ledger-lines', 'cancelled, but no line is a ledger SKU');
    const event: OrderCancelledEvent = {
      ...base,
      type: 'order.cancelled',
      channel: 'amazon',
      orderId,
      lines: lines.map(({ item, index }) => ({ lineId: lineIdOf(index), refs: [sellerSkuRef(item)] })),
    };
    return withWarnings(finish(type, notificationId, [{ event, origins: new Map([...orderOrigins, ...lineOrigins(lines, itemsPath)]) }]), warnings);
  }

  if (LIVE_ORDER_STATUSES.has(status)) {
    // Still open: reserve every line, even when the buyer asked to cancel
    // (IsBuyerRequestedCancel). A request is not a cancellation: the seller may decline it
    // and ship, and the ledger's cancel is final (a later reserve holds nothing), so
    // releasing now could sell the same units twice. The hold ends when Amazon reports the
    // order Canceled. Reserving an order already reserved is a duplicate the ledger ignores
    // (it is idempotent on `amazon:order:item`), so repeating order.placed is safe.
    // A line of quantity 0 has nothing to hold (the event needs >= 1): it is left out.
    const lines = items.flatMap((item, index) => (managed(item) && item['Quantity'] !== 0 ? [{ item, index }] : []));
    if (lines.length === 0) return ignored('no-ledger-lines', `${status}, but no line has a quantity for a ledger SKU`);
    const event: OrderPlacedEvent = {
      ...base,
      type: 'order.placed',
      channel: 'amazon',
      orderId,
      lines: lines.map(({ item, index }) => ({
        lineId: lineIdOf(index),
        // The seller SKU resolves through the catalogue's amazonSellerSku (invariant I9).
        refs: [sellerSkuRef(item)],
        // The line's whole quantity: units already shipped are consumed by the WMS shipment
        // against this same reservation, so reserving the remainder would count them twice.
        quantity: number(item['Quantity']),
      })),
    };
    return withWarnings(finish(type, notificationId, [{ event, origins: new Map([...orderOrigins, ...lineOrigins(lines, itemsPath)]) }]), warnings);
  }

  switch (status) {
    case 'Shipped':
    case 'InvoiceUnconfirmed':
      return ignored('order-shipped', `${status}: the WMS reports shipments to the ledger`);
    case 'PendingAvailability':
      return ignored('order-pending-availability', 'a pre-order; it reserves once Amazon reports it Pending or Unshipped');
    default:
      return ignored('order-unfulfillable', `${status}: not a warehouse sale`);
  }
}

function withWarnings(outcome: NotificationOutcome, warnings: readonly string[]): NotificationOutcome {
  return outcome.kind === 'events' && warnings.length > 0 ? { ...outcome, warnings: [...warnings] } : outcome;
}

/** The catalogue reference of an order item's seller SKU: `amazon:<SellerSKU>`. */
function sellerSkuRef(item: JsonObject): string {
  return `amazon:${string(item['SellerSKU'])}`;
}

function lineOrigins(lines: ReadonlyArray<{ index: number }>, itemsPath: string): Array<[string, string]> {
  return lines.flatMap(({ index }, position): Array<[string, string]> => [
    [`lines.${position}.lineId`, `${itemsPath}[${index}].OrderItemId`],
    [`lines.${position}.refs.0`, `${itemsPath}[${index}].SellerSKU`],
    [`lines.${position}.quantity`, `${itemsPath}[${index}].Quantity`],
  ]);
}

function mapMfnQuantityChange({ notification, notificationId, options }: MappingContext): NotificationOutcome {
  const type = 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE';
  const payload = object(notification['Payload']);
  const sellerSku = string(payload['Sku']);
  const channelCode = string(payload['FulfillmentChannelCode']);
  if (channelCode !== 'DEFAULT') {
    return {
      kind: 'ignored',
      reason: 'not-default-channel',
      detail: `${sellerSku}: FulfillmentChannelCode ${channelCode}; stockguard compares and pushes DEFAULT only`,
      notificationType: type,
      deliveryId: notificationId,
    };
  }
  if (options.isLedgerSku && !options.isLedgerSku(sellerSku)) {
    return { kind: 'ignored', reason: 'sku-not-managed', detail: `${sellerSku} is not a ledger SKU`, notificationType: type, deliveryId: notificationId };
  }
  // No MarketplaceId in this payload (spec §3.2), so channelLocationId stays unset; our SKU
  // is resolved from the channel mapping downstream.
  const event: ChannelLevelEvent = {
    eventId: notificationId,
    source: 'amazon-sqs',
    receivedAtMs: options.receivedAtMs,
    type: 'channel.level',
    channel: 'amazon',
    channelItemId: sellerSku,
    quantity: number(payload['Quantity']),
    observedAtMs: Date.parse(string(notification['EventTime'])),
  };
  const origins = new Map([
    ['eventId', 'NotificationMetadata.NotificationId'],
    ['receivedAtMs', 'options.receivedAtMs'],
    ['channelItemId', 'Payload.Sku'],
    ['quantity', 'Payload.Quantity'],
    ['observedAtMs', 'EventTime'],
  ]);
  return finish(type, notificationId, [{ event, origins }]);
}

function mapFbaInventory({ notification, notificationId, options }: MappingContext): NotificationOutcome {
  const type = 'FBA_INVENTORY_AVAILABILITY_CHANGES';
  const payload = object(notification['Payload']);
  const sellerSku = string(payload['SKU']);
  // The official FBA schema does not require EventTime: without it the receive time orders
  // the snapshots (newest observation wins), which is the best the message says.
  const eventTime = notification['EventTime'];
  const observedAtMs = typeof eventTime === 'string' ? Date.parse(eventTime) : options.receivedAtMs;
  const marketplaces = array(payload['FulfillmentInventoryByMarketplace']).map(object);
  if (marketplaces.length === 0) {
    return { kind: 'ignored', reason: 'no-marketplaces', detail: `${sellerSku}: FulfillmentInventoryByMarketplace is empty`, notificationType: type, deliveryId: notificationId };
  }
  // One event per marketplace: a snapshot of FBA stock, never an order, never the ledger.
  const drafts = marketplaces.map((marketplace, index): Draft => {
    const at = `Payload.FulfillmentInventoryByMarketplace[${index}]`;
    const event: FbaInventoryEvent = {
      eventId: marketplaces.length === 1 ? notificationId : `${notificationId}:${index}`,
      source: 'amazon-sqs',
      receivedAtMs: options.receivedAtMs,
      type: 'fba.inventory',
      sellerSku,
      marketplaceId: string(marketplace['MarketplaceId']),
      fulfillable: number(object(marketplace['FulfillmentInventory'])['Fulfillable']),
      observedAtMs,
    };
    const origins = new Map([
      ['eventId', 'NotificationMetadata.NotificationId'],
      ['receivedAtMs', 'options.receivedAtMs'],
      ['sellerSku', 'Payload.SKU'],
      ['marketplaceId', `${at}.MarketplaceId`],
      ['fulfillable', `${at}.FulfillmentInventory.Fulfillable`],
      ['observedAtMs', typeof eventTime === 'string' ? 'EventTime' : 'options.receivedAtMs'],
    ]);
    return { event, origins };
  });
  return finish(type, notificationId, drafts);
}

/**
 * Checks every event against the stream's schema (ids ≤ 256 characters, SKUs ≤ 200,
 * quantities ≥ 1, a parseable EventTime, ...): a notification Amazon's schema accepts can
 * still carry a value no consumer could apply, and it is better refused here, whole, with
 * the notification's own field name, than half-published.
 */
function finish(type: SupportedNotificationType, notificationId: string, drafts: readonly Draft[]): NotificationOutcome {
  const problems: string[] = [];
  for (const { event, origins } of drafts) {
    const result = StockguardEvent.safeParse(event);
    if (result.success) continue;
    for (const issue of result.error.issues) {
      const eventPath = issue.path.map(String).join('.');
      problems.push(`${origins.get(eventPath) ?? (eventPath || event.type)}: ${issue.message}`);
    }
  }
  if (problems.length > 0) {
    return rejected(`${type} cannot become a stockguard event: ${[...new Set(problems)].join('; ')}`, type, notificationId);
  }
  return { kind: 'events', events: drafts.map((draft) => draft.event), deliveryId: notificationId, notificationType: type };
}

function rejected(reason: string, notificationType: string | undefined, deliveryId: string | undefined): NotificationOutcome {
  return { kind: 'rejected', reason, notificationType, deliveryId };
}

type JsonObject = { [key: string]: unknown };

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSupported(type: string): type is SupportedNotificationType {
  return (SUPPORTED_NOTIFICATION_TYPES as readonly string[]).includes(type);
}

/** The NotificationId in either casing, for logs and dead letters even when the rest is bad. */
function notificationIdOf(notification: JsonObject): string | undefined {
  const metadata = notification['NotificationMetadata'] ?? notification['notificationMetadata'];
  if (!isObject(metadata)) return undefined;
  const id = metadata['NotificationId'] ?? metadata['notificationId'];
  return typeof id === 'string' && id !== '' ? id : undefined;
}

function describeJsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

// The accessors below read fields the official schema has already checked (required, typed).
// They narrow `unknown` without casts, and a field the schema does not guarantee but a
// mapping reads anyway becomes a value the event schema then refuses, never a crash.
function object(value: unknown): JsonObject {
  return isObject(value) ? value : {};
}
function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}
function string(value: unknown): string {
  return typeof value === 'string' ? value : '';
}
function number(value: unknown): number {
  return typeof value === 'number' ? value : Number.NaN;
}
