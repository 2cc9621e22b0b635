// The WMS webhook payload (documented in docs/wms.md) and its mapping to stockguard
// events. Pure. A batch is validated whole: one malformed event refuses the batch with
// every problem listed, so a WMS never has half a batch accepted.
import { z } from 'zod';
import { CHANNELS, type StockguardEvent } from './events.ts';

const id = z.string().min(1).max(256);
const sku = z.string().min(1).max(200);
const quantity = z.number().int().min(1).max(1_000_000_000);
const occurredAt = z.string().datetime({ offset: true }).optional();
/**
 * The SKU's movement number (docs/wms.md, "Watermark"): 1 for the first movement of the SKU
 * the WMS numbers, then +1 per movement, no gaps; a retry keeps it. Optional: a WMS without
 * a watermark sends none.
 */
const seq = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional();

const WmsEvent = z.discriminatedUnion('type', [
  z.object({
    id,
    type: z.literal('shipment'),
    sku,
    quantity,
    order: z.object({ channel: z.enum(CHANNELS), orderId: id, lineId: id }),
    occurredAt,
    seq,
  }),
  z.object({ id, type: z.literal('receipt'), sku, quantity, occurredAt, seq }),
  z.object({
    id,
    type: z.literal('adjustment'),
    sku,
    delta: z.number().int().min(-1_000_000_000).max(1_000_000_000).refine((value) => value !== 0, 'must not be 0'),
    reason: z.string().max(200).optional(),
    occurredAt,
    seq,
  }),
  z.object({ id, type: z.literal('count'), sku, counted: z.number().int().min(0).max(1_000_000_000), occurredAt, seq }),
]);

export const WmsWebhookPayload = z.object({ events: z.array(WmsEvent).min(1).max(500) });
export type WmsWebhookPayload = z.infer<typeof WmsWebhookPayload>;

export type WmsParseResult = { ok: true; events: StockguardEvent[] } | { ok: false; problems: string[] };

export function mapWmsWebhook(payload: unknown, receivedAtMs: number): WmsParseResult {
  const parsed = WmsWebhookPayload.safeParse(payload);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`) };
  }
  // An id names one event forever. A second event with the same id in one batch would hit
  // the first one's delivery mark and vanish as a "duplicate" without a trace, whatever
  // its content: refuse the batch instead, so the WMS sees its mistake.
  const firstIndex = new Map<string, number>();
  const repeats: string[] = [];
  parsed.data.events.forEach((event, index) => {
    const first = firstIndex.get(event.id);
    if (first === undefined) firstIndex.set(event.id, index);
    else repeats.push(`events.${index}.id: ${JSON.stringify(event.id)} repeats events.${first}.id; every event needs its own id`);
  });
  if (repeats.length > 0) return { ok: false, problems: repeats };
  const base = { source: 'wms-webhook' as const, receivedAtMs };
  const events = parsed.data.events.map((event): StockguardEvent => {
    // The movement number rides along on the stream (absent stays absent: the event schema is optional).
    const seq = event.seq === undefined ? {} : { seq: event.seq };
    switch (event.type) {
      case 'shipment':
        return { ...base, eventId: event.id, type: 'wms.shipment', sku: event.sku, quantity: event.quantity, ...event.order, ...seq };
      case 'receipt':
        return { ...base, eventId: event.id, type: 'wms.adjustment', sku: event.sku, cause: 'receipt', delta: event.quantity, ...seq };
      case 'adjustment':
        return { ...base, eventId: event.id, type: 'wms.adjustment', sku: event.sku, cause: 'adjustment', delta: event.delta, ...seq };
      case 'count':
        return { ...base, eventId: event.id, type: 'wms.count', sku: event.sku, counted: event.counted, ...seq };
    }
  });
  // `occurredAt` is the event's own time: the ledger refuses an event older than the dedupe
  // horizon it has no mark of (docs/wms.md, "Retries").
  return {
    ok: true,
    events: events.map((event, index) => {
      const occurredAt = parsed.data.events[index]?.occurredAt;
      const occurredAtMs = occurredAt === undefined ? Number.NaN : Date.parse(occurredAt);
      return Number.isFinite(occurredAtMs) && occurredAtMs >= 0 ? { ...event, occurredAtMs } : event;
    }),
  };
}
