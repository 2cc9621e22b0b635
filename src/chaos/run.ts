// `npm run chaos -- --seed N --events N --duration S`: one fault-injection run (issue 7);
// `--help` lists the flags.
// Prints the figures table, writes bench/results/chaos.json; exit code 1 when a check fails.
// `--cluster` runs on a local Redis Cluster of 3 masters and 3 replicas with the failover
// faults (issue 13 §5) and writes bench/results/chaos-cluster.json.
// docs/reliability.md says what is injected and what is checked.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CLUSTER_FAULT_KINDS, checkResults, FAULT_KINDS, failedChecks, isFaultKind, runChaos, unsupportedKinds } from './harness.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '7' },
    events: { type: 'string', default: '4000' },
    duration: { type: 'string', default: '40' },
    skus: { type: 'string', default: '40' },
    out: { type: 'string' },
    'converge-timeout': { type: 'string', default: '120' },
    faults: { type: 'string' },
    cluster: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log(`npm run chaos -- [flags]: one seeded fault-injection run, then the checker (docs/reliability.md).
  --seed N              schedule and load (default 7)
  --events N            operations sent (default 4000)
  --duration S          seconds the load is spread over (default 40)
  --skus N              catalogue size (default 40)
  --faults a,b          subset of the kinds (default all; '' for none)
  --cluster             a local Redis Cluster of 3 masters and 3 replicas instead of one
                        redis-server: the faults cluster-failover and cluster-master-kill
                        replace redis-kill, redis-delay and redis-reset
  --converge-timeout S  how long the ledger gets to go quiet after the load (default 120)
  --out FILE            default bench/results/chaos.json, or chaos-cluster.json with --cluster
Kinds: ${FAULT_KINDS.join(', ')}
With --cluster: ${CLUSTER_FAULT_KINDS.join(', ')}
Exit code 1 when a check fails, 2 on bad flags.`);
  process.exit(0);
}
const redis = values.cluster ? 'cluster' : 'server';
const knownKinds: readonly string[] = redis === 'cluster' ? CLUSTER_FAULT_KINDS : FAULT_KINDS;
const seed = Number(values.seed);
const events = Number(values.events);
const durationS = Number(values.duration);
const skus = Number(values.skus);
for (const [name, value] of [['--seed', seed], ['--events', events], ['--duration', durationS], ['--skus', skus]] as const) {
  if (!Number.isInteger(value) || value < (name === '--seed' ? 0 : 1)) {
    console.error(`${name} must be a whole number${name === '--seed' ? '' : ' > 0'}, got ${String(value)}`);
    process.exit(2);
  }
}

const requestedKinds = (values.faults ?? knownKinds.join(',')).split(',').filter((kind) => kind !== '');
const faultKinds = requestedKinds.filter(isFaultKind);
const unknownKinds = requestedKinds.filter((kind) => !isFaultKind(kind));
if (unknownKinds.length > 0) {
  console.error(`--faults: unknown kind(s) ${unknownKinds.join(', ')}; known${values.cluster ? ' with --cluster' : ''}: ${knownKinds.join(', ')}`);
  process.exit(2);
}
const misplaced = unsupportedKinds(faultKinds, redis);
if (misplaced.length > 0) {
  console.error(`--faults: ${misplaced.join(', ')} ${misplaced.length > 1 ? 'need' : 'needs'} ${values.cluster ? 'one redis-server: drop --cluster' : 'a Redis Cluster: add --cluster'}; known${values.cluster ? ' with --cluster' : ''}: ${knownKinds.join(', ')}`);
  process.exit(2);
}
const started = Date.now();
const figures = await runChaos({ seed, events, durationS, skus, convergenceTimeoutMs: Number(values['converge-timeout']) * 1000, faultKinds, redis, log: (line) => console.log(line) });
const redisVersion = /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
const machine = `Node ${process.version}, Redis ${redisVersion}, ${cpus()[0]?.model.trim() ?? 'CPU'} × ${availableParallelism()}, ${process.platform}`;
const passed = failedChecks(figures).length === 0;
const { reconcile, delayedRetries } = figures;
const table: Record<string, string | number> = {
  'operations sent (load took; held back by the in-flight cap)': `${figures.events} (${figures.loadS.toFixed(1)} s; ${figures.loadHeldBackS.toFixed(1)} s)`,
  'channel sales accepted (Shopify / Amazon MFN)': `${figures.sent.shopifySales} / ${figures.sent.amazonSales}`,
  'cancels / WMS shipments / WMS receipts': `${figures.sent.cancels} / ${figures.sent.shipments} / ${figures.sent.receipts}`,
  'duplicates: Shopify webhook copies / redeliveries / SQS copies': `${figures.duplicates.shopifyWebhookCopies} / ${figures.duplicates.shopifyRedeliveries} / ${figures.duplicates.sqsCopies}`,
  'faults by kind': Object.entries(figures.faults).map(([kind, count]) => `${kind} ${count}`).join(', '),
  'consumer kills: entries held / claimed by the other / all acknowledged (max) after the restart; after the kill': `${figures.consumerKills.orphanedEntries} / ${figures.consumerKills.claimedByOther} / ${figures.consumerKills.recoveredAfterRestartMaxS.toFixed(1)} s; ${figures.consumerKills.recoveredAfterKillMaxS.toFixed(1)} s${figures.consumerKills.superseded > 0 ? ` (${figures.consumerKills.superseded} kills superseded by the next)` : ''}${figures.consumerKills.unrecovered > 0 ? ` (${figures.consumerKills.unrecovered} NOT acknowledged)` : ''}`,
  'SQS messages in flight at edge kills (redelivered)': figures.sqsInFlightAtEdgeKill,
  ...(redis === 'server'
    ? { 'Redis: largest injected delay / connections reset': `${figures.redisDelayMs} ms / ${figures.redisConnectionsReset}` }
    : {
        'Cluster: manual failovers / masters SIGKILLed (faults started under load)': `${figures.clusterFailovers.manual} / ${figures.clusterFailovers.masterKills} (${figures.clusterFailovers.startedUnderLoad})`,
        'Cluster: longest election after a failover request / after a kill (node logs) / until every node agreed (harness)': `${figures.clusterFailovers.failoverMaxS.toFixed(1)} s / ${figures.clusterFailovers.electedMaxS.toFixed(1)} s / ${figures.clusterFailovers.takeoverMaxS.toFixed(1)} s`,
        'Cluster kills: replication gap at the kill (≥ bytes) / writes lost to failover / on_hand short by them (SKUs)': `${figures.clusterFailovers.replicationGapBytes} / ${figures.clusterFailovers.writesLostToFailover} / ${figures.clusterFailovers.onHandMismatchesFromLostWrites}`,
      }),
  'reconciliations mid-burst: runs / corrected / unsettled / failed': `${reconcile.runs} / ${reconcile.corrected} / ${reconcile.unsettled} / ${reconcile.failed}`,
  'hours-late Shopify retries: duplicates 2xx / first deliveries / beyond window refused': `${delayedRetries.lateDuplicatesAcknowledged} of ${delayedRetries.lateDuplicates} / ${delayedRetries.firstDeliveredLate} / ${delayedRetries.beyondWindowRefused} of ${delayedRetries.beyondWindow}`,
  'WMS events not acknowledged': figures.wmsUnacknowledged,
  'Shopify webhooks refused at first (retried until 2xx)': Object.entries(figures.webhookFailures).map(([why, count]) => `${why} ${count}`).join(', ') || 'none',
  'last retry acknowledged after the load': `${figures.webhooksAcknowledgedAfterLoadS.toFixed(1)} s`,
  'lost / doubled / wrong quantity / unexpected': `${figures.lost} / ${figures.doubled} / ${figures.wrongQuantity} / ${figures.unexpectedReservations}`,
  'Amazon notifications still on the SQS queue at the check': figures.sqsMessagesAtCheck,
  'missing channel orders, by what the ledger holds': Object.entries(figures.lostBreakdown).map(([key, count]) => `${key} ${count}`).join(', ') || 'none',
  'race-oversold units (ledger)': figures.raceOversoldUnits,
  'I1 / I3 / I4 violations (SKUs)': `${figures.i1Violations} / ${figures.i3Violations} / ${figures.i4Violations}`,
  'on_hand ≠ warehouse (SKUs)': figures.onHandMismatches,
  'writes to FBA quantities': figures.fbaWrites,
  'dead letters': figures.deadLetters,
  'daemon crashes / restarts after refusing to start with Redis down': `${figures.crashes.length} / ${figures.restartsRedisDown}`,
  'ledger quiet after the last fault': figures.ledgerQuiet ? `${figures.ledgerQuietAfterLastFaultS.toFixed(1)} s` : 'NOT REACHED',
  'channels = sellable after the last fault': figures.converged ? `${figures.convergenceAfterLastFaultS.toFixed(1)} s` : `NOT REACHED (${figures.channelMismatches.length} SKUs differ)`,
};
console.table(table);
for (const problem of [...figures.crashes, ...figures.problems]) console.log(`  ! ${problem}`);
const out = resolve(values.out ?? (values.cluster ? 'bench/results/chaos-cluster.json' : 'bench/results/chaos.json'));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ generatedAt: new Date().toISOString(), command: `npm run chaos -- --seed ${seed} --events ${events} --duration ${durationS}${values['converge-timeout'] !== '120' ? ` --converge-timeout ${values['converge-timeout']}` : ''}${values.cluster ? ' --cluster' : ''}${values.faults !== undefined ? ` --faults ${values.faults}` : ''}`, machine, wallClockS: (Date.now() - started) / 1000, passed, checks: checkResults(figures), faults: figures.faults, ...(redis === 'cluster' ? { cluster: figures.clusterFailovers } : {}), figures }, null, 2)}\n`);
console.log(`${passed ? 'all checks hold' : `CHECKS FAILED: ${failedChecks(figures).join('; ')}`}${figures.converged ? '' : '; FINDING: the channels did not converge to sellable (docs/reliability.md)'} — ${out}`);
process.exit(passed ? 0 : 1);
