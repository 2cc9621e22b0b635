import { Ledger } from '../src/ledger/ledger.ts';
import { KeySpace } from '../src/ledger/keys.ts';
import { scriptKeys } from '../src/ledger/operations/context.ts';
import { reserveOrder } from '../src/ledger/operations/reserveOrder.ts';
import { ledgerScripts } from '../src/ledger/scripts.ts';
import { RedisServer } from '../src/sim/redisServer.ts';
import { closedLoop } from './lib/loop.ts';
import { connect, disconnect } from './lib/redis.ts';

const server = await RedisServer.start();
const conns = await connect(server.url, 16);
const autoConns = await connect(server.url, 16, { enableAutoPipelining: true });
const script = ledgerScripts().reserveOrder;
await conns[0]!.script('LOAD', script.source);
const OPS = Number(process.env.OPS ?? 20000);
let n = 0;
async function setup() {
  const prefix = `p${n++}`;
  const ledger = new Ledger({ redis: conns[0]!, keyPrefix: prefix });
  await ledger.createSku('hot');
  await ledger.adjust('hot', { eventId: 'x', delta: OPS / 2, cause: 'receipt' });
  return { prefix, keys: scriptKeys(new KeySpace(prefix).sku('hot')) };
}
const variants: Record<string, () => Promise<number>> = {
  async rawPipelined() {
    const { keys } = await setup();
    const r = await closedLoop({ ops: OPS, workers: 16, batchSize: 16 }, async (w, first, count) => {
      const p = conns[w]!.pipeline();
      for (let i = first; i < first + count; i++) p.evalsha(script.sha, 4, ...keys, Date.now(), 3e9, 'sale', 1, `b:o${i}:1`, 1);
      await p.exec();
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async rawCallers() {
    const { keys } = await setup();
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      await conns[w % 16]!.evalsha(script.sha, 4, ...keys, Date.now(), 3e9, 'sale', 1, `b:o${i}:1`, 1);
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async rawCallersAuto() {
    const { keys } = await setup();
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      await autoConns[w % 16]!.evalsha(script.sha, 4, ...keys, Date.now(), 3e9, 'sale', 1, `b:o${i}:1`, 1);
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async wrapperOnly() {
    const { prefix } = await setup();
    const ks = new KeySpace(prefix);
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      await reserveOrder({ redis: conns[w % 16]!, keys: ks.sku('hot'), nowMs: Date.now(), journalRetentionMs: 3e9 }, [{ reservationId: `b:o${i}:1`, quantity: 1 }]);
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async wrapperThenZadd() {
    const { prefix } = await setup();
    const ks = new KeySpace(prefix);
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      const redis = conns[w % 16]!;
      await reserveOrder({ redis, keys: ks.sku('hot'), nowMs: Date.now(), journalRetentionMs: 3e9 }, [{ reservationId: `b:o${i}:1`, quantity: 1 }]);
      await redis.zadd(ks.dirtySkus(), 'NX', Date.now(), 'hot');
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async wrapperCoalesced() {
    const { prefix } = await setup();
    const ks = new KeySpace(prefix);
    const pending = new Map<number, { members: (string | number)[]; done: Promise<unknown> }>();
    const markDirty = (c: number, sku: string) => {
      let batch = pending.get(c);
      if (!batch) {
        const members: (string | number)[] = [];
        const done = Promise.resolve().then(() => { pending.delete(c); return conns[c]!.zadd(ks.dirtySkus(), 'NX', ...members); });
        batch = { members, done };
        pending.set(c, batch);
      }
      batch.members.push(Date.now(), sku);
      return batch.done;
    };
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      const redis = conns[w % 16]!;
      await reserveOrder({ redis, keys: ks.sku('hot'), nowMs: Date.now(), journalRetentionMs: 3e9 }, [{ reservationId: `b:o${i}:1`, quantity: 1 }]);
      await markDirty(w % 16, 'hot');
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async ledger() {
    const { prefix } = await setup();
    const ledgers = conns.map((redis) => new Ledger({ redis, keyPrefix: prefix }));
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      await ledgers[w % 16]!.reserveOrder({ channel: 'b', orderId: `o${i}`, lines: [{ lineId: '1', sku: 'hot', quantity: 1 }] });
    });
    return OPS * 1000 / r.elapsedMs;
  },
  async ledgerAuto() {
    const { prefix } = await setup();
    const ledgers = autoConns.map((redis) => new Ledger({ redis, keyPrefix: prefix }));
    const r = await closedLoop({ ops: OPS, workers: 256 }, async (w, i) => {
      await ledgers[w % 16]!.reserveOrder({ channel: 'b', orderId: `o${i}`, lines: [{ lineId: '1', sku: 'hot', quantity: 1 }] });
    });
    return OPS * 1000 / r.elapsedMs;
  },
};
const only = process.env.ONLY?.split(',');
const results: Record<string, number[]> = {};
const cpuPerOp: Record<string, number[]> = {};
for (let round = 0; round < Number(process.env.ROUNDS ?? 3); round++) {
  for (const [name, run] of Object.entries(variants)) {
    if (only && !only.includes(name)) continue;
    const cpu = process.cpuUsage();
    const opsPerSec = await run();
    const used = process.cpuUsage(cpu);
    (results[name] ??= []).push(Math.round(opsPerSec));
    (cpuPerOp[name] ??= []).push(Math.round((used.user + used.system) / OPS));
  }
}
for (const [name, values] of Object.entries(results)) {
  const sorted = [...values].sort((a, b) => a - b);
  console.log(name.padEnd(16), 'median', sorted[Math.floor(sorted.length / 2)], 'rounds', values.join(' '), 'client cpu us/op (incl. setup)', cpuPerOp[name]!.join(' '));
}
console.log((await conns[0]!.info('commandstats')).split('\n').filter((l) => /evalsha|zadd/.test(l)).join('\n'));
await disconnect([...conns, ...autoConns]);
await server.stop();
