// The fake Shopify Admin GraphQL API (2026-10) used by tests, the demo and the benchmarks.
export { type OrderLineInput, type RequestRecord, ShopifyFake, type ShopifyFakeOptions, type StorefrontSale, startShopifyFake } from './server.ts';
export type { Fault, FaultOptions, FaultRate, FaultTarget, OperationKind } from './faults.ts';
export type { CostExtension, ThrottleStatus } from './cost.ts';
export type { AppliedChange, ItemInput, LevelSnapshot, LocationInput, QuantityName, StockInput } from './inventory.ts';
export type { AcceptedWrite } from './resolvers.ts';
export {
  type EmitOptions,
  type RedeliverOptions,
  type StorefrontOrder,
  type WebhookDelivery,
  type WebhookJson,
  inventoryLevelPayload,
  orderPayload,
  serializeWebhookBody,
  signWebhookBody,
} from './webhooks.ts';
export { gid, inventoryLevelGid, parseGid } from './ids.ts';
export { SCHEMA_API_VERSION } from './schema.ts';
export type { WebhookSubscriptionRecord } from './webhookSubscriptions.ts';
