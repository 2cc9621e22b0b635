// Step 3 → 4 of `stockguard migrate layout` (src/redis/migrateLayout.ts): the per-SKU hashes
// of the kinds the bucketed layout packs go into the SKU's layout buckets
// (`<prefix>:<kind>-bucket:{p<N>}:<bucket>`, field = SKU, src/redis/keys.ts), then the global
// steps (keys shared by every SKU, e.g. the catalogue's) run, then the marker says 4.
//
// - Which SKUs: a SCAN on every master for layout-3 per-SKU key names of a packed kind.
// - Which kinds: BUCKET_PACKERS. Each packer reads one or more of a SKU's old hashes and
//   returns the one packed value its bucket keeps for the SKU (its codec lives beside the
//   code that reads it: the migration never knows a packed format).
// - Atomic per batch of one partition: an old hash and the bucket that replaces it share
//   the partition's tag `{p<N>}`, so one MULTI per batch HSETs every SKU's packed values
//   and DELs its old hashes. A SKU is wholly moved or untouched; a re-run finds only what
//   is left. No daemon may run meanwhile (the start-up check refuses layout 3).
// - A conflict: a SKU whose bucket field already exists with another value than its old
//   hash packs to (a layout-4 daemon wrote it while the old keys were still there). That
//   SKU is left as it is, both kept, reported, and no marker is written.
import { catalogEntryPacker, catalogGlobalsStep } from '../../catalog/migrateBuckets.ts';
import { layoutPartition } from '../../domain/layout.ts';
import { StockguardError } from '../../errors.ts';
import type { RedisClient } from '../client.ts';
import type { BucketKind, KeySpace, PerSkuKeyKind } from '../keys.ts';
import { pushStateExpiryStep } from '../../pushers/pushStateExpiryStep.ts';
import { globEscape, scanKeys } from '../scan.ts';
import { inventoryPacker } from './inventoryPacker.ts';
import { CHANNEL_STATE_PACKER } from '../../pushers/channelStatePacker.ts';

/** Packs a SKU's layout-3 hashes of some kinds into its field of one bucket kind. */
export interface BucketPacker {
  /** For progress and conflicts, e.g. "inventory". */
  readonly name: string;
  /** The per-SKU hash kinds it reads (and the migration deletes). */
  readonly from: readonly PerSkuKeyKind[];
  /** Per-SKU hash kinds it also reads, which stay (another kind's, or not migrated). */
  readonly alsoReads?: readonly PerSkuKeyKind[];
  /** The fields of its `alsoReads` hashes the packed value now carries: deleted in the same MULTI. */
  consumed?(hashes: Partial<Record<PerSkuKeyKind, Record<string, string>>>): Partial<Record<PerSkuKeyKind, string[]>>;
  /** The bucket kind its value goes to, in the SKU's bucket. */
  readonly to: Exclude<BucketKind, 'item'>;
  /**
   * The packed value of the SKU, from whichever of its `from` (and `alsoReads`) hashes exist
   * (HGETALL, each non-empty); called only when a `from` hash exists; undefined when there is nothing to keep (the old hashes are still deleted).
   * Throws a StockguardError for a hash it cannot read: the run stops and names the SKU.
   */
  pack(sku: string, hashes: Partial<Record<PerSkuKeyKind, Record<string, string>>>): string | undefined;
}

/** A step over keys shared by every SKU (run after every SKU is packed). Idempotent, resumable. */
export interface GlobalStep {
  readonly name: string;
  /** Moves what is left; returns how many entries it moved (or would, on a dry run). */
  run(context: { redis: RedisClient; keys: KeySpace; dryRun: boolean }): Promise<number>;
}

/** Every packer of the bucketed layout (layout 4). Each kind's module registers its own here. */
export const BUCKET_PACKERS: readonly BucketPacker[] = [inventoryPacker, CHANNEL_STATE_PACKER, catalogEntryPacker];

/** Every global step of the bucketed layout, in order. */
export const GLOBAL_STEPS: readonly GlobalStep[] = [catalogGlobalsStep];

export interface PackConflict {
  sku: string;
  packer: string;
  bucket: string;
  reason: string;
}

export interface ToBucketsOptions {
  redis: RedisClient;
  keys: KeySpace;
  dryRun?: boolean;
  /** SKUs per MULTI (one partition's; default 200). */
  batchSize?: number;
  /** Partitions worked on at once (default 8). */
  concurrency?: number;
  /** Stop after packing this many SKUs in this run, as a crash would (tests of resumption). */
  stopAfterSkus?: number;
  /** After each partition and each scan. */
  onProgress?: (progress: { phase: 'scanning' | 'packing'; skusDone: number; skusTotal: number | undefined }) => void;
  /**
   * The pushers' idle horizon (pushStateHorizonMs of the daemons' config): when set, the
   * pushers' per-SKU state keys without an expiry get it after every SKU is packed.
   */
  pushStateHorizonMs?: number;
  /** The packers (default BUCKET_PACKERS) and global steps (default GLOBAL_STEPS, and the push-state expiry): tests give their own. */
  packers?: readonly BucketPacker[];
  globalSteps?: readonly GlobalStep[];
}

export interface ToBucketsReport {
  outcome: 'done' | 'interrupted' | 'conflicts' | 'incomplete';
  /** SKUs looked at: packed (or would be, on a dry run), or found in conflict. */
  skusPacked: number;
  /** Old per-SKU hashes deleted (or that would be). */
  keysPacked: number;
  conflicts: PackConflict[];
  /** Entries each global step moved, by name. */
  globals: Record<string, number>;
  passes: number;
  /** Old keys left when the run ended incomplete, up to ten. */
  leftOver: string[];
}

/** Re-scans for old keys written meanwhile, before giving up. */
const MAX_PASSES = 3;

/** Runs the step; the caller writes the marker when the outcome is done (and it is not a dry run). */
export async function toBuckets(options: ToBucketsOptions): Promise<ToBucketsReport> {
  const { redis, keys } = options;
  const packers = options.packers ?? BUCKET_PACKERS;
  const globalSteps = options.globalSteps ?? [...GLOBAL_STEPS, ...(options.pushStateHorizonMs === undefined ? [] : [pushStateExpiryStep(options.pushStateHorizonMs)])];
  const batchSize = options.batchSize ?? 200;
  const concurrency = options.concurrency ?? 8;
  for (const [name, value] of [['batchSize', batchSize], ['concurrency', concurrency]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `${name} must be a whole number ≥ 1, got ${String(value)}`);
  }
  const report: ToBucketsReport = { outcome: 'done', skusPacked: 0, keysPacked: 0, conflicts: [], globals: {}, passes: 0, leftOver: [] };
  const kinds = new Set(packers.flatMap((packer) => packer.from));
  const conflicting = new Set<string>();
  for (let passes = 1; ; passes += 1) {
    const scan = await oldKeys(redis, keys, kinds, (found) => options.onProgress?.({ phase: 'scanning', skusDone: found, skusTotal: undefined }));
    const pending = [...scan.partitions].map(([partition, skus]) => [partition, [...skus].filter((sku) => !conflicting.has(sku)).sort()] as const).filter(([, skus]) => skus.length > 0);
    if (pending.length === 0 || (options.dryRun && passes > 1)) {
      report.passes = passes - 1;
      break;
    }
    if (passes > MAX_PASSES) return { ...report, outcome: 'incomplete', passes: passes - 1, leftOver: scan.sample };
    const total = pending.reduce((sum, [, skus]) => sum + skus.length, 0);
    let done = 0;
    let stopped = false;
    const queue = pending.sort(([a], [b]) => a - b);
    const worker = async (): Promise<void> => {
      for (let next = queue.shift(); next !== undefined && !stopped; next = queue.shift()) {
        const [partition, skus] = next;
        for (let from = 0; from < skus.length && !stopped; from += batchSize) {
          let batch = skus.slice(from, from + batchSize);
          const stopAt = options.stopAfterSkus;
          if (stopAt !== undefined) {
            batch = batch.slice(0, Math.max(0, stopAt - report.skusPacked));
            if (batch.length === 0) {
              stopped = true;
              break;
            }
          }
          report.skusPacked += batch.length; // claimed before the await, so stopAfterSkus holds across workers
          await packBatch(redis, keys, partition, batch, packers, report, conflicting, options.dryRun ?? false);
          done += batch.length;
          options.onProgress?.({ phase: 'packing', skusDone: done, skusTotal: total });
          if (stopAt !== undefined && report.skusPacked >= stopAt) stopped = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
    if (stopped) return { ...report, outcome: 'interrupted', passes };
  }
  if (conflicting.size > 0) return { ...report, outcome: 'conflicts' };
  for (const step of globalSteps) report.globals[step.name] = await step.run({ redis, keys, dryRun: options.dryRun ?? false });
  return report;
}

/** Every layout-3 per-SKU hash of the packed kinds, by partition and SKU, on every master; and a few of the keys. */
async function oldKeys(redis: RedisClient, keys: KeySpace, kinds: ReadonlySet<PerSkuKeyKind>, onFound: (skus: number) => void): Promise<{ partitions: Map<number, Set<string>>; sample: string[] }> {
  const partitions = new Map<number, Set<string>>();
  const sample: string[] = [];
  let found = 0;
  for await (const batch of scanKeys(redis, `${globEscape(keys.prefix)}:*:{p*}:*`, 1000)) {
    for (const key of batch) {
      const parsed = keys.parsePerSkuKey(key);
      if (!parsed || !kinds.has(parsed.kind)) continue;
      const partition = layoutPartition(parsed.sku);
      let skus = partitions.get(partition);
      if (!skus) partitions.set(partition, (skus = new Set()));
      if (!skus.has(parsed.sku)) found += 1;
      skus.add(parsed.sku);
      if (sample.length < 10) sample.push(key);
    }
    onFound(found);
  }
  return { partitions, sample };
}

/**
 * One batch of SKUs of one partition: read their old hashes and their bucket fields (one
 * pipeline, one slot), pack, then one MULTI: HSET every packed value, DEL every old hash.
 */
async function packBatch(redis: RedisClient, keys: KeySpace, partition: number, skus: readonly string[], packers: readonly BucketPacker[], report: ToBucketsReport, conflicting: Set<string>, dryRun: boolean): Promise<void> {
  const reads = redis.pipeline();
  const plan = skus.map((sku) => {
    const perSku = keys.perSkuKeys(sku);
    return packers.map((packer) => {
      const olds = packer.from.map((kind) => [kind, perSku[kind]] as const);
      const kept = (packer.alsoReads ?? []).map((kind) => [kind, perSku[kind]] as const);
      for (const [, key] of [...olds, ...kept]) reads.hgetall(key);
      const bucket = keys.skuBucket(packer.to, sku);
      reads.hget(bucket, sku);
      return { packer, olds, kept, bucket };
    });
  });
  const replies = (await reads.exec()) ?? [];
  let cursor = 0;
  const next = (): unknown => {
    const [error, value] = replies[cursor++] ?? [new Error('no reply')];
    if (error) throw new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `reading partition ${partition} failed: ${error.message}`, { cause: error, details: { partition } });
    return value;
  };
  const writes: { sku: string; bucket: string; value: string | undefined; deletes: string[]; fieldDeletes: [key: string, fields: string[]][] }[] = [];
  for (const [index, entries] of plan.entries()) {
    const sku = skus[index]!;
    const skuWrites: typeof writes = [];
    let conflict: PackConflict | undefined;
    for (const { packer, olds, kept, bucket } of entries) {
      const hashes: Partial<Record<PerSkuKeyKind, Record<string, string>>> = {};
      const deletes: string[] = [];
      for (const [kind, key] of olds) {
        const fields = next() as Record<string, string>;
        if (Object.keys(fields).length === 0) continue;
        hashes[kind] = fields;
        deletes.push(key);
      }
      for (const [kind] of kept) {
        const fields = next() as Record<string, string>;
        if (Object.keys(fields).length > 0) hashes[kind] = fields;
      }
      const existing = next() as string | null;
      if (deletes.length === 0) continue;
      const value = packer.pack(sku, hashes);
      if (existing !== null && existing !== value) {
        conflict = { sku, packer: packer.name, bucket, reason: `${bucket} already holds ${JSON.stringify(existing)} for the SKU, its old hashes pack to ${JSON.stringify(value ?? null)}` };
      }
      const consumed = packer.consumed?.(hashes) ?? {};
      const fieldDeletes = kept.map(([kind, key]): [string, string[]] => [key, consumed[kind] ?? []]).filter(([, fields]) => fields.length > 0);
      skuWrites.push({ sku, bucket, value, deletes, fieldDeletes });
    }
    if (conflict) {
      conflicting.add(sku);
      report.conflicts.push(conflict);
      continue;
    }
    writes.push(...skuWrites);
  }
  report.keysPacked += writes.reduce((sum, write) => sum + write.deletes.length, 0);
  if (dryRun || writes.length === 0) return;
  const multi = redis.multi();
  for (const { sku, bucket, value, deletes, fieldDeletes } of writes) {
    if (value !== undefined) multi.hset(bucket, sku, value);
    multi.del(...deletes);
    for (const [key, fields] of fieldDeletes) multi.hdel(key, ...fields);
  }
  const results = await multi.exec();
  const failed = (results ?? []).find(([error]) => error);
  if (results === null || failed) {
    throw new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `packing partition ${partition} failed: ${failed?.[0]?.message ?? 'the MULTI was discarded'}`, { details: { partition } });
  }
}
