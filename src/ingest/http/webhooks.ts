// POST /webhooks/shopify and POST /webhooks/wms: verify, normalise, publish to the event
// streams, and answer 2xx only once every event is durably in Redis (invariant I2).
import { mapShopifyWebhook } from '../../domain/shopifyWebhooks.ts';
import { mapWmsWebhook } from '../../domain/wmsWebhooks.ts';
import { parseJsonLossless } from '../../domain/losslessJson.ts';
import { StockguardError } from '../../errors.ts';
import type { Clock } from '../../ledger/ledger.ts';
import type { Logger } from '../../logger.ts';
import type { EventSink } from '../sink.ts';
import type { HttpRequest, Route } from './server.ts';
import { verifyShopifyHmac, verifyWmsSignature } from './signatures.ts';

export interface WebhookCounters {
  /** outcome: published | duplicate | ignored | rejected | unauthorized | stale */
  webhook(source: 'shopify' | 'wms', topic: string, outcome: string): void;
}

export interface ShopifyWebhookOptions {
  sink: EventSink;
  /** The app's client secret(s): the current one first, the previous one during a rotation. */
  appSecrets: readonly string[];
  /** Deliveries triggered longer ago than this are refused (replayed captures). */
  maxAgeSeconds: number;
  clock: Clock;
  logger: Logger;
  counters?: WebhookCounters;
  /**
   * A delivery that brought at least one new event: seconds from the event at Shopify
   * (X-Shopify-Triggered-At, else the payload's updated_at or created_at) to its receipt,
   * never negative. Not called for duplicates, ignored topics or refused deliveries.
   */
  deliveryLag?(seconds: number, topic: string): void;
}

export function shopifyWebhookRoute(options: ShopifyWebhookOptions): Route {
  return {
    method: 'POST',
    path: '/webhooks/shopify',
    async handler(request) {
      const topic = header(request, 'x-shopify-topic') ?? '';
      if (!verifyShopifyHmac(request.rawBody, header(request, 'x-shopify-hmac-sha256'), options.appSecrets)) {
        options.counters?.webhook('shopify', topic, 'unauthorized');
        throw new StockguardError('STOCKGUARD_E_UNAUTHORIZED', 'X-Shopify-Hmac-Sha256 does not match the body');
      }
      const triggeredAt = Date.parse(header(request, 'x-shopify-triggered-at') ?? '');
      if (!Number.isNaN(triggeredAt) && options.clock() - triggeredAt > options.maxAgeSeconds * 1000) {
        options.counters?.webhook('shopify', topic, 'stale');
        throw new StockguardError('STOCKGUARD_E_STALE_REQUEST', `X-Shopify-Triggered-At is ${header(request, 'x-shopify-triggered-at')}`);
      }
      const eventId = header(request, 'x-shopify-event-id') ?? header(request, 'x-shopify-webhook-id');
      if (!eventId) throw new StockguardError('STOCKGUARD_E_BAD_PAYLOAD', 'X-Shopify-Event-Id (or X-Shopify-Webhook-Id) header is missing');
      const payload = parseBody(request);
      const receivedAtMs = options.clock();
      const outcome = mapShopifyWebhook(topic, payload, { eventId, receivedAtMs });
      if (outcome.kind === 'ignored') {
        options.counters?.webhook('shopify', topic, 'ignored');
        return { status: 200, body: { accepted: 0, ignored: outcome.reason } };
      }
      if (outcome.kind === 'rejected') {
        // A signed body Shopify sent that we cannot read: 400 tells Shopify (and the
        // operator through its delivery log) without retrying forever.
        options.counters?.webhook('shopify', topic, 'rejected');
        options.logger.warn({ topic, eventId, reason: outcome.reason }, 'shopify webhook rejected');
        throw new StockguardError('STOCKGUARD_E_BAD_PAYLOAD', outcome.reason);
      }
      const results = await Promise.all(outcome.events.map((event) => options.sink.publish(event, { deliveryId: event.eventId })));
      const duplicates = results.filter((result) => result.duplicate).length;
      options.counters?.webhook('shopify', topic, duplicates === results.length ? 'duplicate' : 'published');
      const eventAtMs = Number.isNaN(triggeredAt) ? payloadTimeMs(payload) : triggeredAt;
      if (duplicates < results.length && eventAtMs !== undefined) options.deliveryLag?.(Math.max(0, receivedAtMs - eventAtMs) / 1000, topic);
      return { status: 200, body: { accepted: results.length - duplicates, duplicates, skippedLines: outcome.skippedLines } };
    },
  };
}

export interface WmsWebhookOptions {
  sink: EventSink;
  secret: string;
  maxAgeSeconds: number;
  clock: Clock;
  logger: Logger;
  counters?: WebhookCounters;
}

export function wmsWebhookRoute(options: WmsWebhookOptions): Route {
  return {
    method: 'POST',
    path: '/webhooks/wms',
    async handler(request) {
      const timestamp = header(request, 'x-stockguard-timestamp');
      if (!verifyWmsSignature(request.rawBody, timestamp, header(request, 'x-stockguard-signature'), options.secret)) {
        options.counters?.webhook('wms', 'batch', 'unauthorized');
        throw new StockguardError('STOCKGUARD_E_UNAUTHORIZED', 'X-Stockguard-Signature does not match X-Stockguard-Timestamp and the body');
      }
      const ageSeconds = Math.abs(options.clock() / 1000 - Number(timestamp));
      if (!(ageSeconds <= options.maxAgeSeconds)) {
        options.counters?.webhook('wms', 'batch', 'stale');
        throw new StockguardError('STOCKGUARD_E_STALE_REQUEST', `X-Stockguard-Timestamp ${timestamp} is ${Math.round(ageSeconds)} s away from now`);
      }
      const mapped = mapWmsWebhook(parseBody(request), options.clock());
      if (!mapped.ok) {
        options.counters?.webhook('wms', 'batch', 'rejected');
        throw new StockguardError('STOCKGUARD_E_BAD_PAYLOAD', mapped.problems.join('; '), { details: { problems: mapped.problems } });
      }
      const results = await Promise.all(mapped.events.map((event) => options.sink.publish(event, { deliveryId: `wms:${event.eventId}` })));
      const duplicates = results.filter((result) => result.duplicate).length;
      options.counters?.webhook('wms', 'batch', duplicates === results.length ? 'duplicate' : 'published');
      return { status: 202, body: { accepted: results.length - duplicates, duplicates } };
    },
  };
}

/** The payload's own time, for a delivery without X-Shopify-Triggered-At: updated_at, else created_at. */
function payloadTimeMs(payload: unknown): number | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const record = payload as Record<string, unknown>;
  for (const field of ['updated_at', 'created_at']) {
    const value = record[field];
    const parsed = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isFinite(parsed)) return parsed;
  }
  return undefined;
}

function header(request: HttpRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseBody(request: HttpRequest): unknown {
  try {
    return parseJsonLossless(request.rawBody.toString('utf8'));
  } catch (error) {
    throw new StockguardError('STOCKGUARD_E_BAD_JSON', error instanceof Error ? error.message : String(error));
  }
}
