// The fake Amazon SP-API (LWA + Listings Items 2021-08-01 + SQS notifications). See docs/sim-amazon.md.
export { startAmazonFake } from './server.ts';
export type { FeedControls, FeedFakeOptions, FeedLogEntry, FeedReport, FeedReportIssue, FeedStatus } from './feeds.ts';
export type { AmazonFake, AmazonFakeOptions, AmazonOperation, ListingSnapshot, NotifyOptions, PatchLogEntry, RequestLogEntry, SaleOptions, SaleResult } from './server.ts';
export type { FaultKind, FaultOperation, FaultRule } from './faults.ts';
export type { FbaInventory, Fulfillment, ListingSeed, PatchOperationRequest, PatchRequest } from './listings.ts';
export {
  assertValidNotification,
  buildFbaInventoryAvailabilityNotification,
  buildMfnQuantityChangeNotification,
  buildOrderChangeNotification,
} from './notifications.ts';
export type {
  EnvelopeOptions,
  FbaInventoryAvailabilityNotification,
  FbaInventoryAvailabilityPayload,
  MfnQuantityChangeNotification,
  MfnQuantityChangePayload,
  OrderChangeNotification,
  OrderChangePayload,
  SpApiNotification,
} from './notifications.ts';
export type { PublishedNotification, PublishOptions, SqsBatchOptions, SqsDestination } from './publisher.ts';
export type { UsagePlan } from './rateLimit.ts';
export { notificationValidator } from './schemas.ts';
