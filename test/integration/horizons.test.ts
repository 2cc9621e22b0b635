// The ledger's dedupe horizon (issue 13 §2, docs/operations.md "Dedupe horizons") on a real
// Redis with an injected clock: an event redelivered inside the horizon is applied once;
// event marks and closed reservation records older than the horizon are swept, so the
// SKU's dedupe state stops growing; an event the ledger has no mark of whose own time lies
// outside the horizon is refused with STOCKGUARD_E_STALE_EVENT (its mark may have been
// swept, so applying it could apply it twice) and, through the daemon's consumers, lands in
// the dead-letter stream with that reason instead of being retried or dropped.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { listDeadLetters } from '../../src/consumers/index.ts';
import { startDaemon } from '../../src/daemon.ts';
import type { StockguardEvent } from '../../src/domain/events.ts';
import { isStockguardError } from '../../src/errors.ts';
import { applyEvent, type ApplyDependencies } from '../../src/ledger/applyEvent.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { deletePrefix } from '../helpers/keyspace.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const DAY = 86_400_000;
const HORIZON_MS = DAY;
const test = suite('dedupe horizons');
let redis: TestRedis;
let worlds = 0;

// One clock for the ledger and the daemon; `offset` moves it days ahead without waiting.
let offset = 0;
const clock = () => Date.now() + offset;

test.before(async () => {
  redis = await startTestRedis();
});
test.after(async () => {
  await redis.close();
});
test.before.each(() => {
  offset = 0;
});

function ledgerWorld(): { ledger: Ledger; prefix: string; deps: ApplyDependencies; apply(event: StockguardEvent): ReturnType<typeof applyEvent> } {
  worlds += 1;
  const prefix = `${redis.prefix}-h${worlds}`;
  const ledger = new Ledger({ redis: redis.client(), keyPrefix: prefix, clock, dedupeHorizonMs: HORIZON_MS });
  const deps: ApplyDependencies = { ledger, resolveChannelItem: async () => undefined, resolveRefs: async (refs) => refs.map(() => undefined) };
  return { ledger, prefix, deps, apply: (event) => applyEvent(event, deps) };
}

async function stocked(ledger: Ledger, sku: string, onHand: number): Promise<void> {
  await ledger.createSku(sku);
  await ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
}

// The events of one order's life at the warehouse and the channel, all happening "now".
function lifeOf(sku: string, tag: string, atMs: number): StockguardEvent[] {
  const base = { source: 'replay' as const, receivedAtMs: atMs, occurredAtMs: atMs };
  return [
    { ...base, eventId: `placed-${tag}`, type: 'order.placed', channel: 'shopify', orderId: `o-${tag}`, lines: [{ lineId: '1', sku, quantity: 3 }, { lineId: '2', sku, quantity: 2 }] },
    { ...base, eventId: `adj-${tag}`, type: 'wms.adjustment', sku, cause: 'adjustment', delta: -4 },
    { ...base, eventId: `ship-${tag}`, type: 'wms.shipment', sku, channel: 'shopify', orderId: `o-${tag}`, lineId: '1', quantity: 3 },
    { ...base, eventId: `cancel-${tag}`, type: 'order.cancelled', channel: 'shopify', orderId: `o-${tag}`, lines: [{ lineId: '2', sku }] },
  ];
}

async function state(ledger: Ledger, sku: string) {
  const inventory = (await ledger.inventory(sku))!;
  return { onHand: inventory.onHand, reserved: inventory.reserved, journal: (await ledger.journal(sku)).length };
}

test('an event redelivered inside the horizon is applied once: order reserve, WMS adjustment, shipment, cancel', async () => {
  const { ledger, apply } = ledgerWorld();
  await stocked(ledger, 'RE-1', 20);
  const events = lifeOf('RE-1', 're', clock());
  for (const event of events) await apply(event);
  const after = await state(ledger, 'RE-1');
  assert.equal([after.onHand, after.reserved], [20 - 4 - 3, 0]);

  // Redeliveries spread over most of the horizon: every one crosses at least one sweep of
  // the SKU (a sweep runs at most once per sixteenth of the horizon), none drops a mark
  // or a closed record that is still inside the horizon.
  for (const step of [0.1, 0.3, 0.6, 0.95]) {
    offset = step * HORIZON_MS;
    // A fresh receipt of the SKU, so its sweep runs now, before the redeliveries.
    await ledger.adjust('RE-1', { eventId: `tick-${step}`, delta: 1, cause: 'receipt' });
    const before = await state(ledger, 'RE-1');
    const outcomes = [];
    for (const event of [...events].reverse()) outcomes.push(await apply(event));
    assert.equal(
      outcomes.map((outcome) => (outcome.kind === 'reserved' ? outcome.lines.map((line) => line.status).join(',') : outcome.kind === 'released' ? `released ${outcome.units}` : outcome.kind)),
      ['released 0', 'duplicate', 'duplicate', 'DUPLICATE,DUPLICATE'],
      `redelivered ${step} of the horizon later`,
    );
    assert.equal(await state(ledger, 'RE-1'), before, `nothing moved ${step} of the horizon later`);
  }
});

test('marks and closed reservation records older than the horizon are swept; open reservations and recent marks stay', async () => {
  const { ledger, prefix, apply } = ledgerWorld();
  const client = redis.client();
  await stocked(ledger, 'SW-1', 1000);
  const keys = ledger.keys.sku('SW-1');
  for (let index = 0; index < 40; index += 1) await ledger.adjust('SW-1', { eventId: `adj-${index}`, delta: 1, cause: 'receipt', seq: index + 1 });
  // 8 orders: lines 1 shipped in full (closed), lines 2 cancelled (closed); 3 orders only reserved (open).
  for (let index = 0; index < 8; index += 1) for (const event of lifeOf('SW-1', `c${index}`, clock())) await apply(event);
  for (let index = 0; index < 3; index += 1) {
    await ledger.reserveOrder({ channel: 'shopify', orderId: `open-${index}`, lines: [{ lineId: '1', sku: 'SW-1', quantity: 1 }], eventAtMs: clock() });
  }
  // Marks: the initial count, 40 adjustments, 8 × (adjustment + shipment). Records: 8 × 2 closed + 3 open.
  assert.is(await client.hlen(keys.eventMarks), 1 + 40 + 16);
  assert.is(await client.hlen(keys.reservations), 16 + 3);
  const reservedBefore = (await ledger.inventory('SW-1'))!.reserved;
  assert.is(reservedBefore, 3);

  // Inside the horizon a sweep keeps everything.
  offset = 0.5 * HORIZON_MS;
  await ledger.adjust('SW-1', { eventId: 'mid', delta: 1, cause: 'receipt' });
  assert.is(await client.hlen(keys.eventMarks), 1 + 40 + 16 + 1);
  assert.is(await client.hlen(keys.reservations), 19);

  // Past the horizon (and a sixteenth of it, the sweep interval), the next write of the SKU sweeps.
  offset = HORIZON_MS + HORIZON_MS / 16 + 60_000;
  await ledger.adjust('SW-1', { eventId: 'late', delta: 1, cause: 'receipt' });
  assert.equal((await client.hkeys(keys.eventMarks)).sort(), ['evt:late', 'evt:mid'], 'only the marks inside the horizon are left');
  assert.equal((await client.hkeys(keys.reservations)).sort(), ['shopify:open-0:1', 'shopify:open-1:1', 'shopify:open-2:1'], 'closed records swept, open ones kept');
  const inventory = (await ledger.inventory('SW-1'))!;
  assert.is(inventory.reserved, reservedBefore, 'the open reservations still hold their units');
  assert.is(inventory.reserved, (await ledger.repairReserved('SW-1', 'check')).inventory.reserved, 'reserved still equals what the records hold (I3)');

  // Growth stops: another horizon of the same traffic leaves the hash the same size.
  for (let index = 0; index < 40; index += 1) await ledger.adjust('SW-1', { eventId: `adj2-${index}`, delta: 1, cause: 'receipt' });
  const grown = await client.hlen(keys.eventMarks);
  offset += HORIZON_MS + HORIZON_MS / 16 + 60_000;
  await ledger.adjust('SW-1', { eventId: 'later', delta: 1, cause: 'receipt' });
  assert.ok(grown > 40);
  assert.is(await client.hlen(keys.eventMarks), 1);
  await deletePrefix(client, prefix);
});

test('an event with no mark older than the horizon is refused STOCKGUARD_E_STALE_EVENT and changes nothing, even after its first delivery was applied', async () => {
  const { ledger, apply } = ledgerWorld();
  const client = redis.client();
  await stocked(ledger, 'ST-1', 50);
  const t0 = clock();
  // Applied once at t0 …
  const events = lifeOf('ST-1', 'old', t0);
  for (const event of events) await apply(event);
  // … then its marks and closed records are swept past the horizon …
  offset = HORIZON_MS + HORIZON_MS / 16 + 60_000;
  await ledger.adjust('ST-1', { eventId: 'sweeper', delta: 1, cause: 'receipt' });
  const keys = ledger.keys.sku('ST-1');
  assert.equal(await client.hkeys(keys.eventMarks), ['evt:sweeper']);
  assert.is(await client.hlen(keys.reservations), 0);
  const before = await state(ledger, 'ST-1');

  // … and a redelivery with its own (old) time is refused, each kind: never applied twice.
  for (const event of events) {
    try {
      await apply(event);
      assert.unreachable(`${event.type} ${event.eventId} was applied`);
    } catch (error) {
      if (!isStockguardError(error)) throw error;
      assert.is(error.code, 'STOCKGUARD_E_STALE_EVENT', `${event.type} ${event.eventId}: ${error.message}`);
    }
  }
  // A replay of a dead letter keeps the event's receivedAtMs: without occurredAtMs it is the time that counts.
  const { occurredAtMs: _dropped, ...withoutOccurred } = events[1] as Extract<StockguardEvent, { type: 'wms.adjustment' }>;
  await apply(withoutOccurred).then(
    () => assert.unreachable('applied'),
    (error: unknown) => assert.is(isStockguardError(error) && error.code, 'STOCKGUARD_E_STALE_EVENT'),
  );
  assert.equal(await state(ledger, 'ST-1'), before, 'on_hand, reserved and the journal unchanged');
  assert.equal(await client.hkeys(keys.eventMarks), ['evt:sweeper'], 'a refused event leaves no mark');
  assert.is(await client.hlen(keys.reservations), 0, 'a refused order or cancel leaves no record');

  // The same kinds of event, new and inside the horizon, still apply.
  for (const event of lifeOf('ST-1', 'new', clock())) await apply(event);
  assert.is((await ledger.inventory('ST-1'))!.onHand, before.onHand - 4 - 3);
});

test('a stale cancel still releases the lines the ledger holds a record of, then is refused', async () => {
  const { ledger, apply } = ledgerWorld();
  await stocked(ledger, 'MX-1', 20);
  const t0 = clock();
  const base = { source: 'replay' as const, receivedAtMs: t0, occurredAtMs: t0 };
  // Line 1 ships in full (its record closes and is swept after the horizon); line 2 stays held.
  await apply({ ...base, eventId: 'placed-mx', type: 'order.placed', channel: 'shopify', orderId: 'o-mx', lines: [{ lineId: '1', sku: 'MX-1', quantity: 2 }, { lineId: '2', sku: 'MX-1', quantity: 3 }] });
  await apply({ ...base, eventId: 'ship-mx', type: 'wms.shipment', sku: 'MX-1', channel: 'shopify', orderId: 'o-mx', lineId: '1', quantity: 2 });
  offset = HORIZON_MS + HORIZON_MS / 16 + 60_000;
  await ledger.adjust('MX-1', { eventId: 'sweeper', delta: 1, cause: 'receipt' });
  assert.equal(await redis.client().hkeys(ledger.keys.sku('MX-1').reservations), ['shopify:o-mx:2'], 'only the open line is left');
  assert.is((await ledger.inventory('MX-1'))!.reserved, 3);

  const cancel: StockguardEvent = { ...base, eventId: 'cancel-mx', type: 'order.cancelled', channel: 'shopify', orderId: 'o-mx', lines: [{ lineId: '1', sku: 'MX-1' }, { lineId: '2', sku: 'MX-1' }] };
  await apply(cancel).then(
    () => assert.unreachable('applied'),
    (error: unknown) => assert.is(isStockguardError(error) && error.code, 'STOCKGUARD_E_STALE_EVENT'),
  );
  assert.is((await ledger.inventory('MX-1'))!.reserved, 0, 'line 2 released although line 1 was refused');
  // The dead letter replayed: nothing is released twice.
  await apply(cancel).catch(() => undefined);
  assert.equal([(await ledger.inventory('MX-1'))!.reserved, (await ledger.inventory('MX-1'))!.onHand], [0, 19]);
});

test('through the consumers, a stale event lands in the dead-letter stream with reason STOCKGUARD_E_STALE_EVENT, acknowledged, on_hand unchanged', async () => {
  worlds += 1;
  const prefix = `${redis.prefix}-d${worlds}`;
  const config = loadConfig({
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: prefix,
    STOCKGUARD_ROLES: 'consumers',
    STOCKGUARD_CONSUMER_NAME: `horizons-${worlds}`,
    STOCKGUARD_EVENT_HORIZON_SECONDS: String(HORIZON_MS / 1000),
  });
  const daemon = await startDaemon({ config, logger: pino({ level: 'silent' }), clock });
  const { ledger } = daemon.runtime;
  try {
    await stocked(ledger, 'DL-1', 30);
    const t0 = clock();
    const adjustment = { source: 'wms-webhook', receivedAtMs: t0, occurredAtMs: t0, eventId: 'wms-old-1', type: 'wms.adjustment', sku: 'DL-1', cause: 'adjustment', delta: -5, seq: 1 } as const;
    await daemon.sink.publish(adjustment);
    await until(async () => (await ledger.inventory('DL-1'))!.onHand === 25);

    offset = HORIZON_MS + HORIZON_MS / 16 + 60_000;
    await ledger.adjust('DL-1', { eventId: 'sweeper', delta: 1, cause: 'receipt' });
    assert.equal(await daemon.runtime.redis.hkeys(ledger.keys.sku('DL-1').eventMarks), ['evt:sweeper'], 'the first delivery\'s mark is swept');

    // The WMS retries the old event (same id, same occurredAt) after the horizon.
    await daemon.sink.publish({ ...adjustment, receivedAtMs: clock() });
    await until(async () => (await listDeadLetters(daemon.runtime.redis, ledger.keys)).length > 0);
    const letters = await listDeadLetters(daemon.runtime.redis, ledger.keys);
    assert.equal(letters.map((letter) => [letter.reason, letter.deliveries, (JSON.parse(letter.event) as { eventId: string }).eventId]), [['STOCKGUARD_E_STALE_EVENT', 1, 'wms-old-1']]);
    assert.match(letters[0]!.message, /dedupe horizon/);
    assert.is((await ledger.inventory('DL-1'))!.onHand, 26, 'applied once, not twice');

    // Acknowledged (not left pending to be retried), and the consumer goes on with the next event.
    await daemon.sink.publish({ ...adjustment, eventId: 'wms-new-2', occurredAtMs: clock(), receivedAtMs: clock(), delta: 2, seq: 2 });
    await until(async () => (await ledger.inventory('DL-1'))!.onHand === 28);
    for (const stream of ledger.keys.eventStreams('wms', config.streams.partitions)) {
      const pending = (await daemon.runtime.redis.xpending(stream, config.streams.group)) as [number, ...unknown[]];
      assert.is(pending[0], 0, `${stream} has nothing pending`);
    }
    assert.is((await listDeadLetters(daemon.runtime.redis, ledger.keys)).length, 1);
  } finally {
    await daemon.stop();
    await deletePrefix(redis.client(), prefix);
  }
});

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test.run();
