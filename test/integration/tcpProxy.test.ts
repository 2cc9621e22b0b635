// The chaos harness's TCP fault proxy (src/sim/tcpProxy.ts) in front of a private Redis:
// pass-through, delay in both directions without reordering, resets that ioredis recovers
// from, refusing new connections, a dead upstream, and close().
import { performance } from 'node:perf_hooks';
import { Redis, type RedisOptions } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { freePort } from '../../src/sim/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../src/sim/tcpProxy.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let redis: TestRedis | undefined;

test.before(async () => {
  redis = await startTestRedis();
});

test.after(async () => {
  await redis?.close();
});

function testRedis(): TestRedis {
  if (!redis) throw new Error('test Redis not started');
  return redis;
}

function target(): { host: string; port: number } {
  const url = new URL(testRedis().url);
  return { host: url.hostname, port: Number(url.port || 6379) };
}

/** The test Redis URL (auth and db kept) pointed at the proxy instead. */
function viaProxy(proxy: TcpProxy): string {
  const url = new URL(testRedis().url);
  url.hostname = proxy.host;
  url.port = String(proxy.port);
  return url.toString();
}

/** Clients made by a test, all disconnected in its finally. */
class Clients {
  private readonly all: Redis[] = [];

  make(url: string, options: RedisOptions = {}, errors?: Error[]): Redis {
    const client = new Redis(url, options);
    client.on('error', (error: Error) => errors?.push(error));
    this.all.push(client);
    return client;
  }

  disconnect(): void {
    for (const client of this.all) client.disconnect();
  }
}

const strict: RedisOptions = { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true, enableOfflineQueue: false };

/** The promise's outcome, or 'timeout' after `ms` (uvu has no per-test timeout; a broken proxy must fail, not hang). */
async function settle(work: () => Promise<unknown>, ms = 3000): Promise<'ok' | 'timeout' | Error> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([
      work().then(
        () => 'ok' as const,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

test('pass-through: SET/GET through the proxy', async () => {
  const proxy = await startTcpProxy({ target: target() });
  const clients = new Clients();
  try {
    assert.is(proxy.host, '127.0.0.1');
    assert.ok(proxy.port > 0 && proxy.port !== target().port);
    const client = clients.make(viaProxy(proxy));
    const key = `${testRedis().prefix}:pass`;
    assert.is(await client.set(key, 'through-the-proxy'), 'OK');
    assert.is(await client.get(key), 'through-the-proxy');
    // A value larger than one TCP chunk arrives intact.
    const big = 'x'.repeat(1 << 20);
    await client.set(`${key}:big`, big);
    assert.is(await client.get(`${key}:big`), big);
    assert.is(proxy.connections(), 1);
    assert.is(proxy.stats.accepted, 1);
    assert.is(proxy.stats.reset, 0);
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test('delay: both directions are held back, 0 is fast again, pipelines stay in order', async () => {
  const proxy = await startTcpProxy({ target: target() });
  const clients = new Clients();
  try {
    const client = clients.make(viaProxy(proxy));
    assert.is(await client.ping(), 'PONG');

    proxy.setDelay(150);
    const slow = await timed(() => client.ping());
    assert.is(slow.value, 'PONG');
    assert.ok(slow.ms >= 290, `PING under a 150 ms delay took ${slow.ms.toFixed(1)} ms, expected ≥ 290`);

    // A chunk queued behind another gets its own full delay, not its predecessor's.
    const first = client.echo('a');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await timed(() => client.echo('b'));
    assert.is(await first, 'a');
    assert.is(second.value, 'b');
    assert.ok(second.ms >= 290, `a queued ECHO under a 150 ms delay took ${second.ms.toFixed(1)} ms, expected ≥ 290`);

    proxy.setDelay(0);
    const fast = await timed(() => client.ping());
    assert.is(fast.value, 'PONG');
    assert.ok(fast.ms < 150, `PING with no delay took ${fast.ms.toFixed(1)} ms, expected < 150`);

    proxy.setDelay(20);
    const key = `${testRedis().prefix}:counter`;
    const pipeline = client.pipeline();
    for (let index = 0; index < 200; index += 1) pipeline.incr(key);
    const piped = await timed(() => pipeline.exec());
    assert.ok(piped.ms >= 38, `pipeline under a 20 ms delay took ${piped.ms.toFixed(1)} ms`);
    const results = piped.value ?? [];
    assert.is(results.length, 200);
    assert.equal(
      results.map(([error, value]) => (error ? String(error) : value)),
      Array.from({ length: 200 }, (_, index) => index + 1),
    );

    // Lowering the delay while bytes are queued must not let later bytes overtake them
    // (ECHO, so a reordering on the way to Redis shows up as swapped replies).
    proxy.setDelay(100);
    const before = client.echo('first');
    await new Promise((resolve) => setTimeout(resolve, 10));
    proxy.setDelay(0);
    const after = client.echo('second');
    assert.equal(await Promise.all([before, after]), ['first', 'second']);
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test('resetAll: connections are cut with a reset and ioredis reconnects', async () => {
  const proxy = await startTcpProxy({ target: target() });
  const clients = new Clients();
  try {
    const errors: Error[] = [];
    const client = clients.make(viaProxy(proxy), {}, errors);
    const key = `${testRedis().prefix}:reset`;
    await client.set(key, 'before');
    let reconnected = false;
    client.once('reconnecting', () => (reconnected = true));

    const cut = proxy.resetAll();
    assert.ok(cut >= 1, `resetAll cut ${cut} connections`);
    assert.is(proxy.stats.reset, cut);
    assert.is(proxy.connections(), 0);

    assert.is(await client.get(key), 'before');
    assert.ok(reconnected, 'ioredis should have reconnected');
    assert.ok(
      errors.some((error) => (error as NodeJS.ErrnoException).code === 'ECONNRESET'),
      `expected an ECONNRESET, saw ${errors.map(String).join(', ') || 'no errors'}`,
    );
    assert.is(proxy.stats.accepted, 2);
    assert.is(proxy.connections(), 1);
    assert.is(await client.set(key, 'after'), 'OK');
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test('refuse: new connections fail while on, work again once off', async () => {
  const proxy = await startTcpProxy({ target: target() });
  const clients = new Clients();
  try {
    const existing = clients.make(viaProxy(proxy));
    assert.is(await existing.ping(), 'PONG');

    proxy.refuse(true);
    const refused = clients.make(viaProxy(proxy), strict);
    const outcome = await settle(async () => {
      await refused.connect();
      await refused.ping();
    });
    assert.ok(outcome instanceof Error, `a client connecting while refusing should fail, got ${String(outcome)}`);
    assert.ok(proxy.stats.refused >= 1);
    // Refusing affects new connections only.
    assert.is(await existing.ping(), 'PONG');
    assert.is(proxy.connections(), 1);

    proxy.refuse(false);
    const fresh = clients.make(viaProxy(proxy), strict);
    assert.is(await settle(() => fresh.connect()), 'ok');
    assert.is(await fresh.ping(), 'PONG');
    assert.is(proxy.connections(), 2);
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test('a dead upstream drops the client and does not crash', async () => {
  const proxy = await startTcpProxy({ target: { host: '127.0.0.1', port: await freePort() } });
  const clients = new Clients();
  try {
    const client = clients.make(`redis://${proxy.host}:${proxy.port}`, strict);
    const outcome = await settle(async () => {
      await client.connect();
      await client.ping();
    });
    assert.ok(outcome instanceof Error, `a client behind a dead upstream should be dropped, got ${String(outcome)}`);
    assert.is(proxy.stats.accepted, 1);
    const deadline = performance.now() + 2000;
    while (proxy.connections() > 0 && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.is(proxy.connections(), 0);
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test('close: stops listening and leaves no connections', async () => {
  const proxy = await startTcpProxy({ target: target() });
  const clients = new Clients();
  try {
    const one = clients.make(viaProxy(proxy));
    const two = clients.make(viaProxy(proxy));
    assert.equal(await Promise.all([one.ping(), two.ping()]), ['PONG', 'PONG']);
    assert.is(proxy.connections(), 2);

    await proxy.close();
    assert.is(proxy.connections(), 0);

    const late = clients.make(viaProxy(proxy), strict);
    const outcome = await settle(() => late.connect());
    assert.ok(outcome instanceof Error, `connecting to a closed proxy should fail, got ${String(outcome)}`);
  } finally {
    clients.disconnect();
    await proxy.close();
  }
});

test.run();
