// A daemon process killed with SIGKILL in the middle of its work: another consumer in the
// group reclaims the entries it had received but not acknowledged, and every event ends
// up applied exactly once (invariant I2).
import { spawn } from 'node:child_process';
import { pino } from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/daemon.ts';
import { RedisEventSink } from '../../src/ingest/redisSink.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { startTestRedis } from '../helpers/redis.ts';

const SKUS = Array.from({ length: 40 }, (_, index) => `KILL-${index}`);
const EVENTS = 8000;

test('SIGKILL mid-batch: the survivor reclaims, nothing is lost or applied twice', async () => {
  const redisHandle = await startTestRedis();
  const redis = redisHandle.client();
  const ledger = new Ledger({ redis, keyPrefix: redisHandle.prefix });
  const env = {
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_ROLES: 'consumers',
    STOCKGUARD_CONSUMER_BATCH: '64',
    STOCKGUARD_CLAIM_IDLE_MS: '300',
    STOCKGUARD_RECLAIM_INTERVAL_MS: '200',
    STOCKGUARD_LOG_LEVEL: 'warn',
  };
  const config = loadConfig(env);
  try {
    for (const sku of SKUS) {
      await ledger.createSku(sku);
      await ledger.adjust(sku, { eventId: `stock-${sku}`, delta: 100_000, cause: 'receipt' });
    }
    const sink = new RedisEventSink({ redis, keys: ledger.keys, partitions: config.streams.partitions, dedupeWindowSeconds: 3600 });
    const expected = new Map<string, number>();
    const appends = [];
    for (let index = 0; index < EVENTS; index += 1) {
      const sku = SKUS[index % SKUS.length]!;
      expected.set(sku, (expected.get(sku) ?? 0) + 1);
      appends.push(
        sink.publish({ eventId: `o-${index}`, source: 'shopify-webhook', receivedAtMs: Date.now(), type: 'order.placed', channel: 'shopify', orderId: `o-${index}`, lines: [{ lineId: '1', sku, quantity: 1 }] }),
      );
    }
    await Promise.all(appends);

    const victim = spawn(process.execPath, ['--import', 'tsx', 'src/bin/stockguard.ts', 'serve'], {
      env: { ...process.env, ...env, STOCKGUARD_CONSUMER_NAME: 'victim' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let victimErrors = '';
    victim.stderr.on('data', (chunk) => (victimErrors += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => victim.once('exit', (_code, signal) => resolve(signal)));

    const totalReserved = async () => {
      let sum = 0;
      for (const sku of SKUS) sum += (await ledger.inventory(sku))!.reserved;
      return sum;
    };
    const pendingOf = async () => {
      let pending = 0;
      for (const stream of ledger.keys.eventStreams('sales', config.streams.partitions)) {
        const summary = (await redis.xpending(stream, config.streams.group).catch(() => [0])) as [number, ...unknown[]];
        pending += Number(summary[0]);
      }
      return pending;
    };
    // Kill it once it is busy: some events applied, some received and not yet acknowledged.
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the victim never got busy; stderr: ${victimErrors}`);
      const applied = await totalReserved();
      if (applied >= 500 && applied < EVENTS && (await pendingOf()) > 0) break;
      if (applied >= EVENTS) throw new Error('the victim finished before it could be killed; raise EVENTS');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    victim.kill('SIGKILL');
    assert.is(await exited, 'SIGKILL');
    const orphaned = await pendingOf();
    const appliedAtKill = await totalReserved();
    assert.ok(orphaned > 0, 'the victim died holding unacknowledged entries');
    assert.ok(appliedAtKill < EVENTS, 'the victim died before finishing');

    const survivor = await startDaemon({ config: loadConfig({ ...env, STOCKGUARD_CONSUMER_NAME: 'survivor' }), logger: pino({ level: 'silent' }) });
    try {
      const finishBy = Date.now() + 90_000;
      while ((await totalReserved()) < EVENTS || (await pendingOf()) > 0) {
        if (Date.now() > finishBy) throw new Error(`not converged: reserved ${await totalReserved()} of ${EVENTS}, pending ${await pendingOf()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await survivor.stop();
    }
    for (const sku of SKUS) {
      const inventory = (await ledger.inventory(sku))!;
      assert.is(inventory.reserved, expected.get(sku), `${sku}: every order reserved exactly once`);
      assert.is((await ledger.reservations(sku)).length, expected.get(sku));
    }
    assert.is(await redis.xlen(ledger.keys.deadLetters()), 0);
  } finally {
    await redisHandle.close();
  }
});

test.run();
