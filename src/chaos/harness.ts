// Issue 7: fault-injection runs with an invariant checker. The whole system runs (system.ts)
// while a seeded schedule of faults (faults.ts) hits it and a load generator (load.ts) keeps
// a ground-truth log of every fact the outside world saw; once the system is quiet the
// checker (checker.ts) compares Redis with that log. A seed reproduces the schedule and every
// random choice; the interleaving with the OS scheduler does not repeat exactly
// (docs/reliability.md).
import { decodeChannelState } from '../domain/channelState.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isQuiet } from '../daemon.ts';
import { seededRandom } from '../domain/random.ts';
import { partitionFor } from '../consumers/partition.ts';
import { EVENT_KINDS } from '../redis/keys.ts';
import { checkLedger, type LostToFailover, ReservationWatch } from './checker.ts';
import { actOut, CLUSTER_FAULT_KINDS, FAULT_KINDS, type FaultKind, faultSchedule, unsupportedKinds } from './faults.ts';
import { type ChaosFigures, type ChaosRedis, emptyFigures } from './figures.ts';
import { LoadGenerator } from './load.ts';
import { sleep } from '../pushers/wait.ts';
import { FAKE_LOCATION } from '../sim/world.ts';
import { startChaosSystem } from './system.ts';

export { CLUSTER_FAULT_KINDS, FAULT_KINDS, type FaultKind, faultSchedule, isFaultKind, unsupportedKinds } from './faults.ts';
export { type ChaosFigures, checkResults, failedChecks } from './figures.ts';

/**
 * How long before a master's SIGKILL a fact may have been acknowledged and still be lost
 * with it: a delivery accepted by the channel reaches Redis within seconds, retries
 * included; replication to the replica lags by milliseconds here.
 */
const FAILOVER_LOSS_WINDOW_MS = 30_000;

/** Operations in flight at most; the load waits beyond (figures.loadHeldBackS). */
const MAX_IN_FLIGHT = 2000;

export interface ChaosOptions {
  seed: number;
  /** Operations the load generator sends: sales, cancels, shipments, receipts. */
  events: number;
  /** Seconds the load and the faults last. */
  durationS: number;
  skus?: number;
  /** Upper bound on the wait, after the last fault and the load, for the ledger to go quiet. */
  convergenceTimeoutMs?: number;
  /** Then, how long the channels get to show sellable(c). Default 30 s. */
  channelTimeoutMs?: number;
  /** Only these fault kinds (default: every kind the Redis of the run allows). */
  faultKinds?: readonly FaultKind[];
  /** One redis-server behind the fault proxy (default), or a Cluster of 3 masters and 3 replicas. */
  redis?: ChaosRedis;
  log?: (line: string) => void;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const log = options.log ?? (() => undefined);
  const skus = options.skus ?? 40;
  const durationMs = options.durationS * 1000;
  const redis = options.redis ?? 'server';
  const kinds = options.faultKinds ?? (redis === 'cluster' ? CLUSTER_FAULT_KINDS : FAULT_KINDS);
  const unsupported = unsupportedKinds(kinds, redis);
  if (unsupported.length > 0) throw new Error(`fault kind(s) ${unsupported.join(', ')} cannot run on ${redis === 'cluster' ? 'a Redis Cluster' : 'one redis-server (use --cluster)'}`);
  const figures = emptyFigures({ seed: options.seed, events: options.events, durationS: options.durationS, skus, redis }, kinds);
  const system = await startChaosSystem({ seed: options.seed, skus, redis, log });
  try {
    const { shopify, amazon, runtime, entries } = system;
    const load = new LoadGenerator(system, figures, seededRandom(options.seed));

    // --- Load and faults ---------------------------------------------------------------------
    const schedule = faultSchedule(options.seed, durationMs, kinds);
    let lastFaultEndMs = 0;
    const faultRuns: Promise<void>[] = [];
    // Watches that outlive their fault (a killed consumer's entries until acknowledged).
    const watches: Promise<void>[] = [];
    const track = (work: Promise<void>) => void watches.push(work.catch((error: unknown) => void figures.problems.push(`watch failed: ${String(error)}`)));
    // Faults on one resource never overlap (a kill while the last restart is still under way
    // would be two processes on one port): each waits for the previous one on its resource.
    const resources = new Map<string, Promise<unknown>>();
    const runFault = (index: number) => {
      const fault = schedule[index]!;
      const resource = fault.kind === 'consumer-kill' ? `consumer-${fault.target}` : fault.kind.startsWith('redis-') || fault.kind.startsWith('cluster-') ? 'redis' : fault.kind;
      const run = (resources.get(resource) ?? Promise.resolve()).then(() => {
        // A Cluster fault must happen under load to prove anything: count the ones that did.
        if (fault.kind.startsWith('cluster-') && loadEnd === undefined) figures.clusterFailovers.startedUnderLoad += 1;
        return actOut(fault, system, load, figures, log, track);
      });
      resources.set(resource, run.catch(() => undefined));
      return run.then(
        () => {
          lastFaultEndMs = Math.max(lastFaultEndMs, Date.now());
          log(`  fault ${schedule[index]!.kind} over at ${((Date.now() - loadStart) / 1000).toFixed(1)} s`);
        },
        (error: unknown) => void figures.problems.push(`fault ${schedule[index]!.kind} failed: ${String(error)}`),
      );
    };
    // The harness's own event loop (the load, the fakes): a busy one delays every delivery it makes.
    const loopDelay = monitorEventLoopDelay({ resolution: 20 });
    loopDelay.enable();
    const loadStart = Date.now();
    let loadEnd: number | undefined;
    let sent = 0;
    let nextFault = 0;
    let nextReport = loadStart + 30_000;
    while (sent < options.events) {
      const elapsed = Date.now() - loadStart;
      while (nextFault < schedule.length && schedule[nextFault]!.atMs <= elapsed) faultRuns.push(runFault(nextFault++));
      const due = Math.min(options.events, Math.floor((elapsed / durationMs) * options.events)) - sent;
      // At most 200 per turn, so timers (faults, retries) keep running when the load falls
      // behind; and no new operation while MAX_IN_FLIGHT are still being delivered (during an
      // outage every retry holds a socket: without a cap the harness runs out of descriptors).
      const heldBack = load.inFlightCount >= MAX_IN_FLIGHT;
      for (let i = 0; i < Math.min(due, 200) && !heldBack; i += 1) {
        sent += 1;
        await load.step();
      }
      if (Date.now() > nextReport) {
        nextReport += 30_000;
        log(`  ${((Date.now() - loadStart) / 1000).toFixed(0)} s: ${sent} operations sent, ${load.orders.length} channel orders accepted; harness event loop p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms; ${await amazonPath(system).catch((error: unknown) => `Amazon path unknown: ${String(error)}`)}`);
        loopDelay.reset();
      }
      const before = Date.now();
      await sleep(due > 200 && !heldBack ? 0 : 5);
      if (heldBack) figures.loadHeldBackS += (Date.now() - before) / 1000;
    }
    loadEnd = Date.now();
    loopDelay.disable();
    figures.loadS = (loadEnd - loadStart) / 1000;
    // Faults the load outran still happen, in order.
    while (nextFault < schedule.length) await runFault(nextFault++);
    await Promise.all(faultRuns);
    await load.drain();
    await amazon.idle();
    await shopify.settleWebhooks();
    figures.webhooksAcknowledgedAfterLoadS = (Date.now() - loadEnd) / 1000;
    if (schedule.length === 0) lastFaultEndMs = loadEnd;
    log(`load done after ${figures.loadS.toFixed(1)} s: ${sent} operations; waiting for quiet and convergence`);

    // --- Quiet and convergence ----------------------------------------------------------------
    const watch = new ReservationWatch(load.orders, runtime);
    /** Why the last reservation check failed (said in the progress line), if it did. */
    let watchError: string | undefined;
    const quietBy = Date.now() + (options.convergenceTimeoutMs ?? 120_000);
    let channelsBy = quietBy;
    nextReport = Date.now() + 5000;
    while (Date.now() < (figures.ledgerQuiet ? channelsBy : quietBy)) {
      const drained = await isQuiet(runtime).catch(() => false);
      const seen = drained && (await watch.allSeen().then((all) => ((watchError = undefined), all), (error: unknown) => ((watchError = error instanceof Error ? error.message : String(error)), false)));
      const inSync = seen && (await system.inSync().catch(() => false));
      if (!figures.ledgerQuiet && drained && seen) {
        figures.ledgerQuiet = true;
        figures.ledgerQuietAfterLastFaultS = (Date.now() - lastFaultEndMs) / 1000;
        channelsBy = Date.now() + (options.channelTimeoutMs ?? 30_000);
      }
      if (drained && seen && inSync) {
        figures.converged = true;
        break;
      }
      if (Date.now() > nextReport) {
        nextReport += 5000;
        const waitingOn = drained ? '' : ` (${await backlog(system).catch((error: unknown) => String(error))})`;
        log(`  ${((Date.now() - lastFaultEndMs) / 1000).toFixed(0)} s after the last fault: streams drained ${drained}${waitingOn}, channel orders not yet in the ledger ${drained ? watch.missing : '?'}${watchError ? ` (the check failed: ${watchError})` : ''}, channels = sellable ${inSync}`);
      }
      await sleep(200);
    }
    figures.lastFaultEndS = (lastFaultEndMs - loadStart) / 1000;
    await Promise.all(watches);
    figures.convergenceAfterLastFaultS = figures.converged ? (Date.now() - lastFaultEndMs) / 1000 : Number.NaN;
    if (!figures.converged) await describeMismatches(figures, system, lastFaultEndMs);

    // --- Checker ------------------------------------------------------------------------------
    // Amazon notifications still on the queue are not lost, only late: the checker counts them
    // as missing all the same (the ledger does not know those sales), and this says how many.
    figures.sqsMessagesAtCheck = await system.sqs.depth().then(({ visible, handedOut }) => visible + handedOut, () => Number.NaN);
    await checkLedger(figures, { orders: load.orders, wmsAcked: load.wmsAcked, entries, wms: system.wms, runtime, lostToFailover: await lostToMasterKills(system) });
    figures.fbaWrites = amazon.acceptedPatches().filter((patch) => system.fbaSellerSkus.has(patch.sku)).length;
    figures.deadLetters = await runtime.redis.xlen(runtime.ledger.keys.deadLetters());
    figures.crashes = [system.edge, ...system.consumers].flatMap((child) => child.crashes);
    figures.restartsRedisDown = [system.edge, ...system.consumers].reduce((sum, child) => sum + child.restartsRedisDown, 0);
    return figures;
  } finally {
    await system.close();
  }
}

/**
 * A fact on a SKU is excused as lost to a master kill only when the SKU's keys or its event
 * streams were in the killed master's slots and it was acknowledged in the window before the
 * kill. Nothing is excused on a run without kills (manual failovers included).
 */
async function lostToMasterKills(system: Awaited<ReturnType<typeof startChaosSystem>>): Promise<LostToFailover> {
  const cluster = system.redisCluster;
  if (!cluster || system.masterKills.length === 0) return () => false;
  const { ledger, config } = system.runtime;
  const slotsOf = new Map<string, number[]>();
  for (const entry of system.entries) {
    const partition = partitionFor(entry.sku, config.streams.partitions);
    const keys = [ledger.keys.sku(entry.sku).inventoryBucket, ...EVENT_KINDS.map((kind) => ledger.keys.eventStream(kind, partition))];
    slotsOf.set(entry.sku, await Promise.all(keys.map((key) => cluster.slotOf(key))));
  }
  return ({ sku, atMs }) =>
    system.masterKills.some(
      (kill) => atMs <= kill.killedAtMs && atMs >= kill.killedAtMs - FAILOVER_LOSS_WINDOW_MS && (slotsOf.get(sku) ?? []).some((slot) => kill.slots.some(([first, last]) => slot >= first && slot <= last)),
    );
}

/**
 * Where the Amazon notifications stand (the path that fell behind in the 1M Cluster runs):
 * messages on the queue, visible and handed out, and what the edge's poller has done with
 * the ones it received, from its own metrics.
 */
async function amazonPath(system: Awaited<ReturnType<typeof startChaosSystem>>): Promise<string> {
  const { visible, handedOut } = await system.sqs.depth();
  const metrics = await fetch(`${system.daemonUrl}/metrics`, { signal: AbortSignal.timeout(2000) }).then((response) => response.text(), () => '');
  const outcomes = [...metrics.matchAll(/^stockguard_sqs_messages_total\{outcome="([a-z_]+)"\} (\d+)/gm)].map(([, outcome, count]) => `${outcome} ${count}`);
  const appended = [...metrics.matchAll(/^stockguard_events_received_total\{source="amazon-sqs",[^}]*\} (\d+)/gm)].reduce((sum, [, count]) => sum + Number(count), 0);
  const duplicates = /^stockguard_duplicate_deliveries_total\{source="amazon-sqs"\} (\d+)/m.exec(metrics)?.[1] ?? '0';
  const receiveErrors = /^stockguard_sqs_receive_errors_total (\d+)/m.exec(metrics)?.[1] ?? '0';
  return `SQS queue ${visible} visible, ${handedOut} handed out; edge since its start: messages ${outcomes.join(', ') || 'none'}, receive errors ${receiveErrors}, Amazon events appended ${appended}, duplicates ${duplicates}`;
}

/** What the ledger is still busy with: entries not yet delivered or not acknowledged, by kind, and dirty SKUs. */
async function backlog(system: Awaited<ReturnType<typeof startChaosSystem>>): Promise<string> {
  const { redis, ledger, config } = system.runtime;
  const parts: string[] = [];
  for (const kind of EVENT_KINDS) {
    let undelivered = 0;
    let pending = 0;
    for (const stream of ledger.keys.eventStreams(kind, config.streams.partitions)) {
      const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      const info = (await redis.xinfo('STREAM', stream).catch(() => [])) as unknown[];
      const lastGenerated = String(info[info.indexOf('last-generated-id') + 1] ?? '0-0');
      for (const group of groups) {
        const field = (name: string) => group[group.indexOf(name) + 1];
        pending += Number(field('pending') ?? 0);
        if (String(field('last-delivered-id')) !== lastGenerated) undelivered += 1;
      }
    }
    if (undelivered > 0 || pending > 0) parts.push(`${kind}: ${pending} pending, ${undelivered} partitions not read to the end`);
  }
  const dirty = await redis.zcard(ledger.keys.dirtySkus());
  if (dirty > 0) parts.push(`${dirty} dirty SKUs`);
  return parts.join('; ') || 'nothing';
}

async function describeMismatches(figures: ChaosFigures, system: Awaited<ReturnType<typeof startChaosSystem>>, lastFaultEndMs: number): Promise<void> {
  const { shopify, amazon, runtime, entries } = system;
  for (const entry of entries) {
    const shown = { shopify: shopify.level(entry.shopify!.inventoryItemId, FAKE_LOCATION)?.available, amazon: entry.amazon?.fulfillment === 'MFN' ? amazon.quantity(entry.amazon.sellerSku) : undefined };
    const want = { shopify: await system.expected(entry, 'shopify'), amazon: entry.amazon?.fulfillment === 'MFN' ? await system.expected(entry, 'amazon') : undefined };
    if (shown.shopify === want.shopify && shown.amazon === want.amazon) continue;
    figures.channelMismatches.push({ sku: entry.sku, shopify: shown.shopify, shopifySellable: want.shopify, amazon: shown.amazon, amazonSellable: want.amazon });
    if (figures.channelMismatches.length > 5) continue;
    const patches = amazon
      .submissions()
      .filter((patch) => patch.sku === entry.amazon?.sellerSku)
      .slice(-4)
      .map((patch) => `${JSON.stringify(patch.patches.map((operation) => operation.value))} ${patch.status} received ${patch.receivedAtMs - lastFaultEndMs} applied ${patch.appliedAtMs === undefined ? '-' : patch.appliedAtMs - lastFaultEndMs}`);
    const pushed = decodeChannelState(await runtime.redis.hget(runtime.ledger.keys.skuBucket('chan', entry.sku), entry.sku)).pushed;
    figures.problems.push(`not converged ${entry.sku}: Shopify shows ${shown.shopify} (sellable ${want.shopify}), Amazon shows ${shown.amazon} (sellable ${want.amazon}); ledger ${JSON.stringify(await runtime.ledger.inventory(entry.sku))}; last pushed ${JSON.stringify(pushed)}; last Amazon patches (ms after the last fault) ${patches.join(' | ')}`);
  }
}
