// The `stockguard` command. Exit codes (docs/cli.md): 0 done, 1 refused (a coded error:
// bad input, unknown SKU, ...), 2 usage error, 3 Redis unavailable, 4 unexpected failure,
// 5 busy (another reconciliation run holds the lock).
import { decodeChannelState } from './domain/channelState.ts';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { discoverCatalog } from './catalog/discover/discover.ts';
import { runDoctor } from './doctor/doctor.ts';
import { setupAmazon } from './setup/amazon.ts';
import { setupShopify } from './setup/shopify.ts';
import { importCatalog } from './catalog/import.ts';
import { loadConfig, redactConfig } from './config.ts';
import { sellable } from './domain/sellable.ts';
import { isStockguardError, StockguardError } from './errors.ts';
import { listDeadLetters, replayDeadLetters } from './consumers/deadLetters.ts';
import { startDaemon } from './daemon.ts';
import { createLogger } from './logger.ts';
import { openRuntime, type Runtime } from './main.ts';
import { runReconciliation, takeSnapshot } from './reconcile/jobs.ts';
import { createProgress } from './reconcile/progress.ts';
import type { ReconcileReport } from './reconcile/reconcile.ts';
import { restoreSnapshot } from './reconcile/snapshot.ts';
import { migrateLayout, type KeyMove } from './redis/migrateLayout.ts';
import { pushStateHorizonMs } from './pushers/index.ts';
import { isRedisUnavailable } from './redis/client.ts';

export const EXIT = { ok: 0, refused: 1, usage: 2, redisUnavailable: 3, unexpected: 4, busy: 5 } as const;

const USAGE = `stockguard — inventory ledger that stops overselling across channels

Usage:
  stockguard serve                           run the daemon (HTTP receiver, consumers, SQS poller, hold reaper)
  stockguard config                          print the effective configuration (secrets redacted)
  stockguard catalog import [FILE]           import a catalogue (JSON or CSV; default STOCKGUARD_CATALOG_FILE)
  stockguard catalog discover [--out FILE] [--shopify] [--amazon] [--location GID] [--force]
                                             read the stores' variants and listings, propose a catalogue file (default catalog.proposed.json) and a review file
  stockguard setup shopify                   create or verify the webhook subscriptions at STOCKGUARD_PUBLIC_URL; check the mapped locations
  stockguard setup amazon                    create or verify the SQS destination and the notification subscriptions
  stockguard doctor                          check Redis, the channels, the WMS and the catalogue; print each problem and its fix
  stockguard sku SKU [--journal N]           ledger, open reservations, journal tail, sellable per channel
  stockguard adjust SKU DELTA [--receipt] [--event-id ID]
                                             move on_hand (a receipt adds stock; an adjustment either way)
  stockguard count SKU COUNTED [--event-id ID]
                                             set on_hand from a cycle count
  stockguard holdback SKU UNITS              set the SKU's static holdback
  stockguard dlq list [--count N]            show dead letters: events that could not be applied, with the reason
  stockguard dlq replay (--all | ID...)      put dead letters back on their stream (after fixing the cause)
  stockguard reconcile [--dry-run]           compare the WMS snapshot with the ledger now; correct, repair, report
  stockguard snapshot [--out FILE]           write the whole ledger and catalogue to a gzip JSON-lines file
  stockguard restore FILE [--force]          load a snapshot into an empty Redis (--force: replace what is there)
  stockguard migrate layout [--dry-run]      move every SKU's keys to the current key layout, 4 (stop every daemon first)
  stockguard --version | --help

Configuration comes from environment variables: see docs/configuration.md.
Exit codes: 0 done, 1 refused (coded error), 2 usage, 3 Redis unavailable, 4 unexpected, 5 busy (reconciliation already running).`;

class UsageError extends Error {}

const NEGATIVE = 'negative:';

export async function run(argv: readonly string[], out: (line: string) => void = console.log): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      // "-4" is a negative DELTA, not an option: hide it from the option parser.
      args: argv.map((arg) => (/^-\d+$/.test(arg) ? `${NEGATIVE}${arg.slice(1)}` : arg)),
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
        receipt: { type: 'boolean' },
        'event-id': { type: 'string' },
        journal: { type: 'string' },
        count: { type: 'string' },
        all: { type: 'boolean' },
        'dry-run': { type: 'boolean' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        shopify: { type: 'boolean' },
        amazon: { type: 'boolean' },
        location: { type: 'string' },
      },
    });
  } catch (error) {
    out(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return EXIT.usage;
  }
  const { values } = parsed;
  const positionals = parsed.positionals.map((arg) => (arg.startsWith(NEGATIVE) ? `-${arg.slice(NEGATIVE.length)}` : arg));
  if (values.version) {
    out(packageVersion());
    return EXIT.ok;
  }
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }

  try {
    const config = loadConfig();
    if (command === 'config') {
      out(JSON.stringify(redactConfig(config), null, 2));
      return EXIT.ok;
    }
    if (command === 'serve') return await serve(config);
    // Discover reads the channels only: no Redis needed.
    if (command === 'catalog' && rest[0] === 'discover') {
      if (rest.length > 1) throw new UsageError(`catalog discover takes no arguments (use --out FILE), got ${JSON.stringify(rest.slice(1).join(' '))}`);
      await discoverCatalog({ config, out: values.out, force: values.force, shopify: values.shopify, amazon: values.amazon, locationId: values.location, print: out, requestTimeoutMs: config.pushers.requestTimeoutMs });
      return EXIT.ok;
    }
    // Amazon setup talks to the Notifications API only: no Redis needed.
    if (command === 'setup' && rest[0] === 'amazon' && rest.length === 1) {
      out('setup amazon:');
      await setupAmazon({ config, print: out });
      return EXIT.ok;
    }
    if (command === 'setup' && (rest.length !== 1 || rest[0] !== 'shopify')) throw new UsageError(`setup takes one channel, "shopify" or "amazon", got ${JSON.stringify(rest.join(' '))}`);
    if (command === 'doctor' && rest.length > 0) throw new UsageError(`doctor takes no arguments, got ${JSON.stringify(rest.join(' '))}`);
    if (command === 'migrate' && (rest.length !== 1 || rest[0] !== 'layout')) throw new UsageError(`migrate takes one subject, "layout", got ${JSON.stringify(rest.join(' '))}`);
    // The migration is what moves an old layout: it opens Redis without the layout check.
    const runtime = await openRuntime(config, { connectionName: command === 'migrate' ? 'stockguard-migrate' : 'stockguard-cli', checkLayout: command !== 'migrate' });
    try {
      if (command === 'setup') {
        out('setup shopify:');
        const skus = await runtime.catalog.list();
        const locationIds = new Set<string>();
        for (let start = 0; start < skus.length; start += 200) {
          for (const entry of await Promise.all(skus.slice(start, start + 200).map((sku) => runtime.catalog.get(sku)))) if (entry?.shopify) locationIds.add(entry.shopify.locationId);
        }
        const result = await setupShopify({ config, locationIds: [...locationIds], print: out });
        return result.ok ? EXIT.ok : EXIT.refused;
      }
      if (command === 'doctor') {
        const result = await runDoctor({ config, redis: runtime.redis, catalog: runtime.catalog, print: out });
        return result.ok ? EXIT.ok : EXIT.refused;
      }
      return await dispatch(runtime, command, rest, values, out);
    } finally {
      await runtime.close();
    }
  } catch (error) {
    if (error instanceof UsageError) {
      out(`${error.message}\n\n${USAGE}`);
      return EXIT.usage;
    }
    const { code, message } = exitFor(error);
    out(message);
    return code;
  }
}

/**
 * The exit code and the line for an error that ended a command. An error that says Redis
 * was unreachable or between masters (isRedisUnavailable) is exit 3 wherever it came from:
 * a daemon started while a Cluster master was being replaced failed its start-up reads with
 * ioredis's "Too many Cluster redirections" and exited 4, which a supervisor (and the chaos
 * harness) took for a crash rather than for Redis being away.
 */
export function exitFor(error: unknown): { code: number; message: string } {
  if (isStockguardError(error)) {
    if (error.code === 'STOCKGUARD_E_RECONCILE_RUNNING') return { code: EXIT.busy, message: `error: ${error.message}` };
    if (error.code === 'STOCKGUARD_E_REDIS_UNAVAILABLE' || isRedisUnavailable(error)) return { code: EXIT.redisUnavailable, message: `error: ${error.message}` };
    return { code: EXIT.refused, message: `error: ${error.message}` };
  }
  if (isRedisUnavailable(error)) {
    return { code: EXIT.redisUnavailable, message: `error: STOCKGUARD_E_REDIS_UNAVAILABLE: Redis is unreachable or between masters (${(error as Error).message}); start stockguard again once Redis answers (a supervisor does)` };
  }
  return { code: EXIT.unexpected, message: `unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}` };
}

type Flags = { receipt?: boolean; 'event-id'?: string; journal?: string; count?: string; all?: boolean; 'dry-run'?: boolean; out?: string; force?: boolean };

/** Runs until SIGTERM or SIGINT, then shuts down gracefully within the configured deadline. */
async function serve(config: ReturnType<typeof loadConfig>): Promise<number> {
  const logger = createLogger({ level: config.logLevel });
  logger.info({ config: redactConfig(config) }, 'starting stockguard');
  const daemon = await startDaemon({ config, logger });
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down: no new work; finishing and acknowledging what is in flight');
  const result = await daemon.stop();
  logger.info(result, result.graceful ? 'stopped' : 'stopped at the deadline; unfinished entries stay pending for another consumer');
  logger.flush();
  return EXIT.ok;
}

async function dispatch(runtime: Runtime, command: string, args: string[], flags: Flags, out: (line: string) => void): Promise<number> {
  const { ledger, catalog, config } = runtime;
  switch (command) {
    case 'catalog': {
      if (args[0] !== 'import') throw new UsageError(`unknown catalog command ${JSON.stringify(args[0] ?? '')}: use "catalog import FILE" or "catalog discover"`);
      const file = args[1] ?? config.catalogFile;
      if (!file) throw new UsageError('catalog import needs a FILE (or STOCKGUARD_CATALOG_FILE)');
      const report = await importCatalog({ file, catalog, ledger });
      out(`imported ${report.rows} rows from ${report.file} in ${report.durationMs.toFixed(0)} ms: ${report.created} created, ${report.updated} updated, ${report.unchanged} unchanged`);
      for (const ignored of report.ignoredOnHand) {
        out(`  ${ignored.sku}: onHand ${ignored.fileOnHand} in the file ignored, the ledger already has ${ignored.ledgerOnHand} (send a count to change it)`);
      }
      return EXIT.ok;
    }
    case 'sku': {
      const sku = required(args[0], 'SKU');
      const inventory = await ledger.inventory(sku);
      if (!inventory) throw new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', JSON.stringify(sku));
      const entry = await catalog.get(sku);
      const journalCount = flags.journal ? wholeNumber(flags.journal, '--journal') : 10;
      const reservations = await ledger.reservations(sku);
      const journal = await ledger.journal(sku);
      const levels = await ledger.observations(sku, 'channelLevels');
      const available = inventory.onHand - inventory.reserved;
      out(`${sku}: on_hand ${inventory.onHand}, reserved ${inventory.reserved}, available ${available}, holdback ${inventory.holdback}, oversold ${inventory.oversold} (version ${inventory.version})`);
      if (entry) {
        for (const channel of ['shopify', 'amazon'] as const) {
          if (!entry[channel]) continue;
          const fba = channel === 'amazon' && entry.amazon?.fulfillment === 'FBA';
          const quantity = sellable(inventory, catalog.policyFor(entry, channel));
          const seen = levels[channel];
          out(`  ${channel}: ${fba ? 'FBA (Amazon holds the stock; never pushed)' : `sellable ${quantity}`}${seen ? `, channel last said ${seen.quantity} at ${new Date(seen.observedAtMs).toISOString()}` : ''}`);
        }
      } else {
        out('  not in the catalogue: no channel mappings');
      }
      const pushed = await lastPushed(runtime, sku);
      if (pushed.length > 0) out(`  last pushed: ${pushed.join(', ')}`);
      const open = reservations.filter((record) => record.openUnits > 0 || record.state === 'PENDING');
      out(`open reservations (${open.length} of ${reservations.length}):`);
      for (const record of open.slice(0, 50)) {
        out(`  ${record.reservationId}  ${record.state}  qty ${record.quantity} held ${record.held} shipped ${record.shipped} shortfall ${record.shortfall}`);
      }
      out(`journal (last ${Math.min(journalCount, journal.length)} of ${journal.length}):`);
      for (const entryLine of journal.slice(-journalCount)) {
        const deltas = [['on_hand', entryLine.dOnHand], ['reserved', entryLine.dReserved], ['oversold', entryLine.dOversold], ['holdback', entryLine.dHoldback]]
          .filter(([, delta]) => delta !== 0)
          .map(([name, delta]) => `${name} ${Number(delta) > 0 ? '+' : ''}${delta}`)
          .join(', ');
        out(`  ${new Date(entryLine.atMs).toISOString()}  ${entryLine.cause.padEnd(10)} ${entryLine.event}  ${deltas || 'no change'}`);
      }
      return EXIT.ok;
    }
    case 'adjust': {
      const sku = required(args[0], 'SKU');
      const delta = integer(required(args[1], 'DELTA'), 'DELTA');
      const eventId = flags['event-id'] ?? `cli:${Date.now()}`;
      const result = await ledger.adjust(sku, { eventId, delta, cause: flags.receipt ? 'receipt' : 'adjustment' });
      out(`${result.status}: ${sku} on_hand ${result.inventory.onHand} (event ${eventId})`);
      return EXIT.ok;
    }
    case 'count': {
      const sku = required(args[0], 'SKU');
      const counted = wholeNumber(required(args[1], 'COUNTED'), 'COUNTED');
      const eventId = flags['event-id'] ?? `cli:${Date.now()}`;
      const result = await ledger.count(sku, { eventId, counted });
      out(`${result.status}: ${sku} on_hand ${result.inventory.onHand} (event ${eventId})`);
      return EXIT.ok;
    }
    case 'holdback': {
      const sku = required(args[0], 'SKU');
      const units = wholeNumber(required(args[1], 'UNITS'), 'UNITS');
      const result = await ledger.setHoldback(sku, units, 'cli');
      out(`${result.status}: ${sku} holdback ${result.inventory.holdback}`);
      return EXIT.ok;
    }
    case 'dlq': {
      if (args[0] === 'list') {
        const letters = await listDeadLetters(runtime.redis, ledger.keys, { count: flags.count ? wholeNumber(flags.count, '--count') : 100 });
        out(`${letters.length} dead letter(s)${letters.length ? ':' : ''}`);
        for (const letter of letters) {
          out(`  ${letter.dlqId}  ${new Date(letter.atMs).toISOString()}  ${letter.reason}  from ${letter.stream} ${letter.id} after ${letter.deliveries} deliver${letter.deliveries === 1 ? 'y' : 'ies'}`);
          out(`    ${letter.message}`);
          out(`    ${letter.event.length > 300 ? `${letter.event.slice(0, 300)}…` : letter.event}`);
        }
        return EXIT.ok;
      }
      if (args[0] === 'replay') {
        const ids = args.slice(1);
        if (!flags.all && ids.length === 0) throw new UsageError('dlq replay needs --all or dead-letter ids (from "dlq list")');
        const result = await replayDeadLetters(runtime.redis, ledger.keys, flags.all ? { all: true } : { ids });
        out(`replayed ${result.replayed.length}, missing ${result.missing.length}, refused ${result.refused.length}`);
        for (const refused of result.refused) out(`  refused ${JSON.stringify(refused)}`);
        return result.refused.length > 0 ? EXIT.refused : EXIT.ok;
      }
      throw new UsageError(`unknown dlq command ${JSON.stringify(args[0] ?? '')}: use "dlq list" or "dlq replay"`);
    }
    case 'reconcile': {
      if (args.length > 0) throw new UsageError(`reconcile takes no arguments, got ${JSON.stringify(args.join(' '))}`);
      const dryRun = flags['dry-run'] ?? false;
      const progress = createProgress({ label: dryRun ? 'reconcile (dry run)' : 'reconcile', unit: 'SKUs', out });
      const result = await runReconciliation(runtime, { dryRun, onProgress: (step) => progress.update(step.skus, undefined, `${step.pages} WMS pages`) });
      progress.finish();
      if (result.outcome === 'already-running') {
        throw new StockguardError('STOCKGUARD_E_RECONCILE_RUNNING', `held by ${result.owner ?? 'a run whose lock just expired'}`);
      }
      printReconcileReport(result.report, out);
      if (result.report.outcome === 'failed') {
        out(`error: ${result.report.error?.message ?? 'the run failed'}`);
        return result.report.error?.code === 'STOCKGUARD_E_REDIS_UNAVAILABLE' ? EXIT.redisUnavailable : result.report.error?.code.startsWith('STOCKGUARD_E_') ? EXIT.refused : EXIT.unexpected;
      }
      return EXIT.ok;
    }
    case 'snapshot': {
      if (args.length > 0) throw new UsageError(`snapshot takes no arguments (use --out FILE), got ${JSON.stringify(args.join(' '))}`);
      const progress = createProgress({ label: 'snapshot', unit: 'SKUs', out });
      const summary = await takeSnapshot(runtime, { file: flags.out, onProgress: (step) => progress.update(step.done, step.total, step.phase) });
      progress.finish();
      const skipped = Object.entries(summary.skipped).map(([kind, count]) => `${count} ${kind}`).join(', ');
      out(`snapshot of prefix ${summary.prefix} written to ${summary.file}: ${summary.skus} SKUs, ${summary.keys} keys, ${summary.bytes} bytes, sha256 ${summary.sha256}, ${summary.durationMs} ms`);
      if (skipped) out(`  not in a snapshot (in-flight events, delivery marks, dead letters, locks): ${skipped}`);
      return EXIT.ok;
    }
    case 'restore': {
      const file = required(args[0], 'FILE');
      if (args.length > 1) throw new UsageError(`restore takes one FILE, got ${args.length}`);
      const progress = createProgress({ label: 'restore', unit: 'SKUs', out });
      const summary = await restoreSnapshot({ redis: runtime.redis, keys: ledger.keys, file, force: flags.force ?? false, pushStateIdleMs: pushStateHorizonMs(runtime.config), onProgress: (step) => progress.update(step.done, step.total, step.phase) });
      progress.finish();
      out(`restored ${summary.skus} SKUs (${summary.keys} keys) from ${summary.file}, taken ${summary.createdAt} under prefix ${summary.sourcePrefix}, into prefix ${ledger.keys.prefix} in ${summary.durationMs} ms${summary.replaced ? `; ${summary.replaced} existing keys replaced (--force)` : ''}`);
      return EXIT.ok;
    }
    case 'migrate':
      return migrate(runtime, flags['dry-run'] ?? false, out);
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

/** `stockguard migrate layout`: the work is src/redis/migrateLayout.ts; this parses, prints and maps the outcome to an exit code. */
async function migrate(runtime: Runtime, dryRun: boolean, out: (line: string) => void): Promise<number> {
  const keys = runtime.ledger.keys;
  const label = dryRun ? 'migrate layout (dry run)' : 'migrate layout';
  out(`${label}: prefix ${keys.prefix}, layout 1 (keys tagged by the SKU, <prefix>:inv:{SKU}) → layout 2 (tagged by the layout partition, <prefix>:inv:{p<N>}:SKU) → layout 3 (one journal per layout partition, <prefix>:journal:{p<N>}) → layout 4 (SKUs packed into layout buckets, <prefix>:inv-bucket:{p<N>}:<bucket>)`);
  const progress = createProgress({ label, unit: 'SKUs', out });
  const planned: KeyMove[] = [];
  const shown = 50;
  const summary = await migrateLayout({
    redis: runtime.redis,
    keys,
    dryRun,
    pushStateHorizonMs: pushStateHorizonMs(runtime.config),
    onPlannedMove: (move) => {
      if (planned.length < shown) planned.push(move);
    },
    onProgress: (step) =>
      step.phase === 'scanning'
        ? progress.update(step.skusDone, undefined, 'scanning for layout-1 keys')
        : step.phase === 'merging'
          ? progress.update(step.partitionsMerged, step.partitionsTotal, `partitions: ${step.skusDone} SKU journals ${dryRun ? 'to merge' : 'merged'} into their partition's`)
          : step.phase === 'packing'
            ? progress.update(step.skusPacked, step.packTotal, `SKUs ${dryRun ? 'to pack' : 'packed'} into layout buckets`)
            : progress.update(step.skusDone, step.skusTotal, `${step.keysMoved} keys ${dryRun ? 'to move' : 'moved'}, ${step.keysSkipped} already moved, ${step.keysFinished} ${dryRun ? 'to finish' : 'finished'}, ${step.conflicts} conflicts`),
  });
  progress.finish();
  for (const move of planned) out(`  would move ${move.kind} of ${move.sku}: ${move.from} → ${move.to}`);
  const more = summary.keysMoved + (dryRun ? summary.keysFinished : 0) - planned.length;
  if (dryRun && more > 0) out(`  … and ${more} more`);
  const seconds = (summary.durationMs / 1000).toFixed(1);
  const counts = `${summary.skus} SKUs looked at, ${summary.keysMoved} keys ${dryRun ? 'to move' : 'moved'}, ${summary.keysSkipped} already under the new name (skipped), ${summary.keysFinished} ${dryRun ? 'to finish' : 'finished'} from an interrupted run`;
  const merged = `${summary.journalsMerged} SKU journals (${summary.entriesMerged} entries) in ${summary.partitionsMerged} partitions ${dryRun ? 'to merge' : 'merged'}`;
  const packed = `${summary.skusPacked} SKUs (${summary.keysPacked} hashes) ${dryRun ? 'to pack' : 'packed'} into layout buckets${Object.entries(summary.globalsMoved).map(([step, moved]) => `, ${step}: ${moved}${dryRun ? ' to do' : ''}`).join('')}`;
  out(`${label}: ${summary.outcome} in ${seconds} s: ${counts}; ${merged}; ${packed}${summary.markerWritten !== undefined ? `; ${keys.layoutMarker()} = ${summary.markerWritten} written` : ''}`);
  for (const conflict of summary.conflicts.slice(0, shown)) out(`  conflict: ${conflict.kind} of ${conflict.sku}: ${conflict.reason}${dryRun ? ' (the run would leave this SKU in layout 1)' : ''}`);
  if (summary.conflicts.length > shown) out(`  … and ${summary.conflicts.length - shown} more`);
  for (const conflict of summary.packConflicts.slice(0, shown)) out(`  conflict: ${conflict.packer} of ${conflict.sku}: ${conflict.reason}${dryRun ? ' (the run would leave this SKU unpacked)' : ''}`);
  if (summary.outcome === 'conflicts' && summary.packConflicts.length > 0) {
    const skus = new Set(summary.packConflicts.map((conflict) => conflict.sku));
    throw new StockguardError('STOCKGUARD_E_MIGRATE_CONFLICT', `${skus.size} SKU(s) left in layout 3 (not packed into buckets), every other SKU packed: ${[...skus].slice(0, 5).map((sku) => JSON.stringify(sku)).join(', ')}${skus.size > 5 ? ', …' : ''}`, {
      details: { conflicts: summary.packConflicts },
    });
  }
  if (summary.outcome === 'conflicts') {
    const skus = new Set(summary.conflicts.map((conflict) => conflict.sku));
    throw new StockguardError('STOCKGUARD_E_MIGRATE_CONFLICT', `${skus.size} SKU(s) left in layout 1, every other SKU moved: ${[...skus].slice(0, 5).map((sku) => JSON.stringify(sku)).join(', ')}${skus.size > 5 ? ', …' : ''}`, {
      details: { conflicts: summary.conflicts },
    });
  }
  if (summary.outcome === 'incomplete') {
    throw new StockguardError('STOCKGUARD_E_LAYOUT_OUTDATED', `layout-1 keys, layout-2 journals or unpacked layout-3 hashes kept appearing while the migration ran (${summary.passes} passes), e.g. ${summary.leftOver.slice(0, 3).map((key) => JSON.stringify(key)).join(', ')}: a daemon of the old version is still running`);
  }
  return EXIT.ok;
}

function printReconcileReport(report: ReconcileReport, out: (line: string) => void): void {
  const totals = report.totals;
  out(`reconciliation ${report.runId}${report.dryRun ? ' (dry run: nothing was written)' : ''}: ${report.outcome} in ${report.durationMs} ms, WMS snapshot as of ${report.asOf ?? 'unknown (no page)'}, ${report.pages} pages`);
  out(`  compared ${totals.compared} SKUs: ${totals.matched} match, ${totals.discrepancies} discrepancies: ${totals.corrected} ${report.dryRun ? 'would be corrected' : 'corrected'} (${totals.unitsCorrected} units, net ${totals.netUnitsCorrected}), ${totals.reported} below threshold (reported), ${totals.unsettled} unsettled (next run)`);
  out(`  reserved ${report.dryRun ? 'would be repaired' : 'repaired'} on ${totals.reservedRepairs} SKUs; ${totals.wmsOnly} SKUs only in the WMS, ${totals.ledgerOnly} only in the ledger, ${totals.invalidSkus} invalid WMS rows`);
  const shown = 50;
  for (const item of report.discrepancies.slice(0, shown)) {
    out(`  ${item.sku}  wms ${item.wmsOnHand}  ledger ${item.ledgerOnHandAsOf} as of  delta ${item.delta > 0 ? '+' : ''}${item.delta}  ${item.action} (${item.reason})${item.action === 'corrected' ? `  on_hand ${item.onHandBefore} → ${item.onHandAfter}` : ''}${item.error ? `: ${item.error}` : ''}`);
  }
  if (report.discrepancies.length > shown) out(`  … and ${report.discrepancies.length - shown} more in the report`);
  for (const repair of report.reservedRepairs.slice(0, shown)) out(`  ${repair.sku}  reserved ${repair.reservedBefore} → ${repair.reservedAfter}  ${repair.action}${repair.error ? `: ${repair.error}` : ''}`);
  if (report.file) out(`report: ${report.file}`);
}

/** What the pushers last sent each channel: the pushed levels of the SKU's packed channel state (its `chan` bucket field). */
async function lastPushed(runtime: Runtime, sku: string): Promise<string[]> {
  const state = decodeChannelState(await runtime.redis.hget(runtime.ledger.keys.skuBucket('chan', sku), sku));
  return Object.entries(state.pushed)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([channel, level]) => `${channel} ${level.quantity} at ${new Date(level.atMs).toISOString()}${level.applied ? ' (confirmed in effect)' : ''}`);
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${name}`);
  return value;
}

function integer(value: string, name: string): number {
  if (!/^-?\d+$/.test(value)) throw new UsageError(`${name} must be a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

function wholeNumber(value: string, name: string): number {
  const number = integer(value, name);
  if (number < 0) throw new UsageError(`${name} must be ≥ 0, got ${value}`);
  return number;
}

function packageVersion(): string {
  // Walk up from this file (src/cli.ts under tsx, <outDir>/src/cli.js when built).
  let directory = new URL('.', import.meta.url);
  for (let depth = 0; depth < 6; depth += 1) {
    try {
      const parsed = JSON.parse(readFileSync(new URL('package.json', directory), 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'stockguard' && parsed.version) return parsed.version;
    } catch {
      // no package.json here: look one level up
    }
    directory = new URL('..', directory);
  }
  return 'unknown';
}
