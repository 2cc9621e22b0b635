// The fault kinds of a chaos run, the seeded schedule and how each fault is acted out
// (docs/reliability.md, "Faults injected").
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { seededRandom } from '../domain/random.ts';
import { runReconciliation } from '../reconcile/jobs.ts';
import type { ChaosFigures } from './figures.ts';
import { type LoadGenerator, resendUntil } from './load.ts';
import { sleep } from '../pushers/wait.ts';
import type { ChaosSystem } from './system.ts';

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

export type FaultKind = (typeof FAULT_KINDS)[number];

export interface ScheduledFault {
  atMs: number;
  kind: FaultKind;
  target: number;
  lengthMs: number;
}

export function isFaultKind(kind: string): kind is FaultKind {
  return FAULT_KINDS.some((known) => known === kind);
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

/** Acts one fault out; resolves when it is over (the process restarted, the storm passed). */
export async function actOut(fault: ScheduledFault, system: ChaosSystem, load: LoadGenerator, figures: ChaosFigures, log: (line: string) => void): Promise<void> {
  const { shopify, amazon, proxy } = system;
  figures.faults[fault.kind] += 1;
  log(`  fault at ${(fault.atMs / 1000).toFixed(1)} s: ${fault.kind}${fault.kind === 'consumer-kill' ? ` chaos-consumer-${fault.target}` : ''} for ${fault.lengthMs} ms`);
  switch (fault.kind) {
    case 'consumer-kill': {
      const consumer = system.consumers[fault.target]!;
      await consumer.kill();
      await sleep(fault.lengthMs);
      consumer.start();
      break;
    }
    case 'edge-kill': {
      // Webhooks in flight get a reset, pushes in flight are lost, and the SQS messages the
      // poller received but had not deleted come back after the visibility timeout (3 s).
      await system.edge.kill();
      figures.sqsInFlightAtEdgeKill += await messagesNotVisible(system).catch(() => 0);
      await sleep(fault.lengthMs);
      system.edge.start();
      await system.edge.ready().catch((error: unknown) => figures.problems.push(`edge did not come back: ${String(error)}`));
      break;
    }
    case 'redis-kill':
      await system.redisServer.kill();
      await sleep(fault.lengthMs);
      await system.redisServer.restart();
      break;
    case 'redis-delay': {
      // Every byte between stockguard and Redis waits this long, both ways.
      const delayMs = 20 + (fault.lengthMs % 130);
      figures.redisDelayMs = Math.max(figures.redisDelayMs, delayMs);
      proxy.setDelay(delayMs);
      await sleep(fault.lengthMs);
      proxy.setDelay(0);
      break;
    }
    case 'redis-reset':
      // Every stockguard connection to Redis is reset, twice, mid-command.
      figures.redisConnectionsReset += proxy.resetAll();
      await sleep(fault.lengthMs);
      figures.redisConnectionsReset += proxy.resetAll();
      break;
    case 'latency-spike': {
      shopify.injectFault({ kind: 'latency', ms: 800 }, { times: 40 });
      const id = amazon.injectFault({ kind: 'latency', latencyMs: 800, rate: 1 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      break;
    }
    case 'throttle-storm': {
      shopify.injectFault({ kind: 'throttled' }, { times: 30, only: 'mutation' });
      const id = amazon.injectFault({ kind: 'throttle', rate: 1 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      break;
    }
    case 'server-errors': {
      shopify.injectFault({ kind: 'status', status: 503 }, { times: 20 });
      const id = amazon.injectFault({ kind: 'serverError', rate: 0.7 });
      await sleep(fault.lengthMs);
      amazon.removeFault(id);
      break;
    }
    case 'channel-network': {
      // Requests that never answer (the pushers' 2 s timeout fires) and connection resets.
      shopify.injectFault({ kind: 'timeout' }, { times: 6 });
      shopify.injectFault({ kind: 'reset' }, { times: 10 });
      const timeouts = amazon.injectFault({ kind: 'timeout', rate: 0.3 });
      const resets = amazon.injectFault({ kind: 'reset', rate: 0.3 });
      await sleep(fault.lengthMs);
      amazon.removeFault(timeouts);
      amazon.removeFault(resets);
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

/** Messages the poller received and has not deleted: they come back after the visibility timeout. */
async function messagesNotVisible(system: ChaosSystem): Promise<number> {
  const client = new SQSClient({ endpoint: system.sqs.endpoint, region: system.sqs.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: system.sqs.queueUrl, AttributeNames: ['ApproximateNumberOfMessagesNotVisible'] }));
    return Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  } finally {
    client.destroy();
  }
}
