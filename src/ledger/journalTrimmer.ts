// Trims every layout partition's journal by age, also when its SKUs no longer change.
// commitChange.lua trims a partition's journal only when one of its SKUs changes, so a
// quiet partition kept its entries, and the stream nodes Redis pre-allocates at
// stream-node-max-bytes (4 KB), for ever. XTRIM MINID ~ drops whole stream nodes whose
// every entry is older than the retention: the newest entries are never touched, and an
// entry is never dropped before the retention ends. A journal the trim leaves empty is
// kept (src/lua/trimJournal.lua): it keeps its last id, so no id is ever used twice.
// One command per partition journal (LAYOUT_PARTITIONS of them, whatever the catalogue's
// size), so the same code runs on one server and on Cluster (every command names one key).
//
// The audit trail outlives the retention: with an audit sink (the daemon's default, a
// directory of gzipped NDJSON files, docs/ledger.md "Journal retention and audit files"), a pass first
// writes every entry older than the retention out, each line naming its SKU, and only then
// trims exactly those (XTRIM MINID without ~). commitChange's own trim lags the trimmer by
// JOURNAL_TRIM_GRACE_MS, so an entry is never trimmed before a pass has written it.
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { StockguardError } from '../errors.ts';
import { PeriodicPass } from '../periodic.ts';
import type { KeySpace } from '../redis/keys.ts';
import { luaScripts } from '../redis/scripts.ts';
import { replyFields } from '../redis/streams.ts';
import type { Clock } from './ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import type { HeldLock, RunLock } from '../reconcile/lock.ts';

export interface JournalTrimResult {
  /** Partition journals looked at (all LAYOUT_PARTITIONS of them in a whole pass). */
  partitions: number;
  /** Journal entries removed. */
  trimmed: number;
  /** Entries written to the audit sink before they were trimmed (0 without one). */
  exported: number;
}

/**
 * How far commitChange's own trim (in every ledger script) lags the trimmer: one day, so a
 * trimmer that missed a few hourly passes still writes an entry out before anything can
 * trim it. Costs an active SKU one more day of journal in Redis until the next pass.
 */
export const JOURNAL_TRIM_GRACE_MS = 86_400_000;

/** One journal entry as the audit trail keeps it: one NDJSON line. */
export interface AuditedEntry {
  sku: string;
  /** The stream id (`<ms>-<n>`): with `sku`, unique; a line written twice is a repeat. */
  id: string;
  fields: Record<string, string>;
}

/** Where entries go before they are trimmed. write() resolves once they are durable. */
export interface JournalAuditSink {
  write(entries: readonly AuditedEntry[]): Promise<void>;
}

export interface JournalTrimOptions {
  redis: RedisClient;
  keys: KeySpace;
  /** STOCKGUARD_JOURNAL_RETENTION_DAYS in ms: entries older than now − this may go. */
  retentionMs: number;
  clock?: Clock;
  /** Partition journals trimmed concurrently (default 64). */
  batchSize?: number;
  /** Entries past the retention are written here first, then trimmed exactly. */
  audit?: JournalAuditSink;
  /** Checked between batches: false stops the pass (a run lock lost to another replica). */
  stillHeld?: () => boolean;
}

/** Entries read per XRANGE when writing a partition's old entries out. */
const AUDIT_PAGE = 5_000;

/** One pass over every partition journal. */
export async function trimJournals(options: JournalTrimOptions): Promise<JournalTrimResult> {
  const { redis, keys, retentionMs } = options;
  if (!Number.isSafeInteger(retentionMs) || retentionMs < 1) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `retentionMs must be a whole number ≥ 1, got ${String(retentionMs)}`);
  }
  const batchSize = options.batchSize ?? 64;
  const minId = `${Math.max(0, (options.clock ?? Date.now)() - retentionMs)}`;
  const result: JournalTrimResult = { partitions: 0, trimmed: 0, exported: 0 };
  const trimScript = luaScripts().trimJournal;
  const journals = keys.partitionJournals();
  for (let from = 0; from < journals.length; from += batchSize) {
    if (options.stillHeld && !options.stillHeld()) break;
    const batch = journals.slice(from, from + batchSize);
    let trimmed: unknown[];
    if (options.audit) {
      // Exclusive end: exactly the ids below minId, which the exact XTRIM MINID then removes.
      const old = await Promise.all(batch.map((journal) => entriesBelow(redis, journal, minId)));
      const entries = old.flat();
      if (entries.length > 0) await options.audit.write(entries);
      result.exported += entries.length;
      trimmed = await trimScript.runMany(redis, batch.map((journal) => ({ keys: [journal], args: [minId, '1'] })));
    } else {
      trimmed = await trimScript.runMany(redis, batch.map((journal) => ({ keys: [journal], args: [minId, '0'] })));
    }
    result.partitions += batch.length;
    for (const entries of trimmed) result.trimmed += Number(entries);
  }
  return result;
}

/** Every entry of one partition journal with an id below minId, as audit lines (each names its SKU). */
async function entriesBelow(redis: RedisClient, journal: string, minId: string): Promise<AuditedEntry[]> {
  const entries: AuditedEntry[] = [];
  let start = '-';
  for (;;) {
    const page = await redis.xrange(journal, start, `(${minId}`, 'COUNT', AUDIT_PAGE);
    for (const [id, raw] of page) {
      const fields = Object.fromEntries(replyFields(raw)) as Record<string, string>;
      const { sku = '', ...rest } = fields;
      entries.push({ sku, id, fields: rest });
    }
    if (page.length < AUDIT_PAGE) return entries;
    start = `(${page[page.length - 1]![0]}`;
  }
}

/**
 * The daemon's audit sink: one gzip member appended per write to
 * `<dir>/stockguard-<prefix>-journal-<YYYY-MM-DD>.ndjson.gz` (the UTC day of the pass;
 * concatenated members are one valid gzip file: `zcat` reads it whole), flushed to disk
 * (fsync) before write() resolves. One line per entry: AuditedEntry as JSON.
 */
export class JournalAuditFiles implements JournalAuditSink {
  constructor(
    private readonly dir: string,
    private readonly keyPrefix: string,
    private readonly clock: Clock = Date.now,
  ) {}

  fileFor(atMs: number): string {
    return join(this.dir, `stockguard-${this.keyPrefix}-journal-${new Date(atMs).toISOString().slice(0, 10)}.ndjson.gz`);
  }

  async write(entries: readonly AuditedEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    const member = gzipSync(entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''));
    const file = await open(this.fileFor(this.clock()), 'a');
    try {
      await file.write(member);
      await file.sync();
    } finally {
      await file.close();
    }
  }
}

export interface JournalTrimmerOptions extends Omit<JournalTrimOptions, 'stillHeld'> {
  logger: Logger;
  /** Time between passes (default one hour). Every replica may run one: trims are idempotent. */
  intervalMs?: number;
  /**
   * Taken for each pass when set (the daemon sets it with an audit sink): one replica writes
   * the audit trail at a time, so an entry is written once, not once per replica.
   */
  lock?: RunLock;
}

/** Runs trimJournals on a schedule until stop(); a failed pass is logged and the next one retries. */
export class JournalTrimmer extends PeriodicPass<JournalTrimResult | undefined> {
  constructor(private readonly options: JournalTrimmerOptions) {
    super(options, 3_600_000, 'journal-trimmer');
  }

  async trimOnce(): Promise<JournalTrimResult | undefined> {
    let held: HeldLock | undefined;
    try {
      if (this.options.lock) {
        const taken = await this.options.lock.acquire('journal-trim');
        if (!taken.acquired) {
          this.logger.debug({ owner: taken.owner }, 'another replica is trimming the journals');
          return undefined;
        }
        held = taken.lock;
      }
      const result = await trimJournals({ ...this.options, stillHeld: () => held === undefined || held.held });
      if (result.trimmed > 0 || result.exported > 0) this.logger.info(result, 'trimmed journals');
      return result;
    } catch (error) {
      this.logger.error({ err: { message: error instanceof Error ? error.message : String(error) } }, 'journal trim failed');
      return undefined;
    } finally {
      await held?.release().catch(() => undefined);
    }
  }
}
