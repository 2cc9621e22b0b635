// Applies one normalised event to the ledger: the consumers' handler. Every branch is
// idempotent through the ledger's own ids (reservation id, shipment id, WMS event id,
// newest-observation-wins), so a redelivered stream entry has no second effect (I2).
import { type BundleLookup, expandWithLookup } from '../domain/bundles.ts';
import type { OrderCancelledEvent, OrderPlacedEvent, StockguardEvent } from '../domain/events.ts';
import { StockguardError } from '../errors.ts';
import type { Ledger, OrderLineResult } from './ledger.ts';
import { reservationId } from './reservationId.ts';

export interface ApplyDependencies {
  ledger: Ledger;
  /** Our SKU for a channel's item id (Shopify inventory item gid, Amazon seller SKU); undefined when unmapped. */
  resolveChannelItem(channel: 'shopify' | 'amazon', channelItemId: string): Promise<string | undefined>;
  /** Our SKU for each catalogue reference (`amazon:<seller SKU>`, `shopify-variant:<gid>`, …); undefined when unmapped. */
  resolveRefs(refs: readonly string[]): Promise<(string | undefined)[]>;
  /** Told of each line left out because its untracked item maps to no SKU (not a warehouse sale). */
  untrackedLine?(channel: string, refs: readonly string[]): void;
  /**
   * The components of each SKU that is a bundle (undefined for a plain SKU), one answer per
   * SKU. Absent: no SKU is a bundle.
   */
  bundleComponents?: BundleLookup;
}

export type ApplyOutcome =
  | { kind: 'reserved'; lines: OrderLineResult[] }
  | { kind: 'released'; units: number }
  | { kind: 'applied' | 'duplicate' }
  | { kind: 'observed'; fresh: boolean; sku?: string }
  | { kind: 'unmapped'; channelItemId: string };

export async function applyEvent(event: StockguardEvent, dependencies: ApplyDependencies): Promise<ApplyOutcome> {
  const { ledger } = dependencies;
  switch (event.type) {
    case 'order.placed': {
      const { resolved, unmapped } = await resolveLines(event, dependencies);
      // A bundle line reserves each of its components (docs/catalog.md, "Bundles").
      // The lines that resolve are reserved even when another does not: a sale is a fact.
      // The dead letter carries the whole event; a replay after the catalogue fix reserves
      // the rest, and the reserved lines are duplicates the ledger ignores.
      const lines = resolved.length === 0 ? [] : await ledger.reserveOrder({ channel: event.channel, orderId: event.orderId, lines: resolved, eventAtMs: eventTimeOf(event) });
      if (unmapped.length > 0) throw unmappedError(event, unmapped);
      return { kind: 'reserved', lines };
    }
    case 'order.cancelled': {
      const { resolved, unmapped } = await resolveLines(event, dependencies);
      let units = 0;
      // A line refused as stale (its record swept) must not keep the other lines held: every
      // line is tried, then the first refusal is thrown (the event is dead-lettered; a
      // replay releases nothing twice).
      let stale: unknown;
      for (const line of resolved) {
        try {
          const result = await ledger.release(line.sku, reservationId(event.channel, event.orderId, line.lineId), eventTimeOf(event));
          units += result.released;
        } catch (error) {
          if (!(error instanceof StockguardError && error.code === 'STOCKGUARD_E_STALE_EVENT')) throw error;
          stale ??= error;
        }
      }
      if (unmapped.length > 0) throw unmappedError(event, unmapped);
      if (stale !== undefined) throw stale;
      return { kind: 'released', units };
    }
    case 'wms.shipment': {
      const result = await ledger.ship(event.sku, {
        shipmentId: event.eventId,
        reservationId: reservationId(event.channel, event.orderId, event.lineId),
        quantity: event.quantity,
        ...(event.seq === undefined ? {} : { seq: event.seq }),
        eventAtMs: eventTimeOf(event),
      });
      return { kind: result.status === 'DUPLICATE' ? 'duplicate' : 'applied' };
    }
    case 'wms.adjustment': {
      const result = await ledger.adjust(event.sku, { eventId: event.eventId, delta: event.delta, cause: event.cause, ...(event.seq === undefined ? {} : { seq: event.seq }), eventAtMs: eventTimeOf(event) });
      return { kind: result.status === 'DUPLICATE' ? 'duplicate' : 'applied' };
    }
    case 'wms.count': {
      const result = await ledger.count(event.sku, { eventId: event.eventId, counted: event.counted, ...(event.seq === undefined ? {} : { seq: event.seq }), eventAtMs: eventTimeOf(event) });
      return { kind: result.status === 'DUPLICATE' ? 'duplicate' : 'applied' };
    }
    case 'channel.level': {
      const sku = event.sku ?? (await dependencies.resolveChannelItem(event.channel, event.channelItemId));
      // Channels report every item of the shop, including ones stockguard does not manage.
      if (!sku) return { kind: 'unmapped', channelItemId: event.channelItemId };
      const fresh = await ledger.recordChannelLevel(sku, event.channel, {
        quantity: event.quantity,
        observedAtMs: event.observedAtMs,
        eventId: event.eventId,
      });
      return { kind: 'observed', fresh, sku };
    }
    case 'fba.inventory': {
      const sku = await dependencies.resolveChannelItem('amazon', event.sellerSku);
      if (!sku) return { kind: 'unmapped', channelItemId: event.sellerSku };
      const fresh = await ledger.recordFbaStock(sku, event.marketplaceId, {
        quantity: event.fulfillable,
        observedAtMs: event.observedAtMs,
        eventId: event.eventId,
      });
      return { kind: 'observed', fresh };
    }
  }
}

/** The event's own time for the dedupe horizon: when it happened at its source, else when stockguard received it (kept on stream redelivery and replay). */
export function eventTimeOf(event: StockguardEvent): number {
  return event.occurredAtMs ?? event.receivedAtMs;
}

type EventLine = OrderPlacedEvent['lines'][number] | OrderCancelledEvent['lines'][number];
type Resolved<L> = L & { sku: string };

/**
 * Our SKU for every line (invariant I9): the SKU the sender named, else the first of the
 * line's catalogue references that maps. Lines that map to nothing are `unmapped`, except
 * untracked items (not warehouse stock), which are left out and reported.
 */
async function resolveLines<L extends EventLine>(
  event: { channel: string; lines: readonly L[] },
  dependencies: ApplyDependencies,
): Promise<{ resolved: Resolved<L>[]; unmapped: L[] }> {
  const refs = event.lines.flatMap((line) => (line.sku === undefined ? (line.refs ?? []) : []));
  const answers = new Map<string, string | undefined>();
  if (refs.length > 0) {
    const skus = await dependencies.resolveRefs(refs);
    refs.forEach((ref, index) => answers.set(ref, skus[index]));
  }
  const resolved: Resolved<L>[] = [];
  const unmapped: L[] = [];
  for (const line of event.lines) {
    const sku = line.sku ?? (line.refs ?? []).map((ref) => answers.get(ref)).find((candidate) => candidate !== undefined);
    if (sku !== undefined) resolved.push({ ...line, sku });
    else if (line.tracked === false) dependencies.untrackedLine?.(event.channel, line.refs ?? []);
    else unmapped.push(line);
  }
  // A bundle line becomes one line per component, under the same line id (same reservation id in each component's hash).
  const expanded = await expandWithLookup(resolved as unknown as Array<{ sku: string; lineId: string }>, dependencies.bundleComponents);
  return { resolved: expanded as unknown as Resolved<L>[], unmapped };
}


function unmappedError(event: { channel: string; orderId: string }, lines: readonly EventLine[]): StockguardError {
  const named = lines.map((line) => `line ${line.lineId} (${(line.refs ?? []).map(describeRef).join(' or ')})`);
  return new StockguardError(
    'STOCKGUARD_E_UNMAPPED_ITEM',
    `${event.channel} order ${event.orderId}: ${named.join('; ')} maps to no SKU in the catalogue; the other lines were applied. Add the identifier to the catalogue entry of the SKU it sells (${columnsOf(lines).join(' or ')}), \`stockguard catalog import\` it, then \`stockguard dlq replay\``,
    { details: { channel: event.channel, orderId: event.orderId, lines: lines.map((line) => ({ lineId: line.lineId, refs: line.refs ?? [] })) } },
  );
}

const REF_NAMES: Record<string, { name: string; column: string }> = {
  amazon: { name: 'Amazon seller SKU', column: 'amazonSellerSku' },
  'shopify-variant': { name: 'Shopify variant', column: 'shopifyVariantId' },
  'shopify-sku': { name: 'Shopify SKU text', column: 'shopifySku' },
  shopify: { name: 'Shopify inventory item', column: 'shopifyInventoryItemId' },
};

function describeRef(ref: string): string {
  const split = ref.indexOf(':');
  const kind = REF_NAMES[ref.slice(0, split)];
  return kind ? `${kind.name} ${JSON.stringify(ref.slice(split + 1))}` : JSON.stringify(ref);
}

function columnsOf(lines: readonly EventLine[]): string[] {
  const columns = new Set<string>();
  for (const line of lines) for (const ref of line.refs ?? []) columns.add(REF_NAMES[ref.slice(0, ref.indexOf(':'))]?.column ?? 'the channel mapping');
  return [...columns];
}
