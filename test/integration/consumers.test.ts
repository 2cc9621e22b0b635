// The stream consumer runtime against a real Redis: delivery, acknowledgement, group
// sharing, reclaim, dead letters, retries, trimming, graceful stop, replay, and the
// partition hash producers use.
import type { Cluster, Redis } from 'ioredis';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  appendEvent,
  type ConsumerMetrics,
  fnv1a32,
  listDeadLetters,
  partitionFor,
  replayDeadLetters,
  StreamConsumer,
  type StreamConsumerOptions,
  type StreamEntry,
  StreamTrimmer,
  TOO_MANY_DELIVERIES,
  trimStream,
} from '../../src/consumers/index.ts';
import { isStockguardError, StockguardError } from '../../src/errors.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { startTestCluster, startTestRedis, type TestRedis } from '../helpers/redis.ts';

const logger = pino({ level: 'silent' });
const GROUP = 'stockguard';

let testRedis: TestRedis;
let redis: Redis;
let spaces = 0;
const running: StreamConsumer[] = [];

test.before(async () => {
  testRedis = await startTestRedis();
  redis = testRedis.client();
});
test.after.each(async () => {
  await Promise.all(running.splice(0).map((consumer) => consumer.stop({ deadlineMs: 2000 })));
});
test.after(async () => {
  await testRedis.close();
});

/** A key space of the test's own, so streams and the DLQ never mix between tests. */
function keySpace(): KeySpace {
  spaces += 1;
  return new KeySpace(`${testRedis.prefix}:t${spaces}`);
}

interface Recorder extends ConsumerMetrics {
  counts: Map<string, number>;
}
function recordingMetrics(): Recorder {
  const counts = new Map<string, number>();
  const bump = (name: string, by = 1) => counts.set(name, (counts.get(name) ?? 0) + by);
  return {
    counts,
    processed: () => bump('processed'),
    acked: () => bump('acked'),
    deadLettered: (_stream, reason) => bump(`dead:${reason}`),
    reclaimed: (_stream, count) => bump('reclaimed', count),
    handlerError: (_stream, kind) => bump(`error:${kind}`),
  };
}

async function startConsumer(
  keys: KeySpace,
  streams: readonly string[],
  handler: (entry: StreamEntry) => Promise<void>,
  options: Partial<StreamConsumerOptions> = {},
): Promise<StreamConsumer> {
  const consumer = new StreamConsumer({
    redis,
    streams,
    group: GROUP,
    consumer: 'pod-a',
    handler,
    deadLetterStream: keys.deadLetters(),
    logger,
    blockMs: 100,
    ...options,
  });
  await consumer.start();
  running.push(consumer);
  return consumer;
}

/** Polls until `condition` holds; the deadline only stops a broken run from hanging. */
async function waitFor(what: string, condition: () => boolean | Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pendingCount(client: Redis | Cluster, stream: string, group = GROUP): Promise<number> {
  const summary = (await client.xpending(stream, group)) as [number, ...unknown[]];
  return Number(summary[0]);
}

async function streamIds(stream: string): Promise<string[]> {
  return (await redis.xrange(stream, '-', '+')).map(([id]) => id);
}

test('partitionFor: FNV-1a reference vectors, stable over UTF-8, spreads 10,000 SKUs evenly', () => {
  assert.is(fnv1a32(''), 0x811c9dc5);
  assert.is(fnv1a32('a'), 0xe40c292c);
  assert.is(fnv1a32('foobar'), 0xbf9cf968);
  // An independent BigInt implementation over the UTF-8 bytes agrees, non-ASCII included.
  const reference = (text: string) => {
    let hash = 0x811c9dc5n;
    for (const byte of Buffer.from(text, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x01000193n) & 0xffffffffn;
    return Number(hash);
  };
  for (const sku of ['ABC-1', 'café-crème', 'Ω-9', '鞋-42', 'x'.repeat(200)]) {
    assert.is(fnv1a32(sku), reference(sku), sku);
    assert.is(partitionFor(sku, 16), reference(sku) % 16, sku);
  }
  const buckets = new Array<number>(16).fill(0);
  for (let i = 0; i < 10_000; i += 1) buckets[partitionFor(`SKU-${i}`, 16)]! += 1;
  for (const count of buckets) assert.ok(count > 500 && count < 750, `bucket of ${count}, expected about 625: ${buckets.join(',')}`);
  assert.is(partitionFor('ABC-1', 1), 0);
  assert.throws(() => partitionFor('ABC-1', 0), (error: unknown) => isStockguardError(error, 'STOCKGUARD_E_BAD_ARGUMENT'));
});

test('every entry, appended before and after start-up, is handled once and acknowledged', async () => {
  const keys = keySpace();
  const streams = keys.eventStreams('sales', 3);
  const appended = new Map<string, unknown>();
  const append = async (i: number) => {
    const event = { sku: `SKU-${i}`, quantity: i };
    const stream = keys.eventStream('sales', partitionFor(event.sku, 3));
    appended.set(`${stream} ${await appendEvent(redis, stream, event)}`, event);
  };
  for (let i = 0; i < 30; i += 1) await append(i);
  const seen: StreamEntry[] = [];
  const metrics = recordingMetrics();
  await startConsumer(keys, streams, async (entry) => void seen.push(entry), { metrics, batchSize: 7 });
  for (let i = 30; i < 60; i += 1) await append(i);
  await waitFor('60 entries handled', () => seen.length >= 60);
  await waitFor('60 acks', () => metrics.counts.get('acked') === 60);

  assert.is(seen.length, 60);
  assert.equal(new Set(seen.map((entry) => `${entry.stream} ${entry.id}`)), new Set(appended.keys()));
  for (const entry of seen) {
    assert.is(entry.deliveries, 1);
    assert.equal(entry.event, appended.get(`${entry.stream} ${entry.id}`));
  }
  for (const stream of streams) assert.is(await pendingCount(redis, stream), 0, stream);
  assert.ok(new Set(seen.map((entry) => entry.stream)).size > 1, 'events spread over several partitions');
  assert.is(metrics.counts.get('processed'), 60);
  assert.is(await redis.xlen(keys.deadLetters()), 0);
});

test('two consumers in one group split the work: both get some, none twice, all handled', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('wms', 0);
  const byConsumer = { a: [] as string[], b: [] as string[] };
  const handlerOf = (list: string[]) => async (entry: StreamEntry) => {
    await sleep(1);
    list.push(entry.id);
  };
  await startConsumer(keys, [stream], handlerOf(byConsumer.a), { consumer: 'pod-a', batchSize: 5 });
  await startConsumer(keys, [stream], handlerOf(byConsumer.b), { consumer: 'pod-b', batchSize: 5 });
  const ids: string[] = [];
  for (let i = 0; i < 200; i += 1) ids.push(await appendEvent(redis, stream, { eventId: `e${i}` }));
  await waitFor('200 entries handled', () => byConsumer.a.length + byConsumer.b.length >= 200);
  await waitFor('all acknowledged', async () => (await pendingCount(redis, stream)) === 0);

  assert.ok(byConsumer.a.length > 0, 'pod-a handled some');
  assert.ok(byConsumer.b.length > 0, 'pod-b handled some');
  const all = [...byConsumer.a, ...byConsumer.b];
  assert.is(all.length, 200);
  assert.is(new Set(all).size, 200, 'no entry handled twice');
  assert.equal(new Set(all), new Set(ids));
});

test('a consumer that dies mid-batch leaves its entries pending; another reclaims them after minIdleMs', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  const ids: string[] = [];
  for (let i = 0; i < 10; i += 1) ids.push(await appendEvent(redis, stream, { sku: `S-${i}` }));

  // pod-a's handler never returns: it is a process hung or killed before any ack.
  let started = 0;
  const dying = await startConsumer(keys, [stream], () => {
    started += 1;
    return new Promise<void>(() => undefined);
  }, { consumer: 'pod-a', batchSize: 10, concurrency: 4 });
  await waitFor('pod-a started 4 handlers', () => started === 4);
  const stopped = await dying.stop({ deadlineMs: 100 });
  assert.equal(stopped, { graceful: false, unfinished: 10 });
  assert.is(started, 4, 'no handler starts after the deadline');
  assert.is(await pendingCount(redis, stream), 10);

  const seen: StreamEntry[] = [];
  const metrics = recordingMetrics();
  await startConsumer(keys, [stream], async (entry) => void seen.push(entry), {
    consumer: 'pod-b',
    minIdleMs: 300,
    reclaimIntervalMs: 50,
    blockMs: 50,
    metrics,
  });
  await waitFor('pod-b handled the 10 reclaimed entries', () => seen.length >= 10);
  await waitFor('all acknowledged', async () => (await pendingCount(redis, stream)) === 0);
  assert.equal(seen.map((entry) => entry.id).sort(), [...ids].sort());
  assert.ok(seen.every((entry) => entry.deliveries === 2), 'each was delivered to pod-a once, then to pod-b');
  assert.is(metrics.counts.get('reclaimed'), 10);
});

test('an unparseable entry, an entry without `event` and a permanent coded error are dead-lettered with reason and payload, then acknowledged', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  const badJson = (await redis.xadd(stream, '*', 'event', '{"sku": "A-1", qty'))!;
  const noEvent = (await redis.xadd(stream, '*', 'payload', 'x'))!;
  const ghostEvent = { sku: 'GHOST', quantity: 1 };
  const ghost = await appendEvent(redis, stream, ghostEvent);
  const fine = await appendEvent(redis, stream, { sku: 'REAL', quantity: 1 });

  const handled: string[] = [];
  const metrics = recordingMetrics();
  await startConsumer(keys, [stream], async (entry) => {
    handled.push(entry.id);
    const { sku } = entry.event as { sku: string };
    if (sku === 'GHOST') throw new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', JSON.stringify(sku));
  }, { metrics, clock: () => 1_700_000_000_123 });
  await waitFor('3 dead letters', async () => (await redis.xlen(keys.deadLetters())) === 3);
  await waitFor('all acknowledged', async () => (await pendingCount(redis, stream)) === 0);

  assert.equal(handled, [ghost, fine], 'the handler never sees an entry it cannot parse');
  const letters = await listDeadLetters(redis, keys, { count: 10 });
  assert.equal(
    letters.map((letter) => [letter.id, letter.reason, letter.event]),
    [
      [badJson, 'STOCKGUARD_E_BAD_EVENT', '{"sku": "A-1", qty'],
      [noEvent, 'STOCKGUARD_E_BAD_EVENT', '{"payload":"x"}'],
      [ghost, 'STOCKGUARD_E_UNKNOWN_SKU', JSON.stringify(ghostEvent)],
    ],
  );
  for (const letter of letters) {
    assert.is(letter.stream, stream);
    assert.is(letter.deliveries, 1);
    assert.is(letter.group, GROUP);
    assert.is(letter.consumer, 'pod-a');
    assert.is(letter.atMs, 1_700_000_000_123);
  }
  assert.match(letters[0]!.message, /JSON/);
  assert.match(letters[1]!.message, /no "event" field/);
  assert.match(letters[2]!.message, /not in the catalogue: "GHOST"/);
  assert.is(metrics.counts.get('dead:STOCKGUARD_E_BAD_EVENT'), 2);
  assert.is(metrics.counts.get('dead:STOCKGUARD_E_UNKNOWN_SKU'), 1);
  assert.is(metrics.counts.get('error:permanent'), 1);
  assert.is(metrics.counts.get('acked'), 4);
  assert.equal(await listDeadLetters(redis, keys, { after: letters[1]!.dlqId }), [letters[2]]);
});

test('a transient error leaves the entry pending; it is retried after minIdleMs and then succeeds', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('wms', 0);
  const flaky = await appendEvent(redis, stream, { eventId: 'flaky' });
  const steady = await appendEvent(redis, stream, { eventId: 'steady' });
  const attempts: [string, number][] = [];
  let pendingAtRetry: unknown;
  const metrics = recordingMetrics();
  await startConsumer(keys, [stream], async (entry) => {
    attempts.push([entry.id, entry.deliveries]);
    if (entry.id !== flaky) return;
    if (entry.deliveries === 1) throw new Error('the WMS API timed out (a downstream hiccup)');
    pendingAtRetry = await redis.xpending(stream, GROUP, flaky, flaky, 1);
  }, { minIdleMs: 200, reclaimIntervalMs: 50, blockMs: 50, metrics });
  await waitFor('the retry', () => attempts.length >= 3);
  await waitFor('all acknowledged', async () => (await pendingCount(redis, stream)) === 0);

  assert.equal(attempts, [[flaky, 1], [steady, 1], [flaky, 2]]);
  const [row] = pendingAtRetry as [string, string, number, number][];
  assert.is(row![0], flaky, 'still pending (not acknowledged) when retried');
  assert.is(row![3], 2);
  assert.is(metrics.counts.get('error:transient'), 1);
  assert.is(await redis.xlen(keys.deadLetters()), 0);
});

test('an entry that fails every time is dead-lettered as `too many deliveries` after maxDeliveries attempts', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('notifications', 1);
  const event = { type: 'inventory_levels/update', sku: 'DOOMED' };
  const id = await appendEvent(redis, stream, event);
  const deliveries: number[] = [];
  await startConsumer(keys, [stream], async (entry) => {
    deliveries.push(entry.deliveries);
    throw new Error('downstream timeout');
  }, { maxDeliveries: 3, minIdleMs: 100, reclaimIntervalMs: 30, blockMs: 30 });
  await waitFor('a dead letter', async () => (await redis.xlen(keys.deadLetters())) === 1);
  await waitFor('acknowledged', async () => (await pendingCount(redis, stream)) === 0);

  assert.equal(deliveries, [1, 2, 3]);
  const [letter] = await listDeadLetters(redis, keys);
  assert.is(letter!.reason, TOO_MANY_DELIVERIES);
  assert.is(letter!.reason, 'too many deliveries');
  assert.is(letter!.id, id);
  assert.is(letter!.deliveries, 4);
  assert.equal(JSON.parse(letter!.event), event);
});

test('an entry that fails only because Redis is unavailable (a Cluster failover) is never dead-lettered: it is applied once Redis answers', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 2);
  const event = { type: 'order.placed', orderId: 'A-1' };
  const id = await appendEvent(redis, stream, event);
  // What ioredis throws while a master is down or the slots are moving, bare or as a cause.
  const outage = [
    new Error('Too many Cluster redirections. Last error: Error: Connection is closed.'),
    new Error('the ledger write failed', { cause: new Error('CLUSTERDOWN The cluster is down') }),
    new Error('Connection is closed.'),
    new Error('MOVED 4734 127.0.0.1:7001'),
    new Error('connect ECONNREFUSED 127.0.0.1:7002'),
    new Error('READONLY You can\'t write against a read only replica.'),
    // node-redis, the catalogue's client (an Amazon line's seller SKU resolves through it).
    new Error('Disconnects client'),
    new Error('read ECONNRESET'),
  ];
  const seen: number[] = [];
  await startConsumer(keys, [stream], async (entry) => {
    seen.push(entry.deliveries);
    const failure = outage[seen.length - 1];
    if (failure) throw failure;
  }, { maxDeliveries: 2, minIdleMs: 100, reclaimIntervalMs: 30, blockMs: 30 });
  await waitFor('applied after the outage', async () => seen.length === outage.length + 1 && (await pendingCount(redis, stream)) === 0);

  assert.is(await redis.xlen(keys.deadLetters()), 0, 'eight failed deliveries with a limit of 2, and no dead letter');
  assert.ok(seen.every((deliveries) => deliveries <= 2), `the counter was set back after each outage failure: ${seen.join(', ')}`);
  assert.is((await redis.xpending(stream, GROUP))[0], 0, `${id} acknowledged`);
});

test('the sales queued behind a SKU\'s entry that waits out a failover are not counted either: none reaches the limit', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 4);
  const ids: string[] = [];
  for (let index = 0; index < 4; index += 1) ids.push(await appendEvent(redis, stream, { sku: 'HOT', n: index }));
  let outages = 5;
  const applied: number[] = [];
  await startConsumer(keys, [stream], async (entry) => {
    const { n } = entry.event as { n: number };
    if (n === 0 && outages > 0) {
      outages -= 1;
      throw new Error('CLUSTERDOWN The cluster is down');
    }
    applied.push(n);
  }, { keyOf: (event) => (event as { sku: string }).sku, maxDeliveries: 2, minIdleMs: 100, reclaimIntervalMs: 30, blockMs: 30 });
  await waitFor('all four applied', async () => applied.length === 4 && (await pendingCount(redis, stream)) === 0);

  // Each once. Not necessarily in stream order: a reclaim takes whichever entries are idle
  // long enough, and the set-back entries' idle times differ by the XCLAIMs' order.
  assert.equal([...applied].sort(), [0, 1, 2, 3], `each once (applied ${applied.join(', ')})`);
  assert.is(await redis.xlen(keys.deadLetters()), 0, 'five reclaims of the lane with a limit of 2, and no dead letter');
});

test('an entry whose handler throws a plain error is still dead-lettered at the limit, whatever Redis failures came before', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 3);
  await appendEvent(redis, stream, { type: 'order.placed', orderId: 'A-2' });
  const seen: number[] = [];
  await startConsumer(keys, [stream], async (entry) => {
    seen.push(entry.deliveries);
    throw seen.length === 1 ? new Error('Connection is closed.') : new TypeError('cannot read properties of undefined');
  }, { maxDeliveries: 2, minIdleMs: 100, reclaimIntervalMs: 30, blockMs: 30 });
  await waitFor('a dead letter', async () => (await redis.xlen(keys.deadLetters())) === 1);

  assert.equal(seen, [1, 1, 2], 'the outage failure is not counted; the two TypeErrors are');
  const [letter] = await listDeadLetters(redis, keys);
  assert.is(letter!.reason, TOO_MANY_DELIVERIES);
});

test('trimming drops only what every group acknowledged; pending and undelivered entries stay', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  const ids: string[] = [];
  for (let i = 0; i < 10; i += 1) ids.push(await appendEvent(redis, stream, { i }));
  const deliver = async (group: string, count: number) => {
    await redis.xgroup('CREATE', stream, group, '0');
    await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', count, 'STREAMS', stream, '>');
  };
  // g1 got all 10 and acknowledged 0-3 and 6: 4, 5, 7, 8, 9 are pending.
  await deliver('g1', 10);
  await redis.xack(stream, 'g1', ids[0]!, ids[1]!, ids[2]!, ids[3]!, ids[6]!);
  // g2 got 0-6 and acknowledged them all: 7, 8, 9 are not delivered to it yet.
  await deliver('g2', 7);
  await redis.xack(stream, 'g2', ...ids.slice(0, 7));

  const first = await trimStream(redis, stream, { approximate: false });
  assert.equal(first, { stream, safeId: ids[4], trimmed: 4 });
  assert.equal(await streamIds(stream), ids.slice(4));

  await redis.xack(stream, 'g1', ids[4]!, ids[5]!);
  const trimmer = new StreamTrimmer({ redis, streams: [stream], logger, approximate: false });
  const [second] = await trimmer.trimOnce();
  assert.is(second!.trimmed, 3);
  assert.equal(await streamIds(stream), ids.slice(7), 'g1 still has 7-9 pending; g2 has not received them');
  const pending = (await redis.xpending(stream, 'g1', '-', '+', 100)) as [string, ...unknown[]][];
  assert.equal(pending.map(([id]) => id), ids.slice(7));

  // Every group done with everything, but retainMs keeps the young entries.
  await redis.xack(stream, 'g1', ...ids.slice(7));
  await redis.xreadgroup('GROUP', 'g2', 'c1', 'COUNT', 10, 'STREAMS', stream, '>');
  await redis.xack(stream, 'g2', ...ids.slice(7));
  assert.is((await trimStream(redis, stream, { approximate: false, retainMs: 3_600_000 })).trimmed, 0);
  assert.is((await trimStream(redis, stream, { approximate: false })).trimmed, 3);
  assert.is(await redis.xlen(stream), 0);

  // A stream nobody has created a group on is never trimmed.
  const unread = keys.eventStream('sales', 1);
  for (let i = 0; i < 3; i += 1) await appendEvent(redis, unread, { i });
  assert.equal(await trimStream(redis, unread, { approximate: false }), { stream: unread, safeId: undefined, trimmed: 0 });
  assert.is(await redis.xlen(unread), 3);
});

test('stop() lets in-flight handlers finish and acknowledges their work before it resolves', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  for (let i = 0; i < 3; i += 1) await appendEvent(redis, stream, { i });
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let started = 0;
  let finished = 0;
  const consumer = await startConsumer(keys, [stream], async () => {
    started += 1;
    await gate;
    finished += 1;
  });
  await waitFor('3 handlers in flight', () => started === 3);

  let resolved = false;
  const stopping = consumer.stop({ deadlineMs: 20_000 }).finally(() => (resolved = true));
  await sleep(100);
  assert.not.ok(resolved, 'stop() waits for the handlers');
  assert.is(await pendingCount(redis, stream), 3);
  release();
  assert.equal(await stopping, { graceful: true, unfinished: 0 });
  assert.is(finished, 3);
  assert.is(await pendingCount(redis, stream), 0, 'their entries were acknowledged before stop() resolved');
});

test('stop() interrupts a blocked read at once; entries appended afterwards are left for others', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('wms', 0);
  const seen: string[] = [];
  // BLOCK 10 minutes: without the interrupt, stop() would run into its deadline.
  const consumer = await startConsumer(keys, [stream], async (entry) => void seen.push(entry.id), { blockMs: 600_000 });
  const before = await appendEvent(redis, stream, { eventId: 'before' });
  await waitFor('the first entry', () => seen.length === 1);
  await waitFor('the reader to block again', async () => {
    const clients = await redis.client('LIST');
    return /cmd=xreadgroup/.test(String(clients));
  });
  assert.equal(await consumer.stop({ deadlineMs: 15_000 }), { graceful: true, unfinished: 0 });
  const after = await appendEvent(redis, stream, { eventId: 'after' });
  const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
  const lastDelivered = groups[0]![groups[0]!.indexOf('last-delivered-id') + 1];
  assert.is(lastDelivered, before, `${after} was not delivered to the stopped consumer`);
  assert.equal(seen, [before]);
});

test('entries of one key are applied in stream order, also across a retry; different keys run in parallel', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  const skus = ['RED', 'GREEN', 'BLUE'];
  const events = Array.from({ length: 30 }, (_, i) => ({ sku: skus[i % 3]!, seq: Math.floor(i / 3) }));
  for (const event of events) await appendEvent(redis, stream, event);
  const applied = new Map<string, number[]>(skus.map((sku) => [sku, []]));
  const active = new Map<string, number>();
  let maxActiveKeys = 0;
  let maxActivePerKey = 0;
  await startConsumer(keys, [stream], async (entry) => {
    const { sku, seq } = entry.event as { sku: string; seq: number };
    active.set(sku, (active.get(sku) ?? 0) + 1);
    maxActivePerKey = Math.max(maxActivePerKey, ...active.values());
    maxActiveKeys = Math.max(maxActiveKeys, [...active.values()].filter((count) => count > 0).length);
    try {
      await sleep(seq % 3);
      // RED #2 fails once: RED #3 … must wait for its retry instead of overtaking it.
      if (sku === 'RED' && seq === 2 && entry.deliveries === 1) throw new Error('transient');
      applied.get(sku)!.push(seq);
    } finally {
      active.set(sku, active.get(sku)! - 1);
    }
  }, { keyOf: (event) => (event as { sku: string }).sku, concurrency: 8, minIdleMs: 200, reclaimIntervalMs: 50, blockMs: 50 });
  await waitFor('all 30 applied', () => [...applied.values()].every((list) => list.length === 10));
  await waitFor('all acknowledged', async () => (await pendingCount(redis, stream)) === 0);

  for (const sku of skus) assert.equal(applied.get(sku), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], sku);
  assert.is(maxActivePerKey, 1, 'never two entries of one SKU at once');
  assert.ok(maxActiveKeys > 1, 'different SKUs ran in parallel');
});

test('replay moves a dead letter back to its stream, where it is processed; unknown ids are reported', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 2);
  const catalogue = new Set<string>();
  const handled: StreamEntry[] = [];
  await startConsumer(keys, [stream], async (entry) => {
    const { sku } = entry.event as { sku: string };
    if (!catalogue.has(sku)) throw new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', JSON.stringify(sku));
    handled.push(entry);
  });
  const event = { sku: 'NEW-1', quantity: 2 };
  const original = await appendEvent(redis, stream, event);
  await waitFor('the dead letter', async () => (await redis.xlen(keys.deadLetters())) === 1);
  const [letter] = await listDeadLetters(redis, keys);
  assert.is(letter!.id, original);

  catalogue.add('NEW-1');
  // An id that is not a stream id (the CLI fuzz found `dlq replay ""`) is refused with a
  // coded error before anything is replayed, not sent to Redis as a bad range.
  try {
    await replayDeadLetters(redis, keys, { ids: [letter!.dlqId, ''] });
    assert.unreachable('an empty id was accepted');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_BAD_ARGUMENT'), String(error));
  }
  assert.is(await redis.xlen(keys.deadLetters()), 1, 'nothing replayed');
  const result = await replayDeadLetters(redis, keys, { ids: [letter!.dlqId, '1-1'] });
  assert.is(result.replayed.length, 1);
  assert.equal(result.missing, ['1-1']);
  assert.is(result.replayed[0]!.stream, stream);
  assert.is(await redis.xlen(keys.deadLetters()), 0);
  await waitFor('the replayed entry', () => handled.length === 1);
  assert.is(handled[0]!.id, result.replayed[0]!.newId);
  assert.is(handled[0]!.stream, stream);
  assert.equal(handled[0]!.event, event);
  await waitFor('acknowledged', async () => (await pendingCount(redis, stream)) === 0);
});

test('replay all: every dead letter present at the start, only into stockguard event streams', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('wms', 0);
  const dlq = keys.deadLetters();
  const letter = (target: string, payload: string) =>
    redis.xadd(dlq, '*', 'stream', target, 'id', '1-0', 'event', payload, 'reason', 'STOCKGUARD_E_UNKNOWN_SKU', 'message', 'm', 'deliveries', '1', 'group', GROUP, 'consumer', 'c', 'at_ms', '0');
  for (let i = 0; i < 150; i += 1) await letter(stream, JSON.stringify({ i }));
  const foreign = (await letter('someone-elses:stream', '{}'))!;

  const result = await replayDeadLetters(redis, keys, { all: true });
  assert.is(result.replayed.length, 150);
  assert.equal(result.refused, [{ dlqId: foreign, stream: 'someone-elses:stream' }]);
  assert.equal((await listDeadLetters(redis, keys)).map((left) => left.dlqId), [foreign]);
  assert.equal(
    (await redis.xrange(stream, '-', '+')).map(([, fields]) => JSON.parse(fields[1]!)),
    Array.from({ length: 150 }, (_, i) => ({ i })),
    'original payloads, in order',
  );
  assert.is(await redis.exists('someone-elses:stream'), 0);
});

test('appendEvent with maxLen refuses new events with STREAM_FULL instead of trimming unacknowledged ones', async () => {
  const keys = keySpace();
  const stream = keys.eventStream('sales', 0);
  const ids: string[] = [];
  for (let i = 0; i < 3; i += 1) ids.push(await appendEvent(redis, stream, { i }, { maxLen: 3 }));
  try {
    await appendEvent(redis, stream, { i: 3 }, { maxLen: 3 });
    assert.unreachable('the fourth event must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_STREAM_FULL'));
    assert.is(error.status, 503);
  }
  assert.equal(await streamIds(stream), ids);
  ids.push(await appendEvent(redis, stream, { i: 3 }));
  assert.is(ids.length, 4, 'without maxLen there is no cap');
  try {
    await appendEvent(redis, stream, undefined);
    assert.unreachable('undefined is not JSON');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_BAD_ARGUMENT'));
  }
});

test('on Redis Cluster, partitions in different slots are each read, and stop() still interrupts', async () => {
  const target = await startTestCluster();
  try {
    const cluster = target.client();
    const keys = new KeySpace(target.prefix);
    const streams = keys.eventStreams('sales', 4);
    const seen: StreamEntry[] = [];
    const consumer = new StreamConsumer({
      redis: cluster,
      streams,
      group: GROUP,
      consumer: 'pod-a',
      handler: async (entry) => void seen.push(entry),
      deadLetterStream: keys.deadLetters(),
      logger,
      blockMs: 600_000,
    });
    await consumer.start();
    const ids = new Set<string>();
    for (let i = 0; i < 40; i += 1) {
      const stream = streams[i % 4]!;
      ids.add(`${stream} ${await appendEvent(cluster, stream, { i })}`);
    }
    await waitFor('40 entries', () => seen.length >= 40);
    const result = await consumer.stop({ deadlineMs: 15_000 });
    assert.equal(result, { graceful: true, unfinished: 0 });
    assert.equal(new Set(seen.map((entry) => `${entry.stream} ${entry.id}`)), ids);
    for (const stream of streams) assert.is(await pendingCount(cluster, stream), 0, stream);
  } finally {
    await target.close();
  }
});

test.run();
