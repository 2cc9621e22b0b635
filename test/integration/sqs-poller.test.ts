// The SQS poller against fauxqs, an SQS emulator speaking the same AWS JSON 1.0 protocol as
// SQS (spec notes §5), through the real @aws-sdk/client-sqs. The sink records in memory:
// the Redis sink has its own tests; here what matters is what the poller hands it and
// when it deletes.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StockguardEvent } from '../../src/domain/events.ts';
import { isStockguardError } from '../../src/errors.ts';
import type { IgnoreReason } from '../../src/ingest/amazon/notifications.ts';
import { SqsPoller, type DeadLetterMetadata, type SqsPollerCounters, type SqsPollerOptions } from '../../src/ingest/amazon/sqsPoller.ts';
import type { EventSink, PublishResult } from '../../src/ingest/sink.ts';

const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };
const REGION = 'us-east-1';

let server: FauxqsServer;
let endpoint: string;
let admin: SQSClient;
let queueCount = 0;

test.before(async () => {
  server = await startFauxqs({ port: 0, logger: false });
  endpoint = `http://127.0.0.1:${server.port}`;
  admin = new SQSClient({ endpoint, region: REGION, credentials: CREDENTIALS });
});

test.after(async () => {
  admin.destroy();
  await server.stop();
});

// ---------------------------------------------------------------------------------------
// Helpers

/** Records what it was given; dedupes on deliveryId like the Redis sink; can be made to fail or wait. */
class RecordingSink implements EventSink {
  readonly published: Array<{ event: StockguardEvent; deliveryId: string | undefined }> = [];
  readonly attempts: Array<string | undefined> = [];
  readonly #seen = new Set<string>();
  /** While it returns true for a delivery id, publish rejects as if Redis were down. */
  failing: (deliveryId: string | undefined) => boolean = () => false;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  waiting = 0;

  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#open?.();
    this.#gate = undefined;
  }

  async publish(event: StockguardEvent, options?: { deliveryId?: string }): Promise<PublishResult> {
    const deliveryId = options?.deliveryId;
    this.attempts.push(deliveryId);
    if (this.#gate) {
      this.waiting += 1;
      await this.#gate;
      this.waiting -= 1;
    }
    if (this.failing(deliveryId)) throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    if (deliveryId !== undefined && this.#seen.has(deliveryId)) return { entryId: undefined, duplicate: true };
    if (deliveryId !== undefined) this.#seen.add(deliveryId);
    this.published.push({ event, deliveryId });
    return { entryId: `${this.published.length}-0`, duplicate: false };
  }
}

class Counters implements SqsPollerCounters {
  receives = 0;
  receivedMessages = 0;
  publishedEvents = 0;
  duplicates = 0;
  ignoredReasons: IgnoreReason[] = [];
  rejections = 0;
  publishFailures = 0;
  deadLetterFailures = 0;
  deleteFailures = 0;
  receiveFailures = 0;
  deliveryLags: Array<[number, string]> = [];
  deliveryLag(seconds: number, notificationType: string): void {
    this.deliveryLags.push([seconds, notificationType]);
  }
  receiveStarted(): void {
    this.receives += 1;
  }
  received(count: number): void {
    this.receivedMessages += count;
  }
  published(): void {
    this.publishedEvents += 1;
  }
  duplicate(): void {
    this.duplicates += 1;
  }
  ignored(reason: IgnoreReason): void {
    this.ignoredReasons.push(reason);
  }
  rejected(): void {
    this.rejections += 1;
  }
  publishFailed(): void {
    this.publishFailures += 1;
  }
  deadLetterFailed(): void {
    this.deadLetterFailures += 1;
  }
  deleteFailed(count: number): void {
    this.deleteFailures += count;
  }
  receiveFailed(): void {
    this.receiveFailures += 1;
  }
}

interface DeadLetterRecord {
  reason: string;
  rawBody: string;
  metadata: DeadLetterMetadata;
}

async function newQueue(): Promise<string> {
  queueCount += 1;
  const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: `amazon-notifications-${process.pid}-${queueCount}` }));
  if (!QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return QueueUrl;
}

async function send(queueUrl: string, body: string): Promise<void> {
  await admin.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

async function depth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await admin.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }),
  );
  return { visible: Number(Attributes?.ApproximateNumberOfMessages), inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible) };
}

/** Nothing left to hand out: neither visible nor in flight, and a receive gets nothing. */
async function assertQueueEmpty(queueUrl: string): Promise<void> {
  assert.equal(await depth(queueUrl), { visible: 0, inFlight: 0 });
  const { Messages } = await admin.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }));
  assert.is(Messages?.length ?? 0, 0);
}

/** Waits for a condition the poller brings about; the limit only stops a broken test from hanging. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

function newPoller(queueUrl: string, overrides: Partial<SqsPollerOptions> & { sink: EventSink }): SqsPoller {
  return new SqsPoller({
    queueUrl,
    sqs: { endpoint, region: REGION, credentials: CREDENTIALS },
    deadLetter: async () => {
      throw new Error('this test expects no dead letter');
    },
    waitTimeSeconds: 1,
    visibilityTimeoutSeconds: 1,
    backoff: { baseMs: 20, maxMs: 100 },
    ...overrides,
  });
}

const metadata = (notificationId: string) => ({
  ApplicationId: 'amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5',
  SubscriptionId: '93b098e1-c42-2f45-93a1-78910a6a8369',
  PublishTime: '2024-05-01T10:00:01.000Z',
  NotificationId: notificationId,
});

function orderChange(notificationId: string, status: string, fulfillmentType = 'MFN'): string {
  return JSON.stringify({
    NotificationVersion: '1.0',
    NotificationType: 'ORDER_CHANGE',
    PayloadVersion: '1.0',
    EventTime: '2024-05-01T10:00:00.000Z',
    Payload: {
      OrderChangeNotification: {
        NotificationLevel: 'OrderLevel',
        SellerId: 'A3TH9S8BH6GOGM',
        AmazonOrderId: '114-3941689-8772232',
        OrderChangeType: 'OrderStatusChange',
        OrderChangeTrigger: { TimeOfOrderChange: '2024-05-01T09:59:59.000Z', ChangeReason: 'Order status changed' },
        Summary: {
          MarketplaceId: 'ATVPDKIKX0DER',
          OrderStatus: status,
          PurchaseDate: '2024-05-01T09:58:00.000Z',
          DestinationPostalCode: '48110',
          FulfillmentType: fulfillmentType,
          OrderType: 'StandardOrder',
          OrderItems: [
            { OrderItemId: '11111111111111', SellerSKU: 'MUG-BLUE', SupplySourceId: null, Quantity: 2 },
            { OrderItemId: '22222222222222', SellerSKU: 'MUG-RED', SupplySourceId: null, Quantity: 1 },
          ],
        },
      },
    },
    NotificationMetadata: metadata(notificationId),
  });
}

function mfnQuantity(notificationId: string, quantity: number): string {
  return JSON.stringify({
    NotificationVersion: '1.0',
    NotificationType: 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE',
    PayloadVersion: '1.0',
    EventTime: '2024-05-01T10:05:00.000Z',
    Payload: { SellerId: 'A3TH9S8BH6GOGM', FulfillmentChannelCode: 'DEFAULT', Sku: 'MUG-BLUE', Quantity: quantity },
    NotificationMetadata: metadata(notificationId),
  });
}

function fbaInventory(notificationId: string): string {
  const inventory = (fulfillable: number) => ({
    InboundQuantityBreakdown: { Working: 0, Shipped: 0, Receiving: 0 },
    Fulfillable: fulfillable,
    Unfulfillable: 0,
    Researching: 0,
    ReservedQuantityBreakdown: { WarehouseProcessing: 0, WarehouseTransfer: 0, PendingCustomerOrder: 0 },
    FutureSupplyBuyable: 0,
    PendingCustomerOrderInTransit: 0,
  });
  return JSON.stringify({
    NotificationVersion: '1.0',
    NotificationType: 'FBA_INVENTORY_AVAILABILITY_CHANGES',
    PayloadVersion: '1.0',
    EventTime: '2024-05-01T10:10:00.000Z',
    Payload: {
      SellerId: 'A3TH9S8BH6GOGM',
      FNSKU: 'X001ABCDEF',
      ASIN: 'B00001ABCD',
      SKU: 'MUG-GREEN',
      FulfillmentInventoryByMarketplace: [
        { MarketplaceId: 'ATVPDKIKX0DER', ItemName: 'Mug', FulfillmentInventory: inventory(7) },
        { MarketplaceId: 'A2EUQ1WTGCTBG2', ItemName: 'Mug', FulfillmentInventory: inventory(3) },
      ],
    },
    NotificationMetadata: metadata(notificationId),
  });
}

// ---------------------------------------------------------------------------------------

test('each notification is published with its NotificationId, then deleted; ignored ones are deleted too', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, orderChange('n-order', 'Unshipped'));
  await send(queueUrl, mfnQuantity('n-level', 5));
  await send(queueUrl, fbaInventory('n-fba'));
  await send(queueUrl, orderChange('n-afn', 'Unshipped', 'AFN'));
  await send(queueUrl, orderChange('n-shipped', 'Shipped'));
  await send(queueUrl, JSON.stringify({ NotificationType: 'ANY_OFFER_CHANGED', Payload: {} }));
  const sink = new RecordingSink();
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink, counters, clock: () => 1_714_557_600_000 });

  const report = await poller.pollOnce();

  assert.equal(report, { received: 6, published: 4, duplicates: 0, ignored: 3, rejected: 0, kept: 0, deleted: 6, deleteFailures: 0 });
  assert.equal(
    sink.published.map(({ event, deliveryId }) => [event.type, event.eventId, deliveryId]),
    [
      ['order.placed', 'n-order', 'n-order'],
      ['channel.level', 'n-level', 'n-level'],
      ['fba.inventory', 'n-fba:0', 'n-fba:0'],
      ['fba.inventory', 'n-fba:1', 'n-fba:1'],
    ],
  );
  const placed = sink.published[0]?.event;
  assert.equal(placed?.type === 'order.placed' && [placed.orderId, placed.lines, placed.receivedAtMs], [
    '114-3941689-8772232',
    [
      { lineId: '11111111111111', refs: ['amazon:MUG-BLUE'], quantity: 2 },
      { lineId: '22222222222222', refs: ['amazon:MUG-RED'], quantity: 1 },
    ],
    1_714_557_600_000,
  ]);
  assert.equal(counters.ignoredReasons.sort(), ['afn-order', 'order-shipped', 'unsupported-type']);
  assert.equal([counters.receivedMessages, counters.publishedEvents, counters.deleteFailures], [6, 4, 0]);
  await assertQueueEmpty(queueUrl);
  await poller.stop();
});

test('the messages of a batch, and the batches of several receive loops, are published at once: one slow publish does not hold the others', async () => {
  const queueUrl = await newQueue();
  for (let index = 0; index < 25; index += 1) await send(queueUrl, orderChange(`n-${index}`, 'Unshipped'));
  const sink = new RecordingSink();
  // Every publish waits at the gate (a Redis master between failovers): how many wait at once
  // is how many the poller has in flight.
  sink.hold();
  const poller = newPoller(queueUrl, { sink, receiveLoops: 3, visibilityTimeoutSeconds: 30 });
  poller.start();
  await waitFor(() => sink.waiting === 25, 'every message waiting at the sink together');
  sink.release();
  await waitFor(() => sink.published.length === 25, 'all published');
  await waitFor(async () => (await depth(queueUrl)).inFlight === 0, 'all deleted');
  assert.equal(new Set(sink.published.map(({ deliveryId }) => deliveryId)).size, 25, 'each message once');
  await assertQueueEmpty(queueUrl);
  await poller.stop();
});

test('one receive loop with a batch of one publishes one message at a time', async () => {
  const queueUrl = await newQueue();
  for (let index = 0; index < 3; index += 1) await send(queueUrl, orderChange(`m-${index}`, 'Unshipped'));
  const sink = new RecordingSink();
  sink.hold();
  const poller = newPoller(queueUrl, { sink, receiveLoops: 1, maxMessages: 1, visibilityTimeoutSeconds: 30 });
  poller.start();
  await waitFor(() => sink.waiting === 1, 'the first message at the sink');
  await sleep(300);
  assert.is(sink.waiting, 1, 'nothing else is taken while it waits');
  sink.release();
  await waitFor(() => sink.published.length === 3, 'all published');
  await poller.stop();
});

test('delivery lag: EventTime to receipt per message that brought a new event; a redelivered duplicate and an ignored one count nothing', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, orderChange('n-lag-order', 'Unshipped'));
  await send(queueUrl, mfnQuantity('n-lag-level', 5));
  await send(queueUrl, orderChange('n-lag-afn', 'Unshipped', 'AFN'));
  const sink = new RecordingSink();
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink, counters, clock: () => Date.parse('2024-05-01T10:06:00.000Z') });
  assert.is((await poller.pollOnce()).received, 3);
  assert.equal(counters.deliveryLags.sort(), [[360, 'ORDER_CHANGE'], [60, 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE']].sort());
  await send(queueUrl, orderChange('n-lag-order', 'Unshipped'));
  const again = await poller.pollOnce();
  assert.is(again.duplicates, 1);
  assert.is(counters.deliveryLags.length, 2, 'a duplicate is not a new delivery lag');
  // The schemas require EventTime (PublishTime is only the fallback); a time ahead of our clock (skew) counts as 0.
  await send(queueUrl, orderChange('n-lag-ahead', 'Unshipped').replace('114-3941689-8772232', '114-0000000-0000001').replace('"EventTime":"2024-05-01T10:00:00.000Z"', '"EventTime":"2024-05-01T10:07:00.000Z"'));
  await poller.pollOnce();
  assert.equal(counters.deliveryLags.at(-1), [0, 'ORDER_CHANGE']);
  await poller.stop();
});

test('a message whose publish fails stays on the queue, comes back after the visibility timeout, and is published once the sink recovers', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, orderChange('n-retry', 'Unshipped'));
  const sink = new RecordingSink();
  sink.failing = () => true;
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink, counters });

  const first = await poller.pollOnce();
  assert.equal([first.received, first.kept, first.deleted], [1, 1, 0]);
  // Not deleted: still on the queue, hidden for the visibility timeout.
  assert.equal(await depth(queueUrl), { visible: 0, inFlight: 1 });

  // The running loop meets it again once it is visible, still fails, and backs off.
  poller.start();
  await waitFor(() => counters.publishFailures >= 2, 'the redelivered message to be tried again');
  assert.equal(sink.published, []);

  sink.failing = () => false;
  await waitFor(() => sink.published.length === 1, 'the message to be published after the sink recovered');
  await waitFor(async () => (await depth(queueUrl)).inFlight === 0, 'the delete');
  await poller.stop();

  assert.ok(sink.attempts.length >= 3);
  assert.ok(sink.attempts.every((deliveryId) => deliveryId === 'n-retry'), 'every attempt carries the NotificationId');
  assert.equal(sink.published.map(({ deliveryId }) => deliveryId), ['n-retry']);
  assert.is(counters.publishedEvents, 1);
  await assertQueueEmpty(queueUrl);
});

test('a notification that failed half-way resumes: the events already published come back as duplicates', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, fbaInventory('n-half'));
  const sink = new RecordingSink();
  sink.failing = (deliveryId) => deliveryId === 'n-half:1';
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink, counters });

  const first = await poller.pollOnce();
  assert.equal([first.published, first.kept, first.deleted], [1, 1, 0]);

  sink.failing = () => false;
  let second = await poller.pollOnce();
  // Hidden for the 1 s visibility timeout; the 1 s long polls end empty until it is back.
  for (let tries = 0; second.received === 0 && tries < 20; tries += 1) second = await poller.pollOnce();
  assert.equal([second.received, second.duplicates, second.published, second.deleted], [1, 1, 1, 1]);
  assert.equal(sink.published.map(({ deliveryId }) => deliveryId), ['n-half:0', 'n-half:1']);
  await assertQueueEmpty(queueUrl);
  await poller.stop();
});

test('a NotificationId delivered twice reaches the sink twice with the same deliveryId; the sink keeps one', async () => {
  const queueUrl = await newQueue();
  const body = mfnQuantity('n-twice', 9);
  await send(queueUrl, body);
  await send(queueUrl, body);
  const sink = new RecordingSink();
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink, counters });

  const report = await poller.pollOnce();

  assert.equal([report.received, report.published, report.duplicates, report.deleted], [2, 1, 1, 2]);
  assert.equal(sink.attempts, ['n-twice', 'n-twice']);
  assert.is(sink.published.length, 1);
  assert.is(counters.duplicates, 1);
  await assertQueueEmpty(queueUrl);
  await poller.stop();
});

test('an unreadable message reaches the dead-letter path with its reason and body, then is deleted', async () => {
  const queueUrl = await newQueue();
  const notJson = '{"NotificationType": "ORDER_CHANGE", ';
  const missingQuantity = JSON.stringify({ ...JSON.parse(mfnQuantity('n-bad', 1)), Payload: { SellerId: 'A3TH9S8BH6GOGM', FulfillmentChannelCode: 'DEFAULT', Sku: 'MUG-BLUE' } });
  await send(queueUrl, notJson);
  await send(queueUrl, missingQuantity);
  const letters: DeadLetterRecord[] = [];
  const sink = new RecordingSink();
  const counters = new Counters();
  const poller = newPoller(queueUrl, {
    sink,
    counters,
    clock: () => 42,
    deadLetter: async (reason, rawBody, metadata) => {
      letters.push({ reason, rawBody, metadata });
    },
  });

  const report = await poller.pollOnce();

  assert.equal([report.rejected, report.deleted, report.kept], [2, 2, 0]);
  assert.is(letters.length, 2);
  assert.match(letters[0]!.reason, 'not valid JSON');
  assert.is(letters[0]!.rawBody, notJson);
  assert.equal(
    { ...letters[0]!.metadata, messageId: typeof letters[0]!.metadata.messageId, sentAtMs: typeof letters[0]!.metadata.sentAtMs },
    { source: 'amazon-sqs', messageId: 'string', receiveCount: 1, sentAtMs: 'number', receivedAtMs: 42, notificationType: undefined, notificationId: undefined },
  );
  assert.match(letters[1]!.reason, 'Payload.Quantity is missing');
  assert.is(letters[1]!.rawBody, missingQuantity);
  assert.equal([letters[1]!.metadata.notificationType, letters[1]!.metadata.notificationId], ['LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'n-bad']);
  assert.equal([sink.attempts.length, counters.rejections], [0, 2]);
  await assertQueueEmpty(queueUrl);
  await poller.stop();
});

test('when the dead-letter write fails the message is not deleted', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, 'not json at all');
  const counters = new Counters();
  const poller = newPoller(queueUrl, {
    sink: new RecordingSink(),
    counters,
    deadLetter: async () => {
      throw new Error('dead-letter stream unavailable');
    },
  });

  const report = await poller.pollOnce();

  assert.equal([report.kept, report.deleted, report.rejected], [1, 0, 0]);
  assert.is(counters.deadLetterFailures, 1);
  assert.equal(await depth(queueUrl), { visible: 0, inFlight: 1 });
  await poller.stop();
});

test('stop() aborts the in-flight long poll instead of waiting it out', async () => {
  const queueUrl = await newQueue();
  const counters = new Counters();
  const poller = newPoller(queueUrl, { sink: new RecordingSink(), counters, waitTimeSeconds: 20, receiveLoops: 2 });
  poller.start();
  await waitFor(() => counters.receives >= 2, 'the first ReceiveMessage of each loop');
  await sleep(50); // let the request reach fauxqs, which now holds it for up to 20 s

  // A guard, not a measurement: an un-aborted 20 s long poll would lose this race.
  const ended = await Promise.race([poller.stop().then(() => 'stopped'), sleep(10_000, 'still polling', { ref: false })]);

  assert.is(ended, 'stopped');
  assert.is(poller.running, false);
  assert.equal([counters.receives, counters.receiveFailures], [2, 0], 'the aborts are not counted as receive errors, and no loop receives again');
});

test('32 receive loops long-polling at once raise no listener-leak warning', async () => {
  const queueUrl = await newQueue();
  const counters = new Counters();
  const warnings: string[] = [];
  const onWarning = (warning: Error) => void warnings.push(`${warning.name}: ${warning.message}`);
  process.on('warning', onWarning);
  try {
    const poller = newPoller(queueUrl, { sink: new RecordingSink(), counters, waitTimeSeconds: 20, receiveLoops: 32 });
    poller.start();
    await waitFor(() => counters.receives >= 32, 'the first ReceiveMessage of each loop');
    await sleep(50);
    await poller.stop();
  } finally {
    process.off('warning', onWarning);
  }
  assert.equal(warnings.filter((warning) => warning.startsWith('MaxListenersExceededWarning')), []);
});

test('stop() lets the messages being processed finish: published and deleted before it resolves', async () => {
  const queueUrl = await newQueue();
  await send(queueUrl, mfnQuantity('n-inflight', 4));
  const sink = new RecordingSink();
  sink.hold();
  const poller = newPoller(queueUrl, { sink });
  poller.start();
  await waitFor(() => sink.waiting === 1, 'the publish to start');

  let stopped = false;
  const stopping = poller.stop().then(() => {
    stopped = true;
  });
  await sleep(50);
  assert.is(stopped, false, 'stop() waits for the publish in progress');
  sink.release();
  await stopping;

  assert.equal(sink.published.map(({ deliveryId }) => deliveryId), ['n-inflight']);
  await assertQueueEmpty(queueUrl);
});

test('receive errors are counted and retried with backoff until stop()', async () => {
  const counters = new Counters();
  const receiveLoops = 2;
  const poller = newPoller(`${endpoint}/000000000000/no-such-queue`, { sink: new RecordingSink(), counters, receiveLoops });
  poller.start();
  await waitFor(() => counters.receiveFailures >= 3, 'three failed receives');
  await poller.stop();
  assert.is(poller.running, false);
  // Every receive failed but those stop() aborted, at most one per loop; none took a message.
  assert.ok(counters.receives - counters.receiveFailures <= receiveLoops, `${counters.receives} receives, ${counters.receiveFailures} failed, ${receiveLoops} loops`);
  assert.is(counters.receivedMessages, 0);
});

test('settings outside what SQS accepts fail at construction, naming the setting', () => {
  const cases: Array<[Partial<SqsPollerOptions>, string]> = [
    [{ waitTimeSeconds: 21 }, 'waitTimeSeconds'],
    [{ maxMessages: 11 }, 'maxMessages'],
    [{ maxMessages: 0 }, 'maxMessages'],
    [{ visibilityTimeoutSeconds: 0 }, 'visibilityTimeoutSeconds'],
    [{ queueUrl: '' }, 'queueUrl'],
    [{ backoff: { baseMs: 100, maxMs: 10 } }, 'backoff'],
    [{ sqs: { region: '' } }, 'sqs.region'],
  ];
  for (const [override, setting] of cases) {
    try {
      newPoller('http://127.0.0.1:1/000000000000/q', { sink: new RecordingSink(), ...override });
      assert.unreachable(`accepted ${JSON.stringify(override)}`);
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'), String(error));
      assert.match(error.message, setting);
    }
  }
});

test.run();
