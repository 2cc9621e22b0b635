// Applies one normalised event to the ledger: the consumers' handler. Every branch is
// idempotent through the ledger's own ids (reservation id, shipment id, WMS event id,
// newest-observation-wins), so a redelivered stream entry has no second effect (I2).
import type { StockguardEvent } from '../domain/events.ts';
import type { Ledger, OrderLineResult } from './ledger.ts';
import { reservationId } from './reservationId.ts';

export interface ApplyDependencies {
  ledger: Ledger;
  /** Our SKU for a channel's item id (Shopify inventory item gid, Amazon seller SKU); undefined when unmapped. */
  resolveChannelItem(channel: 'shopify' | 'amazon', channelItemId: string): Promise<string | undefined>;
}

export type ApplyOutcome =
  | { kind: 'reserved'; lines: OrderLineResult[] }
  | { kind: 'released'; units: number }
  | { kind: 'applied' | 'duplicate' }
  | { kind: 'observed'; fresh: boolean }
  | { kind: 'unmapped'; channelItemId: string };

export async function applyEvent(event: StockguardEvent, dependencies: ApplyDependencies): Promise<ApplyOutcome> {
  const { ledger } = dependencies;
  switch (event.type) {
    case 'order.placed':
      return { kind: 'reserved', lines: await ledger.reserveOrder({ channel: event.channel, orderId: event.orderId, lines: event.lines }) };
    case 'order.cancelled': {
      let units = 0;
      for (const line of event.lines) {
        const result = await ledger.release(line.sku, reservationId(event.channel, event.orderId, line.lineId));
        units += result.released;
      }
      return { kind: 'released', units };
    }
    case 'wms.shipment': {
      const result = await ledger.ship(event.sku, {
        shipmentId: event.eventId,
        reservationId: reservationId(event.channel, event.orderId, event.lineId),
        quantity: event.quantity,
      });
      return { kind: result.status === 'DUPLICATE' ? 'duplicate' : 'applied' };
    }
    case 'wms.adjustment': {
      const result = await ledger.adjust(event.sku, { eventId: event.eventId, delta: event.delta, cause: event.cause });
      return { kind: result.status === 'DUPLICATE' ? 'duplicate' : 'applied' };
    }
    case 'wms.count': {
      const result = await ledger.count(event.sku, { eventId: event.eventId, counted: event.counted });
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
      return { kind: 'observed', fresh };
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
