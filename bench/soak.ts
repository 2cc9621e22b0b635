// `npm run bench -- soak`: does memory stop growing once the dedupe horizons have passed?
// (issue 13 §2, "Bounded growth").
//
//   30 simulated days, 10,000 SKUs, one injected clock for the Ledger and the consumer (the
//   daemon's wiring: src/daemon.ts). Every event goes through the real code paths that keep
//   dedupe state: RedisEventSink.publish (a delivery mark per Shopify webhook id, SQS message
//   id, WMS event id), the StreamConsumer reading the event streams with applyEvent as its
//   handler (reservation records, event marks, journal, channel levels, the pushers'
//   channel-report store), and the stream trimmer at the end of each day.
//
// The day of one SKU (i = SKU index, d = day), always the same counts, so the days compare:
//   - one order (1 unit): Shopify webhook 3 days in 5, Amazon SQS notification otherwise;
//   - yesterday's order closes: cancelled (same channel) when (i + d) % 10 = 0, else the WMS
//     ships it (a WMS webhook with the SKU's next movement number);
//   - a WMS receipt of 4 units when (i + d) % 4 = 0, a cycle count to 1,000 when (i + d) % 10 = 5;
//   - a Shopify inventory-level webhook when (i + d) is even;
//   - 1 delivery in 20 is delivered twice (the sink answers DUPLICATE the second time).
//   That is 2.85 events + 0.14 redeliveries per SKU per day, spread over 24 hourly slices;
//   each slice is published, then fully applied, before the clock moves on.
//
// Time: the Ledger, the consumer and the events use the simulated clock. Redis keeps its own
// clock for key expiry, so a delivery mark (a string with EX = its source's window) would
// live its lifetime in real seconds. The bench plays Redis's expiry in simulated time: at the
// end of each day it deletes every delivery mark whose simulated age exceeds its lifetime.
// A mark's value is the event stream id the sink appended, whose milliseconds say when (in
// real time) it was written; a table of slice start times maps that to the simulated time.
// The lifetime is what the sink set: PTTL + real time since the write. A mark the sink gave
// no TTL is never deleted, so a sink that stopped expiring marks shows up as growth.
//
// Measured at the end of each day, after the day's events are applied and acknowledged, the
// streams trimmed (approximate MINID, as the daemon's StreamTrimmer) and the marks expired:
//   - bytes_per_sku: (INFO memory `used_memory` − the empty server's `used_memory`) / SKUs;
//   - daemon_heap_mb: process.memoryUsage().heapUsed after a forced full GC (this process
//     runs the sink, consumer, ledger and the bench's own bookkeeping, which is constant);
//   - the breakdown by structure: MEMORY USAGE … SAMPLES 0 of every per-SKU key of a sample
//     of SKUs (extrapolated to all SKUs), of every event stream, the dead-letter stream and
//     the dirty index, and of one delivery mark in 20 (extrapolated by the count of marks).
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from '../src/config.ts';
import { StreamConsumer, trimStreams } from '../src/consumers/index.ts';
import { partitionSkuOf, StockguardEvent } from '../src/domain/events.ts';
import { StockguardError } from '../src/errors.ts';
import { RedisEventSink } from '../src/ingest/redisSink.ts';
import { applyEvent } from '../src/ledger/applyEvent.ts';
import { EVENT_KINDS } from '../src/redis/keys.ts';
import { JournalAuditFiles, trimJournals } from '../src/ledger/journalTrimmer.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { reportHorizonMs } from '../src/pushers/index.ts';
import { PushStore } from '../src/pushers/store.ts';
import { type BenchEnv, benchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { deleteKeys, usedMemory } from './lib/redis.ts';
import { round } from './lib/stats.ts';

const DAY_MS = 86_400_000;
/** 2026-01-01T00:00Z: the first simulated day starts here. */
const SIM_START_MS = Date.UTC(2026, 0, 1);
/** The target: day 30 at most 5 % above day 7. */
const GROWTH_LIMIT = 1.05;

export interface SoakOptions {
  redisUrl: string;
  days?: number;
  skus?: number;
  /** Hourly slices per day (default 24): events of one slice share one clock reading. */
  slicesPerDay?: number;
  /** Ledger dedupe horizon (default: the daemon's, STOCKGUARD_EVENT_HORIZON_SECONDS). */
  dedupeHorizonMs?: number;
  /** Ledger journal retention (default: the daemon's, STOCKGUARD_JOURNAL_RETENTION_DAYS). */
  journalRetentionMs?: number;
  /** Delivery-mark lifetimes (seconds) per source (default: the daemon's). */
  deliveryWindowsSeconds?: { shopify: number; sqs: number; wms: number };
  /** SKUs whose keys are measured one by one (default 1,000, at most `skus`). */
  sampleSkus?: number;
  /** Publishes in flight (default 64). */
  inFlight?: number;
  keyPrefix?: string;
  /** True when the run started its own redis-server (bytes per SKU then count nothing else). */
  redisPrivate?: boolean;
  log?: (line: string) => void;
}

/** Per SKU (bytes), by structure. Per-SKU keys are extrapolated from the sample. */
export interface SoakBreakdown {
  journal: number;
  reservations: number;
  event_marks: number;
  inventory: number;
  channel_levels: number;
  push_state: number;
  delivery_marks: number;
  event_streams: number;
  dead_letters: number;
  dirty_index: number;
  /**
   * Redis's key tables, growth since the empty server: MEMORY STATS overhead.hashtable.main
   * less one dictEntry per key (MEMORY USAGE above already counts it), plus .expires (the
   * expiry entries of the delivery marks and their buckets).
   */
  key_tables: number;
  /** Client buffers (MEMORY STATS clients.normal), growth since the empty server. */
  clients: number;
  /** used_memory growth in none of the above (allocator rounding, the Lua script cache, …). */
  unattributed: number;
}

export interface SoakCounts {
  /** Averages over the sampled SKUs. */
  journal_entries_per_sku: number;
  reservation_records_per_sku: number;
  event_marks_per_sku: number;
  /** Delivery-mark keys (`…:seen:<id>`) alive after the day's expiry. */
  delivery_marks: number;
  delivery_marks_expired_today: number;
  event_stream_entries: number;
  dead_letters: number;
  dirty_skus: number;
  /** Journal entries the day's trimmer pass wrote to the audit files, then trimmed. */
  journal_entries_exported: number;
  /** Size of the audit files so far, per SKU (disk, not Redis). */
  audit_file_bytes_per_sku: number;
}

export interface SoakDay {
  day: number;
  bytes_per_sku: number;
  daemon_heap_mb: number;
  used_memory_bytes: number;
  events: number;
  duplicates: number;
  seconds: number;
  by_structure: SoakBreakdown;
  counts: SoakCounts;
}

export interface SoakVerdict {
  from_day: number;
  to_day: number;
  from: number;
  to: number;
  ratio: number;
  limit: number;
  met: boolean;
}

export interface SoakResult {
  scenario: 'soak';
  env: BenchEnv;
  redis_private: boolean;
  days: number;
  skus: number;
  /** Deliveries published per simulated day (the redeliveries included), day 1 … */
  events_per_day: number;
  events_per_sku_per_day: number;
  settings: {
    slices_per_day: number;
    dedupe_horizon_days: number;
    journal_retention_days: number;
    delivery_windows_days: { shopify: number; sqs: number; wms: number };
    partitions: number;
    sample_skus: number;
  };
  memory_measure: string;
  heap_measure: string;
  seconds: number;
  bytes_per_sku_by_day: SoakDay[];
  /** The verdicts: the last day against day 7 (or the last day, on shorter runs). */
  verdicts: { bytes_per_sku: SoakVerdict; daemon_heap_mb: SoakVerdict };
  /**
   * The same ratio between two days after the longest dedupe horizon (plus one sweep
   * interval) has passed: whether memory stops growing once the horizons have passed.
   * Undefined when the run is too short to have two such days.
   */
  after_horizon: { bytes_per_sku: SoakVerdict; bytes_per_sku_without_journal: SoakVerdict; daemon_heap_mb: SoakVerdict } | undefined;
  /** Per structure, bytes per SKU on the verdict's two days (day 7, the last) and the difference. */
  growth_by_structure: StructureGrowth[];
  /** The same from the first day after the horizons (see after_horizon) to the last day. */
  growth_after_horizon: StructureGrowth[] | undefined;
  /** Structures that grew by more than 5 % (and 10 bytes per SKU) after the horizons. */
  still_growing_after_horizon: (keyof SoakBreakdown)[] | undefined;
}

export interface StructureGrowth {
  structure: keyof SoakBreakdown;
  from_day: number;
  to_day: number;
  from: number;
  to: number;
  delta: number;
}

interface OpenOrder {
  day: number;
  channel: 'shopify' | 'amazon';
}

interface Publication {
  event: StockguardEvent;
  deliveryId: string;
  redeliver: boolean;
}

export async function runSoakScenario(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => undefined);
  const config = loadConfig({});
  const days = options.days ?? 30;
  const skus = options.skus ?? 10_000;
  const slices = options.slicesPerDay ?? 24;
  const horizonMs = options.dedupeHorizonMs ?? config.eventHorizonMs;
  const retentionMs = options.journalRetentionMs ?? config.journalRetentionMs;
  const windows = options.deliveryWindowsSeconds ?? {
    shopify: config.webhooks.dedupeWindowSeconds,
    sqs: config.webhooks.sqsDedupeWindowSeconds,
    wms: config.webhooks.wmsDedupeWindowSeconds,
  };
  const partitions = config.streams.partitions;
  const sampleCount = Math.min(skus, options.sampleSkus ?? 1000);
  const inFlight = options.inFlight ?? 64;
  const prefix = options.keyPrefix ?? `bench-soak-${process.pid}`;
  const gc = forcedGc();

  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', (error: Error) => log(`soak redis client: ${error.message}`));
  let consumer: StreamConsumer | undefined;
  let auditDir: string | undefined;
  const started = Date.now();
  try {
    const env = await benchEnv(redis);
    gc();
    const baseline = await usedMemory(redis);
    const baselineStats = await memoryStats(redis);

    let simNow = SIM_START_MS;
    const clock = () => simNow;
    const ledger = new Ledger({ redis, keyPrefix: prefix, clock, journalRetentionMs: retentionMs, dedupeHorizonMs: horizonMs });
    const keys = ledger.keys;
    const sink = new RedisEventSink({
      redis,
      keys,
      partitions,
      dedupeWindowSeconds: windows.shopify,
      dedupeWindowsBySource: { 'amazon-sqs': windows.sqs, 'wms-webhook': windows.wms },
    });
    const pushStore = new PushStore(redis, keys, ledger, reportHorizonMs(config));
    // The daemon's journal trimmer (hourly there; here once at the end of each simulated day,
    // before the day is measured) writing its audit files to a temporary directory.
    auditDir = mkdtempSync(join(tmpdir(), 'stockguard-soak-audit-'));
    const audit = new JournalAuditFiles(auditDir, prefix, clock);
    const streams = EVENT_KINDS.flatMap((kind) => keys.eventStreams(kind, partitions));

    let handled = 0;
    let deadLettered = 0;
    const failures: string[] = [];
    consumer = new StreamConsumer({
      redis,
      streams,
      group: config.streams.group,
      consumer: 'soak',
      deadLetterStream: keys.deadLetters(),
      logger: pino({ level: 'warn' }),
      batchSize: config.streams.batchSize,
      concurrency: config.streams.concurrency,
      blockMs: 1000,
      clock,
      keyOf: (event) => {
        const parsed = StockguardEvent.safeParse(event);
        return parsed.success ? partitionSkuOf(parsed.data) : undefined;
      },
      // The daemon's handler (src/daemon.ts) without its metrics and the sale-latency report.
      handler: async (entry) => {
        const parsed = StockguardEvent.safeParse(entry.event);
        if (!parsed.success) throw new StockguardError('STOCKGUARD_E_BAD_EVENT', parsed.error.message);
        const event = parsed.data;
        const outcome = await applyEvent(event, {
          ledger,
          resolveChannelItem: async () => undefined,
          resolveRefs: async (refs) => refs.map(() => undefined),
        });
        if (event.type === 'channel.level' && outcome.kind === 'observed' && outcome.sku !== undefined) {
          await pushStore.noteChannelReport(outcome.sku, event.channel, event);
          await ledger.touch(outcome.sku);
        }
      },
      metrics: {
        processed: () => void handled++,
        deadLettered: (_stream, reason) => {
          deadLettered++;
          if (failures.length < 5) failures.push(reason);
        },
      },
    });
    await consumer.start();

    // Day 0: every SKU exists with 1,000 units (a WMS receipt, so it has a mark too).
    const skuName = (index: number) => `SOAK-${String(index).padStart(6, '0')}`;
    const sequence = new Uint32Array(skus);
    for (let from = 0; from < skus; from += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, skus - from) }, async (_, offset) => {
          const index = from + offset;
          await ledger.createSku(skuName(index));
          // Catalogued, as an imported SKU is (an entry without channel mappings: its packed value is empty).
          await redis.hset(keys.skuBucket('catalog', skuName(index)), skuName(index), '');
          sequence[index] = 1;
          await ledger.adjust(skuName(index), { eventId: `init-${index}`, delta: 1000, cause: 'receipt', seq: 1, eventAtMs: simNow });
        }),
      );
    }
    const sampleIndexes = sampleOf(skus, sampleCount);

    /** Real ms at which each slice started, and its simulated ms: maps a mark's stream id to simulated time. */
    const sliceReal: number[] = [];
    const sliceSim: number[] = [];
    const openOrders: (OpenOrder | undefined)[] = new Array(skus).fill(undefined);
    const rows: SoakDay[] = [];
    let appended = 0;

    for (let day = 1; day <= days; day++) {
      const dayStarted = Date.now();
      const dayStartMs = SIM_START_MS + (day - 1) * DAY_MS;
      let events = 0;
      let duplicates = 0;
      for (let slice = 0; slice < slices; slice++) {
        simNow = dayStartMs + Math.floor((slice * DAY_MS) / slices);
        // A fresh millisecond, so no mark of the previous slice shares this slice's start.
        const sliceStart = Date.now() + 1;
        while (Date.now() < sliceStart) await new Promise((resolve) => setTimeout(resolve, 1));
        sliceReal.push(sliceStart);
        sliceSim.push(simNow);
        const batch: Publication[] = [];
        for (let index = slice; index < skus; index += slices) {
          batch.push(...skuDay(index, day, simNow, skuName(index), openOrders, sequence));
        }
        let next = 0;
        await Promise.all(
          Array.from({ length: Math.min(inFlight, batch.length) }, async () => {
            while (next < batch.length) {
              const publication = batch[next++]!;
              for (let delivery = 0; delivery < (publication.redeliver ? 2 : 1); delivery++) {
                const result = await sink.publish(publication.event, { deliveryId: publication.deliveryId });
                events++;
                if (result.duplicate) duplicates++;
                else appended++;
              }
            }
          }),
        );
        await waitUntil(() => handled + deadLettered >= appended, `the consumer to apply day ${day} slice ${slice}`);
      }
      simNow = dayStartMs + DAY_MS;
      await waitForAcks(redis, streams, config.streams.group);
      await trimStreams(redis, streams);
      const trim = await trimJournals({ redis, keys, retentionMs, clock, audit });
      const auditBytes = readdirSync(auditDir).reduce((sum, name) => sum + statSync(join(auditDir!, name)).size, 0);
      const expiry = await expireDeliveryMarks(redis, keys.eventStreamPrefix(), simNow, sliceReal, sliceSim);
      gc();
      const heapMb = process.memoryUsage().heapUsed / 1_048_576;
      const used = await usedMemory(redis);
      const measured = await measureStructures(redis, ledger, keys, streams, sampleIndexes.map(skuName), skus);
      const stats = await memoryStats(redis);
      const keyTables = stats.mainTable + stats.expiresTable - baselineStats.mainTable - baselineStats.expiresTable;
      const clients = stats.clients - baselineStats.clients;
      const growth = used - baseline;
      const attributed = measured.perSkuBytes + expiry.bytes + measured.sharedBytes.streams + measured.sharedBytes.deadLetters + measured.sharedBytes.dirty + keyTables + clients;
      const row: SoakDay = {
        day,
        bytes_per_sku: round(growth / skus, 1),
        daemon_heap_mb: round(heapMb, 2),
        used_memory_bytes: used,
        events,
        duplicates,
        seconds: round((Date.now() - dayStarted) / 1000, 1),
        by_structure: {
          journal: round(measured.bySkuKind.journal / skus, 1),
          reservations: round(measured.bySkuKind.reservations / skus, 1),
          event_marks: round(measured.bySkuKind.eventMarks / skus, 1),
          inventory: round(measured.bySkuKind.inventory / skus, 1),
          channel_levels: round(measured.bySkuKind.channelLevels / skus, 1),
          push_state: round(measured.bySkuKind.pushState / skus, 1),
          delivery_marks: round(expiry.bytes / skus, 1),
          event_streams: round(measured.sharedBytes.streams / skus, 1),
          dead_letters: round(measured.sharedBytes.deadLetters / skus, 1),
          dirty_index: round(measured.sharedBytes.dirty / skus, 1),
          key_tables: round(keyTables / skus, 1),
          clients: round(clients / skus, 1),
          unattributed: round((growth - attributed) / skus, 1),
        },
        counts: {
          journal_entries_per_sku: round(measured.counts.journal / sampleCount, 2),
          reservation_records_per_sku: round(measured.counts.reservations / sampleCount, 2),
          event_marks_per_sku: round(measured.counts.eventMarks / sampleCount, 2),
          delivery_marks: expiry.alive,
          delivery_marks_expired_today: expiry.expired,
          event_stream_entries: measured.counts.streamEntries,
          dead_letters: measured.counts.deadLetters,
          dirty_skus: measured.counts.dirty,
          journal_entries_exported: trim.exported,
          audit_file_bytes_per_sku: round(auditBytes / skus, 1),
        },
      };
      rows.push(row);
      log(
        `day ${String(day).padStart(2)}: ${row.bytes_per_sku} B/SKU, heap ${row.daemon_heap_mb} MB, ${events} deliveries in ${row.seconds} s; ` +
          `journal ${row.by_structure.journal}, reservations ${row.by_structure.reservations}, marks ${row.by_structure.event_marks}, delivery marks ${row.by_structure.delivery_marks} (${expiry.alive} alive, ${expiry.expired} expired), streams ${row.by_structure.event_streams} B/SKU`,
      );
    }
    if (failures.length > 0) log(`dead letters: ${deadLettered} (first reasons: ${failures.join('; ')})`);

    const verdictDay = Math.min(7, days);
    const last = rows[rows.length - 1]!;
    const first = rows[verdictDay - 1]!;
    const longestHorizonDays = Math.max(horizonMs / DAY_MS, windows.shopify / 86_400, windows.sqs / 86_400, windows.wms / 86_400);
    // Marks of day d are swept between d + horizon and d + 17/16 horizon (sweepExpiredMarks.lua).
    const settledDay = Math.ceil(longestHorizonDays * (17 / 16)) + 1;
    const settled = rows.find((row) => row.day === settledDay);
    // Day 1 has no orders to close yet: the steady volume is the mean of the other days.
    const steady = rows.length > 1 ? rows.slice(1) : rows;
    const meanEvents = steady.reduce((sum, row) => sum + row.events, 0) / steady.length;
    const keysOfBreakdown = Object.keys(last.by_structure) as (keyof SoakBreakdown)[];
    return {
      scenario: 'soak',
      env,
      redis_private: options.redisPrivate ?? false,
      days,
      skus,
      events_per_day: Math.round(meanEvents),
      events_per_sku_per_day: round(meanEvents / skus, 2),
      settings: {
        slices_per_day: slices,
        dedupe_horizon_days: round(horizonMs / DAY_MS, 3),
        journal_retention_days: round(retentionMs / DAY_MS, 3),
        delivery_windows_days: { shopify: round(windows.shopify / 86_400, 3), sqs: round(windows.sqs / 86_400, 3), wms: round(windows.wms / 86_400, 3) },
        partitions,
        sample_skus: sampleCount,
      },
      memory_measure: 'INFO memory used_memory at the end of each simulated day, minus used_memory of the empty server before the run, divided by the SKUs',
      heap_measure: 'process.memoryUsage().heapUsed after a forced full GC (--expose-gc set at run time through v8.setFlagsFromString) of the process running the sink, the consumer, the ledger and the bench',
      seconds: round((Date.now() - started) / 1000, 1),
      bytes_per_sku_by_day: rows,
      verdicts: {
        bytes_per_sku: verdict(first.day, last.day, first.bytes_per_sku, last.bytes_per_sku),
        daemon_heap_mb: verdict(first.day, last.day, first.daemon_heap_mb, last.daemon_heap_mb),
      },
      after_horizon:
        settled && settled.day < last.day
          ? {
              bytes_per_sku: verdict(settled.day, last.day, settled.bytes_per_sku, last.bytes_per_sku),
              // The journal keeps STOCKGUARD_JOURNAL_RETENTION_DAYS of entries: on a run shorter than that it is still filling.
              bytes_per_sku_without_journal: verdict(settled.day, last.day, round(settled.bytes_per_sku - settled.by_structure.journal, 1), round(last.bytes_per_sku - last.by_structure.journal, 1)),
              daemon_heap_mb: verdict(settled.day, last.day, settled.daemon_heap_mb, last.daemon_heap_mb),
            }
          : undefined,
      growth_by_structure: structureGrowth(keysOfBreakdown, first, last),
      growth_after_horizon: settled && settled.day < last.day ? structureGrowth(keysOfBreakdown, settled, last) : undefined,
      still_growing_after_horizon:
        settled && settled.day < last.day
          ? structureGrowth(keysOfBreakdown, settled, last)
              .filter((row) => row.structure !== 'unattributed' && row.delta > 10 && row.delta > 0.05 * Math.abs(row.from))
              .map((row) => row.structure)
          : undefined,
    };
  } finally {
    await consumer?.stop({ deadlineMs: 5000 });
    await deleteKeys(redis, prefix).catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
    if (auditDir) rmSync(auditDir, { recursive: true, force: true });
  }
}

/** One SKU's events of one day that fall in its slice (see the header). */
function skuDay(index: number, day: number, nowMs: number, sku: string, openOrders: (OpenOrder | undefined)[], sequence: Uint32Array): Publication[] {
  const out: Publication[] = [];
  const base = { receivedAtMs: nowMs, occurredAtMs: nowMs };
  const turn = index + day;
  const add = (event: StockguardEvent, deliveryId: string) => out.push({ event, deliveryId, redeliver: fnv(deliveryId) % 20 === 0 });
  const nextSeq = () => ++sequence[index]!;

  const previous = openOrders[index];
  if (previous) {
    const orderId = `${previous.channel === 'shopify' ? 'S' : 'A'}${previous.day}-${index}`;
    if (turn % 10 === 0) {
      const eventId = uuid(`cancel:${orderId}`);
      const source = previous.channel === 'shopify' ? 'shopify-webhook' : 'amazon-sqs';
      add({ ...base, eventId, source, type: 'order.cancelled', channel: previous.channel, orderId, lines: [{ lineId: '1', sku }] }, eventId);
    } else {
      const eventId = `ship-${orderId}`;
      add({ ...base, eventId, source: 'wms-webhook', type: 'wms.shipment', sku, channel: previous.channel, orderId, lineId: '1', quantity: 1, seq: nextSeq() }, `wms:${eventId}`);
    }
  }
  const channel = turn % 5 < 3 ? 'shopify' : 'amazon';
  const orderId = `${channel === 'shopify' ? 'S' : 'A'}${day}-${index}`;
  const orderEventId = uuid(`order:${orderId}`);
  add(
    { ...base, eventId: orderEventId, source: channel === 'shopify' ? 'shopify-webhook' : 'amazon-sqs', type: 'order.placed', channel, orderId, lines: [{ lineId: '1', sku, quantity: 1 }] },
    orderEventId,
  );
  openOrders[index] = { day, channel };
  if (turn % 4 === 0) {
    const eventId = `rcv-${day}-${index}`;
    add({ ...base, eventId, source: 'wms-webhook', type: 'wms.adjustment', sku, cause: 'receipt', delta: 4, seq: nextSeq() }, `wms:${eventId}`);
  }
  if (turn % 10 === 5) {
    const eventId = `cnt-${day}-${index}`;
    add({ ...base, eventId, source: 'wms-webhook', type: 'wms.count', sku, counted: 1000, seq: nextSeq() }, `wms:${eventId}`);
  }
  if (turn % 2 === 0) {
    const eventId = uuid(`level:${day}:${index}`);
    add(
      { ...base, eventId, source: 'shopify-webhook', type: 'channel.level', channel: 'shopify', sku, channelItemId: `gid://shopify/InventoryItem/${index + 1}`, quantity: 1000 - (day % 7), observedAtMs: nowMs },
      eventId,
    );
  }
  return out;
}

/**
 * `count` distinct SKU indexes, spread over every residue of the day pattern: a stride that
 * shares no factor with the SKU count (every 20th SKU would give every sampled SKU its
 * receipt, cancellation and level on the same days).
 */
function sampleOf(skus: number, count: number): number[] {
  if (count >= skus) return Array.from({ length: skus }, (_, index) => index);
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let stride = 7919;
  while (gcd(stride, skus) !== 1) stride += 2;
  return Array.from({ length: count }, (_, position) => (position * stride) % skus);
}

/** Deletes the delivery marks whose simulated age exceeds their lifetime; counts and sizes the rest. */
async function expireDeliveryMarks(
  redis: Redis,
  streamPrefix: string,
  simNow: number,
  sliceReal: readonly number[],
  sliceSim: readonly number[],
): Promise<{ alive: number; expired: number; bytes: number }> {
  let cursor = '0';
  let alive = 0;
  let expired = 0;
  let sampledBytes = 0;
  let sampled = 0;
  const realNow = Date.now();
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${streamPrefix}*:seen:*`, 'COUNT', 2000);
    cursor = next;
    if (found.length === 0) continue;
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.get(key).pttl(key);
    const replies = (await pipeline.exec()) ?? [];
    const doomed: string[] = [];
    const survivors: string[] = [];
    found.forEach((key, position) => {
      const value = replies[position * 2]?.[1];
      const pttl = Number(replies[position * 2 + 1]?.[1]);
      if (typeof value !== 'string' || pttl === -2) return;
      if (pttl < 0) return void survivors.push(key);
      const writtenReal = Number(value.split('-')[0]);
      const writtenSim = simTimeOf(writtenReal, sliceReal, sliceSim);
      const lifetimeMs = pttl + (realNow - writtenReal);
      if (writtenSim + lifetimeMs <= simNow) doomed.push(key);
      else survivors.push(key);
    });
    if (doomed.length > 0) await redis.unlink(...doomed);
    expired += doomed.length;
    alive += survivors.length;
    const sample = survivors.filter((key) => fnv(key) % 20 === 0);
    if (sample.length > 0) {
      const sizing = redis.pipeline();
      for (const key of sample) sizing.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      for (const [, size] of (await sizing.exec()) ?? []) {
        sampledBytes += Number(size ?? 0);
        sampled++;
      }
    }
  } while (cursor !== '0');
  return { alive, expired, bytes: sampled === 0 ? 0 : (sampledBytes / sampled) * alive };
}

/** The simulated time of the slice running at real time `realMs`. */
function simTimeOf(realMs: number, sliceReal: readonly number[], sliceSim: readonly number[]): number {
  let low = 0;
  let high = sliceReal.length - 1;
  if (high < 0 || realMs < sliceReal[0]!) return sliceSim[0] ?? 0;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (sliceReal[middle]! <= realMs) low = middle;
    else high = middle - 1;
  }
  return sliceSim[low]!;
}

async function measureStructures(redis: Redis, ledger: Ledger, keys: Ledger['keys'], streams: readonly string[], sample: readonly string[], skus: number) {
  const scale = skus / sample.length;
  const bySkuKind = { journal: 0, reservations: 0, eventMarks: 0, inventory: 0, channelLevels: 0, pushState: 0 };
  const counts = { journal: 0, reservations: 0, eventMarks: 0, streamEntries: 0, deadLetters: 0, dirty: 0 };
  for (let from = 0; from < sample.length; from += 100) {
    const pipeline = redis.pipeline();
    const chunk = sample.slice(from, from + 100);
    for (const sku of chunk) {
      const skuKeys = ledger.keys.sku(sku);
      for (const key of [skuKeys.reservations, skuKeys.eventMarks, skuKeys.inventoryBucket, skuKeys.channelLevels /* layout 3's, 0 once migrated */, keys.pushState(sku)]) {
        pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
      }
      pipeline.hlen(skuKeys.reservations).hlen(skuKeys.eventMarks).hlen(skuKeys.inventoryBucket);
    }
    const replies = ((await pipeline.exec()) ?? []).map(([, value]) => Number(value ?? 0));
    chunk.forEach((_, position) => {
      const at = position * 8;
      bySkuKind.reservations += replies[at]! * scale;
      bySkuKind.eventMarks += replies[at + 1]! * scale;
      // The inventory is a field of a bucket: the bucket's bytes over its SKUs.
      bySkuKind.inventory += (replies[at + 2]! / Math.max(1, replies[at + 7]!)) * scale;
      bySkuKind.channelLevels += replies[at + 3]! * scale;
      bySkuKind.pushState += replies[at + 4]! * scale;
      counts.reservations += replies[at + 5]!;
      counts.eventMarks += replies[at + 6]!;
    });
  }
  // The channel state is a field of the SKU's `chan` layout bucket (docs/pushers.md): each
  // sampled SKU with a field counts its bucket's bytes over its bucket's fields.
  const chanBuckets = [...new Set(sample.map((sku) => keys.skuBucket('chan', sku)))];
  const bucketSizes = redis.pipeline();
  for (const bucket of chanBuckets) bucketSizes.call('MEMORY', 'USAGE', bucket, 'SAMPLES', '0').hlen(bucket);
  for (const sku of sample) bucketSizes.hexists(keys.skuBucket('chan', sku), sku);
  const sizeReplies = ((await bucketSizes.exec()) ?? []).map(([, value]) => Number(value ?? 0));
  const perField = new Map(chanBuckets.map((bucket, at) => [bucket, sizeReplies[at * 2 + 1]! > 0 ? sizeReplies[at * 2]! / sizeReplies[at * 2 + 1]! : 0]));
  sample.forEach((sku, at) => {
    if (sizeReplies[chanBuckets.length * 2 + at]) bySkuKind.channelLevels += perField.get(keys.skuBucket('chan', sku))! * scale;
  });
  // The journal is one stream per layout partition: all of them, and the sample's share of their entries.
  const journals = redis.pipeline();
  for (const journal of keys.partitionJournals()) journals.call('MEMORY', 'USAGE', journal, 'SAMPLES', '0').xlen(journal);
  const journalReplies = ((await journals.exec()) ?? []).map(([, value]) => Number(value ?? 0));
  for (let at = 0; at < journalReplies.length; at += 2) {
    bySkuKind.journal += journalReplies[at]!;
    counts.journal += (journalReplies[at + 1]! * sample.length) / skus;
  }
  const shared = redis.pipeline();
  for (const stream of streams) shared.call('MEMORY', 'USAGE', stream, 'SAMPLES', '0').xlen(stream);
  shared.call('MEMORY', 'USAGE', keys.deadLetters(), 'SAMPLES', '0').xlen(keys.deadLetters());
  shared.call('MEMORY', 'USAGE', keys.dirtySkus(), 'SAMPLES', '0').zcard(keys.dirtySkus());
  const replies = ((await shared.exec()) ?? []).map(([, value]) => Number(value ?? 0));
  let streamBytes = 0;
  streams.forEach((_, position) => {
    streamBytes += replies[position * 2]!;
    counts.streamEntries += replies[position * 2 + 1]!;
  });
  const at = streams.length * 2;
  counts.deadLetters = replies[at + 1]!;
  counts.dirty = replies[at + 3]!;
  const perSkuBytes = Object.values(bySkuKind).reduce((sum, value) => sum + value, 0);
  return { bySkuKind, counts, perSkuBytes, sharedBytes: { streams: streamBytes, deadLetters: replies[at]!, dirty: replies[at + 2]! } };
}

/** Waits until every group has acknowledged every entry it read (the consumer batches its XACKs). */
async function waitForAcks(redis: Redis, streams: readonly string[], group: string): Promise<void> {
  await waitUntil(async () => {
    const pipeline = redis.pipeline();
    for (const stream of streams) pipeline.xpending(stream, group);
    const replies = (await pipeline.exec()) ?? [];
    return replies.every(([, reply]) => Number((reply as unknown[] | undefined)?.[0] ?? 0) === 0);
  }, 'the consumer to acknowledge');
}

async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`soak: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** A dictEntry on 64 bits (key, value, next pointers): MEMORY USAGE and overhead.hashtable.main both count one per key. */
const DICT_ENTRY_BYTES = 24;

/** From MEMORY STATS: the key tables of db 0 (main: buckets only) and the normal clients' buffers (bytes). */
async function memoryStats(redis: Redis): Promise<{ mainTable: number; expiresTable: number; clients: number }> {
  const reply = (await redis.call('MEMORY', 'STATS')) as unknown[];
  const field = (list: unknown[], name: string): unknown => list[list.indexOf(name) + 1];
  const db = field(reply, 'db.0');
  const dbFields = Array.isArray(db) ? db : [];
  return {
    mainTable: Number(field(dbFields, 'overhead.hashtable.main') ?? 0) - Number(field(reply, 'keys.count') ?? 0) * DICT_ENTRY_BYTES,
    expiresTable: Number(field(dbFields, 'overhead.hashtable.expires') ?? 0),
    clients: Number(field(reply, 'clients.normal') ?? 0),
  };
}

/** global.gc, exposed at run time when node was started without --expose-gc. */
function forcedGc(): () => void {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (existing) return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

function structureGrowth(structures: readonly (keyof SoakBreakdown)[], from: SoakDay, to: SoakDay): StructureGrowth[] {
  return structures.map((structure) => ({
    structure,
    from_day: from.day,
    to_day: to.day,
    from: from.by_structure[structure],
    to: to.by_structure[structure],
    delta: round(to.by_structure[structure] - from.by_structure[structure], 1),
  }));
}

function verdict(fromDay: number, toDay: number, from: number, to: number): SoakVerdict {
  // A run that ends on or before the first day has nothing to compare (NaN: null in the JSON, not met).
  const ratio = from > 0 && fromDay < toDay ? to / from : Number.NaN;
  return { from_day: fromDay, to_day: toDay, from, to, ratio: round(ratio, 3), limit: GROWTH_LIMIT, met: ratio <= GROWTH_LIMIT };
}

/** A UUID-shaped id (36 characters, as Shopify webhook and SQS message ids are), stable for a seed. */
function uuid(seed: string): string {
  const hex = createHash('md5').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function fnv(text: string): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < text.length; position++) {
    hash ^= text.charCodeAt(position);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function soakTextReport(result: SoakResult): string {
  const header = ['day', 'B/SKU', 'heap MB', 'journal', 'reservations', 'event marks', 'delivery marks', 'streams', 'key tables', 'other', 'deliveries', 's'];
  const rows = result.bytes_per_sku_by_day.map((row) => [
    String(row.day),
    String(row.bytes_per_sku),
    String(row.daemon_heap_mb),
    String(row.by_structure.journal),
    String(row.by_structure.reservations),
    String(row.by_structure.event_marks),
    String(row.by_structure.delivery_marks),
    String(row.by_structure.event_streams),
    String(row.by_structure.key_tables),
    String(round(row.by_structure.inventory + row.by_structure.channel_levels + row.by_structure.push_state + row.by_structure.dead_letters + row.by_structure.dirty_index + row.by_structure.clients + row.by_structure.unattributed, 1)),
    String(row.events),
    String(row.seconds),
  ]);
  return [`soak: ${result.skus} SKUs × ${result.days} simulated days, ${result.events_per_day} deliveries a day; ${describeEnv(result.env)}`, textTable(header, rows), ...verdictLines(result)].join('\n');
}

function verdictLines(result: SoakResult): string[] {
  const line = (name: string, verdict: SoakVerdict) =>
    verdict.from_day >= verdict.to_day ? `${name}: the run is too short to compare day ${verdict.to_day} with an earlier day` : `${name}: day ${verdict.to_day} ${verdict.to} vs day ${verdict.from_day} ${verdict.from} = ×${verdict.ratio} (limit ×${verdict.limit}): ${verdict.met ? 'met' : 'NOT met'}`;
  const lines = [line('bytes per SKU', result.verdicts.bytes_per_sku), line('daemon heap MB', result.verdicts.daemon_heap_mb)];
  if (result.after_horizon) {
    lines.push(
      `after the horizons: ${line('bytes per SKU', result.after_horizon.bytes_per_sku)}`,
      `after the horizons: ${line('bytes per SKU without the journal', result.after_horizon.bytes_per_sku_without_journal)}`,
      `after the horizons: ${line('daemon heap MB', result.after_horizon.daemon_heap_mb)}`,
    );
  }
  return lines;
}

export function soakMarkdown(result: SoakResult): string {
  const s = result.settings;
  const table = markdownTable(
    ['day', 'bytes/SKU', 'heap MB', 'journal', 'reservations', 'event marks', 'delivery marks', 'event streams', 'key tables', 'inventory', 'channel levels + push state', 'clients', 'unattributed'],
    result.bytes_per_sku_by_day.map((row) => [
      String(row.day),
      row.bytes_per_sku.toLocaleString('en-US'),
      String(row.daemon_heap_mb),
      String(row.by_structure.journal),
      String(row.by_structure.reservations),
      String(row.by_structure.event_marks),
      String(row.by_structure.delivery_marks),
      String(row.by_structure.event_streams),
      String(row.by_structure.key_tables),
      String(row.by_structure.inventory),
      String(round(row.by_structure.channel_levels + row.by_structure.push_state, 1)),
      String(row.by_structure.clients),
      String(row.by_structure.unattributed),
    ]),
  );
  const counts = markdownTable(
    ['day', 'journal entries/SKU', 'reservation records/SKU', 'event marks/SKU', 'delivery marks', 'stream entries', 'dead letters'],
    result.bytes_per_sku_by_day
      .filter((row) => row.day === 1 || row.day % 5 === 0 || row.day === 7 || row.day === result.days)
      .map((row) => [
        String(row.day),
        String(row.counts.journal_entries_per_sku),
        String(row.counts.reservation_records_per_sku),
        String(row.counts.event_marks_per_sku),
        row.counts.delivery_marks.toLocaleString('en-US'),
        row.counts.event_stream_entries.toLocaleString('en-US'),
        String(row.counts.dead_letters),
      ]),
  );
  const after = result.growth_after_horizon;
  const growth = markdownTable(
    [
      'structure',
      `day ${result.verdicts.bytes_per_sku.from_day} B/SKU`,
      ...(after ? [`day ${after[0]!.from_day} B/SKU`] : []),
      `day ${result.verdicts.bytes_per_sku.to_day} B/SKU`,
      `growth since day ${result.verdicts.bytes_per_sku.from_day}`,
      ...(after ? [`growth since day ${after[0]!.from_day}`] : []),
    ],
    result.growth_by_structure.map((row, index) => [
      row.structure,
      String(row.from),
      ...(after ? [String(after[index]!.from)] : []),
      String(row.to),
      String(row.delta),
      ...(after ? [String(after[index]!.delta)] : []),
    ]),
  );
  const still = result.still_growing_after_horizon;
  const longest = Math.max(s.dedupe_horizon_days, s.delivery_windows_days.shopify, s.delivery_windows_days.sqs, s.delivery_windows_days.wms);
  const caveats: string[] = [];
  if (longest > result.verdicts.bytes_per_sku.from_day) {
    caveats.push(
      `The longest horizon (${longest} days) is longer than day ${result.verdicts.bytes_per_sku.from_day}: on that day the dedupe structures hold ${result.verdicts.bytes_per_sku.from_day} days of marks and are still filling, ` +
        `so day ${result.verdicts.bytes_per_sku.to_day} against day ${result.verdicts.bytes_per_sku.from_day} measures the fill, not a leak. The "after the horizons" lines compare two days after every horizon (and one sweep interval) has passed.`,
    );
  }
  const settledRow = result.after_horizon ? result.bytes_per_sku_by_day.find((row) => row.day === result.after_horizon!.bytes_per_sku.from_day) : undefined;
  const lastRow = result.bytes_per_sku_by_day[result.bytes_per_sku_by_day.length - 1];
  if (settledRow && lastRow && s.journal_retention_days < result.days) {
    const journalBytes = result.bytes_per_sku_by_day.filter((row) => row.day >= settledRow.day).map((row) => row.by_structure.journal);
    caveats.push(
      `The journal keeps ${s.journal_retention_days} days in Redis (older entries go to the audit files: ${lastRow.counts.audit_file_bytes_per_sku} B per SKU of disk by day ${lastRow.day}). ` +
        `Its entries per SKU hold steady (${settledRow.counts.journal_entries_per_sku} on day ${settledRow.day}, ${lastRow.counts.journal_entries_per_sku} on day ${lastRow.day}), but its bytes swing between ${Math.min(...journalBytes)} and ${Math.max(...journalBytes)} per SKU from day ${settledRow.day}: ` +
        'the journal is one stream per layout partition (about 10 SKUs each here), trimmed by whole 4 KB nodes (MINID ~), so each stream holds the retention plus up to one node of older entries.',
    );
  }
  if (s.journal_retention_days >= result.days) {
    caveats.push(`The journal keeps ${s.journal_retention_days} days of entries, longer than the ${result.days}-day run: it is still filling on the last day. The stream grows by whole 4 KB nodes (stream-node-max-bytes), and the trim (MINID ~) drops only whole nodes.`);
  }
  return [
    `## soak: ${result.days} simulated days of steady events (issue 13 §2, bounded growth)`,
    '',
    `\`npm run bench -- soak\` (bench/soak.ts). ${describeEnv(result.env)}; Redis with its default configuration. ${result.skus.toLocaleString('en-US')} SKUs, ${result.days} simulated days, ` +
      `${result.events_per_day.toLocaleString('en-US')} deliveries a day (${result.events_per_sku_per_day} per SKU: one order, yesterday's order shipped or cancelled, ` +
      'a receipt every 4th day, a cycle count every 10th, a Shopify level every 2nd, 1 delivery in 20 redelivered), ' +
      `through the sink, the consumer with applyEvent, the ledger and the trimmer, on an injected clock (${s.slices_per_day} slices a day). ` +
      `Horizons: ledger ${s.dedupe_horizon_days} days, delivery marks Shopify ${s.delivery_windows_days.shopify} / SQS ${s.delivery_windows_days.sqs} / WMS ${s.delivery_windows_days.wms} days, journal retention ${s.journal_retention_days} days. ` +
      `The run took ${Math.round(result.seconds)} s.`,
    '',
    `Bytes per SKU: ${result.memory_measure}. Heap: ${result.heap_measure}. The columns after heap split the bytes per SKU by structure (MEMORY USAGE; per-SKU keys from ${s.sample_skus} sampled SKUs, delivery marks from 1 in 20). ` +
      "Redis's key expiry is played in simulated time by the bench: a delivery mark is deleted once its simulated age exceeds the TTL the sink gave it.",
    '',
    table,
    '',
    ...verdictLines(result).map((line) => `- ${line}`),
    '',
    ...caveats.flatMap((caveat) => [caveat, '']),
    'Where the growth is, by structure (bytes per SKU):',
    '',
    growth,
    '',
    still === undefined
      ? 'The run is too short to pass the horizons.'
      : still.length === 0
        ? 'After the horizons no structure grew by more than 5 %.'
        : `Still growing after the horizons (more than 5 %): ${still.join(', ')}.`,
    '',
    'Counts (sampled SKUs for the per-SKU figures):',
    '',
    counts,
  ].join('\n');
}
