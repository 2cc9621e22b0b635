// Issue 11 §4: a daemon killed with SIGKILL while it holds pending entries and restarted
// in place (same host, no STOCKGUARD_CONSUMER_NAME: the name a Kubernetes pod keeps when its
// container restarts) takes its entries back at start-up, with the default claim idle time:
// everything is applied exactly once well before the claim idle time would have let any
// other consumer claim them, and the group holds no dead consumer.
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { groupMembers } from '../../src/consumers/deadConsumers.ts';
import { RedisEventSink } from '../../src/ingest/redisSink.ts';
import { EVENT_KINDS } from '../../src/redis/keys.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { startTestRedis } from '../helpers/redis.ts';

const SKUS = Array.from({ length: 40 }, (_, index) => `RESTART-${index}`);
const EVENTS = 8000;

test('SIGKILL and restart under the same name: pending entries applied at start-up, no dead consumer left', async () => {
  const redisHandle = await startTestRedis();
  const redis = redisHandle.client();
  const ledger = new Ledger({ redis, keyPrefix: redisHandle.prefix });
  // Default claim idle time and reclaim interval; no consumer name, no HOSTNAME.
  const env = { REDIS_URL: redisHandle.url, STOCKGUARD_KEY_PREFIX: redisHandle.prefix, STOCKGUARD_ROLES: 'consumers', STOCKGUARD_LOG_LEVEL: 'warn' };
  const config = loadConfig(env);
  const { HOSTNAME: _hostname, STOCKGUARD_CONSUMER_NAME: _name, ...inherited } = process.env;
  const children: ReturnType<typeof spawn>[] = [];
  const startDaemon = () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/stockguard.ts', 'serve'], { env: { ...inherited, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let errors = '';
    child.stderr!.on('data', (chunk) => (errors += chunk));
    children.push(child);
    return { child, errors: () => errors, exited: new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal))) };
  };
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
      appends.push(sink.publish({ eventId: `o-${index}`, source: 'shopify-webhook', receivedAtMs: Date.now(), type: 'order.placed', channel: 'shopify', orderId: `o-${index}`, lines: [{ lineId: '1', sku, quantity: 1 }] }));
    }
    await Promise.all(appends);

    const salesStreams = ledger.keys.eventStreams('sales', config.streams.partitions);
    const allStreams = EVENT_KINDS.flatMap((kind) => ledger.keys.eventStreams(kind, config.streams.partitions));
    const totalReserved = async () => {
      let sum = 0;
      for (const sku of SKUS) sum += (await ledger.inventory(sku))!.reserved;
      return sum;
    };
    const pendingOf = async () => {
      let pending = 0;
      for (const stream of salesStreams) pending += Number(((await redis.xpending(stream, config.streams.group).catch(() => [0])) as [number])[0]);
      return pending;
    };

    const victim = startDaemon();
    const busyBy = Date.now() + 60_000;
    for (;;) {
      if (Date.now() > busyBy) throw new Error(`the victim never got busy; stderr: ${victim.errors()}`);
      const applied = await totalReserved();
      if (applied >= 500 && applied < EVENTS && (await pendingOf()) > 0) break;
      if (applied >= EVENTS) throw new Error('the victim finished before it could be killed; raise EVENTS');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    victim.child.kill('SIGKILL');
    assert.is(await victim.exited, 'SIGKILL');
    const killedAt = Date.now();
    const orphaned = await pendingOf();
    const orphanedIds = new Map<string, string[]>();
    for (const stream of salesStreams) {
      const rows = (await redis.xpending(stream, config.streams.group, '-', '+', 10_000)) as [string, ...unknown[]][];
      orphanedIds.set(stream, rows.map((row) => row[0]));
    }
    const orphanedLeft = async () => {
      let left = 0;
      for (const [stream, ids] of orphanedIds) {
        for (const id of ids) left += ((await redis.xpending(stream, config.streams.group, id, id, 1)) as unknown[]).length;
      }
      return left;
    };
    assert.ok(orphaned > 0, 'the victim died holding unacknowledged entries');
    assert.ok((await totalReserved()) < EVENTS, 'the victim died before finishing');

    // Restarted in place, as a supervisor would: same host, same environment.
    const restartedAt = Date.now();
    const restarted = startDaemon();
    // Nobody may claim the orphaned entries before they are claimIdleMs idle; they were
    // delivered before the kill, so this deadline is safely ahead of any claim.
    const claimableAt = killedAt + config.streams.claimIdleMs / 2;
    let orphansDoneAt: number | undefined;
    while ((await totalReserved()) < EVENTS || (await pendingOf()) > 0) {
      if (orphansDoneAt === undefined && (await orphanedLeft()) === 0) orphansDoneAt = Date.now();
      if (Date.now() > claimableAt) {
        throw new Error(`not recovered before the claim idle time: reserved ${await totalReserved()} of ${EVENTS}, pending ${await pendingOf()}; stderr: ${restarted.errors()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const quietAt = Date.now();
    orphansDoneAt ??= quietAt;
    const seconds = (from: number, to: number) => ((to - from) / 1000).toFixed(1);
    console.log(
      `${orphaned} orphaned entries applied ${seconds(restartedAt, orphansDoneAt)} s after the restart; ledger quiet (backlog of ${EVENTS} included) ${seconds(restartedAt, quietAt)} s after the restart, ${seconds(killedAt, quietAt)} s after the kill`,
    );

    for (const sku of SKUS) {
      const inventory = (await ledger.inventory(sku))!;
      assert.is(inventory.reserved, expected.get(sku), `${sku}: every order reserved exactly once`);
    }
    assert.is(await redis.xlen(ledger.keys.deadLetters()), 0);
    for (const stream of allStreams) {
      const members = await groupMembers(redis, stream, config.streams.group);
      assert.ok(members.every((member) => member.name === hostname()), `${stream}: only the one stable consumer name, got ${members.map((member) => member.name).join(', ')}`);
    }
    restarted.child.kill('SIGTERM');
    await restarted.exited;
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await redisHandle.close();
  }
});

test.run();
