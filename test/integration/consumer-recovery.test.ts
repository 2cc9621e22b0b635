// Issue 11 §4, recovery after a consumer dies, against a real Redis: a consumer started
// under the name of a dead one applies that name's pending entries at once (not after
// minIdleMs); dead consumers with nothing pending are removed from the group, and a
// consumer that still owns pending entries never is; the default consumer name is stable
// across restarts.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { appendEvent, StreamConsumer, type StreamConsumerOptions, type StreamEntry } from '../../src/consumers/index.ts';
import { groupMembers, retireConsumer } from '../../src/consumers/deadConsumers.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const logger = pino({ level: 'silent' });
const GROUP = 'stockguard';
/** The production default: nobody may claim another consumer's entries before this. */
const CLAIM_IDLE_MS = 60_000;

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

function keySpace(): KeySpace {
  spaces += 1;
  return new KeySpace(`${testRedis.prefix}:r${spaces}`);
}

async function startConsumer(keys: KeySpace, streams: readonly string[], name: string, handler: (entry: StreamEntry) => Promise<void>, options: Partial<StreamConsumerOptions> = {}): Promise<StreamConsumer> {
  const consumer = new StreamConsumer({ redis, streams, group: GROUP, consumer: name, handler, deadLetterStream: keys.deadLetters(), logger, blockMs: 100, ...options });
  running.push(consumer);
  await consumer.start();
  return consumer;
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, deadlineMs: number): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function pendingCount(stream: string): Promise<number> {
  const summary = (await redis.xpending(stream, GROUP)) as [number, ...unknown[]];
  return Number(summary[0]);
}

/** Appends `count` events and lets `consumer` read them without acknowledging: it "dies" holding them. */
async function deliverAndDie(stream: string, consumer: string, count: number, from = 0): Promise<string[]> {
  await redis.xgroup('CREATE', stream, GROUP, '0', 'MKSTREAM').catch(() => undefined);
  const ids: string[] = [];
  for (let index = from; index < from + count; index += 1) ids.push(await appendEvent(redis, stream, { n: index }));
  await redis.xreadgroup('GROUP', GROUP, consumer, 'COUNT', count, 'STREAMS', stream, '>');
  return ids;
}

test('a consumer started under a dead consumer\'s name applies its pending entries at once, then new ones', async () => {
  const keys = keySpace();
  const streams = keys.eventStreams('sales', 2);
  // Stream ids are per stream: two streams written in the same millisecond share ids, so
  // each entry is named by its stream and its id.
  const byStream = [await deliverAndDie(streams[0]!, 'pod-a', 30), await deliverAndDie(streams[1]!, 'pod-a', 30, 30)];
  const orphaned = byStream.flatMap((ids, index) => ids.map((id) => `${streams[index]} ${id}`));
  assert.is((await pendingCount(streams[0]!)) + (await pendingCount(streams[1]!)), 60, 'the dead pod-a holds 60 entries');
  const startedAt = Date.now();
  const seen: StreamEntry[] = [];
  // minIdleMs and the reclaim interval at the production defaults: the entries are idle for
  // milliseconds only, so XAUTOCLAIM could not take them; only the start-up re-read can.
  await startConsumer(keys, streams, 'pod-a', async (entry) => void seen.push(entry), { minIdleMs: CLAIM_IDLE_MS, reclaimIntervalMs: 15_000 });
  await waitFor(
    'pod-a to apply the 60 entries it had left pending',
    async () => seen.length >= 60 && (await pendingCount(streams[0]!)) + (await pendingCount(streams[1]!)) === 0,
    CLAIM_IDLE_MS / 2,
  );
  assert.ok(Date.now() - startedAt < CLAIM_IDLE_MS, 'recovered before anyone else could have claimed them');
  assert.equal(seen.map((entry) => `${entry.stream} ${entry.id}`).sort(), [...orphaned].sort(), 'exactly the orphaned entries, each once');
  assert.ok(seen.every((entry) => entry.deliveries === 2), 'the re-read counts as a second delivery (maxDeliveries still applies)');
  // Order within a stream is kept.
  for (const [index, stream] of streams.entries()) {
    const ids = seen.filter((entry) => entry.stream === stream).map((entry) => entry.id);
    assert.equal(ids, byStream[index], `${stream}: applied in stream order`);
  }
  // Then it reads new entries as usual.
  const fresh = await appendEvent(redis, streams[0]!, { n: 'fresh' });
  await waitFor('the new entry', () => seen.some((entry) => entry.id === fresh), 20_000);
  assert.is(seen.find((entry) => entry.id === fresh)!.deliveries, 1);
  assert.equal((await groupMembers(redis, streams[0]!, GROUP)).map((member) => member.name), ['pod-a'], 'one consumer in the group');
});

test('an entry that kills its consumer on every start reaches maxDeliveries and is dead-lettered', async () => {
  const keys = keySpace();
  const [stream] = keys.eventStreams('sales', 1);
  await deliverAndDie(stream!, 'pod-a', 1);
  // Three more "deaths" while re-reading it at start-up (1 + 3 deliveries so far).
  for (let death = 0; death < 3; death += 1) await redis.xreadgroup('GROUP', GROUP, 'pod-a', 'STREAMS', stream!, '0');
  const handled: StreamEntry[] = [];
  await startConsumer(keys, [stream!], 'pod-a', async (entry) => void handled.push(entry), { minIdleMs: CLAIM_IDLE_MS, maxDeliveries: 4 });
  await waitFor('a dead letter', async () => (await redis.xlen(keys.deadLetters())) === 1, 20_000);
  await waitFor('acknowledged', async () => (await pendingCount(stream!)) === 0, 20_000);
  assert.is(handled.length, 0, 'the handler never saw it again');
});

test('a dead consumer with no pending entries is removed from the group; one with pending entries is not', async () => {
  const keys = keySpace();
  const [stream] = keys.eventStreams('sales', 1);
  // "done" died after acknowledging everything; "holder" died holding 5 entries.
  const doneIds = await deliverAndDie(stream!, 'done', 3);
  await redis.xack(stream!, GROUP, ...doneIds);
  await deliverAndDie(stream!, 'holder', 5, 3);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal((await groupMembers(redis, stream!, GROUP)).map((member) => [member.name, member.pending]).sort(), [['done', 0], ['holder', 5]]);

  // The guard itself: never deleted while it owns pending entries, whatever its idle time.
  assert.is(await retireConsumer(redis, stream!, GROUP, 'holder', 0), false);
  assert.is(await retireConsumer(redis, stream!, GROUP, 'done', 60_000), false, 'not idle long enough');
  assert.equal((await groupMembers(redis, stream!, GROUP)).map((member) => member.name).sort(), ['done', 'holder']);

  // A live consumer claims holder's entries, then removes both dead consumers.
  const seen: StreamEntry[] = [];
  await startConsumer(keys, [stream!], 'live', async (entry) => void seen.push(entry), { minIdleMs: 200, reclaimIntervalMs: 50, blockMs: 50 });
  await waitFor(
    'only the live consumer left in the group',
    async () => (await groupMembers(redis, stream!, GROUP)).map((member) => member.name).join() === 'live',
    20_000,
  );
  assert.is(seen.length, 5, "holder's entries were claimed and applied before holder was removed");
  assert.is(await pendingCount(stream!), 0);
});

test('the default consumer name is stable across restarts: STOCKGUARD_CONSUMER_NAME, else HOSTNAME, else the host name', () => {
  assert.is(loadConfig({}).streams.consumerName, hostname());
  assert.is(loadConfig({}).streams.consumerName, loadConfig({}).streams.consumerName);
  assert.is(loadConfig({ HOSTNAME: 'stockguard-7c9f-abcde' }).streams.consumerName, 'stockguard-7c9f-abcde');
  assert.is(loadConfig({ HOSTNAME: '' }).streams.consumerName, hostname());
  assert.is(loadConfig({ HOSTNAME: 'pod', STOCKGUARD_CONSUMER_NAME: 'named' }).streams.consumerName, 'named');
});

test.run();
