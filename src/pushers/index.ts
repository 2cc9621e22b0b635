// The pushers role: builds one pusher per configured channel and the coordinator that
// drives them. docs/pushers.md describes the whole flow.
import type { Catalog } from '../catalog/catalog.ts';
import type { SalesChannel } from '../catalog/entry.ts';
import type { Config } from '../config.ts';
import type { ChannelTiming } from '../domain/allocation.ts';
import type { Clock, Ledger } from '../ledger/ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { AmazonPusher } from './amazon.ts';
import { type PushEvent, PushCoordinator } from './coordinator.ts';
import type { Pusher } from './pusher.ts';
import { ShopifyPusher } from './shopify.ts';
import { idleHorizonFor, reportHorizonFor } from './pushStateWrite.ts';

export { AmazonPusher } from './amazon.ts';
export { PushCoordinator, type PushCoordinatorOptions, type PushEvent, type SweepReport } from './coordinator.ts';
export { LwaTokenProvider } from './lwa.ts';
export type { Eligibility, PushOutcome, PushRequest, PushResult, Pusher } from './pusher.ts';
export { SaleLatencyReporter } from './saleLatency.ts';
export { type LocationCheck, type LocationProblem, ShopifyPusher } from './shopify.ts';
export { PushStore, type PushedLevel } from './store.ts';

export interface PusherDependencies {
  config: Config;
  redis: RedisClient;
  ledger: Ledger;
  catalog: Catalog;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  onPush?: (event: PushEvent) => void;
}

/** The coordinator with a pusher for each channel whose credentials are configured; undefined when none is. */
export function createPushCoordinator(dependencies: PusherDependencies): PushCoordinator | undefined {
  const { config, metrics, logger, clock } = dependencies;
  const common = { metrics, clock, maxAttempts: config.pushers.maxAttempts, requestTimeoutMs: config.pushers.requestTimeoutMs };
  const pushers: Pusher[] = [];
  if (config.shopify) pushers.push(new ShopifyPusher({ ...common, settings: config.shopify, logger: logger.child({ part: 'pusher', channel: 'shopify' }) }));
  if (config.amazon) pushers.push(new AmazonPusher({ ...common, settings: config.amazon, logger: logger.child({ part: 'pusher', channel: 'amazon' }) }));
  if (pushers.length === 0) return undefined;
  return new PushCoordinator({
    redis: dependencies.redis,
    ledger: dependencies.ledger,
    catalog: dependencies.catalog,
    pushers,
    settings: config.pushers,
    metrics,
    logger: logger.child({ part: 'pushers' }),
    clock,
    onPush: dependencies.onPush,
    // The bounded allocation's blind windows come from the configured lag bounds.
    timing: channelTimings(config),
  });
}

/** The bounded allocation's blind windows per channel, from the configured lag bounds. */
export function channelTimings(config: Pick<Config, 'lagBounds'>): Record<SalesChannel, ChannelTiming> {
  return {
    shopify: { deliveryLagBoundMs: config.lagBounds.shopify.deliverySeconds * 1000, applyLagBoundMs: config.lagBounds.shopify.applySeconds * 1000, confirmTimeoutMs: Math.max(60_000, 2 * config.lagBounds.shopify.applySeconds * 1000) },
    amazon: { deliveryLagBoundMs: config.lagBounds.amazon.deliverySeconds * 1000, applyLagBoundMs: config.lagBounds.amazon.applySeconds * 1000, confirmTimeoutMs: amazonConfirmTimeoutMs(config.lagBounds.amazon) },
  };
}

/** How long a channel's quantity reports stay useful to the allocation (reportHorizonFor in pushStateWrite.ts). */
export function reportHorizonMs(config: Pick<Config, 'lagBounds'>): number {
  return reportHorizonFor(Object.values(channelTimings(config)));
}

/**
 * The idle horizon of a SKU's pushstate hash: it expires this long after its last write
 * (idleHorizonFor in pushStateWrite.ts: the report horizon, at least twice the sales window).
 */
export function pushStateHorizonMs(config: Pick<Config, 'lagBounds' | 'pushers'>): number {
  return idleHorizonFor(Object.values(channelTimings(config)), config.pushers.dynamicHoldback.windowMs);
}

/**
 * When an unconfirmed Amazon write is written off (ChannelTiming.confirmTimeoutMs). A write
 * applied within the apply-lag bound is reported by then, and its report is taken one
 * delivery-lag bound after its time (allocator.ts): the write must stay pending at least
 * apply + delivery bound, or its own report arrives as an unexplained raise after the write
 * was written off, and what the channel sold meanwhile was not counted (the demo oversold 21
 * units in strict with a delivery bound above the apply bound). Twice the apply bound plus
 * the delivery bound leaves room for a slow decision.
 */
export function amazonConfirmTimeoutMs(bounds: { deliverySeconds: number; applySeconds: number }): number {
  return (2 * bounds.applySeconds + bounds.deliverySeconds) * 1000;
}
