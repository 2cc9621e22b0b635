// The fault kinds of a chaos run, the seeded schedule and how each fault is acted out
// (docs/reliability.md, "Faults injected").
import { seededRandom } from '../domain/random.ts';
import { compareStreamIds } from '../consumers/streamId.ts';
import { EVENT_KINDS } from '../redis/keys.ts';
import { runReconciliation } from '../reconcile/jobs.ts';
import type { ChaosFigures } from './figures.ts';
import { type LoadGenerator, resendUntil } from './load.ts';
import { sleep } from '../pushers/wait.ts';
import type { RedisCluster, RedisServer } from '../sim/redisServer.ts';
import type { TcpProxy } from '../sim/tcpProxy.ts';
import type { ChaosSystem, StockguardProcess } from './system.ts';

/** The kinds of a run on one redis-server behind the fault proxy (the default run). */
export const FAULT_KINDS = [
  'consumer-kill',
  'edge-kill',
  'redis-kill',
  'redis-delay',
  'redis-reset',
  'latency-spike',
  'throttle-storm',
  'server-errors',
  'channel-network',
  'wms-snapshot',
  'delayed-retry',
] as const;

/**
 * The kinds of a run on a Redis Cluster of 3 masters and 3 replicas (`--cluster`, issue 13
 * §5). No proxy stands between stockguard and the Cluster (the nodes announce their own
 * addresses to the clients), so there is no redis-delay or redis-reset; the master faults
 * replace redis-kill.
 */
export const CLUSTER_FAULT_KINDS = [
  'consumer-kill',
  'edge-kill',
  'cluster-failover',
  'cluster-master-kill',
  'latency-spike',
  'throttle-storm',
  'server-errors',
  'channel-network',
  'wms-snapshot',
  'delayed-retry',
] as const;

export type FaultKind = (typeof FAULT_KINDS)[number] | (typeof CLUSTER_FAULT_KINDS)[number];

/** Fault kinds that need the single server and its proxy, or the Cluster. */
const SERVER_ONLY: readonly FaultKind[] = ['redis-kill', 'redis-delay', 'redis-reset'];
const CLUSTER_ONLY: readonly FaultKind[] = ['cluster-failover', 'cluster-master-kill'];

/** The kinds a run on `redis` cannot act out (the CLI refuses them). */
export function unsupportedKinds(kinds: readonly FaultKind[], redis: 'server' | 'cluster'): FaultKind[] {
  return kinds.filter((kind) => (redis === 'cluster' ? SERVER_ONLY : CLUSTER_ONLY).includes(kind));
}

export interface ScheduledFault {
  atMs: number;
  kind: FaultKind;
  target: number;
  lengthMs: number;
}

export function isFaultKind(kind: string): kind is FaultKind {
  return [...FAULT_KINDS, ...CLUSTER_FAULT_KINDS].some((known) => known === kind);
}

/** The fault schedule is drawn up front from the seed, so it is the same on every run. */
export function faultSchedule(seed: number, durationMs: number, kinds: readonly FaultKind[] = FAULT_KINDS): ScheduledFault[] {
  const random = seededRandom(seed ^ 0x5eed);
  if (kinds.length === 0) return [];
  const schedule: ScheduledFault[] = [];
  // The last 15 % of the load runs without new faults, so the system recovers while loaded.
  const window = durationMs * 0.85;
  const count = Math.max(kinds.length, Math.round(durationMs / 4000));
  for (let index = 0; index < count; index += 1) {
    const kind = index < kinds.length ? kinds[index]! : kinds[Math.floor(random() * kinds.length)]!;
    schedule.push({ atMs: Math.floor(durationMs * 0.05 + random() * (window - durationMs * 0.05)), kind, target: Math.floor(random() * 2), lengthMs: 300 + Math.floor(random() * 1200) });
  }
  return schedule.sort((a, b) => a.atMs - b.atMs);
}

const HOUR_MS = 3_600_000;

/**
 * Acts one fault out; resolves when it is over (the process restarted, the storm passed).
 * Work that outlives the fault (watching a killed consumer's entries) goes to `track`; the
 * harness waits for it before it reports.
 */
export async function actOut(
  fault: ScheduledFault,
  system: ChaosSystem,
  load: LoadGenerator,
  figures: ChaosFigures,
  log: (line: string) => void,
  track: (work: Promise<void>) => void = (work) => void work,
): Promise<void> {
  const { shopify, amazon } = system;
  figures.faults[fault.kind] = (figures.faults[fault.kind] ?? 0) + 1;
  log(`  fault at ${(fault.atMs / 1000).toFixed(1)} s: ${fault.kind}${fault.kind === 'consumer-kill' ? ` chaos-consumer-${fault.target}` : ''} for ${fault.lengthMs} ms`);
  switch (fault.kind) {
    case 'consumer-kill': {
      const consumer = system.consumers[fault.target]!;
      await consumer.kill();
      const killedAt = Date.now();
      killsOf.set(consumer, (killsOf.get(consumer) ?? 0) + 1);
      // A consumer process's name is also its STOCKGUARD_CONSUMER_NAME (system.ts), and
      // start() reuses its environment: it comes back under the same consumer name, as a
      // Kubernetes pod does when its container restarts in place, and applies the entries
      // it left pending as soon as it is up (docs/streams.md, "Consumer names and restarts").
      const orphaned = await pendingUnder(system, consumer.name).catch(() => new Map<string, Set<string>>());
      await sleep(fault.lengthMs);
      consumer.start();
      track(watchRecovery(system, consumer, orphaned, killedAt, Date.now(), figures, log));
      break;
    }
    case 'edge-kill': {
      // Webhooks in flight get a reset, pushes in flight are lost, and the SQS messages the
      // poller received but had not deleted come back after the visibility timeout (3 s).
      await system.edge.kill();
      figures.sqsInFlightAtEdgeKill += await system.sqs.depth().then(({ handedOut }) => handedOut, () => 0);
      await sleep(fault.lengthMs);
      system.edge.start();
      await system.edge.ready().catch((error: unknown) => figures.problems.push(`edge did not come back: ${String(error)}`));
      break;
    }
    case 'redis-kill': {
      const { server } = singleServer(system);
      await server.kill();
      await sleep(fault.lengthMs);
      await server.restart();
      break;
    }
    case 'redis-delay': {
      // Every byte between stockguard and Redis waits this long, both ways.
      const delayMs = 20 + (fault.lengthMs % 130);
      figures.redisDelayMs = Math.max(figures.redisDelayMs, delayMs);
      const { proxy } = singleServer(system);
      proxy.setDelay(delayMs);
      await sleep(fault.lengthMs);
      proxy.setDelay(0);
      break;
    }
    case 'redis-reset': {
      // Every stockguard connection to Redis is reset, twice, mid-command.
      const { proxy } = singleServer(system);
      figures.redisConnectionsReset += proxy.resetAll();
      await sleep(fault.lengthMs);
      figures.redisConnectionsReset += proxy.resetAll();
      break;
    }
    case 'cluster-failover': {
      // An operator's (or an upgrade's) failover: CLUSTER FAILOVER on the replica, which
      // takes the slots over only once it has every write the master acknowledged.
      const cluster = theCluster(system);
      const masters = await cluster.masters();
      const master = masters[fault.target % masters.length]!;
      const { replica, askedAtMs, promotedAtMs, agreedAtMs } = await cluster.failover(master);
      figures.clusterFailovers.manual += 1;
      figures.clusterFailovers.failoverMaxS = Math.max(figures.clusterFailovers.failoverMaxS, (promotedAtMs - askedAtMs) / 1000);
      figures.clusterFailovers.takeoverMaxS = Math.max(figures.clusterFailovers.takeoverMaxS, (agreedAtMs - askedAtMs) / 1000);
      log(`  cluster-failover: port ${replica.port} took over from ${master.port}: elected ${((promotedAtMs - askedAtMs) / 1000).toFixed(1)} s after the request (its log), every node's view agreed (as the harness saw it) after ${((agreedAtMs - askedAtMs) / 1000).toFixed(1)} s`);
      await sleep(fault.lengthMs);
      break;
    }
    case 'cluster-master-kill': {
      // A crash: SIGKILL of a master; the Cluster elects its replica after
      // cluster-node-timeout. Replication is asynchronous, so writes the master acknowledged
      // in its last moments may never have reached the replica: the checker counts what is
      // missing for that reason apart (figures.clusterFailovers.writesLostToFailover).
      const cluster = theCluster(system);
      const masters = await cluster.masters();
      const master = masters[fault.target % masters.length]!;
      const slots = (await cluster.topology()).find((view) => view.server === master)?.slots ?? [];
      const before = await cluster.replication(master);
      const kill = { killedAtMs: Date.now(), slots };
      system.masterKills.push(kill);
      const { replica, killedAtMs, promotedAtMs, agreedAtMs, promoted } = await cluster.killMaster(master);
      kill.killedAtMs = killedAtMs;
      // second_repl_offset is the promoted replica's offset when it stopped following + 1.
      const gap = promoted.secondOffset > 0 ? Math.max(0, before.offset - (promoted.secondOffset - 1)) : 0;
      figures.clusterFailovers.masterKills += 1;
      figures.clusterFailovers.replicationGapBytes += gap;
      figures.clusterFailovers.electedMaxS = Math.max(figures.clusterFailovers.electedMaxS, (promotedAtMs - killedAtMs) / 1000);
      figures.clusterFailovers.takeoverMaxS = Math.max(figures.clusterFailovers.takeoverMaxS, (agreedAtMs - killedAtMs) / 1000);
      log(`  cluster-master-kill: port ${master.port} killed, ${replica.port} elected after ${((promotedAtMs - killedAtMs) / 1000).toFixed(1)} s (its log), every node's view agreed (as the harness saw it) after ${((agreedAtMs - killedAtMs) / 1000).toFixed(1)} s; replication gap at the kill ≥ ${gap} bytes`);
      await sleep(fault.lengthMs);
      // It comes back from its AOF and rejoins as the replica of the node that replaced it.
      const rejoinAt = Date.now();
      await cluster.rejoin(master);
      log(`  cluster-master-kill: port ${master.port} back as a replica, linked ${((Date.now() - rejoinAt) / 1000).toFixed(1)} s after its restart`);
      break;
    }
    case 'latency-spike': {
      const shopifyId = shopify.injectFault({ kind: 'latency', ms: 800 }, { times: 40 });
      const id = amazon.injectFault({ kind: 'latency', latencyMs: 800, rate: 1 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      shopify.removeFault(shopifyId);
      break;
    }
    case 'throttle-storm': {
      const shopifyId = shopify.injectFault({ kind: 'throttled' }, { times: 30, only: 'mutation' });
      const id = amazon.injectFault({ kind: 'throttle', rate: 1 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      shopify.removeFault(shopifyId);
      break;
    }
    case 'server-errors': {
      const shopifyId = shopify.injectFault({ kind: 'status', status: 503 }, { times: 20 });
      const id = amazon.injectFault({ kind: 'serverError', rate: 0.7 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      shopify.removeFault(shopifyId);
      break;
    }
    case 'channel-network': {
      // Requests that never answer (the pushers' 2 s timeout fires) and connection resets.
      const shopifyTimeouts = shopify.injectFault({ kind: 'timeout' }, { times: 6 });
      const shopifyResets = shopify.injectFault({ kind: 'reset' }, { times: 10 });
      const timeouts = amazon.injectFault({ kind: 'timeout', rate: 0.3 });
      const resets = amazon.injectFault({ kind: 'reset', rate: 0.3 });
      await sleep(fault.lengthMs);
      amazon.removeFault(timeouts);
      amazon.removeFault(resets);
      shopify.removeFault(shopifyTimeouts);
      shopify.removeFault(shopifyResets);
      break;
    }
    case 'wms-snapshot': {
      // Reconciliation against a WMS snapshot taken while sales, picks and receipts flow:
      // an event the snapshot has and the ledger has not yet seen must not be "corrected".
      figures.reconcile.runs += 1;
      try {
        const result = await runReconciliation(system.runtime);
        if (result.outcome === 'already-running') {
          figures.reconcile.alreadyRunning += 1;
        } else {
          const { totals } = result.report;
          if (result.outcome === 'failed') figures.reconcile.failed += 1;
          figures.reconcile.compared += totals.compared;
          figures.reconcile.corrected += totals.corrected;
          figures.reconcile.unitsCorrected += totals.unitsCorrected;
          figures.reconcile.unsettled += totals.unsettled;
          figures.reconcile.reported += totals.reported;
          figures.reconcile.reservedRepairs += totals.reservedRepairs;
        }
      } catch (error) {
        figures.reconcile.failed += 1;
        figures.problems.push(`reconciliation mid-burst threw: ${String(error)}`);
      }
      await sleep(fault.lengthMs);
      break;
    }
    case 'delayed-retry': {
      // Shopify retries a delivery for up to 4 h with its original X-Shopify-Triggered-At, so
      // a retry that arrives hours later carries a trigger time hours in the past; the clock
      // is simulated by back-dating that header. (1) Retries of deliveries already applied,
      // 1–5 h late: deduplicated (2xx, applied once). (2) Deliveries whose every earlier
      // attempt was lost, first arriving 1–5 h late: applied once. (3) Retries 7 h late,
      // beyond the 6-h replay window: refused with 401.
      const random = seededRandom(fault.atMs ^ fault.lengthMs);
      const hoursAgo = (hours: number) => new Date(Date.now() - hours * HOUR_MS).toISOString();
      load.withholdOrderWebhooks(3);
      // An outage (edge or Redis down) answers 5xx or nothing: retried, as Shopify would,
      // until a definite answer; that answer is what is judged.
      const definite = async (delivery: { topic: string; body: string; eventId: string }, triggeredAt: string) =>
        (await resendUntil(shopify, delivery, triggeredAt, (status) => status !== undefined && status < 500, 240))?.status;
      for (const delivery of load.recentlyAcknowledged(5)) {
        const status = await definite(delivery, hoursAgo(1 + random() * 4));
        figures.delayedRetries.lateDuplicates += 1;
        if (status !== undefined && status >= 200 && status < 300) figures.delayedRetries.lateDuplicatesAcknowledged += 1;
      }
      for (const delivery of load.recentlyAcknowledged(2)) {
        const status = await definite(delivery, hoursAgo(7));
        figures.delayedRetries.beyondWindow += 1;
        if (status === 401) figures.delayedRetries.beyondWindowRefused += 1;
      }
      await sleep(fault.lengthMs);
      const withheld = load.releaseWithheld(() => hoursAgo(1 + random() * 4));
      figures.delayedRetries.firstDeliveredLate += withheld;
      break;
    }
  }
}

function singleServer(system: ChaosSystem): { server: RedisServer; proxy: TcpProxy } {
  if (!system.redisServer || !system.proxy) throw new Error('this fault needs the single redis-server and its proxy (not a --cluster run)');
  return { server: system.redisServer, proxy: system.proxy };
}

function theCluster(system: ChaosSystem): RedisCluster {
  if (!system.redisCluster) throw new Error('this fault needs a Redis Cluster with replicas (a --cluster run)');
  return system.redisCluster;
}

/** SIGKILLs of each consumer process so far: a watch ends when its consumer is killed again. */
const killsOf = new WeakMap<StockguardProcess, number>();

/** The entries pending under `consumer`, per event stream. */
async function pendingUnder(system: ChaosSystem, consumer: string): Promise<Map<string, Set<string>>> {
  const { redis, ledger, config } = system.runtime;
  const pending = new Map<string, Set<string>>();
  for (const stream of EVENT_KINDS.flatMap((kind) => ledger.keys.eventStreams(kind, config.streams.partitions))) {
    const rows = (await redis.xpending(stream, config.streams.group, '-', '+', 100_000, consumer).catch(() => [])) as [string, ...unknown[]][];
    if (rows.length > 0) pending.set(stream, new Set(rows.map((row) => row[0])));
  }
  return pending;
}

/**
 * Polls until none of the killed consumer's entries is pending any more, noting those that
 * another consumer claimed meanwhile; adds the result to figures.consumerKills.
 */
async function watchRecovery(system: ChaosSystem, child: StockguardProcess, orphaned: Map<string, Set<string>>, killedAt: number, restartedAt: number, figures: ChaosFigures, log: (line: string) => void): Promise<void> {
  const { redis, config } = system.runtime;
  const consumer = child.name;
  const generation = killsOf.get(child);
  const kills = figures.consumerKills;
  const total = [...orphaned.values()].reduce((sum, ids) => sum + ids.size, 0);
  kills.orphanedEntries += total;
  const claimed = new Set<string>();
  const giveUpAt = Date.now() + 180_000;
  for (;;) {
    if (killsOf.get(child) !== generation) {
      kills.superseded += 1;
      kills.claimedByOther += claimed.size;
      log(`  ${consumer}: killed again before the entries of its previous kill were done (${total} pending at that kill, ${claimed.size} claimed by the other consumer)`);
      return;
    }
    for (const [stream, ids] of orphaned) {
      if (ids.size === 0) continue;
      const sorted = [...ids].sort((a, b) => compareStreamIds(a, b));
      const rows = (await redis.xpending(stream, config.streams.group, sorted[0]!, sorted[sorted.length - 1]!, 100_000).catch(() => undefined)) as [string, string, ...unknown[]][] | undefined;
      if (!rows) continue;
      const owners = new Map(rows.map((row) => [row[0], row[1]]));
      for (const id of sorted) {
        const owner = owners.get(id);
        if (owner === undefined) ids.delete(id);
        else if (owner !== consumer) claimed.add(id);
      }
    }
    const left = [...orphaned.values()].reduce((sum, ids) => sum + ids.size, 0);
    if (left === 0 || Date.now() > giveUpAt) {
      const doneAt = Date.now();
      kills.claimedByOther += claimed.size;
      kills.unrecovered += left;
      kills.recoveredAfterRestartMaxS = Math.max(kills.recoveredAfterRestartMaxS, Math.max(0, doneAt - restartedAt) / 1000);
      kills.recoveredAfterKillMaxS = Math.max(kills.recoveredAfterKillMaxS, (doneAt - killedAt) / 1000);
      log(`  ${consumer}: ${total} entries pending at the kill, ${claimed.size} claimed by the other consumer, ${left} still pending; done ${((doneAt - killedAt) / 1000).toFixed(1)} s after the kill, ${(Math.max(0, doneAt - restartedAt) / 1000).toFixed(1)} s after the restart`);
      return;
    }
    await sleep(100);
  }
}

