import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StockguardEvent } from '../../src/domain/events.ts';
import { parseAmazonNotification, type NotificationOutcome, type ParseNotificationOptions } from '../../src/ingest/amazon/notifications.ts';
import { OFFICIAL_SCHEMAS, fieldPath } from '../../src/ingest/amazon/schemas.ts';

type Json = { [key: string]: unknown };

function isJson(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Follows a dotted path (numeric segments index arrays) through parsed JSON. */
function at(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => {
    if (Array.isArray(node)) return node[Number(key)];
    if (isJson(node)) return node[key];
    throw new Error(`no ${key} in ${path}`);
  }, root);
}

function objectAt(root: unknown, path: string): Json {
  const node = at(root, path);
  if (!isJson(node)) throw new Error(`${path} is not an object`);
  return node;
}

/** Sets (or, with `undefined`, deletes) the field at a dotted path of a notification. */
function change(root: Json, path: string, value: unknown): Json {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.length ? at(root, keys.join('.')) : root;
  if (Array.isArray(parent)) parent[Number(last)] = value;
  else if (isJson(parent)) {
    if (value === undefined) delete parent[last];
    else parent[last] = value;
  } else throw new Error(`cannot set ${path}`);
  return root;
}

const ORDER = 'Payload.OrderChangeNotification';
const SUMMARY = `${ORDER}.Summary`;

/** The example Amazon ships in OrderChangeNotification.json (MFN, Unshipped, buyer asked to cancel). */
function orderExample(): Json {
  return structuredClone(objectAt(OFFICIAL_SCHEMAS.ORDER_CHANGE, 'examples.0'));
}
function mfnExample(): Json {
  return structuredClone(objectAt(OFFICIAL_SCHEMAS.LISTINGS_ITEM_MFN_QUANTITY_CHANGE, 'examples.0'));
}
/** The FBA schema has no whole-notification example: its Payload example in the PascalCase envelope (spec §3.1). */
function fbaExample(): Json {
  return {
    NotificationVersion: '1.0',
    NotificationType: 'FBA_INVENTORY_AVAILABILITY_CHANGES',
    PayloadVersion: '1.0',
    EventTime: '2020-07-13T19:42:04.284Z',
    Payload: structuredClone(objectAt(OFFICIAL_SCHEMAS.FBA_INVENTORY_AVAILABILITY_CHANGES, 'properties.Payload.examples.0')),
    NotificationMetadata: {
      ApplicationId: 'amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5',
      SubscriptionId: '93b098e1-c42-2f45-93a1-78910a6a8369',
      PublishTime: '2020-07-13T19:42:05.000Z',
      NotificationId: 'fba-0b9f-4c2e',
    },
  };
}

/** A plain MFN order: the official example without the buyer's cancel request, with two lines of one SKU. */
function unshippedOrder(): Json {
  const notification = orderExample();
  change(notification, `${ORDER}.OrderChangeType`, 'OrderStatusChange');
  change(notification, `${ORDER}.OrderChangeTrigger.ChangeReason`, 'Order status changed');
  const first = objectAt(notification, `${SUMMARY}.OrderItems.0`);
  delete first['IsBuyerRequestedCancel'];
  change(notification, `${SUMMARY}.OrderItems.1`, { ...structuredClone(first), OrderItemId: 'OIID2', Quantity: 3 });
  return notification;
}

const OPTIONS: ParseNotificationOptions = { receivedAtMs: 1_700_000_000_000 };

function parse(notification: Json, options: ParseNotificationOptions = OPTIONS): NotificationOutcome {
  return parseAmazonNotification(JSON.stringify(notification), options);
}

function eventsOf(outcome: NotificationOutcome): StockguardEvent[] {
  if (outcome.kind !== 'events') throw new Error(`expected events, got ${JSON.stringify(outcome)}`);
  for (const event of outcome.events) StockguardEvent.parse(event);
  return outcome.events;
}

function rejectionOf(outcome: NotificationOutcome): string {
  if (outcome.kind !== 'rejected') throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`);
  return outcome.reason;
}

test('the vendored schemas are the bytes the README lists (amzn/selling-partner-api-models)', () => {
  const readme = readFileSync(new URL('../../src/ingest/amazon/schemas/README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| `([A-Za-z]+\.json)` \| `[^`]+` \| `([0-9a-f]{64})` \|$/gm)];
  assert.equal(rows.map((row) => row[1]).sort(), [
    'FBAInventoryAvailabilityChangeNotification.json',
    'ListingsItemMfnQuantityChange.json',
    'OrderChangeNotification.json',
  ]);
  for (const [, file, sha] of rows) {
    const bytes = readFileSync(new URL(`../../src/ingest/amazon/schemas/${file}`, import.meta.url));
    assert.is(createHash('sha256').update(bytes).digest('hex'), sha, file);
  }
});

test("Amazon's ORDER_CHANGE example (MFN, Unshipped, buyer asked to cancel) keeps its units held", () => {
  // A cancel *request* is not a cancellation: the ledger's cancel is final, so releasing
  // now could sell units the seller still ships. The hold ends on OrderStatus Canceled.
  const outcome = parse(orderExample());
  assert.is(outcome.kind, 'events');
  assert.is(outcome.kind === 'events' && outcome.deliveryId, 'd0e9e693-c3ad-4373-979f-ed4ec98dd746');
  assert.equal(eventsOf(outcome), [
    {
      eventId: 'd0e9e693-c3ad-4373-979f-ed4ec98dd746',
      source: 'amazon-sqs',
      receivedAtMs: OPTIONS.receivedAtMs,
      // The order's own time for the dedupe horizon: Summary.PurchaseDate of the example.
      occurredAtMs: Date.parse(String(objectAt(orderExample(), SUMMARY)['PurchaseDate'])),
      type: 'order.placed',
      channel: 'amazon',
      orderId: '903-8868176-2219830',
      lines: [{ lineId: 'OIID34853450', refs: ['amazon:SellerSKUID1'], quantity: 10 }],
    },
  ]);
});

test('an MFN order that is Pending, Unshipped or PartiallyShipped becomes order.placed with every line', () => {
  for (const status of ['Pending', 'Unshipped', 'PartiallyShipped']) {
    const notification = change(unshippedOrder(), `${SUMMARY}.OrderStatus`, status);
    const [event, ...rest] = eventsOf(parse(notification));
    assert.is(rest.length, 0, status);
    assert.is(event?.type, 'order.placed', status);
    assert.equal(event?.type === 'order.placed' && event.lines, [
      { lineId: 'OIID34853450', refs: ['amazon:SellerSKUID1'], quantity: 10 },
      { lineId: 'OIID2', refs: ['amazon:SellerSKUID1'], quantity: 3 },
    ], status);
  }
});

test('the same notification always yields the same events, so a redelivery is a duplicate', () => {
  const body = JSON.stringify(fbaExample());
  assert.equal(parseAmazonNotification(body, OPTIONS), parseAmazonNotification(body, OPTIONS));
});

test('a Canceled MFN order becomes order.cancelled for every line, a 0-quantity line included', () => {
  const notification = change(unshippedOrder(), `${SUMMARY}.OrderStatus`, 'Canceled');
  change(notification, `${SUMMARY}.OrderItems.1.Quantity`, 0);
  assert.equal(eventsOf(parse(notification)), [
    {
      eventId: 'd0e9e693-c3ad-4373-979f-ed4ec98dd746',
      source: 'amazon-sqs',
      receivedAtMs: OPTIONS.receivedAtMs,
      occurredAtMs: Date.parse(String(objectAt(orderExample(), SUMMARY)['PurchaseDate'])),
      type: 'order.cancelled',
      channel: 'amazon',
      orderId: '903-8868176-2219830',
      lines: [
        { lineId: 'OIID34853450', refs: ['amazon:SellerSKUID1'] },
        { lineId: 'OIID2', refs: ['amazon:SellerSKUID1'] },
      ],
    },
  ]);
});

test('an AFN (FBA) order never touches the ledger, whatever its status', () => {
  for (const status of ['Unshipped', 'Canceled', 'Shipped', 'Pending']) {
    const notification = change(change(unshippedOrder(), `${SUMMARY}.FulfillmentType`, 'AFN'), `${SUMMARY}.OrderStatus`, status);
    const outcome = parse(notification);
    assert.is(outcome.kind, 'ignored', status);
    assert.is(outcome.kind === 'ignored' && outcome.reason, 'afn-order', status);
  }
});

test('Shipped, InvoiceUnconfirmed, PendingAvailability and Unfulfillable orders produce no event', () => {
  const expected = {
    Shipped: 'order-shipped',
    InvoiceUnconfirmed: 'order-shipped',
    PendingAvailability: 'order-pending-availability',
    Unfulfillable: 'order-unfulfillable',
  };
  for (const [status, reason] of Object.entries(expected)) {
    const outcome = parse(change(unshippedOrder(), `${SUMMARY}.OrderStatus`, status));
    assert.equal(outcome.kind === 'ignored' && [outcome.reason, outcome.deliveryId], [reason, 'd0e9e693-c3ad-4373-979f-ed4ec98dd746'], status);
  }
});

test('a 0-quantity line of an open order is left out; an order of only such lines is ignored', () => {
  const notification = change(unshippedOrder(), `${SUMMARY}.OrderItems.0.Quantity`, 0);
  const [event] = eventsOf(parse(notification));
  assert.equal(event?.type === 'order.placed' && event.lines, [{ lineId: 'OIID2', refs: ['amazon:SellerSKUID1'], quantity: 3 }]);
  change(notification, `${SUMMARY}.OrderItems.1.Quantity`, 0);
  const outcome = parse(notification);
  assert.is(outcome.kind === 'ignored' && outcome.reason, 'no-ledger-lines');
});

test('the MFN-only SKU policy drops lines and levels of SKUs the ledger does not manage, never FBA stock', () => {
  const options: ParseNotificationOptions = { ...OPTIONS, isLedgerSku: (sku) => sku !== 'DROPSHIP-1' };
  const order = change(unshippedOrder(), `${SUMMARY}.OrderItems.1.SellerSKU`, 'DROPSHIP-1');
  const [placed] = eventsOf(parse(order, options));
  assert.equal(placed?.type === 'order.placed' && placed.lines.map((line) => line.lineId), ['OIID34853450']);
  const cancelled = eventsOf(parse(change(structuredClone(order), `${SUMMARY}.OrderStatus`, 'Canceled'), options));
  assert.equal(cancelled[0]?.type === 'order.cancelled' && cancelled[0].lines.map((line) => line.lineId), ['OIID34853450']);

  const level = parse(change(mfnExample(), 'Payload.Sku', 'DROPSHIP-1'), options);
  assert.is(level.kind === 'ignored' && level.reason, 'sku-not-managed');
  const fba = eventsOf(parse(change(fbaExample(), 'Payload.SKU', 'DROPSHIP-1'), options));
  assert.is(fba.length, 2);
});

test("Amazon's MFN quantity example becomes channel.level for the seller SKU at EventTime", () => {
  const outcome = parse(mfnExample());
  assert.equal(eventsOf(outcome), [
    {
      eventId: '8e009934-da2c-4f9c-9bc7-93f23b7e1f60',
      source: 'amazon-sqs',
      receivedAtMs: OPTIONS.receivedAtMs,
      type: 'channel.level',
      channel: 'amazon',
      channelItemId: 'NLS-SHOES-03',
      quantity: 99,
      observedAtMs: Date.UTC(2021, 1, 3, 18, 59, 30, 194),
    },
  ]);
});

test('an MFN quantity for a channel code other than DEFAULT is ignored', () => {
  const outcome = parse(change(mfnExample(), 'Payload.FulfillmentChannelCode', 'AMAZON_NA'));
  assert.is(outcome.kind === 'ignored' && outcome.reason, 'not-default-channel');
});

test("Amazon's FBA example becomes one fba.inventory per marketplace, ids suffixed, and no order event", () => {
  const events = eventsOf(parse(fbaExample()));
  assert.equal(events, [
    {
      eventId: 'fba-0b9f-4c2e:0',
      source: 'amazon-sqs',
      receivedAtMs: OPTIONS.receivedAtMs,
      type: 'fba.inventory',
      sellerSku: 'SELLERSKU-1',
      marketplaceId: 'ATVPDKIKX0DER',
      fulfillable: 50,
      observedAtMs: Date.UTC(2020, 6, 13, 19, 42, 4, 284),
    },
    {
      eventId: 'fba-0b9f-4c2e:1',
      source: 'amazon-sqs',
      receivedAtMs: OPTIONS.receivedAtMs,
      type: 'fba.inventory',
      sellerSku: 'SELLERSKU-1',
      marketplaceId: 'A2EUQ1WTGCTBG2',
      fulfillable: 40,
      observedAtMs: Date.UTC(2020, 6, 13, 19, 42, 4, 284),
    },
  ]);
});

test('an FBA notification for one marketplace keeps the bare NotificationId; one for none is ignored', () => {
  const notification = fbaExample();
  const marketplaces = at(notification, 'Payload.FulfillmentInventoryByMarketplace');
  assert.ok(Array.isArray(marketplaces));
  marketplaces.splice(1);
  assert.equal(eventsOf(parse(notification)).map((event) => event.eventId), ['fba-0b9f-4c2e']);
  marketplaces.splice(0);
  const outcome = parse(notification);
  assert.is(outcome.kind === 'ignored' && outcome.reason, 'no-marketplaces');
});

test('an FBA notification without NotificationMetadata or EventTime is accepted: its body identifies it, the receive time orders it', () => {
  // Amazon's FBA schema requires neither (issue 13): it is a snapshot of Amazon's stock, never a sale.
  const bare = change(change(fbaExample(), 'NotificationMetadata', undefined), 'EventTime', undefined);
  const events = eventsOf(parse(bare));
  assert.ok(events.length >= 1);
  for (const event of events) {
    assert.ok(event.eventId.startsWith('fba-body:'), event.eventId);
    assert.is(event.type === 'fba.inventory' && event.observedAtMs, OPTIONS.receivedAtMs);
  }
  // A redelivery of the same body has the same ids (deduplicated); another body has others.
  assert.equal(eventsOf(parse(bare)).map((event) => event.eventId), events.map((event) => event.eventId));
  const other = change(bare, 'Payload.FulfillmentInventoryByMarketplace.0.FulfillmentInventory.Fulfillable', 1);
  assert.not.equal(eventsOf(parse(other))[0]!.eventId, events[0]!.eventId);
  // A sale still needs its NotificationId: without it a redelivery would reserve twice.
  assert.match(rejectionOf(parse(change(orderExample(), 'NotificationMetadata', undefined))), 'NotificationMetadata is missing');
});

test('an ORDER_CHANGE that repeats an OrderItemId reserves every line: the repeat becomes line <id>#2, with a warning', () => {
  const outcome = parse(change(unshippedOrder(), `${SUMMARY}.OrderItems.1.OrderItemId`, 'OIID34853450'));
  const [event] = eventsOf(outcome);
  assert.equal(event?.type === 'order.placed' && event.lines.map((line) => [line.lineId, line.quantity]), [
    ['OIID34853450', 10],
    ['OIID34853450#2', 3],
  ]);
  assert.match(outcome.kind === 'events' ? (outcome.warnings ?? []).join() : '', 'repeats an earlier item; applied as line "OIID34853450#2"');
});

test('a missing required field is rejected, naming the field', () => {
  assert.match(
    rejectionOf(parse(change(mfnExample(), 'Payload.Quantity', undefined))),
    "LISTINGS_ITEM_MFN_QUANTITY_CHANGE does not match Amazon's schema: Payload.Quantity is missing",
  );
  assert.match(rejectionOf(parse(change(orderExample(), `${SUMMARY}.OrderItems.0.SellerSKU`, undefined))), `${SUMMARY}.OrderItems[0].SellerSKU is missing`);
  assert.match(rejectionOf(parse(change(orderExample(), 'NotificationMetadata.NotificationId', undefined))), 'NotificationMetadata.NotificationId is missing');
  assert.match(
    rejectionOf(parse(change(fbaExample(), 'Payload.FulfillmentInventoryByMarketplace.1.FulfillmentInventory.Fulfillable', undefined))),
    'Payload.FulfillmentInventoryByMarketplace[1].FulfillmentInventory.Fulfillable is missing',
  );
});

test('a wrongly typed or out-of-enum field is rejected, naming the field and what is wrong', () => {
  assert.match(rejectionOf(parse(change(mfnExample(), 'Payload.Quantity', '99'))), 'Payload.Quantity must be integer');
  assert.match(rejectionOf(parse(change(mfnExample(), 'EventTime', 'yesterday'))), 'EventTime must match format "date-time"');
  assert.match(rejectionOf(parse(change(orderExample(), `${SUMMARY}.OrderStatus`, 'Lost'))), `${SUMMARY}.OrderStatus must be one of Pending, Unshipped`);
  assert.match(rejectionOf(parse(change(orderExample(), `${SUMMARY}.FulfillmentType`, 'SFP'))), `${SUMMARY}.FulfillmentType must be one of AFN, MFN`);
});

test('a value Amazon allows but no consumer could apply is rejected with the notification field name', () => {
  assert.match(rejectionOf(parse(change(unshippedOrder(), `${SUMMARY}.OrderItems.1.Quantity`, -2))), `${SUMMARY}.OrderItems[1].Quantity:`);
  assert.match(rejectionOf(parse(change(unshippedOrder(), `${SUMMARY}.OrderItems.0.SellerSKU`, 'S'.repeat(201)))), `${SUMMARY}.OrderItems[0].SellerSKU:`);
  assert.match(rejectionOf(parse(change(fbaExample(), 'Payload.FulfillmentInventoryByMarketplace.0.FulfillmentInventory.Fulfillable', -1))), 'Payload.FulfillmentInventoryByMarketplace[0].FulfillmentInventory.Fulfillable:');
  assert.match(rejectionOf(parse(change(fbaExample(), 'EventTime', '1969-12-31T23:59:59Z'))), 'EventTime:');
});

test('a body that is not JSON, not an object or not a notification is rejected with the reason', () => {
  assert.match(rejectionOf(parseAmazonNotification('{"NotificationType": "ORDER_CHANGE",', OPTIONS)), 'not valid JSON');
  assert.match(rejectionOf(parseAmazonNotification('', OPTIONS)), 'not valid JSON');
  assert.match(rejectionOf(parseAmazonNotification('[1,2]', OPTIONS)), 'not an object (got an array)');
  assert.match(rejectionOf(parseAmazonNotification('{"Type":"Notification","Message":"{}"}', OPTIONS)), 'NotificationType is missing');
});

test('a notification type stockguard does not consume is ignored, in either casing', () => {
  const pricing = { ...mfnExample(), NotificationType: 'ANY_OFFER_CHANGED', Payload: {} };
  const feed = {
    notificationVersion: '2020-09-04',
    notificationType: 'FEED_PROCESSING_FINISHED',
    payloadVersion: '2020-09-04',
    eventTime: '2020-07-13T19:42:04.284Z',
    payload: { feedProcessingFinishedNotification: { accountId: 'A1', feedId: '1', feedType: 'JSON_LISTINGS_FEED', processingStatus: 'DONE' } },
    notificationMetadata: { applicationId: 'app', subscriptionId: 'sub', publishTime: '2020-07-13T19:42:04.284Z', notificationId: 'feed-1' },
  };
  const outcomes = [parse(pricing), parse(feed)];
  assert.equal(outcomes.map((outcome) => outcome.kind === 'ignored' && [outcome.reason, outcome.notificationType, outcome.deliveryId]), [
    ['unsupported-type', 'ANY_OFFER_CHANGED', '8e009934-da2c-4f9c-9bc7-93f23b7e1f60'],
    ['unsupported-type', 'FEED_PROCESSING_FINISHED', 'feed-1'],
  ]);
});

test('ajv instance paths read the way Amazon names fields', () => {
  assert.is(fieldPath(''), '');
  assert.is(fieldPath('/Payload/OrderItems/0/Quantity'), 'Payload.OrderItems[0].Quantity');
  assert.is(fieldPath('/Payload/a~1b'), 'Payload.a/b');
});

test.run();
