// Property-based fuzzing of what arrives over SQS. parseAmazonNotification on arbitrary
// strings and on Amazon's own examples mutated field by field: it never throws, always
// answers one of its three outcome kinds, and every event it hands back is one the
// consumers can parse. Then the real poller against fauxqs inside an in-process daemon
// (sqs role only): generated messages end on a stream, deleted as ignored, or in the
// dead-letter stream with their body, and none stays on the queue or goes missing.
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { startFauxqs } from 'fauxqs';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { listDeadLetters } from '../../src/consumers/deadLetters.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { StockguardEvent } from '../../src/domain/events.ts';
import { parseAmazonNotification, type NotificationOutcome } from '../../src/ingest/amazon/notifications.ts';
import { OFFICIAL_SCHEMAS } from '../../src/ingest/amazon/schemas.ts';
import { EVENT_KINDS } from '../../src/redis/keys.ts';
import { checkProperty, trapProcessErrors } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('fuzz: SQS notifications');
const trap = trapProcessErrors();
const RECEIVED_AT = Date.parse('2026-11-27T12:00:00Z');

type Json = { [key: string]: unknown };
const isJson = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function at(root: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (Array.isArray(node) ? node[Number(key)] : isJson(node) ? node[key] : undefined), root);
}

/** Amazon's whole-notification examples (ORDER_CHANGE, MFN quantity) and the FBA payload example in its envelope. */
function officialExamples(): Json[] {
  const order = at(OFFICIAL_SCHEMAS.ORDER_CHANGE, 'examples.0');
  const mfn = at(OFFICIAL_SCHEMAS.LISTINGS_ITEM_MFN_QUANTITY_CHANGE, 'examples.0');
  const fbaPayload = at(OFFICIAL_SCHEMAS.FBA_INVENTORY_AVAILABILITY_CHANGES, 'properties.Payload.examples.0');
  if (!isJson(order) || !isJson(mfn) || !isJson(fbaPayload)) throw new Error('the official schemas no longer carry their examples');
  const fba: Json = {
    NotificationVersion: '1.0',
    NotificationType: 'FBA_INVENTORY_AVAILABILITY_CHANGES',
    PayloadVersion: '1.0',
    EventTime: '2020-07-13T19:42:04.284Z',
    Payload: fbaPayload,
    NotificationMetadata: { ApplicationId: 'amzn1.sellerapps.app.x', SubscriptionId: 's-1', PublishTime: '2020-07-13T19:42:05.000Z', NotificationId: 'fba-0b9f-4c2e' },
  };
  return [order, mfn, fba];
}
const EXAMPLES = officialExamples();

/** Every path (list of keys) inside a JSON value, the root excluded. */
function pathsOf(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  const children: [string | number, unknown][] = Array.isArray(value) ? value.map((item, index) => [index, item]) : isJson(value) ? Object.entries(value) : [];
  return children.flatMap(([key, child]) => [[...prefix, key], ...pathsOf(child, [...prefix, key])]);
}

type Edit = { op: 'delete' } | { op: 'replace'; value: unknown } | { op: 'rename'; to: string };
function applyEdit(root: Json, path: (string | number)[], edit: Edit): void {
  const parent = path.slice(0, -1).reduce<unknown>((node, key) => (Array.isArray(node) ? node[Number(key)] : isJson(node) ? node[String(key)] : undefined), root);
  const key = path[path.length - 1]!;
  if (Array.isArray(parent)) {
    if (edit.op === 'delete') parent.splice(Number(key), 1);
    else if (edit.op === 'replace') parent[Number(key)] = edit.value;
  } else if (isJson(parent)) {
    const name = String(key);
    if (edit.op === 'delete') delete parent[name];
    else if (edit.op === 'replace') parent[name] = edit.value;
    else {
      parent[edit.to] = parent[name];
      delete parent[name];
    }
  }
}

const edgeValue = fc.oneof(
  fc.constantFrom('', ' ', 'x'.repeat(300), 'Canceled', 'Pending', 'Shipped', 'AFN', 'MFN', 'DEFAULT', 'AMAZON_NA', '2026-13-45T99:99:99Z', '👕', '\u0000'),
  fc.constantFrom(0, -1, 1.5, 1e21, 2 ** 53, 1_000_000_001, Number.MAX_VALUE),
  fc.constantFrom(null, true, false, [], {}),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.jsonValue({ maxDepth: 2 }),
);
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.constant<Edit>({ op: 'delete' }),
  edgeValue.map((value): Edit => ({ op: 'replace', value })),
  fc.constantFrom('notificationType', 'payload', 'Notificationid', 'x').map((to): Edit => ({ op: 'rename', to })),
);
/** An official example with 1–4 random edits at random places. */
const mutatedExample = fc
  .tuple(fc.nat({ max: EXAMPLES.length - 1 }), fc.array(fc.tuple(fc.nat(), edit), { minLength: 1, maxLength: 4 }))
  .map(([which, edits]) => {
    const notification = structuredClone(EXAMPLES[which]!);
    for (const [pick, change] of edits) {
      const paths = pathsOf(notification);
      if (paths.length > 0) applyEdit(notification, paths[pick % paths.length]!, change);
    }
    return JSON.stringify(notification);
  });
const anyBody = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.constantFrom('', 'null', '[]', '{}', '{"NotificationType":"ORDER_CHANGE"}', '{"NotificationType":42}', '{"notificationType":"ANY_OFFER_CHANGED"}', '['.repeat(5000), '{"a":1e99999}'),
);

function assertWellFormedOutcome(body: string, outcome: NotificationOutcome): void {
  assert.ok(['events', 'ignored', 'rejected'].includes(outcome.kind), `kind ${String(outcome.kind)}`);
  if (outcome.kind === 'rejected') assert.ok(outcome.reason.length > 0);
  if (outcome.kind !== 'events') return;
  assert.ok(outcome.events.length > 0, 'an events outcome with no event');
  for (const event of outcome.events) {
    const parsed = StockguardEvent.safeParse(JSON.parse(JSON.stringify(event)));
    assert.ok(parsed.success, `an event the consumers cannot parse from ${body}`);
    assert.ok(event.eventId.startsWith(outcome.deliveryId), `${event.eventId} is not derived from ${outcome.deliveryId}`);
    assert.is(event.receivedAtMs, RECEIVED_AT);
  }
}

test('parseAmazonNotification: arbitrary strings never throw and always end in one of the three outcomes', () => {
  fc.assert(
    fc.property(anyBody, (body) => {
      assertWellFormedOutcome(body, parseAmazonNotification(body, { receivedAtMs: RECEIVED_AT }));
    }),
    { numRuns: 300 },
  );
  trap.assertNone();
});

test("parseAmazonNotification: Amazon's examples mutated field by field never throw; events only from what the schema allows", () => {
  const kinds = new Set<string>();
  fc.assert(
    fc.property(mutatedExample, fc.boolean(), (body, managed) => {
      const outcome = parseAmazonNotification(body, { receivedAtMs: RECEIVED_AT, isLedgerSku: () => managed });
      kinds.add(outcome.kind);
      assertWellFormedOutcome(body, outcome);
    }),
    { numRuns: 300 },
  );
  // The mutations reach every outcome, so the property is not satisfied vacuously.
  assert.equal([...kinds].sort(), ['events', 'ignored', 'rejected']);
  trap.assertNone();
});

// ---------------------------------------------------------------------------------------
// The poller in a daemon, against fauxqs.

let redisHandle: TestRedis;
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;
let queueUrl: string;
let daemon: Daemon;

test.before(async () => {
  redisHandle = await startTestRedis();
  fauxqs = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'fuzz-notifications' }))).QueueUrl!;
  const config = loadConfig({
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_ROLES: 'sqs',
    AMAZON_SQS_QUEUE_URL: queueUrl,
    AMAZON_SQS_ENDPOINT: endpoint,
    STOCKGUARD_SQS_WAIT_SECONDS: '1',
    STOCKGUARD_CONSUMER_NAME: 'fuzz-sqs',
  });
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }), clock: () => RECEIVED_AT });
});

test.after(async () => {
  await daemon.stop();
  sqs.destroy();
  await fauxqs.stop();
  await redisHandle.close();
  trap.remove();
});

async function eventually<T>(read: () => Promise<T>, accept: (value: T) => boolean, what: string, guardMs = 20_000): Promise<T> {
  const deadline = Date.now() + guardMs;
  let value = await read();
  while (!accept(value)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}; last value ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await read();
  }
  return value;
}

async function streamEventIds(): Promise<string[]> {
  const ids: string[] = [];
  for (const kind of EVENT_KINDS) {
    for (const stream of daemon.runtime.ledger.keys.eventStreams(kind, daemon.runtime.config.streams.partitions)) {
      for (const [, fields] of await daemon.runtime.redis.xrange(stream, '-', '+')) ids.push((JSON.parse(fields[1]!) as { eventId: string }).eventId);
    }
  }
  return ids;
}

async function queueDepth(): Promise<number> {
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  return Number(Attributes?.ApproximateNumberOfMessages) + Number(Attributes?.ApproximateNumberOfMessagesNotVisible);
}

// SQS accepts only XML characters in a body; what Amazon sends is JSON text anyway.
const sqsSafe = (body: string) => body.replace(/[^\t\n\r\x20-\ud7ff\ue000-\ufffd]/gu, '?') || '?';

test('the poller: every message ends on a stream, deleted as ignored, or dead-lettered with its body; none is lost', async () => {
  let batch = 0;
  await checkProperty(
    fc.asyncProperty(fc.array(fc.oneof({ arbitrary: mutatedExample, weight: 3 }, { arbitrary: anyBody, weight: 1 }), { minLength: 1, maxLength: 4 }), async (generated) => {
      batch += 1;
      // A NotificationId of this run's own, so deliveries of one run never dedupe against another's.
      const bodies = generated.map((body, index) => sqsSafe(body.replace(/"(NotificationId|notificationId)":"([^"]*)"/g, `"$1":"$2-${batch}-${index}"`)));
      const expected = bodies.map((body) => parseAmazonNotification(body, { receivedAtMs: RECEIVED_AT }));
      const messageIds: string[] = [];
      for (const body of bodies) messageIds.push((await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }))).MessageId!);

      await eventually(queueDepth, (depth) => depth === 0, 'the queue to drain');
      const letters = await listDeadLetters(daemon.runtime.redis, daemon.runtime.ledger.keys, { count: 10_000 });
      const eventIds = await streamEventIds();
      trap.assertNone();
      expected.forEach((outcome, index) => {
        const dead = letters.filter((letter) => letter.id === messageIds[index]);
        if (outcome.kind === 'rejected') {
          assert.is(dead.length, 1, `rejected message ${index} is not dead-lettered once`);
          assert.is(dead[0]!.event, bodies[index]);
          assert.is(dead[0]!.reason, 'STOCKGUARD_E_BAD_PAYLOAD');
          return;
        }
        assert.is(dead.length, 0, `message ${index} (${outcome.kind}) was dead-lettered`);
        if (outcome.kind === 'events') for (const event of outcome.events) assert.ok(eventIds.includes(event.eventId), `${event.eventId} is not on a stream`);
      });
    }),
    { numRuns: 12 },
  );
});

test.run();
