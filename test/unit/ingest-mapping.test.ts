// The pure edges: lossless JSON, Shopify webhook mapping, WMS payload mapping.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseJsonLossless } from '../../src/domain/losslessJson.ts';
import { mapShopifyWebhook } from '../../src/domain/shopifyWebhooks.ts';
import { mapWmsWebhook } from '../../src/domain/wmsWebhooks.ts';

const context = { eventId: 'evt-1', receivedAtMs: 1_700_000_000_000 };

test('integers above 2^53 keep every digit; strings, floats and safe integers are untouched', () => {
  const parsed = parseJsonLossless('{"id":9007199254740993,"n":-12345678901234567890,"s":"9007199254740993 \\" x","f":1.5e300,"q":3,"a":[18446744073709551615]}');
  assert.equal(parsed, { id: '9007199254740993', n: '-12345678901234567890', s: '9007199254740993 " x', f: 1.5e300, q: 3, a: ['18446744073709551615'] });
  assert.throws(() => parseJsonLossless('{"id": 1,'));
});

test('orders/create becomes order.placed with exact gids; lines name their variant and SKU text, blank SKUs included', () => {
  const payload = parseJsonLossless(`{"id":9007199254740993,"line_items":[
    {"id":18446744073709551615,"variant_id":40000000000000000001,"sku":"TEE-RED-M","quantity":2,"variant_inventory_management":"shopify"},
    {"id":2,"admin_graphql_api_id":"gid://shopify/LineItem/2","sku":"MUG","quantity":1},
    {"id":3,"variant_id":77,"sku":"","quantity":1},
    {"id":5,"variant_id":78,"sku":null,"quantity":1,"variant_inventory_management":null},
    {"id":6,"sku":"","quantity":1},
    {"id":4,"sku":"CARD","quantity":1,"gift_card":true}]}`);
  const outcome = mapShopifyWebhook('orders/create', payload, context);
  if (outcome.kind !== 'events') throw new Error(JSON.stringify(outcome));
  // The gift card and the custom item (no variant, no SKU text) hold no warehouse stock.
  assert.is(outcome.skippedLines, 2);
  assert.equal(outcome.events, [
    {
      eventId: 'orders/create:evt-1:placed',
      source: 'shopify-webhook',
      receivedAtMs: context.receivedAtMs,
      type: 'order.placed',
      channel: 'shopify',
      orderId: 'gid://shopify/Order/9007199254740993',
      lines: [
        { lineId: 'gid://shopify/LineItem/18446744073709551615', refs: ['shopify-variant:gid://shopify/ProductVariant/40000000000000000001', 'shopify-sku:TEE-RED-M'], quantity: 2 },
        { lineId: 'gid://shopify/LineItem/2', refs: ['shopify-sku:MUG'], quantity: 1 },
        { lineId: 'gid://shopify/LineItem/3', refs: ['shopify-variant:gid://shopify/ProductVariant/77'], quantity: 1 },
        { lineId: 'gid://shopify/LineItem/5', refs: ['shopify-variant:gid://shopify/ProductVariant/78'], tracked: false, quantity: 1 },
      ],
    },
  ]);
});

test('orders/cancelled releases the lines; orders/updated with cancelled_at reserves then releases', () => {
  const order = { admin_graphql_api_id: 'gid://shopify/Order/7', cancelled_at: '2026-11-27T10:00:00Z', line_items: [{ id: 1, sku: 'A', quantity: 1 }] };
  const cancelled = mapShopifyWebhook('orders/cancelled', order, context);
  if (cancelled.kind !== 'events') throw new Error('expected events');
  assert.equal(cancelled.events.map((event) => event.type), ['order.cancelled']);
  const updated = mapShopifyWebhook('orders/updated', order, context);
  if (updated.kind !== 'events') throw new Error('expected events');
  assert.equal(updated.events.map((event) => event.type), ['order.placed', 'order.cancelled']);
});

test('malformed orders are rejected with the reason; unknown topics are ignored', () => {
  const rejected = mapShopifyWebhook('orders/create', { id: 5, line_items: [{ id: 1, sku: 'A', quantity: 1.5 }] }, context);
  assert.equal(rejected, { kind: 'rejected', reason: 'order gid://shopify/Order/5: line_items[0].quantity must be a whole number ≥ 0, got 1.5' });
  assert.is(mapShopifyWebhook('orders/create', [], context).kind, 'rejected');
  assert.is(mapShopifyWebhook('products/update', {}, context).kind, 'ignored');
  assert.is(mapShopifyWebhook('inventory_items/update', { id: 1 }, context).kind, 'ignored');
});

test('inventory_levels/update becomes a channel.level observation', () => {
  const payload = parseJsonLossless('{"inventory_item_id":271878346596884015,"location_id":24826418,"available":10,"updated_at":"2026-11-27T09:00:00Z"}');
  const outcome = mapShopifyWebhook('inventory_levels/update', payload, context);
  if (outcome.kind !== 'events') throw new Error('expected events');
  assert.equal(outcome.events[0], {
    eventId: 'inventory_levels/update:evt-1',
    source: 'shopify-webhook',
    receivedAtMs: context.receivedAtMs,
    type: 'channel.level',
    channel: 'shopify',
    channelItemId: 'gid://shopify/InventoryItem/271878346596884015',
    channelLocationId: 'gid://shopify/Location/24826418',
    quantity: 10,
    observedAtMs: Date.parse('2026-11-27T09:00:00Z'),
  });
});

test('a WMS batch maps each event; one bad event refuses the batch with every problem', () => {
  const ok = mapWmsWebhook(
    {
      events: [
        { id: 'w1', type: 'shipment', sku: 'A', quantity: 1, order: { channel: 'shopify', orderId: 'o1', lineId: 'l1' } },
        { id: 'w2', type: 'receipt', sku: 'A', quantity: 5 },
        { id: 'w3', type: 'adjustment', sku: 'A', delta: -2, reason: 'damaged' },
        { id: 'w4', type: 'count', sku: 'A', counted: 0 },
      ],
    },
    1,
  );
  if (!ok.ok) throw new Error(ok.problems.join());
  assert.equal(ok.events.map((event) => event.type), ['wms.shipment', 'wms.adjustment', 'wms.adjustment', 'wms.count']);
  const bad = mapWmsWebhook({ events: [{ id: 'w1', type: 'receipt', sku: 'A', quantity: -1 }, { id: '', type: 'count', sku: 'A', counted: 1.5 }] }, 1);
  if (bad.ok) throw new Error('expected problems');
  assert.is(bad.problems.length, 3);
  assert.match(bad.problems.join('\n'), /events\.0\.quantity/);
  assert.match(bad.problems.join('\n'), /events\.1\.id/);
  assert.match(bad.problems.join('\n'), /events\.1\.counted/);
});

test.run();
