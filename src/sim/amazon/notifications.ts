// Builders for the SP-API notifications the inventory daemon consumes. Every builder
// validates its result against the vendored official JSON schema before returning it, so
// the fake can never publish a notification Amazon would not send.
// Casing: these three types use the legacy PascalCase envelope (spec notes §3.1).
import { randomUUID } from 'node:crypto';
import { describeAjvErrors, notificationValidator, type SupportedNotificationType } from './schemas.ts';

export interface NotificationMetadata {
  ApplicationId: string;
  SubscriptionId: string;
  PublishTime: string;
  NotificationId: string;
}

interface Envelope<Type extends SupportedNotificationType, Payload> {
  NotificationVersion: string;
  NotificationType: Type;
  PayloadVersion: string;
  EventTime: string;
  Payload: Payload;
  NotificationMetadata: NotificationMetadata;
}

export type OrderStatus = 'Pending' | 'Unshipped' | 'PartiallyShipped' | 'Shipped' | 'Canceled' | 'Unfulfillable' | 'InvoiceUnconfirmed' | 'PendingAvailability';

export interface OrderChangeItem {
  OrderItemId: string;
  SellerSKU: string;
  SupplySourceId: string | null;
  Quantity: number;
  OrderItemStatus?: 'Unshipped' | 'Shipped';
  QuantityShipped?: number;
  IsBuyerRequestedCancel?: boolean;
}

export interface OrderChangePayload {
  OrderChangeNotification: {
    NotificationLevel: 'OrderLevel' | 'OrderItemLevel';
    SellerId: string;
    AmazonOrderId: string;
    OrderChangeType: 'OrderStatusChange' | 'BuyerRequestedChange' | 'DeliveryTipChange';
    OrderChangeTrigger: { TimeOfOrderChange: string | null; ChangeReason: string };
    Summary: {
      MarketplaceId: string;
      OrderStatus: OrderStatus;
      PurchaseDate: string | null;
      DestinationPostalCode: string | null;
      FulfillmentType: 'AFN' | 'MFN';
      OrderType: 'StandardOrder' | 'LongLeadTimeOrder' | 'Preorder' | 'BackOrder' | 'SourcingOnDemandOrder';
      NumberOfItemsShipped?: number;
      NumberOfItemsUnshipped?: number;
      OrderItems: OrderChangeItem[];
    };
  };
}

export interface MfnQuantityChangePayload {
  SellerId: string;
  FulfillmentChannelCode: string;
  Sku: string;
  Quantity: number;
}

export interface FulfillmentInventory {
  InboundQuantityBreakdown: { Working: number; Shipped: number; Receiving: number };
  Fulfillable: number;
  Unfulfillable: number;
  Researching: number;
  ReservedQuantityBreakdown: { WarehouseProcessing: number; WarehouseTransfer: number; PendingCustomerOrder: number };
  FutureSupplyBuyable: number;
  PendingCustomerOrderInTransit: number;
}

export interface FbaInventoryAvailabilityPayload {
  SellerId: string;
  FNSKU: string;
  ASIN: string;
  SKU: string;
  FulfillmentInventoryByMarketplace: Array<{ MarketplaceId: string; ItemName: string; FulfillmentInventory: FulfillmentInventory; Stores?: string[] }>;
}

export type OrderChangeNotification = Envelope<'ORDER_CHANGE', OrderChangePayload>;
export type MfnQuantityChangeNotification = Envelope<'LISTINGS_ITEM_MFN_QUANTITY_CHANGE', MfnQuantityChangePayload>;
export type FbaInventoryAvailabilityNotification = Envelope<'FBA_INVENTORY_AVAILABILITY_CHANGES', FbaInventoryAvailabilityPayload>;
export type SpApiNotification = OrderChangeNotification | MfnQuantityChangeNotification | FbaInventoryAvailabilityNotification;

/** Who is subscribed and when: the parts of the envelope that are not the payload. */
export interface EnvelopeOptions {
  applicationId: string;
  subscriptionId: string;
  /** When the change happened (EventTime). */
  eventTime: Date;
  /** When Amazon published it (NotificationMetadata.PublishTime); defaults to eventTime. */
  publishTime?: Date;
  /** Defaults to a fresh UUID. Reuse one to model a redelivered duplicate. */
  notificationId?: string;
}

/** Throws unless `notification` satisfies the official schema for its NotificationType. */
export function assertValidNotification(notification: SpApiNotification): void {
  const type = notification.NotificationType;
  const validate = notificationValidator(type);
  if (!validate(notification)) {
    throw new Error(`${type} notification violates the official schema: ${describeAjvErrors(validate.errors)}`);
  }
}

function envelope<Type extends SupportedNotificationType, Payload>(type: Type, payload: Payload, options: EnvelopeOptions): Envelope<Type, Payload> {
  return {
    NotificationVersion: '1.0',
    NotificationType: type,
    PayloadVersion: '1.0',
    EventTime: options.eventTime.toISOString(),
    Payload: payload,
    NotificationMetadata: {
      ApplicationId: options.applicationId,
      SubscriptionId: options.subscriptionId,
      PublishTime: (options.publishTime ?? options.eventTime).toISOString(),
      NotificationId: options.notificationId ?? randomUUID(),
    },
  };
}

export function buildOrderChangeNotification(payload: OrderChangePayload, options: EnvelopeOptions): OrderChangeNotification {
  const notification = envelope('ORDER_CHANGE', payload, options);
  assertValidNotification(notification);
  return notification;
}

export function buildMfnQuantityChangeNotification(payload: MfnQuantityChangePayload, options: EnvelopeOptions): MfnQuantityChangeNotification {
  const notification = envelope('LISTINGS_ITEM_MFN_QUANTITY_CHANGE', payload, options);
  assertValidNotification(notification);
  return notification;
}

/**
 * The FBA schema leaves NotificationMetadata out of its `properties` (spec notes §3.1);
 * the fake sends it anyway, as every SQS notification carries it in practice.
 */
export function buildFbaInventoryAvailabilityNotification(payload: FbaInventoryAvailabilityPayload, options: EnvelopeOptions): FbaInventoryAvailabilityNotification {
  const notification = envelope('FBA_INVENTORY_AVAILABILITY_CHANGES', payload, options);
  assertValidNotification(notification);
  return notification;
}
