// `stockguard migrate layout`: brings a ledger to layout 4 (LAYOUT_VERSION) from layout 1, 2
// or 3, then writes the layout marker. Run with every daemon stopped (docs/operations.md,
// "Migrating the key layout"). Three steps, each idempotent and resumable, run in one go:
//
// 1 → 2: every per-SKU key moves from `<prefix>:<kind>:{SKU}` to
//   `<prefix>:<kind>:{p<N>}:<SKU>` (src/redis/keys.ts); the journal to the SKU's own
//   layout-2 name, `<prefix>:journal:{p<N>}:<SKU>`. The marker becomes 2.
// 2 → 3: the layout-2 journals of each partition are merged into the partition's journal
//   `<prefix>:journal:{p<N>}` (src/lua/mergeJournals.lua: entries in id order, each gaining
//   `sku`, ms kept, seq re-assigned; the old journals deleted in the same call). The marker
//   becomes 3.
// 3 → 4: every SKU's per-SKU hashes of the packed kinds go into its layout buckets
//   (src/redis/migrate/toBuckets.ts), then the global steps run. The marker becomes 4.
//
// Step 1 → 2:
// - Which SKUs: the catalogue index (SSCAN) and every layout-1 per-SKU key a SCAN finds on
//   every master (a ledger may hold SKUs that have keys and no catalogue entry).
// - How a key moves: DUMP + PTTL of the old name, RESTORE under the new name (without
//   REPLACE: a new name that exists is never overwritten), then DEL of the old name. The
//   two names are in different Cluster slots, so RENAME cannot do it; one path serves one
//   server and Cluster alike.
// - Idempotent and resumable: a key already moved (new name only) is skipped; a key under
//   both names (a run stopped between RESTORE and DEL) keeps the new one and deletes the
//   old one when the new is a faithful copy: byte-identical DUMP, or, for a hash, set or
//   sorted set, the same content (RESTORE does not reproduce a hashtable-encoded hash or
//   set byte for byte: its DUMP lists the fields in another order). Anything else is a
//   conflict: that SKU is left as it is, both names kept, and no marker is written.
// - Fast enough for 10^6 SKUs: SKUs go in batches (200 by default), each batch in three
//   round trips (read; restore and finish; delete), never one round trip per key.
// - The marker `<prefix>:layout` = 2 is written only when no layout-1 key is left.
//
// Step 2 → 3:
// - Which journals: a SCAN on every master for layout-2 journal names.
// - One mergeJournals call per partition, over every layout-2 journal of it the scan found
//   (a partition's SKUs must go together: ids in a stream only increase, so a second call
//   with older entries would have to move them to a later ms). A call is atomic: a SKU's
//   journal is wholly moved and deleted, or untouched; a re-run finds only what is left.
// - The pushers' cursors (the last journal id read per SKU) move with their entries.
// - The marker `<prefix>:layout` = 3 is written only when a re-scan finds no layout-2 journal.
import { LAYOUT_PARTITION_JOURNALS, LAYOUT_PARTITION_TAGS, LAYOUT_VERSION, layoutPartition } from '../domain/layout.ts';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from './client.ts';
import type { KeySpace, Layout1KeyKind } from './keys.ts';
import { type PackConflict, toBuckets } from './migrate/toBuckets.ts';
import { globEscape, scanKeys } from './scan.ts';
import { luaScripts } from './scripts.ts';
import { type KeyCommand, sendEach } from './topology.ts';

export interface MigrateLayoutOptions {
  redis: RedisClient;
  keys: KeySpace;
  /** Read and classify only: nothing is written, the marker included. */
  dryRun?: boolean;
  /** SKUs per batch (default 200); partitions merged at once in step 2 → 3 (default 8). */
  batchSize?: number;
  /**
   * Stop after this many SKUs of this run (step 1 → 2), as a crash or an operator's Ctrl-C
   * would (tests of resumption). The marker is not written.
   */
  stopAfterSkus?: number;
  /** Stop after merging this many partitions' journals in this run (step 2 → 3); the marker stays 2. */
  stopAfterPartitions?: number;
  /** Stop after packing this many SKUs into buckets in this run (step 3 → 4); the marker stays 3. */
  stopAfterPackedSkus?: number;
  /** Step 3 → 4: the pushers' idle horizon, given to every pushstate key without an expiry (pushStateHorizonMs). */
  pushStateHorizonMs?: number;
  /** After each batch and each scan pass. */
  onProgress?: (progress: MigrateProgress) => void;
  /** Each key a dry run would move (or finish moving). */
  onPlannedMove?: (move: KeyMove) => void;
  now?: () => number;
}

export interface KeyMove {
  sku: string;
  kind: Layout1KeyKind;
  from: string;
  to: string;
}

export interface MigrateConflict extends KeyMove {
  reason: string;
}

export interface MigrateProgress {
  phase: 'scanning' | 'moving' | 'merging' | 'packing';
  /** SKUs looked at so far (moving), or found so far (scanning). */
  skusDone: number;
  /** SKUs to look at in this pass; undefined while scanning. */
  skusTotal: number | undefined;
  keysMoved: number;
  /** Keys already under their new name only (moved by an earlier run). */
  keysSkipped: number;
  /** Keys found under both names, the new one a faithful copy: the old one deleted (an earlier run stopped between the two). */
  keysFinished: number;
  conflicts: number;
  /** Step 2 → 3: partitions merged so far, of partitionsTotal. */
  partitionsMerged: number;
  partitionsTotal: number | undefined;
  /** Step 3 → 4: SKUs packed into buckets so far, of packTotal (this scan's). */
  skusPacked: number;
  packTotal: number | undefined;
  elapsedMs: number;
}

export interface MigrateSummary {
  /**
   * done: no layout-1 key, no layout-2 journal and no unpacked per-SKU hash is left and the marker is 4; dry-run:
   * nothing written; interrupted: stopAfterSkus or stopAfterPartitions reached; conflicts:
   * every SKU but the conflicting ones was moved (the marker is not written, step 2 → 3 not
   * run); incomplete: layout-1 keys or layout-2 journals kept appearing (a daemon still running?).
   */
  outcome: 'done' | 'dry-run' | 'interrupted' | 'conflicts' | 'incomplete';
  /** SKUs looked at (all passes). */
  skus: number;
  keysMoved: number;
  keysSkipped: number;
  keysFinished: number;
  conflicts: MigrateConflict[];
  /** Step 2 → 3: partitions whose layout-2 journals were merged (or would be, on a dry run). */
  partitionsMerged: number;
  /** Step 2 → 3: SKUs whose layout-2 journal held entries, moved into their partition's journal. */
  journalsMerged: number;
  /** Step 2 → 3: journal entries moved. */
  entriesMerged: number;
  /** Step 3 → 4: SKUs whose per-SKU hashes were packed into buckets, and those hashes. */
  skusPacked: number;
  keysPacked: number;
  /** Step 3 → 4: SKUs left unpacked because their bucket field was already written otherwise. */
  packConflicts: PackConflict[];
  /** Step 3 → 4: entries each global step moved, by step. */
  globalsMoved: Record<string, number>;
  /** Layout-1 keys or layout-2 journals left when the run ended (outcome incomplete), up to a few. */
  leftOver: string[];
  /** The marker value this run wrote last (2, 3 or 4), or undefined. */
  markerWritten: number | undefined;
  /** Scan passes: the first over the catalogue and the keyspace, then one per re-scan that found layout-1 keys. */
  passes: number;
  durationMs: number;
}

const KINDS: readonly Layout1KeyKind[] = ['inventory', 'reservations', 'eventMarks', 'journal', 'channelLevels', 'fbaStock', 'pushedLevels', 'pushState', 'catalogEntry'];

/** Re-scans after the first pass, for layout-1 keys written meanwhile, before giving up. */
const MAX_PASSES = 3;

type Plan =
  | { action: 'none' }
  | { action: 'skip' }
  | { action: 'move'; dump: Buffer; ttlMs: number }
  | { action: 'finish' }
  | { action: 'compare'; reason: string };

/** The running counts of a run: the summary's, plus the partitions step 2 → 3 has to merge. */
type Totals = Pick<MigrateSummary, 'skus' | 'keysMoved' | 'keysSkipped' | 'keysFinished' | 'conflicts' | 'partitionsMerged' | 'journalsMerged' | 'entriesMerged' | 'skusPacked' | 'keysPacked' | 'packConflicts' | 'globalsMoved'> & {
  partitionsTotal: number | undefined;
};

export async function migrateLayout(options: MigrateLayoutOptions): Promise<MigrateSummary> {
  const { redis, keys } = options;
  const now = options.now ?? Date.now;
  const started = now();
  const batchSize = options.batchSize ?? 200;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `batchSize must be a whole number ≥ 1, got ${String(batchSize)}`);
  const marker = await redis.get(keys.layoutMarker());
  if (marker !== null && ![LAYOUT_PARTITION_TAGS, LAYOUT_PARTITION_JOURNALS, LAYOUT_VERSION].map(String).includes(marker)) {
    throw new StockguardError('STOCKGUARD_E_LAYOUT_UNKNOWN', `${keys.layoutMarker()} is ${JSON.stringify(marker)}; this stockguard migrates layouts 1, ${LAYOUT_PARTITION_TAGS} and ${LAYOUT_PARTITION_JOURNALS} to layout ${LAYOUT_VERSION}`, { details: { marker } });
  }
  const totals: Totals = { skus: 0, keysMoved: 0, keysSkipped: 0, keysFinished: 0, conflicts: [], partitionsMerged: 0, partitionsTotal: undefined, journalsMerged: 0, entriesMerged: 0, skusPacked: 0, keysPacked: 0, packConflicts: [], globalsMoved: {} };
  let packTotal: number | undefined;
  const progress = (phase: MigrateProgress['phase'], skusDone: number, skusTotal: number | undefined) =>
    options.onProgress?.({
      phase,
      skusDone,
      skusTotal,
      keysMoved: totals.keysMoved,
      keysSkipped: totals.keysSkipped,
      keysFinished: totals.keysFinished,
      conflicts: totals.conflicts.length,
      partitionsMerged: totals.partitionsMerged,
      partitionsTotal: totals.partitionsTotal,
      skusPacked: totals.skusPacked,
      packTotal,
      elapsedMs: now() - started,
    });
  const summary = (outcome: MigrateSummary['outcome'], passes: number, leftOver: string[] = [], markerWritten?: number): MigrateSummary => ({
    outcome,
    skus: totals.skus,
    keysMoved: totals.keysMoved,
    keysSkipped: totals.keysSkipped,
    keysFinished: totals.keysFinished,
    conflicts: totals.conflicts,
    partitionsMerged: totals.partitionsMerged,
    journalsMerged: totals.journalsMerged,
    entriesMerged: totals.entriesMerged,
    skusPacked: totals.skusPacked,
    keysPacked: totals.keysPacked,
    packConflicts: totals.packConflicts,
    globalsMoved: totals.globalsMoved,
    leftOver,
    markerWritten,
    passes,
    durationMs: now() - started,
  });

  // Step 1 → 2, also when the marker says 2 or 3: a run after the marker only needs the SCAN.
  const tags = await toPartitionTags(options, marker, totals, progress, batchSize);
  if (tags.outcome !== 'done') return summary(tags.outcome, tags.passes, tags.leftOver);
  const merged = await toPartitionJournals(options, totals, progress);
  const passes = tags.passes + merged.passes;
  if (merged.outcome !== 'done') return summary(merged.outcome, passes, merged.leftOver, tags.markerWritten);
  const packed = await toBuckets({
    redis,
    keys,
    dryRun: options.dryRun,
    batchSize,
    stopAfterSkus: options.stopAfterPackedSkus,
    pushStateHorizonMs: options.pushStateHorizonMs,
    onProgress: (step) => {
      if (step.phase === 'packing') {
        packTotal = step.skusTotal;
        totals.skusPacked = step.skusDone;
        progress('packing', step.skusDone, step.skusTotal);
      } else progress('scanning', step.skusDone, undefined);
    },
  });
  totals.skusPacked = packed.skusPacked;
  totals.keysPacked = packed.keysPacked;
  totals.packConflicts = packed.conflicts;
  totals.globalsMoved = packed.globals;
  const allPasses = passes + packed.passes;
  const markerWritten = merged.markerWritten ?? tags.markerWritten;
  if (packed.outcome !== 'done') return summary(packed.outcome, allPasses, packed.leftOver, markerWritten);
  if (options.dryRun) return summary('dry-run', allPasses, [], markerWritten);
  await redis.set(keys.layoutMarker(), String(LAYOUT_VERSION));
  return summary('done', allPasses, [], LAYOUT_VERSION);
}

type StepOutcome = { outcome: MigrateSummary['outcome']; passes: number; leftOver: string[]; markerWritten?: number };
type Progress = (phase: MigrateProgress['phase'], skusDone: number, skusTotal: number | undefined) => void;

/** Step 1 → 2: every layout-1 key moved; the marker 2 written when none is left (unless it says 2 or 3 already). */
async function toPartitionTags(options: MigrateLayoutOptions, marker: string | null, totals: Totals, progress: Progress, batchSize: number): Promise<StepOutcome> {
  const { redis, keys } = options;
  const conflicting = new Set<string>();
  // Pass 1: the catalogue and every layout-1 key; later passes: the layout-1 keys a
  // re-scan still finds (written while the run went on: a daemon was not stopped). Once
  // the marker is written every SKU was looked at: a run after that only needs the SCAN.
  let skus = marker === null ? await catalogueSkus(redis, keys) : new Set<string>();
  let keepPartitionJournals = false;
  for (let passes = 1; ; passes += 1) {
    const scan = await layout1Keys(redis, keys, (found) => progress('scanning', found, undefined));
    // A partition journal (`journal:{p9}`) has the name a layout-1 SKU `p9` gave its journal:
    // once the ledger has a marker or a partition journal, that name is never moved.
    if (marker !== null || scan.partitionJournals) keepPartitionJournals = true;
    const pending = [...scan.skus].filter((sku) => !conflicting.has(sku));
    // A dry run moved nothing: what a re-scan finds again is what it would move.
    if (passes > 1 && (pending.length === 0 || options.dryRun)) {
      if (conflicting.size > 0) return { outcome: 'conflicts', passes: passes - 1, leftOver: [] };
      if (options.dryRun || marker !== null) return { outcome: 'done', passes: passes - 1, leftOver: [] };
      await redis.set(keys.layoutMarker(), String(LAYOUT_PARTITION_TAGS));
      return { outcome: 'done', passes: passes - 1, leftOver: [], markerWritten: LAYOUT_PARTITION_TAGS };
    }
    if (passes > MAX_PASSES) return { outcome: 'incomplete', passes: passes - 1, leftOver: scan.sample };
    for (const sku of pending) skus.add(sku);
    const ordered = [...skus].sort();
    skus = new Set();
    for (let from = 0; from < ordered.length; from += batchSize) {
      let batch = ordered.slice(from, from + batchSize);
      const stopAt = options.stopAfterSkus;
      if (stopAt !== undefined && totals.skus + batch.length > stopAt) batch = batch.slice(0, Math.max(0, stopAt - totals.skus));
      if (batch.length > 0) await migrateBatch(redis, keys, batch, totals, conflicting, options, keepPartitionJournals);
      totals.skus += batch.length;
      progress('moving', from + batch.length, ordered.length);
      if (stopAt !== undefined && totals.skus >= stopAt) return { outcome: 'interrupted', passes, leftOver: [] };
    }
  }
}

/** Step 2 → 3: every layout-2 journal merged into its partition's journal; the marker 3 written when none is left (unless it says 3 or 4 already). */
async function toPartitionJournals(options: MigrateLayoutOptions, totals: Totals, progress: Progress): Promise<StepOutcome> {
  const { redis, keys } = options;
  const concurrency = Math.max(1, Math.min(options.batchSize ?? 8, 8));
  const merge = luaScripts().mergeJournals;
  for (let passes = 1; ; passes += 1) {
    const scan = await layout2Journals(redis, keys);
    if (scan.partitions.size === 0 || (options.dryRun && passes > 1)) {
      if (options.dryRun) return { outcome: 'done', passes: passes - 1, leftOver: [] };
      // A ledger already past layout 3 (a re-run, or a run resumed in step 3 → 4) keeps its marker.
      if (Number(await redis.get(keys.layoutMarker())) >= LAYOUT_PARTITION_JOURNALS) return { outcome: 'done', passes: passes - 1, leftOver: [] };
      await redis.set(keys.layoutMarker(), String(LAYOUT_PARTITION_JOURNALS));
      return { outcome: 'done', passes: passes - 1, leftOver: [], markerWritten: LAYOUT_PARTITION_JOURNALS };
    }
    if (passes > MAX_PASSES) return { outcome: 'incomplete', passes: passes - 1, leftOver: scan.sample };
    const partitions = [...scan.partitions].sort(([a], [b]) => a - b);
    totals.partitionsTotal = (totals.partitionsTotal ?? 0) + partitions.length;
    for (let from = 0; from < partitions.length; from += concurrency) {
      let batch = partitions.slice(from, from + concurrency);
      const stopAt = options.stopAfterPartitions;
      if (stopAt !== undefined) batch = batch.slice(0, Math.max(0, stopAt - totals.partitionsMerged));
      if (options.dryRun) {
        totals.partitionsMerged += batch.length;
        totals.journalsMerged += batch.reduce((sum, [, skus]) => sum + skus.length, 0);
      } else if (batch.length > 0) {
        const replies = await merge.runMany(redis, batch.map(([partition, skus]) => ({
          keys: [keys.partitionJournal(partition), ...skus.flatMap((sku) => [keys.layout2Journal(sku), keys.pushState(sku)])],
          args: skus,
        })));
        for (const reply of replies) {
          const [journals, entries] = reply as [number, number];
          totals.journalsMerged += Number(journals);
          totals.entriesMerged += Number(entries);
        }
        totals.partitionsMerged += batch.length;
      }
      progress('merging', totals.journalsMerged, undefined);
      if (stopAt !== undefined && totals.partitionsMerged >= stopAt) return { outcome: 'interrupted', passes, leftOver: [] };
    }
  }
}

/** Every layout-2 journal under the prefix, on every master, by layout partition; and a few of the keys. */
async function layout2Journals(redis: RedisClient, keys: KeySpace): Promise<{ partitions: Map<number, string[]>; sample: string[] }> {
  const partitions = new Map<number, string[]>();
  const sample: string[] = [];
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:journal:{p*}:*`, 1000)) {
    for (const key of found) {
      const sku = keys.parseLayout2Journal(key);
      if (sku === undefined) continue;
      const partition = layoutPartition(sku);
      const skus = partitions.get(partition);
      if (skus) skus.push(sku);
      else partitions.set(partition, [sku]);
      if (sample.length < 10) sample.push(key);
    }
  }
  for (const skus of partitions.values()) skus.sort();
  return { partitions, sample };
}

/** Every SKU of the catalogue index (SSCAN: it can hold a million). */
async function catalogueSkus(redis: RedisClient, keys: KeySpace): Promise<Set<string>> {
  const skus = new Set<string>();
  let cursor = '0';
  do {
    const [next, members] = await redis.sscan(keys.catalogIndex(), cursor, 'COUNT', 1000);
    cursor = next;
    for (const sku of members) if (isSku(keys, sku)) skus.add(sku);
  } while (cursor !== '0');
  return skus;
}

/** The SKUs of every layout-1 per-SKU key under the prefix, on every master, and a few of the keys. */
async function layout1Keys(redis: RedisClient, keys: KeySpace, onFound: (skus: number) => void): Promise<{ skus: Set<string>; sample: string[]; partitionJournals: boolean }> {
  const skus = new Set<string>();
  const sample: string[] = [];
  let partitionJournals = false;
  // Every layout-1 per-SKU key ends with '}' (a SKU holds no brace; layout-2 keys end with the SKU).
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*}`, 1000)) {
    for (const key of found) {
      if (keys.parsePartitionJournal(key) !== undefined) partitionJournals = true;
      const parsed = keys.parseLayout1PerSkuKey(key);
      if (!parsed) continue;
      skus.add(parsed.sku);
      if (sample.length < 10) sample.push(key);
    }
    onFound(skus.size);
  }
  return { skus, sample, partitionJournals };
}

function isSku(keys: KeySpace, sku: string): boolean {
  try {
    keys.layout1PerSkuKeys(sku);
    return true;
  } catch {
    return false;
  }
}

/** One batch of SKUs: read every pair of names, decide, then restore, finish and delete. */
async function migrateBatch(redis: RedisClient, keys: KeySpace, skus: readonly string[], totals: Totals, conflicting: Set<string>, options: MigrateLayoutOptions, keepPartitionJournals: boolean): Promise<void> {
  const moves: KeyMove[] = skus.flatMap((sku) => {
    const old = keys.layout1PerSkuKeys(sku);
    // Layout 2's names: today's, and the SKU's own journal (step 2 → 3 merges it).
    const current: Record<Layout1KeyKind, string> = { ...keys.perSkuKeys(sku), journal: keys.layout2Journal(sku) };
    return KINDS.map((kind) => ({ sku, kind, from: old[kind], to: current[kind] })).filter((move) => !(keepPartitionJournals && keys.parsePartitionJournal(move.from) !== undefined));
  });
  const reads = await sendEach(redis, moves.flatMap((move): KeyCommand[] => [['DUMP', move.from], ['PTTL', move.from], ['DUMP', move.to]]));
  const plans = moves.map((move, index) => plan(move, reads.slice(index * 3, index * 3 + 3)));

  // Both names hold different bytes: compare the content before calling it a conflict.
  const compared = await compareContent(redis, moves.filter((_move, index) => plans[index]!.action === 'compare'));
  const refused = new Map<string, MigrateConflict[]>();
  moves.forEach((move, index) => {
    const decision = plans[index]!;
    if (decision.action !== 'compare') return;
    const verdict = compared.get(move.from);
    if (verdict === undefined) plans[index] = { action: 'finish' };
    else refused.set(move.sku, [...(refused.get(move.sku) ?? []), { ...move, reason: `${decision.reason}: ${verdict}` }]);
  });
  for (const [sku, conflicts] of refused) {
    conflicting.add(sku);
    totals.conflicts.push(...conflicts);
  }

  // A SKU with a conflict is left whole as it is: none of its keys moves in this run.
  const work = moves.map((move, index) => ({ move, decision: plans[index]! })).filter(({ move }) => !refused.has(move.sku));
  for (const { decision } of work) if (decision.action === 'skip') totals.keysSkipped += 1;
  const toMove = work.filter((item): item is { move: KeyMove; decision: Extract<Plan, { action: 'move' }> } => item.decision.action === 'move');
  const toFinish = work.filter(({ decision }) => decision.action === 'finish').map(({ move }) => move);
  if (options.dryRun) {
    for (const { move } of toMove) options.onPlannedMove?.(move);
    for (const move of toFinish) options.onPlannedMove?.(move);
    totals.keysMoved += toMove.length;
    totals.keysFinished += toFinish.length;
    return;
  }

  // RESTORE without REPLACE: BUSYKEY when the new name appeared since the read. That key is
  // left under both names and the next pass (or run) compares it.
  const restores = await sendEach(redis, [
    ...toMove.map(({ move, decision }): KeyCommand => ['RESTORE', move.to, decision.ttlMs, decision.dump]),
    ...toFinish.map((move): KeyCommand => ['DEL', move.from]),
  ]);
  const restored: KeyMove[] = [];
  restores.forEach(([error], index) => {
    if (index >= toMove.length) {
      if (error) throw migrateError(toFinish[index - toMove.length]!, 'DEL', error);
      totals.keysFinished += 1;
      return;
    }
    const { move } = toMove[index]!;
    if (!error) restored.push(move);
    else if (!error.message.startsWith('BUSYKEY')) throw migrateError(move, 'RESTORE', error);
  });
  const deletes = await sendEach(redis, restored.map((move): KeyCommand => ['DEL', move.from]));
  deletes.forEach(([error], index) => {
    if (error) throw migrateError(restored[index]!, 'DEL', error);
    totals.keysMoved += 1;
  });
}

/** What to do with one pair of names, from DUMP old, PTTL old, DUMP new. */
function plan(move: KeyMove, replies: readonly [Error | null, unknown][]): Plan {
  const [[dumpError, oldDump], [ttlError, ttl], [newError, newDump]] = replies as [[Error | null, unknown], [Error | null, unknown], [Error | null, unknown]];
  const error = dumpError ?? ttlError ?? newError;
  if (error) throw migrateError(move, 'DUMP', error);
  const hasOld = Buffer.isBuffer(oldDump);
  const hasNew = Buffer.isBuffer(newDump);
  // PTTL -2: the old key expired between the DUMP and the PTTL.
  if (!hasOld || ttl === -2) return hasNew ? { action: 'skip' } : { action: 'none' };
  // PTTL -1: no expiry (RESTORE's 0); a key expiring this very millisecond keeps 1 ms, not forever.
  if (!hasNew) return { action: 'move', dump: oldDump as Buffer, ttlMs: typeof ttl === 'number' && ttl >= 0 ? Math.max(1, ttl) : 0 };
  if ((oldDump as Buffer).equals(newDump as Buffer)) return { action: 'finish' };
  return { action: 'compare', reason: `${move.from} and ${move.to} both exist and their DUMPs differ` };
}

/**
 * For pairs whose DUMPs differ: undefined (same content: the new one is a faithful copy)
 * or why they differ, keyed by the old name. Only a hash, set or sorted set can be the
 * same content in other bytes; each name is read with src/lua/dumpKeys.lua (one key per
 * call: the names are in different slots).
 */
async function compareContent(redis: RedisClient, moves: readonly KeyMove[]): Promise<Map<string, string | undefined>> {
  const verdicts = new Map<string, string | undefined>();
  if (moves.length === 0) return verdicts;
  const replies = await luaScripts().dumpKeys.runMany(redis, moves.flatMap((move) => [{ keys: [move.from], args: [] }, { keys: [move.to], args: [] }]));
  moves.forEach((move, index) => {
    const [oldType, oldContent] = normalise(replies[index * 2]);
    const [newType, newContent] = normalise(replies[index * 2 + 1]);
    if (oldType !== newType) verdicts.set(move.from, `the old one is a ${oldType}, the new one a ${newType}`);
    else if (!['hash', 'set', 'zset'].includes(oldType)) verdicts.set(move.from, `a ${oldType} is copied byte for byte by RESTORE`);
    else if (oldContent !== newContent) verdicts.set(move.from, `their ${oldType} content differs`);
    else verdicts.set(move.from, undefined);
  });
  return verdicts;
}

/** dumpKeys' { type, content } of one key, content as comparable text (hash fields and set members sorted). */
function normalise(reply: unknown): [string, string] {
  const [entry] = reply as [[string, unknown[]]];
  const [type, content] = entry;
  const flat = content.map(String);
  if (type === 'hash') {
    const pairs: string[] = [];
    for (let index = 0; index + 1 < flat.length; index += 2) pairs.push(JSON.stringify([flat[index], flat[index + 1]]));
    return [type, pairs.sort().join('\n')];
  }
  if (type === 'set') return [type, flat.map((member) => JSON.stringify(member)).sort().join('\n')];
  return [type, JSON.stringify(content)];
}

function migrateError(move: KeyMove, command: string, cause: Error): StockguardError {
  return new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `${command} of ${move.kind} of SKU ${JSON.stringify(move.sku)} (${move.from} → ${move.to}) failed: ${cause.message}`, {
    cause,
    details: { ...move },
  });
}
