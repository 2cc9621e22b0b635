// Issue 11 §3: closing a checkout hold (cancel, confirm, the expiry reaper) and opening one
// survive Redis going away between any two of their commands. Each case cuts Redis at one
// step, either before the command is sent or after it ran with its reply lost, and keeps it
// away for the rest of that call; then a retry or the reaper runs against a healthy Redis.
// The end state must leak nothing (reserved == Σ open reservations, available back where
// it belongs), release no line twice, and answer the retry as the first call would have.
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StockguardError } from '../../src/errors.ts';
import { reservationRoutes } from '../../src/ingest/http/reservations.ts';
import { createHttpServer, listen } from '../../src/ingest/http/server.ts';
import { CheckoutHolds, HOLD_CHANNEL } from '../../src/ledger/holds.ts';
import { Ledger, type OrderLine } from '../../src/ledger/ledger.ts';
import { reservationId } from '../../src/ledger/reservationId.ts';
import { luaScripts } from '../../src/redis/scripts.ts';
import { startTcpProxy } from '../../src/sim/tcpProxy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const API_TOKEN = 'hold-crash-token';
const TTL_SECONDS = 900;
let redisHandle: TestRedis;
let redis: Redis;
let nowMs = Date.parse('2026-11-27T12:00:00Z');
const clock = () => nowMs;
let ledger: Ledger;
let holds: CheckoutHolds;
let caseNumber = 0;

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  ledger = new Ledger({ redis, keyPrefix: redisHandle.prefix, clock });
  holds = new CheckoutHolds(redis, ledger, clock);
  // Loaded up front so every run sends the same commands (no NOSCRIPT → EVAL fallback on the first).
  for (const script of Object.values(luaScripts())) await redis.script('LOAD', script.source);
});

test.after(async () => {
  // close() deletes this file's prefix on a shared REDIS_URL, or stops the private server.
  await redisHandle.close();
});

// The commands CheckoutHolds and Ledger send on the paths under test.
const COMMANDS = new Set(['zscore', 'zadd', 'zrem', 'zrangebyscore', 'hget', 'hset', 'hdel', 'hexists', 'evalsha', 'eval']);

/** Where Redis goes away: at command `at`; `transient`: only for that command (it is back for the next). */
type Cut = { at: number; replyLost: boolean; transient?: boolean };

/**
 * The test client seen through a fault: commands before `cut.at` pass; command `cut.at`
 * is not sent (or runs and loses its reply) and every later one fails, as when Redis
 * goes away mid-request, unless the cut is transient. Without a cut it only counts commands.
 */
function faultyClient(cut: Cut | undefined): { client: Redis; sent: () => number; names: string[] } {
  let calls = 0;
  const names: string[] = [];
  const client = new Proxy(redis, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (typeof property !== 'string' || !COMMANDS.has(property)) return value.bind(target);
      return async (...args: unknown[]) => {
        const index = calls++;
        names.push(property);
        if (cut && index > cut.at && !cut.transient) throw new Error('Connection is closed.');
        if (cut && index === cut.at && !cut.replyLost) throw new Error('Connection is closed.');
        const reply: unknown = await value.apply(target, args);
        if (cut && index === cut.at) throw new Error('Connection is closed.');
        return reply;
      };
    },
  });
  return { client, sent: () => calls, names };
}

function faultyHolds(cut: Cut | undefined): { holds: CheckoutHolds; sent: () => number; names: string[] } {
  const { client, sent, names } = faultyClient(cut);
  const faultyLedger = new Ledger({ redis: client, keyPrefix: redisHandle.prefix, clock });
  return { holds: new CheckoutHolds(client, faultyLedger, clock), sent, names };
}

interface Checkout {
  orderId: string;
  lines: OrderLine[];
  skus: string[];
  /** on_hand of each SKU (nothing else touches these SKUs). */
  onHand: Record<string, number>;
}

/** New SKUs and an order id of its own; the same SKU twice in the order, and a second SKU. */
async function newCheckout(): Promise<Checkout> {
  caseNumber += 1;
  const shirt = `TEE-BLK-M-${caseNumber}`;
  const mug = `MUG-WHT-${caseNumber}`;
  const onHand = { [shirt]: 10, [mug]: 4 };
  for (const [sku, units] of Object.entries(onHand)) {
    await ledger.createSku(sku);
    await ledger.adjust(sku, { eventId: `receipt-${sku}`, delta: units, cause: 'receipt' });
  }
  const lines = [
    { lineId: 'gid://shopify/LineItem/14012345678901', sku: shirt, quantity: 2 },
    { lineId: '2', sku: mug, quantity: 3 },
    { lineId: '3', sku: shirt, quantity: 1 },
  ];
  return { orderId: `checkout-${caseNumber}:cart`, lines, skus: [shirt, mug], onHand };
}

async function holdCheckout(checkout: Checkout): Promise<number> {
  const result = await holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS);
  assert.ok(result.held);
  return result.held ? result.expiresAtMs : 0;
}

/**
 * Nothing leaked and nothing released twice: per SKU, reserved equals what the open records
 * hold and available is on_hand minus what the checkout still holds; each line was released
 * at most once; the hold is gone from both hold keys. `outcome` is what the checkout holds now.
 */
async function assertSettled(checkout: Checkout, outcome: 'held' | 'released', label: string): Promise<void> {
  for (const sku of checkout.skus) {
    const inventory = await ledger.inventory(sku);
    const records = await ledger.reservations(sku);
    const open = records.reduce((sum, record) => sum + record.openUnits, 0);
    assert.is(inventory?.reserved, open, `${label}: ${sku} reserved equals Σ open reservations`);
    const ordered = checkout.lines.filter((line) => line.sku === sku).reduce((sum, line) => sum + line.quantity, 0);
    const expectedHeld = outcome === 'held' ? ordered : 0;
    assert.is(open, expectedHeld, `${label}: ${sku} holds ${expectedHeld}`);
    assert.is(checkout.onHand[sku]! - (inventory?.reserved ?? NaN), checkout.onHand[sku]! - expectedHeld, `${label}: ${sku} available`);
    const journal = await ledger.journal(sku);
    for (const line of checkout.lines.filter((candidate) => candidate.sku === sku)) {
      const id = reservationId(HOLD_CHANNEL, checkout.orderId, line.lineId);
      const releases = journal.filter((entry) => entry.cause === 'release' && entry.ref === id);
      assert.is(releases.length, outcome === 'released' ? 1 : 0, `${label}: line ${line.lineId} released ${outcome === 'released' ? 'once' : 'never'}`);
      assert.is(releases.reduce((sum, entry) => sum - entry.dReserved, 0), outcome === 'released' ? line.quantity : 0, `${label}: line ${line.lineId} released units`);
    }
  }
  assert.is(await redis.zscore(ledger.keys.holdExpiries(), checkout.orderId), null, `${label}: no index entry left`);
  assert.is(await redis.hget(ledger.keys.holdLines(), checkout.orderId), null, `${label}: no hold lines left`);
}

/** How many commands the operation sends when nothing goes wrong (measured, so the cases follow the code). */
async function commandsOf(operation: (faulty: CheckoutHolds, checkout: Checkout) => Promise<unknown>, before?: () => void): Promise<number> {
  const checkout = await newCheckout();
  await holdCheckout(checkout);
  before?.();
  const { holds: counting, sent } = faultyHolds(undefined);
  await operation(counting, checkout);
  return sent();
}

/** Every crash point of an operation: each command, not sent and sent with its reply lost. */
function cuts(commands: number): Cut[] {
  return Array.from({ length: commands }, (_, at) => [{ at, replyLost: false }, { at, replyLost: true }]).flat();
}

function describe(cut: Cut): string {
  return `command ${cut.at + 1} ${cut.replyLost ? 'ran, reply lost' : 'not sent'}${cut.transient ? ', Redis back at once' : ''}`;
}

async function expectFailure(work: Promise<unknown>, label: string): Promise<void> {
  const outcome = await work.then(
    () => 'answered',
    (error: unknown) => (error instanceof Error ? error.message : String(error)),
  );
  assert.is(outcome, 'Connection is closed.', `${label}: the cut call fails`);
}

test('cancel cut at every step: a retry of the cancel answers true and releases every line once', async () => {
  const total = await commandsOf((faulty, checkout) => faulty.cancel(checkout.orderId));
  assert.ok(total >= 6, `cancel sends ${total} commands`);
  for (const cut of cuts(total)) {
    const label = `cancel, ${describe(cut)}`;
    const checkout = await newCheckout();
    await holdCheckout(checkout);
    await expectFailure(faultyHolds(cut).holds.cancel(checkout.orderId), label);
    const finished = cut.replyLost && cut.at === total - 1;
    // Only when the very last step ran and just its reply was lost is there nothing left to find.
    assert.is(await holds.cancel(checkout.orderId), !finished, `${label}: the retry's answer`);
    assert.is(await holds.cancel(checkout.orderId), false, `${label}: a second retry finds no hold`);
    assert.is(await holds.confirm(checkout.orderId), false, `${label}: a cancelled hold cannot be confirmed`);
    await assertSettled(checkout, 'released', label);
  }
});

test('cancel cut at every step, never retried: the reaper finishes it', async () => {
  const total = await commandsOf((faulty, checkout) => faulty.cancel(checkout.orderId));
  for (const cut of cuts(total)) {
    const label = `cancel then reaper, ${describe(cut)}`;
    const checkout = await newCheckout();
    const expiresAtMs = await holdCheckout(checkout);
    await expectFailure(faultyHolds(cut).holds.cancel(checkout.orderId), label);
    const closed = cut.at > 0 || cut.replyLost;
    if (closed) {
      const reuse = await holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS).then(
        () => 'held',
        (error: unknown) => (error instanceof StockguardError ? error.code : String(error)),
      );
      assert.is(reuse, 'STOCKGUARD_E_CONFLICT', `${label}: the order id of a closing hold cannot be held again`);
      // Decided: released on the reaper's next round, expiry or not.
      await holds.reapExpired();
    } else {
      nowMs = Math.max(nowMs, expiresAtMs + 1);
      assert.ok((await holds.reapExpired()) >= 1, `${label}: the untouched hold is reaped when it expires`);
    }
    await assertSettled(checkout, 'released', label);
  }
});

test('confirm cut at every step: a retry of the confirm answers true, the lines stay held, the reaper leaves them', async () => {
  const total = await commandsOf((faulty, checkout) => faulty.confirm(checkout.orderId));
  for (const cut of cuts(total)) {
    const label = `confirm, ${describe(cut)}`;
    const checkout = await newCheckout();
    const expiresAtMs = await holdCheckout(checkout);
    await expectFailure(faultyHolds(cut).holds.confirm(checkout.orderId), label);
    const finished = cut.replyLost && cut.at === total - 1;
    assert.is(await holds.confirm(checkout.orderId), !finished, `${label}: the retry's answer`);
    assert.is(await holds.cancel(checkout.orderId), false, `${label}: a confirmed hold cannot be cancelled`);
    nowMs = Math.max(nowMs, expiresAtMs + 1);
    await holds.reapExpired();
    await assertSettled(checkout, 'held', label);
  }
});

test('confirm cut at every step, never retried: the reaper finishes the confirm, or releases a hold the confirm never reached', async () => {
  const total = await commandsOf((faulty, checkout) => faulty.confirm(checkout.orderId));
  for (const cut of cuts(total)) {
    const label = `confirm then reaper, ${describe(cut)}`;
    const checkout = await newCheckout();
    const expiresAtMs = await holdCheckout(checkout);
    await expectFailure(faultyHolds(cut).holds.confirm(checkout.orderId), label);
    nowMs = Math.max(nowMs, expiresAtMs + 1);
    await holds.reapExpired();
    const confirmed = cut.at > 0 || cut.replyLost;
    await assertSettled(checkout, confirmed ? 'held' : 'released', label);
  }
});

test('the reaper cut at every step: its next round releases every line once; a late confirm cannot take it back', async () => {
  const total = await commandsOf(
    (faulty) => faulty.reapExpired(),
    () => (nowMs += TTL_SECONDS * 1000 + 1),
  );
  assert.ok(total >= 6, `the reaper sends ${total} commands`);
  for (const cut of cuts(total)) {
    const label = `reaper, ${describe(cut)}`;
    const checkout = await newCheckout();
    nowMs = (await holdCheckout(checkout)) + 1;
    await expectFailure(faultyHolds(cut).holds.reapExpired(), label);
    // The reaper's first command only reads; once it closed the hold, a confirm loses the race.
    const closed = cut.at > 1 || (cut.at === 1 && cut.replyLost);
    assert.is(await holds.confirm(checkout.orderId), !closed, `${label}: a confirm after the cut`);
    await holds.reapExpired();
    await assertSettled(checkout, closed ? 'released' : 'held', label);
  }
});

/** Per SKU: reserved equals what the open records hold, and that is `units(sku)`. */
async function assertHolding(checkout: Checkout, units: (sku: string) => number, label: string): Promise<void> {
  for (const sku of checkout.skus) {
    const inventory = await ledger.inventory(sku);
    const open = (await ledger.reservations(sku)).reduce((sum, record) => sum + record.openUnits, 0);
    assert.is(inventory?.reserved, open, `${label}: ${sku} reserved equals Σ open reservations`);
    assert.is(open, units(sku), `${label}: ${sku} holds ${units(sku)}`);
  }
}

async function holdCommands(): Promise<number> {
  const counting = faultyHolds(undefined);
  const probe = await newCheckout();
  assert.ok((await counting.holds.hold(probe.orderId, probe.lines, TTL_SECONDS)).held);
  assert.ok(await holds.cancel(probe.orderId));
  return counting.sent();
}

/** Every crash point of a hold, with Redis staying away and with Redis back for the next command. */
function holdCuts(total: number): Cut[] {
  // Redis back at once is the case where a clean-up that removes the index entry first
  // would succeed and leak the lines already held.
  return [...cuts(total), ...cuts(total).map((cut) => ({ ...cut, transient: true }))];
}

test('a hold cut at every step, never retried: nothing stays held once it expired and the reaper ran', async () => {
  for (const cut of holdCuts(await holdCommands())) {
    const label = `hold then reaper, ${describe(cut)}`;
    const checkout = await newCheckout();
    await expectFailure(faultyHolds(cut).holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS), label);
    nowMs += TTL_SECONDS * 1000 + 1;
    await holds.reapExpired();
    await assertHolding(checkout, () => 0, label);
    assert.is(await redis.zscore(ledger.keys.holdExpiries(), checkout.orderId), null, `${label}: no index entry left`);
  }
});

test('a hold cut at every step: the retry the 500 asks for holds every line once, and a cancel then frees them', async () => {
  for (const cut of holdCuts(await holdCommands())) {
    const label = `hold then retry, ${describe(cut)}`;
    const checkout = await newCheckout();
    await expectFailure(faultyHolds(cut).holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS), label);
    const retry = await holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS);
    assert.ok(retry.held, `${label}: the retry holds the checkout`);
    const ordered = (sku: string) => checkout.lines.filter((line) => line.sku === sku).reduce((sum, line) => sum + line.quantity, 0);
    await assertHolding(checkout, ordered, label);
    assert.ok(await holds.cancel(checkout.orderId), `${label}: the retried hold is open`);
    await assertSettled(checkout, 'released', label);
  }
});

test('a hold cut before its second SKU is reserved, retried once that SKU is short: 409, and the first SKU is released', async () => {
  const counting = faultyHolds(undefined);
  const probe = await newCheckout();
  assert.ok((await counting.holds.hold(probe.orderId, probe.lines, TTL_SECONDS)).held);
  assert.ok(await holds.cancel(probe.orderId));
  const secondReserve = counting.names.indexOf('evalsha', counting.names.indexOf('evalsha') + 1);
  assert.ok(secondReserve > 0);
  const checkout = await newCheckout();
  const [shirt, mug] = checkout.skus as [string, string];
  await expectFailure(faultyHolds({ at: secondReserve, replyLost: false }).holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS), 'hold');
  await assertHolding(checkout, (sku) => (sku === shirt ? 3 : 0), 'after the cut');
  // Another checkout takes the mugs meanwhile.
  assert.ok((await holds.hold(`${checkout.orderId}-other`, [{ lineId: '1', sku: mug, quantity: 3 }], TTL_SECONDS)).held);
  const retry = await holds.hold(checkout.orderId, checkout.lines, TTL_SECONDS);
  assert.not.ok(retry.held);
  await assertHolding(checkout, (sku) => (sku === shirt ? 0 : 3), 'after the short retry');
  assert.is(await redis.zscore(ledger.keys.holdExpiries(), checkout.orderId), null);
  assert.ok(await holds.cancel(`${checkout.orderId}-other`));
});

test('the issue 11 report: DELETE with Redis cut right after the hold is closed answers 500, and the retry answers 200 and frees the stock', async () => {
  const target = new URL(redisHandle.url);
  const proxy = await startTcpProxy({ target: { host: target.hostname, port: Number(target.port || 6379) } });
  const viaProxy = new URL(redisHandle.url);
  viaProxy.hostname = proxy.host;
  viaProxy.port = String(proxy.port);
  // Requests fail fast while Redis is away, and the client reconnects as soon as it is back.
  const proxied = new Redis(viaProxy.toString(), { maxRetriesPerRequest: 0, retryStrategy: () => 20 });
  proxied.on('error', () => undefined);
  const holdExpiries = ledger.keys.holdExpiries();
  let cutDone = false;
  // Cuts the network as soon as the first command that writes the hold index is answered
  // (the ZREM of the report, or whatever closes the hold now).
  const cutting = new Proxy(proxied, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== 'zrem' && property !== 'evalsha' && property !== 'eval') return value.bind(target);
      return async (...args: unknown[]) => {
        const reply: unknown = await value.apply(target, args);
        if (!cutDone && args.includes(holdExpiries)) {
          cutDone = true;
          proxy.refuse(true);
          proxy.resetAll();
        }
        return reply;
      };
    },
  });
  const proxiedLedger = new Ledger({ redis: cutting, keyPrefix: redisHandle.prefix, clock });
  const server = createHttpServer({
    bodyLimitBytes: 64 * 1024,
    logger: pino({ level: 'silent' }),
    routes: reservationRoutes({ holds: new CheckoutHolds(cutting, proxiedLedger, clock), apiToken: API_TOKEN }),
  });
  const http = await listen(server, 0, '127.0.0.1');
  try {
    const checkout = await newCheckout();
    await holdCheckout(checkout);
    const cancel = () => fetch(`${http.url}/v1/reservations/${encodeURIComponent(checkout.orderId)}`, { method: 'DELETE', headers: { authorization: `Bearer ${API_TOKEN}` } });
    const first = await cancel();
    assert.ok(cutDone, 'the network was cut mid-request');
    assert.is(first.status, 500);
    await new Promise((resolve) => setTimeout(resolve, 300));
    proxy.refuse(false);
    for (let attempt = 0; attempt < 100 && proxied.status !== 'ready'; attempt += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    const retry = await cancel();
    assert.is(retry.status, 200, 'the retry finishes the cancel instead of answering 404');
    await assertSettled(checkout, 'released', 'DELETE through a cut');
  } finally {
    await http.close();
    proxied.disconnect();
    await proxy.close();
  }
});

test.run();
