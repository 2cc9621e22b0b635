// STOCKGUARD_REDIS_WAIT_REPLICAS: an acknowledged write is on a replica. Against a private
// master with one replica (and a Cluster of 3 masters with a replica each): the edge's
// append resolves only once the replica has it, and when fewer replicas than asked confirm
// it (asking for 2 of 1; the replica stopped) the webhook is answered 503 and the SQS
// message stays on the queue; a consumer leaves the entry of a ledger change that WAIT
// found short unacknowledged. No assertion on durations: the WAITs that must fall short
// ask for more replicas than exist, or run with the replica gone.
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { pino } from 'pino';
import { Cluster, Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamConsumer } from '../../src/consumers/consumer.ts';
import type { StockguardEvent } from '../../src/domain/events.ts';
import { isStockguardError } from '../../src/errors.ts';
import { SqsPoller } from '../../src/ingest/amazon/sqsPoller.ts';
import { createHttpServer, listen } from '../../src/ingest/http/server.ts';
import { signShopify } from '../../src/ingest/http/signatures.ts';
import { shopifyWebhookRoute } from '../../src/ingest/http/webhooks.ts';
import { RedisEventSink } from '../../src/ingest/redisSink.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { isRedisUnavailable } from '../../src/redis/client.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { type ReplicaWait, writeThenWait } from '../../src/redis/topology.ts';
import { RedisCluster, RedisServer } from '../../src/sim/redisServer.ts';

const PREFIX = 'sgwait';
const APP_SECRET = 'shpss_test_secret';
const logger = pino({ level: 'silent' });

let master: RedisServer;
let replica: RedisServer;
const clients: (Redis | Cluster)[] = [];

function client(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

/** Waits for a condition; the limit only stops a broken test from hanging. */
async function waitFor(condition: () => boolean | Promise<boolean>, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(20);
  }
}

async function connectedReplicas(redis: Redis): Promise<number> {
  const info = await redis.info('replication');
  return Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
}

function orderPlaced(orderId: string, sku = 'MUG'): StockguardEvent {
  return {
    type: 'order.placed',
    source: 'shopify-webhook',
    channel: 'shopify',
    orderId,
    lines: [{ lineId: '1', sku, quantity: 1 }],
    receivedAtMs: Date.now(),
  } as StockguardEvent;
}

function expectNotReplicated(error: unknown): void {
  assert.ok(isStockguardError(error) && error.code === 'STOCKGUARD_E_NOT_REPLICATED', `expected STOCKGUARD_E_NOT_REPLICATED, got ${String(error)}`);
  assert.ok(isRedisUnavailable(error), 'a consumer does not count it against the delivery limit');
}

test.before(async () => {
  master = await RedisServer.start();
  replica = await RedisServer.start();
  const replicaClient = client(replica.url);
  await replicaClient.call('REPLICAOF', '127.0.0.1', String(master.port));
  const masterClient = client(master.url);
  await waitFor(async () => (await connectedReplicas(masterClient)) === 1 && /master_link_status:up/.test(await replicaClient.info('replication')), 'the replica to follow the master');
});

test.after(async () => {
  await Promise.all(clients.map((redis) => redis.quit().catch(() => redis.disconnect())));
  await Promise.all([replica?.stop(), master?.stop()]);
});

test('an append with WAIT 1 resolves once the replica has it; the replica holds the entry when publish resolves', async () => {
  const redis = client(master.url);
  const keys = new KeySpace(PREFIX);
  const shortfalls: number[] = [];
  const sink = new RedisEventSink({ redis, keys, partitions: 1, dedupeWindowSeconds: 3600, replicaWait: { replicas: 1, timeoutMs: 5000, onShortfall: (n) => shortfalls.push(n) } });
  const event = orderPlaced('o-1');
  const result = await sink.publish(event, { deliveryId: 'd-1' });
  assert.is(result.duplicate, false);
  const onReplica = await client(replica.url).xrange(sink.streamFor(event), result.entryId!, result.entryId!);
  assert.is(onReplica.length, 1, 'WAIT returned: the replica has the entry');
  assert.equal(shortfalls, []);
  assert.is((await sink.publish(event, { deliveryId: 'd-1' })).duplicate, true);
});

test('writes asked for together share one WAIT per node: each gets its own reply or error, and the replica has every write that succeeded', async () => {
  const redis = client(master.url);
  await redis.set(`${PREFIX}:{g}:text`, 'not a number');
  const wait: ReplicaWait = { replicas: 1, timeoutMs: 5000 };
  const appends = Array.from({ length: 20 }, (_, index) => writeThenWait(redis, ['XADD', `${PREFIX}:{g}:stream`, '*', 'n', String(index)], wait));
  const failing = writeThenWait(redis, ['INCR', `${PREFIX}:{g}:text`], wait);
  const results = await Promise.all(appends);
  for (const result of results) {
    assert.is(result.error, null);
    assert.is(result.replicas, 1);
  }
  const failed = await failing;
  assert.match(String(failed.error?.message), /not an integer/);
  const onReplica = await client(replica.url).xrange(`${PREFIX}:{g}:stream`, '-', '+');
  assert.equal(onReplica.map(([id]) => id), results.map((result) => result.reply));
});

test('an append WAIT cannot confirm (2 replicas asked, 1 exists) rejects with STOCKGUARD_E_NOT_REPLICATED and counts; the resend is a duplicate', async () => {
  const redis = client(master.url);
  const keys = new KeySpace(PREFIX);
  const shortfalls: number[] = [];
  const wait: ReplicaWait = { replicas: 2, timeoutMs: 50, onShortfall: (n) => shortfalls.push(n) };
  const sink = new RedisEventSink({ redis, keys, partitions: 1, dedupeWindowSeconds: 3600, replicaWait: wait });
  const error = await sink.publish(orderPlaced('o-2'), { deliveryId: 'd-2' }).then(() => undefined, (caught: unknown) => caught);
  expectNotReplicated(error);
  assert.equal(shortfalls, [1], 'WAIT counted the one replica there is');
  // The append itself happened: the sender's retry finds the delivery mark.
  const retry = new RedisEventSink({ redis, keys, partitions: 1, dedupeWindowSeconds: 3600, replicaWait: { replicas: 1, timeoutMs: 5000 } });
  assert.is((await retry.publish(orderPlaced('o-2'), { deliveryId: 'd-2' })).duplicate, true);
});

test('a Shopify webhook whose append WAIT cannot confirm is answered 503 STOCKGUARD_E_NOT_REPLICATED, so Shopify resends it', async () => {
  const redis = client(master.url);
  const sink = new RedisEventSink({ redis, keys: new KeySpace(PREFIX), partitions: 1, dedupeWindowSeconds: 3600, replicaWait: { replicas: 2, timeoutMs: 50 } });
  const server = createHttpServer({ bodyLimitBytes: 64 * 1024, logger, routes: [shopifyWebhookRoute({ sink, appSecrets: [APP_SECRET], maxAgeSeconds: 3600, clock: Date.now, logger })] });
  const http = await listen(server, 0, '127.0.0.1');
  try {
    const body = '{"id":77,"line_items":[{"id":1,"sku":"TEE","quantity":2}]}';
    const response = await fetch(`${http.url}/webhooks/shopify`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': 'orders/create',
        'x-shopify-hmac-sha256': signShopify(body, APP_SECRET),
        'x-shopify-event-id': 'evt-wait',
        'x-shopify-triggered-at': new Date().toISOString(),
      },
      body,
    });
    assert.is(response.status, 503);
    const answer = (await response.json()) as { error: { code: string } };
    assert.is(answer.error.code, 'STOCKGUARD_E_NOT_REPLICATED');
  } finally {
    await http.close();
  }
});

test('an SQS notification whose append WAIT cannot confirm is not deleted: it stays on the queue', async () => {
  const fauxqs: FauxqsServer = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const admin = new SQSClient({ endpoint, region: 'us-east-1', credentials });
  try {
    const { QueueUrl } = await admin.send(new CreateQueueCommand({ QueueName: `wait-${process.pid}` }));
    const queueUrl = QueueUrl!;
    await admin.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: mfnQuantity('n-wait') }));
    const sink = new RedisEventSink({ redis: client(master.url), keys: new KeySpace(PREFIX), partitions: 1, dedupeWindowSeconds: 3600, replicaWait: { replicas: 2, timeoutMs: 50 } });
    let publishFailures = 0;
    const poller = new SqsPoller({
      queueUrl,
      sqs: { endpoint, region: 'us-east-1', credentials },
      sink,
      deadLetter: async () => {
        throw new Error('this test expects no dead letter');
      },
      waitTimeSeconds: 1,
      visibilityTimeoutSeconds: 1,
      backoff: { baseMs: 20, maxMs: 100 },
      counters: { publishFailed: () => (publishFailures += 1) },
    });
    const report = await poller.pollOnce();
    assert.equal([report.received, report.kept, report.deleted], [1, 1, 0]);
    assert.is(publishFailures, 1);
    const { Attributes } = await admin.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    assert.is(Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible), 1, 'the message is still on the queue');
    await poller.stop();
  } finally {
    admin.destroy();
    await fauxqs.stop();
  }
});

test('a consumer does not XACK an entry whose ledger change WAIT found short; it applies it again once WAIT confirms', async () => {
  const redis = client(master.url);
  const prefix = `${PREFIX}-consumer`;
  const keys = new KeySpace(prefix);
  const stream = keys.eventStream('wms', 0);
  await new Ledger({ redis, keyPrefix: prefix }).createSku('BOLT');
  let wait: ReplicaWait = { replicas: 2, timeoutMs: 50 };
  const attempts: string[] = [];
  const consumer = new StreamConsumer({
    redis,
    streams: [stream],
    group: 'appliers',
    consumer: 'c-1',
    deadLetterStream: keys.deadLetters(),
    logger,
    blockMs: 50,
    minIdleMs: 100,
    reclaimIntervalMs: 50,
    handler: async (entry) => {
      const ledger = new Ledger({ redis, keyPrefix: prefix, replicaWait: wait });
      try {
        await ledger.adjust('BOLT', { eventId: 'adj-1', delta: 5, cause: 'receipt' });
        attempts.push('confirmed');
      } catch (error) {
        attempts.push(isStockguardError(error) ? error.code : String(error));
        throw error;
      }
      void entry;
    },
  });
  await redis.xadd(stream, '*', 'event', JSON.stringify({ kind: 'adjust' }));
  await consumer.start();
  try {
    await waitFor(() => attempts.length >= 1, 'the first attempt');
    assert.is(attempts[0], 'STOCKGUARD_E_NOT_REPLICATED');
    const pending = (await redis.xpending(stream, 'appliers')) as [number, ...unknown[]];
    assert.is(Number(pending[0]), 1, 'the entry is still pending: not acknowledged');
    // The change itself is on the master: applying it again is a duplicate of the ledger's own.
    assert.is((await new Ledger({ redis, keyPrefix: prefix }).inventory('BOLT'))?.onHand, 5);
    wait = { replicas: 1, timeoutMs: 5000 };
    await waitFor(() => attempts.includes('confirmed'), 'the reclaimed entry to be applied with a WAIT that confirms');
    await waitFor(async () => Number(((await redis.xpending(stream, 'appliers')) as [number])[0]) === 0, 'the XACK');
    assert.is((await new Ledger({ redis, keyPrefix: prefix }).inventory('BOLT'))?.onHand, 5, 'applied once');
    const excusedDeliveries = (await redis.xpending(stream, 'appliers', '-', '+', 10)) as unknown[];
    assert.equal(excusedDeliveries, []);
  } finally {
    await consumer.stop({ deadlineMs: 2000 });
  }
});

test('with the replica stopped, WAIT 1 falls short: the append is refused as not replicated', async () => {
  const redis = client(master.url);
  const masterClient = client(master.url);
  await replica.stop({ keepFiles: true });
  await waitFor(async () => (await connectedReplicas(masterClient)) === 0, 'the master to see its replica gone');
  const shortfalls: number[] = [];
  const sink = new RedisEventSink({ redis, keys: new KeySpace(PREFIX), partitions: 1, dedupeWindowSeconds: 3600, replicaWait: { replicas: 1, timeoutMs: 50, onShortfall: (n) => shortfalls.push(n) } });
  const error = await sink.publish(orderPlaced('o-3'), { deliveryId: 'd-3' }).then(() => undefined, (caught: unknown) => caught);
  expectNotReplicated(error);
  assert.equal(shortfalls, [0]);
});

test('Cluster (3 masters, 1 replica each): appends and a multi-SKU order wait on the masters of their slots; 2 replicas asked fall short', async () => {
  const cluster = await RedisCluster.start({ replicas: 1 });
  try {
    const redis = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 3 } });
    redis.on('error', () => undefined);
    clients.push(redis);
    const keys = new KeySpace(PREFIX);
    const sink = new RedisEventSink({ redis, keys, partitions: 8, dedupeWindowSeconds: 3600, replicaWait: { replicas: 1, timeoutMs: 5000 } });
    // SKUs whose streams land on all three masters.
    const skus = Array.from({ length: 24 }, (_, index) => `SKU-${index}`);
    for (const sku of skus) {
      const event = orderPlaced(`c-${sku}`, sku);
      const result = await sink.publish(event, { deliveryId: `cd-${sku}` });
      assert.is(result.duplicate, false, sku);
      // The replica of the stream's master has the entry once publish resolved.
      const stream = sink.streamFor(event);
      const slot = await cluster.slotOf(stream);
      const owner = (await cluster.topology()).find((view) => view.role === 'master' && view.slots.some(([from, to]) => slot >= from && slot <= to));
      assert.ok(owner, `a master owns ${stream}`);
      const follower = await cluster.replicaOf(owner.server);
      assert.ok(follower, 'the master has a replica');
      const direct = client(`redis://127.0.0.1:${follower.port}`);
      await direct.call('READONLY');
      assert.is((await direct.xrange(stream, result.entryId!, result.entryId!)).length, 1, `the replica of ${stream}'s master has the entry`);
    }
    // Many at once: gathered per node, one WAIT each; every entry is on its master's replica.
    const together = await Promise.all(skus.map((sku) => sink.publish(orderPlaced(`t-${sku}`, sku), { deliveryId: `td-${sku}` }).then((result) => ({ sku, result }))));
    for (const { sku, result } of together) {
      const stream = sink.streamFor(orderPlaced(`t-${sku}`, sku));
      const slot = await cluster.slotOf(stream);
      const owner = (await cluster.topology()).find((view) => view.role === 'master' && view.slots.some(([from, to]) => slot >= from && slot <= to))!;
      const direct = client(`redis://127.0.0.1:${(await cluster.replicaOf(owner.server))!.port}`);
      await direct.call('READONLY');
      assert.is((await direct.xrange(stream, result.entryId!, result.entryId!)).length, 1, `${sku}: on the replica`);
    }
    const ledger = new Ledger({ redis, keyPrefix: PREFIX, replicaWait: { replicas: 1, timeoutMs: 5000 } });
    for (const sku of skus) await ledger.createSku(sku);
    const reserved = await ledger.reserveOrder({ channel: 'shopify', orderId: 'multi', lines: skus.map((sku, index) => ({ lineId: String(index), sku, quantity: 1 })) });
    assert.is(reserved.length, skus.length);

    const short = new Ledger({ redis, keyPrefix: PREFIX, replicaWait: { replicas: 2, timeoutMs: 50 } });
    expectNotReplicated(await short.adjust(skus[0]!, { eventId: 'short-1', delta: 1, cause: 'receipt' }).then(() => undefined, (caught: unknown) => caught));
    const shortSink = new RedisEventSink({ redis, keys, partitions: 8, dedupeWindowSeconds: 3600, replicaWait: { replicas: 2, timeoutMs: 50 } });
    expectNotReplicated(await shortSink.publish(orderPlaced('c-short'), { deliveryId: 'cd-short' }).then(() => undefined, (caught: unknown) => caught));
  } finally {
    await cluster.stop();
  }
});

function mfnQuantity(notificationId: string): string {
  return JSON.stringify({
    NotificationVersion: '1.0',
    NotificationType: 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE',
    PayloadVersion: '1.0',
    EventTime: '2024-05-01T10:05:00.000Z',
    Payload: { SellerId: 'A3TH9S8BH6GOGM', FulfillmentChannelCode: 'DEFAULT', Sku: 'MUG-BLUE', Quantity: 3 },
    NotificationMetadata: {
      ApplicationId: 'amzn1.sellerapps.app.f1234566-aaec-55a6-b123-bcb752069ec5',
      SubscriptionId: '93b098e1-c42-2f45-93a1-78910a6a8369',
      PublishTime: '2024-05-01T10:00:01.000Z',
      NotificationId: notificationId,
    },
  });
}

test.run();
