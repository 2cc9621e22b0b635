// Where the edges put verified, normalised events. The implementation appends to the
// Redis event streams; `publish` resolves only once the event is durably in Redis, so
// an edge may then answer 2xx (webhooks) or delete the message (SQS), invariant I2.
import type { StockguardEvent } from '../domain/events.ts';

export interface PublishResult {
  /** The stream entry id; undefined when the delivery was a duplicate. */
  entryId: string | undefined;
  /** True when `deliveryId` was published before (within the dedupe window): nothing was appended. */
  duplicate: boolean;
}

export interface EventSink {
  /**
   * Appends the event to its stream. With a `deliveryId` (X-Shopify-Event-Id, SQS
   * NotificationId, ...), the dedupe mark and the append happen in one atomic step, so a
   * delivery is appended at most once and never marked without being appended.
   * Rejects when Redis did not take the event: the edge must then answer non-2xx / not
   * delete the message, so the sender retries.
   */
  publish(event: StockguardEvent, options?: { deliveryId?: string }): Promise<PublishResult>;
}
