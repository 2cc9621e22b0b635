// Ledger snapshots: `stockguard snapshot` writes every SKU's keys (inventory, reservation
// records, event marks, channel observations, the pushers' last pushed values and state,
// catalogue entry), every layout partition's journal and the global catalogue / dirty /
// hold / latency keys to a gzip-compressed JSON-lines file;
// `stockguard restore` loads one into an empty Redis. Format and guarantees: docs/reconcile.md,
// "Snapshots".
//
//   line 1      {"format":"stockguard-snapshot","version":2,"prefix":…,"createdAt":…,"createdAtMs":…,"counts":{"skus":…,"globals":…}}
//   per SKU     {"sku":…,"keys":{"inventory":{"type":"hash","value":[field,value,…]},…},"packed":{"chan":…}}
//               (`packed`: the SKU's field of each layout bucket kind in PACKED_KINDS, as stored:
//               `inv` the ledger inventory, src/domain/inventoryCodec.ts; a line of a layout-3
//               ledger's snapshot has `keys.inventory` instead, packed into the bucket on restore)
//   per journal {"journal":<layout partition>,"type":"stream","value":[[id,[field,value,…]],…]}   (after the partition's SKUs; a long one spans several lines)
//   per global  {"global":"catalogBundles","type":"hash","value":[…]}   (large keys span several lines)
//   (no line for the catalogue's item buckets: a restore maps each packed catalogue entry's channel items again)
//   last line   {"end":true,"lines":…,"counts":{…},"sha256":<hex of every byte before this line>}
//
// Each layout partition is read in one Lua call over its SKUs' keys and its journal (one
// slot), so a snapshot taken under load is consistent per partition: never a `reserved`
// from before a reservation with its record or its journal entry from after. Version 1
// (a journal per SKU, in the SKU's line: layout 2) is refused: restore it with the
// stockguard that wrote it, then run `stockguard migrate layout`.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { dirname } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip } from 'node:zlib';
import { z } from 'zod';
import { StockguardError } from '../errors.ts';
import { packedItemFields } from '../catalog/packed.ts';
import { LAYOUT_PARTITIONS, layoutBucket, layoutPartition } from '../domain/layout.ts';
import type { BucketKind, KeySpace, PerSkuKeyKind } from '../redis/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';
import { decodeInventory, encodeInventory, inventoryFromHash } from '../domain/inventoryCodec.ts';
import { globEscape, scanKeys } from '../redis/scan.ts';

export const SNAPSHOT_FORMAT = 'stockguard-snapshot';
export const SNAPSHOT_VERSION = 2;

const PER_SKU_KINDS: readonly PerSkuKeyKind[] = ['inventory', 'reservations', 'eventMarks', 'channelLevels', 'fbaStock', 'pushedLevels', 'pushState', 'catalogEntry'];
/**
 * The layout bucket kinds whose fields a snapshot carries per SKU (`packed` of a SKU line),
 * read in the same dumpKeys call as the SKU's partition, restored with HSET into the SKU's
 * bucket. Add a kind here when its state moves into buckets.
 */
const PACKED_KINDS = ['inv', 'chan', 'catalog'] as const satisfies readonly Exclude<BucketKind, 'item'>[];
type PackedKind = (typeof PACKED_KINDS)[number];
const GLOBAL_NAMES = ['catalogIndex', 'catalogChannelItems', 'catalogBundles', 'dirtySkus', 'holdExpiries', 'holdLines', 'saleToLedgerLatency'] as const;
type GlobalName = (typeof GLOBAL_NAMES)[number];

function globalKey(keys: KeySpace, name: GlobalName): string {
  return keys[name]();
}

// What a snapshot line holds, checked on restore before anything is written.
const flat = z.array(z.string());
const KeyContent = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hash'), value: flat }),
  z.object({ type: z.literal('stream'), value: z.array(z.tuple([z.string().regex(/^\d+-\d+$/), flat])) }),
  z.object({ type: z.literal('set'), value: flat }),
  z.object({ type: z.literal('zset'), value: flat }),
  z.object({ type: z.literal('string'), value: z.string() }),
  z.object({ type: z.literal('list'), value: flat }),
]);
type KeyContent = z.infer<typeof KeyContent>;

const Header = z.object({
  format: z.literal(SNAPSHOT_FORMAT),
  version: z.number().int(),
  prefix: z.string(),
  createdAt: z.string(),
  createdAtMs: z.number(),
  counts: z.object({ skus: z.number().int().min(0), globals: z.number().int().min(0) }),
});
const SkuLine = z.object({
  sku: z.string().min(1),
  keys: z.partialRecord(z.enum(PER_SKU_KINDS as [PerSkuKeyKind, ...PerSkuKeyKind[]]), KeyContent),
  packed: z.partialRecord(z.enum(PACKED_KINDS), z.string()).optional(),
});
const GlobalLine = z.intersection(z.object({ global: z.enum(GLOBAL_NAMES) }), KeyContent);
const StreamEntries = z.array(z.tuple([z.string().regex(/^\d+-\d+$/), flat]));
const JournalLine = z.object({ journal: z.number().int().min(0).max(LAYOUT_PARTITIONS - 1), type: z.literal('stream'), value: StreamEntries });
const Trailer = z.object({
  end: z.literal(true),
  lines: z.number().int().min(1),
  counts: z.object({ skus: z.number().int().min(0), globalLines: z.number().int().min(0), journalLines: z.number().int().min(0), keys: z.number().int().min(0) }),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
type SkuLine = z.infer<typeof SkuLine>;
type GlobalLine = z.infer<typeof GlobalLine>;
type JournalLine = z.infer<typeof JournalLine>;

export interface SnapshotProgress {
  phase: 'scanning' | 'writing' | 'verifying' | 'restoring';
  done: number;
  total?: number;
}

export interface SnapshotSummary {
  file: string;
  prefix: string;
  createdAt: string;
  skus: number;
  keys: number;
  /** Keys under the prefix a snapshot does not hold (event streams, delivery marks, DLQ, locks), by kind. */
  skipped: Record<string, number>;
  bytes: number;
  sha256: string;
  durationMs: number;
}

export interface WriteSnapshotOptions {
  redis: RedisClient;
  keys: KeySpace;
  file: string;
  clock?: () => number;
  onProgress?: (progress: SnapshotProgress) => void;
  /** SKUs read per pipeline. */
  batchSize?: number;
}

const CHUNK = 5000;

/** Writes a snapshot to `file` (through `<file>.partial`, renamed when complete). */
export async function writeSnapshot(options: WriteSnapshotOptions): Promise<SnapshotSummary> {
  const started = performance.now();
  const { redis, keys } = options;
  const createdAtMs = (options.clock ?? Date.now)();
  const skus = new Set<string>();
  const journals = new Set<number>();
  const buckets: string[] = [];
  const globals: GlobalName[] = [];
  const skipped: Record<string, number> = {};
  const globalByKey = new Map(GLOBAL_NAMES.map((name) => [globalKey(keys, name), name] as const));
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*`, 2000)) {
    for (const key of found) {
      const parsed = keys.parsePerSkuKey(key);
      const global = globalByKey.get(key);
      const partition = keys.parsePartitionJournal(key);
      const bucket = keys.parseBucketKey(key);
      if (parsed) skus.add(parsed.sku);
      else if (partition !== undefined) journals.add(partition);
      else if (bucket && (PACKED_KINDS as readonly BucketKind[]).includes(bucket.kind)) buckets.push(key);
      else if (global) globals.push(global);
      // The layout marker describes the key names, not the ledger: a snapshot holds SKUs by
      // kind, whatever the names, and the target gets its marker when stockguard opens it.
      else if (key === keys.layoutMarker()) continue;
      else {
        const kind = key.slice(keys.prefix.length + 1).split(/[:{]/)[0] || '?';
        skipped[kind] = (skipped[kind] ?? 0) + 1;
      }
    }
    options.onProgress?.({ phase: 'scanning', done: skus.size });
  }
  // A SKU may have nothing but packed state: its bucket fields name it.
  for (const bucket of buckets) for (const sku of await redis.hkeys(bucket)) skus.add(sku);

  const partial = `${options.file}.partial`;
  let writer: LineWriter;
  try {
    mkdirSync(dirname(options.file), { recursive: true });
    writer = new LineWriter(partial);
  } catch (error) {
    throw fileError(options.file, error);
  }
  let keyCount = 0;
  let globalLines = 0;
  let journalLines = 0;
  try {
    const createdAt = new Date(createdAtMs).toISOString();
    await writer.line({ format: SNAPSHOT_FORMAT, version: SNAPSHOT_VERSION, prefix: keys.prefix, createdAt, createdAtMs, counts: { skus: skus.size, globals: globals.length } });
    const byPartition = new Map<number, string[]>();
    for (const partition of journals) byPartition.set(partition, []);
    for (const sku of [...skus].sort()) {
      const partition = layoutPartition(sku);
      const members = byPartition.get(partition);
      if (members) members.push(sku);
      else byPartition.set(partition, [sku]);
    }
    const partitions = [...byPartition.keys()].sort((a, b) => a - b);
    // Partitions per pipeline: about batchSize SKUs at a time (a partition is one call, whatever its size).
    const batchSize = Math.max(1, Math.round((options.batchSize ?? 200) / Math.max(1, skus.size / Math.max(1, partitions.length))));
    let skusDone = 0;
    for (let from = 0; from < partitions.length; from += batchSize) {
      const batch = partitions.slice(from, from + batchSize).map((partition) => ({ partition, skus: byPartition.get(partition)! }));
      const dumps = await dumpPartitions(redis, keys, batch);
      for (const [index, { partition, skus: partitionSkus }] of batch.entries()) {
        const dump = dumps[index]!;
        for (const content of dump.skus) keyCount += Object.keys(content).length;
        keyCount += dump.buckets;
        for (const [at, sku] of partitionSkus.entries()) {
          const packed = dump.packed[at]!;
          await writer.line(Object.keys(packed).length > 0 ? { sku, keys: dump.skus[at]!, packed } : { sku, keys: dump.skus[at]! });
        }
        if (dump.journal.length > 0) keyCount += 1;
        for (let first = 0; first < dump.journal.length; first += CHUNK) {
          const line: JournalLine = { journal: partition, type: 'stream', value: dump.journal.slice(first, first + CHUNK) };
          await writer.line(line);
          journalLines += 1;
        }
        skusDone += partitionSkus.length;
      }
      options.onProgress?.({ phase: 'writing', done: skusDone, total: skus.size });
    }
    for (const name of globals) {
      const lines = await dumpGlobal(redis, globalKey(keys, name), name);
      if (lines.length > 0) keyCount += 1;
      for (const line of lines) await writer.line(line);
      globalLines += lines.length;
    }
    const sha256 = writer.digest();
    await writer.line({ end: true, lines: writer.lines + 1, counts: { skus: skus.size, globalLines, journalLines, keys: keyCount }, sha256 }, false);
    await writer.close();
    renameSync(partial, options.file);
    return {
      file: options.file,
      prefix: keys.prefix,
      createdAt,
      skus: skus.size,
      keys: keyCount,
      skipped,
      bytes: statSync(options.file).size,
      sha256,
      durationMs: Math.round(performance.now() - started),
    };
  } catch (error) {
    writer.destroy();
    rmSync(partial, { force: true });
    if (error instanceof StockguardError) throw error;
    if (isFsError(error)) throw fileError(options.file, error);
    throw error;
  }
}

/**
 * One dumpKeys call (src/lua/dumpKeys.lua) per layout partition, over its journal, every
 * key of its SKUs and its buckets of the PACKED_KINDS: pipelined on one server, routed per
 * slot on Cluster.
 */
async function dumpPartitions(
  redis: RedisClient,
  keys: KeySpace,
  partitions: readonly { partition: number; skus: readonly string[] }[],
): Promise<{ journal: [string, string[]][]; skus: Partial<Record<PerSkuKeyKind, KeyContent>>[]; packed: Partial<Record<PackedKind, string>>[]; buckets: number }[]> {
  const calls = partitions.map(({ partition, skus }) => ({
    keys: [
      keys.partitionJournal(partition),
      ...skus.flatMap((sku) => {
        const all = keys.perSkuKeys(sku);
        return PER_SKU_KINDS.map((kind) => all[kind]);
      }),
      ...PACKED_KINDS.flatMap((kind) => keys.partitionBuckets(kind, partition)),
    ],
    args: [],
  }));
  const bucketsPerKind = keys.partitionBuckets(PACKED_KINDS[0], 0).length;
  const replies = await luaScripts().dumpKeys.runMany(redis, calls);
  return replies.map((reply, index) => {
    const { partition, skus } = partitions[index]!;
    const perSku = skus.length * PER_SKU_KINDS.length;
    if (!Array.isArray(reply) || reply.length !== 1 + perSku + PACKED_KINDS.length * bucketsPerKind) {
      throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `dumpKeys for layout partition ${partition}: unexpected reply`);
    }
    const [type, value] = reply[0] as [string, unknown[]];
    if (type !== 'none' && type !== 'stream') throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `dumpKeys for layout partition ${partition}: the journal is a ${type}`);
    const journal = (value as [string, unknown[]][]).map(([id, fields]): [string, string[]] => [id, fields.map(String)]);
    // Every field of the partition's buckets, by kind and SKU.
    const fieldsByKind = new Map<PackedKind, Map<string, string>>();
    let buckets = 0;
    PACKED_KINDS.forEach((kind, kindIndex) => {
      const fields = new Map<string, string>();
      for (let bucket = 0; bucket < bucketsPerKind; bucket += 1) {
        const [bucketType, content] = reply[1 + perSku + kindIndex * bucketsPerKind + bucket] as [string, unknown[]];
        if (bucketType === 'none') continue;
        if (bucketType !== 'hash') throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `dumpKeys for layout partition ${partition}: a ${kind} bucket is a ${bucketType}`);
        buckets += 1;
        for (let at = 0; at + 1 < content.length; at += 2) fields.set(String(content[at]), String(content[at + 1]));
      }
      fieldsByKind.set(kind, fields);
    });
    return {
      journal,
      buckets,
      skus: skus.map((sku, at) => decodeDump(sku, reply.slice(1 + at * PER_SKU_KINDS.length, 1 + (at + 1) * PER_SKU_KINDS.length))),
      packed: skus.map((sku) => {
        const packed: Partial<Record<PackedKind, string>> = {};
        for (const kind of PACKED_KINDS) {
          const field = fieldsByKind.get(kind)!.get(sku);
          if (field !== undefined) packed[kind] = field;
        }
        return packed;
      }),
    };
  });
}

function decodeDump(sku: string, reply: unknown): Partial<Record<PerSkuKeyKind, KeyContent>> {
  if (!Array.isArray(reply) || reply.length !== PER_SKU_KINDS.length) {
    throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `dumpKeys for SKU ${JSON.stringify(sku)}: unexpected reply`);
  }
  const content: Partial<Record<PerSkuKeyKind, KeyContent>> = {};
  PER_SKU_KINDS.forEach((kind, index) => {
    const [type, value] = reply[index] as [string, unknown[]];
    if (type === 'none') return;
    if (type === 'string') content[kind] = { type, value: String(value[0]) };
    else if (type === 'stream') content[kind] = { type, value: (value as [string, string[]][]).map(([id, fields]) => [id, fields.map(String)]) };
    else if (type === 'hash' || type === 'set' || type === 'zset' || type === 'list') content[kind] = { type, value: value.map(String) };
    else throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `dumpKeys for SKU ${JSON.stringify(sku)}: unexpected type ${type}`);
  });
  return content;
}

/** A global key in lines of at most CHUNK members, read with the SCAN family (it can hold a million SKUs). */
async function dumpGlobal(redis: RedisClient, key: string, name: GlobalName): Promise<GlobalLine[]> {
  const node: RedisClient = redis;
  const type = await node.type(key);
  const lines: GlobalLine[] = [];
  const collect = async (scan: (cursor: string) => Promise<[string, string[]]>, kind: 'hash' | 'set' | 'zset') => {
    let cursor = '0';
    let buffer: string[] = [];
    do {
      const [next, items] = await scan(cursor);
      cursor = next;
      buffer.push(...items);
      while (buffer.length >= CHUNK * (kind === 'set' ? 1 : 2)) {
        const size = CHUNK * (kind === 'set' ? 1 : 2);
        lines.push({ global: name, type: kind, value: buffer.slice(0, size) });
        buffer = buffer.slice(size);
      }
    } while (cursor !== '0');
    if (buffer.length > 0) lines.push({ global: name, type: kind, value: buffer });
  };
  if (type === 'set') await collect((cursor) => node.sscan(key, cursor, 'COUNT', 2000), 'set');
  else if (type === 'hash') await collect((cursor) => node.hscan(key, cursor, 'COUNT', 2000), 'hash');
  else if (type === 'zset') await collect((cursor) => node.zscan(key, cursor, 'COUNT', 2000), 'zset');
  else if (type === 'string') lines.push({ global: name, type: 'string', value: (await node.get(key)) ?? '' });
  else if (type !== 'none') throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `snapshot: ${key} is a ${type}, which a snapshot of ${name} cannot hold`);
  return lines;
}

/** gzip JSON lines with a running sha256 over every byte written before the trailer. */
class LineWriter {
  lines = 0;
  private readonly hash = createHash('sha256');
  private readonly gzip = createGzip();
  private readonly file: ReturnType<typeof createWriteStream>;
  private failure: Error | undefined;

  constructor(path: string) {
    this.file = createWriteStream(path);
    this.gzip.pipe(this.file);
    const fail = (error: Error) => (this.failure ??= error);
    this.file.on('error', fail);
    this.gzip.on('error', fail);
  }

  async line(value: unknown, hashed = true): Promise<void> {
    if (this.failure) throw this.failure;
    const text = `${JSON.stringify(value)}\n`;
    if (hashed) this.hash.update(text);
    this.lines += 1;
    if (!this.gzip.write(text)) await once(this.gzip, 'drain');
  }

  digest(): string {
    return this.hash.copy().digest('hex');
  }

  async close(): Promise<void> {
    this.gzip.end();
    await once(this.file, 'close');
    if (this.failure) throw this.failure;
  }

  destroy(): void {
    this.gzip.destroy();
    this.file.destroy();
  }
}

export interface RestoreOptions {
  redis: RedisClient;
  keys: KeySpace;
  file: string;
  /** Replace the ledger and catalogue keys of a non-empty target (docs/reconcile.md). */
  force?: boolean;
  onProgress?: (progress: SnapshotProgress) => void;
  /** SKUs written at once (each SKU is one MULTI/EXEC). */
  concurrency?: number;
  /**
   * The pushers' idle horizon (pushStateHorizonMs of the daemons' config): each restored
   * pushers' state key gets it as its expiry, in the SKU's MULTI, as every write of the key
   * does (src/lua/writePushState.lua), unless it holds `alloc:keep`. Without it a restored key
   * would stay until its next write (for ever, for a SKU that is never sold again).
   */
  pushStateIdleMs?: number;
}

export interface RestoreSummary {
  file: string;
  /** The prefix the snapshot was taken under (the restore writes under the configured one). */
  sourcePrefix: string;
  createdAt: string;
  skus: number;
  keys: number;
  /** Keys deleted first because of --force. */
  replaced: number;
  durationMs: number;
}

/**
 * Checks the whole file first (gzip, JSON of every line, the line shapes, counts and the
 * sha256), then writes. A damaged or truncated file is refused with
 * STOCKGUARD_E_SNAPSHOT_CORRUPT before anything is written.
 */
export async function restoreSnapshot(options: RestoreOptions): Promise<RestoreSummary> {
  const started = performance.now();
  const { redis, keys } = options;
  const present = await firstKey(redis, keys);
  if (present !== undefined && !options.force) {
    throw new StockguardError('STOCKGUARD_E_RESTORE_NOT_EMPTY', `found ${JSON.stringify(present)} under the prefix ${JSON.stringify(keys.prefix)}`);
  }
  const header = await verifySnapshot(options.file, options.onProgress);

  let replaced = 0;
  if (present !== undefined) replaced = await deleteCoveredKeys(redis, keys);

  const concurrency = options.concurrency ?? 64;
  let inFlight: Promise<unknown>[] = [];
  let skus = 0;
  let keyCount = 0;
  const globalSeen = new Set<GlobalName>();
  const journalsSeen = new Set<number>();
  const bucketsSeen = new Set<string>();
  let lineNumber = 0;
  for await (const line of readLines(options.file)) {
    lineNumber += 1;
    if (lineNumber === 1) continue;
    const value = JSON.parse(line) as Record<string, unknown>;
    if ('end' in value) break;
    if ('journal' in value) {
      // In id order, after the SKUs before it: XADD with the snapshot's ids keeps the as-of
      // arithmetic and the pushers' cursors exactly as they were.
      const parsed = value as unknown as JournalLine;
      if (!journalsSeen.has(parsed.journal)) keyCount += 1;
      journalsSeen.add(parsed.journal);
      await Promise.all(inFlight);
      inFlight = [];
      await writeCommands(redis, commandsFor(keys.partitionJournal(parsed.journal), parsed), false).catch((error: unknown) => Promise.reject(partial(options.file, lineNumber, `the journal of layout partition ${parsed.journal}`, error, skus)));
    } else if ('sku' in value) {
      const parsed = value as unknown as SkuLine;
      skus += 1;
      // A layout-3 line's inventory hash goes into the `inv` bucket too.
      keyCount += Object.keys(parsed.keys).filter((kind) => kind !== 'inventory').length;
      for (const kind of new Set([...(Object.keys(parsed.packed ?? {}) as PackedKind[]), ...(parsed.keys.inventory ? (['inv'] as const) : [])])) {
        const bucket = keys.skuBucket(kind, parsed.sku);
        if (!bucketsSeen.has(bucket)) keyCount += 1;
        bucketsSeen.add(bucket);
      }
      for (const field of parsed.packed?.catalog === undefined ? [] : packedItemFields(parsed.sku, parsed.packed.catalog)) {
        const bucket = keys.bucketKey('item', layoutBucket(field));
        if (!bucketsSeen.has(bucket)) keyCount += 1;
        bucketsSeen.add(bucket);
      }
      const at = lineNumber;
      const before = skus - 1;
      inFlight.push(writeSku(redis, keys, parsed, options.pushStateIdleMs).catch((error: unknown) => Promise.reject(partial(options.file, at, `SKU ${JSON.stringify(parsed.sku)}`, error, before))));
      if (inFlight.length >= concurrency) {
        await Promise.all(inFlight);
        inFlight = [];
        options.onProgress?.({ phase: 'restoring', done: skus, total: header.counts.skus });
      }
    } else {
      const parsed = value as unknown as GlobalLine;
      if (!globalSeen.has(parsed.global)) keyCount += 1;
      globalSeen.add(parsed.global);
      await Promise.all(inFlight);
      inFlight = [];
      await writeCommands(redis, commandsFor(globalKey(keys, parsed.global), parsed), false).catch((error: unknown) => Promise.reject(partial(options.file, lineNumber, `the ${parsed.global} key`, error, skus)));
    }
  }
  await Promise.all(inFlight);
  options.onProgress?.({ phase: 'restoring', done: skus, total: header.counts.skus });
  return { file: options.file, sourcePrefix: header.prefix, createdAt: header.createdAt, skus, keys: keyCount, replaced, durationMs: Math.round(performance.now() - started) };
}

/** A write Redis refused mid-restore, with what was restored and what to do. */
function partial(file: string, line: number, what: string, cause: unknown, skusBefore: number): StockguardError {
  // A refused MULTI says EXECABORT; the command Redis refused is in previousErrors (ioredis).
  const previous = cause instanceof Error && 'previousErrors' in cause && Array.isArray(cause.previousErrors) ? cause.previousErrors : [];
  const reason = [...previous, cause].map((error: unknown) => (error instanceof Error ? error.message : String(error))).join('; ');
  return new StockguardError('STOCKGUARD_E_RESTORE_PARTIAL', `${file} line ${line}: Redis refused ${what}: ${reason}; up to ${skusBefore} SKUs before it were restored`, {
    cause,
    details: { file, line, reason },
  });
}

/** Reads the file through once and checks everything a restore relies on; returns the header. */
export async function verifySnapshot(file: string, onProgress?: (progress: SnapshotProgress) => void): Promise<z.infer<typeof Header>> {
  const hash = createHash('sha256');
  let header: z.infer<typeof Header> | undefined;
  let trailer: z.infer<typeof Trailer> | undefined;
  let lineNumber = 0;
  let skus = 0;
  let globalLines = 0;
  let journalLines = 0;
  const corrupt = (detail: string) => new StockguardError('STOCKGUARD_E_SNAPSHOT_CORRUPT', `${file}: ${detail}`);
  try {
    for await (const line of readLines(file)) {
      lineNumber += 1;
      if (trailer) throw corrupt(`line ${lineNumber} follows the end line`);
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        throw corrupt(`line ${lineNumber} is not JSON`);
      }
      if (lineNumber === 1) {
        const format = (value as { format?: unknown; version?: unknown } | null)?.format;
        if (format !== SNAPSHOT_FORMAT) throw corrupt('the first line is not a stockguard snapshot header');
        const version = (value as { version?: unknown }).version;
        if (version !== SNAPSHOT_VERSION) {
          throw new StockguardError('STOCKGUARD_E_SNAPSHOT_VERSION', `${file} is format version ${JSON.stringify(version)}; this stockguard reads version ${SNAPSHOT_VERSION}`);
        }
        const parsed = Header.safeParse(value);
        if (!parsed.success) throw corrupt(`the header is malformed: ${parsed.error.issues[0]?.message ?? ''}`);
        header = parsed.data;
        hash.update(`${line}\n`);
        continue;
      }
      if (typeof value === 'object' && value !== null && 'end' in value) {
        const parsed = Trailer.safeParse(value);
        if (!parsed.success) throw corrupt(`the end line is malformed`);
        trailer = parsed.data;
        continue;
      }
      hash.update(`${line}\n`);
      if (typeof value === 'object' && value !== null && 'journal' in value) {
        const parsed = JournalLine.safeParse(value);
        if (!parsed.success) throw corrupt(`line ${lineNumber} (a journal) is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
        journalLines += 1;
      } else if (typeof value === 'object' && value !== null && 'sku' in value) {
        const parsed = SkuLine.safeParse(value);
        if (!parsed.success) throw corrupt(`line ${lineNumber} (a SKU) is malformed: ${parsed.error.issues[0]?.path.join('.')} ${parsed.error.issues[0]?.message}`);
        const problem = inventoryProblem(parsed.data);
        if (problem) throw corrupt(`line ${lineNumber} (a SKU): its inventory ${problem}`);
        skus += 1;
        if (skus % 10_000 === 0) onProgress?.({ phase: 'verifying', done: skus, total: header?.counts.skus });
      } else {
        const parsed = GlobalLine.safeParse(value);
        if (!parsed.success) throw corrupt(`line ${lineNumber} is neither a SKU nor a known global key`);
        globalLines += 1;
      }
    }
  } catch (error) {
    if (error instanceof StockguardError) throw error;
    if (isFsError(error)) throw fileError(file, error);
    // zlib: "unexpected end of file" (truncated), "incorrect header check", CRC mismatches.
    throw corrupt(`cannot decompress: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!header) throw corrupt('the file is empty');
  if (!trailer) throw corrupt(`no end line after line ${lineNumber}: the file is truncated`);
  const digest = hash.digest('hex');
  if (digest !== trailer.sha256) throw corrupt(`the sha256 of the content is ${digest}, the end line says ${trailer.sha256}`);
  if (trailer.lines !== lineNumber) throw corrupt(`the end line counts ${trailer.lines} lines, the file has ${lineNumber}`);
  if (trailer.counts.skus !== skus || header.counts.skus !== skus) throw corrupt(`${skus} SKU lines, the header says ${header.counts.skus} and the end line ${trailer.counts.skus}`);
  if (trailer.counts.globalLines !== globalLines) throw corrupt(`${globalLines} global lines, the end line says ${trailer.counts.globalLines}`);
  if (trailer.counts.journalLines !== journalLines) throw corrupt(`${journalLines} journal lines, the end line says ${trailer.counts.journalLines}`);
  onProgress?.({ phase: 'verifying', done: skus, total: skus });
  return header;
}

/** The lines of a gzip file; zlib and file errors surface from the iteration. */
async function* readLines(file: string): AsyncIterable<string> {
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.on('error', (error) => gunzip.destroy(error));
  input.pipe(gunzip);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of gunzip as AsyncIterable<Buffer>) {
    rest += decoder.write(chunk);
    let newline = rest.indexOf('\n');
    while (newline !== -1) {
      yield rest.slice(0, newline);
      rest = rest.slice(newline + 1);
      newline = rest.indexOf('\n');
    }
  }
  rest += decoder.end();
  // A last line without its newline is kept: the checks after it decide whether it is whole.
  if (rest !== '') yield rest;
}

type Command = [string, ...(string | number)[]];

function commandsFor(key: string, content: KeyContent | JournalLine): Command[] {
  const chunks = <T>(items: readonly T[], size: number): T[][] => {
    const result: T[][] = [];
    for (let from = 0; from < items.length; from += size) result.push(items.slice(from, from + size));
    return result;
  };
  switch (content.type) {
    case 'hash':
      return chunks(content.value, 2000).map((part) => ['hset', key, ...part]);
    case 'set':
      return chunks(content.value, 2000).map((part) => ['sadd', key, ...part]);
    case 'list':
      return chunks(content.value, 2000).map((part) => ['rpush', key, ...part]);
    case 'zset': {
      const pairs: string[] = [];
      for (let index = 0; index + 1 < content.value.length; index += 2) pairs.push(content.value[index + 1]!, content.value[index]!);
      return chunks(pairs, 2000).map((part) => ['zadd', key, ...part]);
    }
    case 'string':
      return [['set', key, content.value]];
    case 'stream':
      // Explicit ids keep the journal exactly as it was, the as-of arithmetic included.
      return content.value.map(([id, fields]) => ['xadd', key, id, ...fields]);
  }
}

async function writeSku(redis: RedisClient, keys: KeySpace, line: SkuLine, pushStateIdleMs: number | undefined): Promise<void> {
  const all = keys.perSkuKeys(line.sku);
  const commands = Object.entries(line.keys).flatMap(([kind, content]): Command[] =>
    // A layout-3 line's inventory hash: packed into the SKU's `inv` bucket (same slot as its keys).
    kind === 'inventory' ? [['hset', keys.skuBucket('inv', line.sku), line.sku, packInventory(content)]] : commandsFor(all[kind as PerSkuKeyKind], content),
  );
  const pushState = line.keys.pushState;
  if (pushStateIdleMs !== undefined && pushState?.type === 'hash' && !hashFields(pushState).includes('alloc:keep')) commands.push(['pexpire', all.pushState, pushStateIdleMs]);
  for (const [kind, value] of Object.entries(line.packed ?? {}) as [PackedKind, string][]) commands.push(['hset', keys.skuBucket(kind, line.sku), line.sku, value]);
  await writeCommands(redis, commands, true);
  // The catalogue's item buckets are not in the file: each entry's channel items are mapped
  // to it again (what Catalog.put writes), one HSET each, in the items' own slots.
  if (line.packed?.catalog !== undefined) {
    await Promise.all(packedItemFields(line.sku, line.packed.catalog).map((field) => redis.hset(keys.bucketKey('item', layoutBucket(field)), field, line.sku)));
  }
}

/** The field names of a hash's content ([field, value, …]). */
function hashFields(content: Extract<KeyContent, { type: 'hash' }>): string[] {
  return content.value.filter((_item, index) => index % 2 === 0);
}

/** A layout-3 snapshot line's inventory hash (`on_hand`, `reserved`, …) packed for its `inv` bucket. */
function packInventory(content: KeyContent): string {
  if (content.type !== 'hash') throw new StockguardError('STOCKGUARD_E_SNAPSHOT_CORRUPT', `the inventory is a ${content.type}, not a hash`);
  const hash: Record<string, string> = {};
  for (let at = 0; at + 1 < content.value.length; at += 2) hash[content.value[at]!] = content.value[at + 1]!;
  const record = inventoryFromHash(hash);
  if (record === undefined) throw new StockguardError('STOCKGUARD_E_SNAPSHOT_CORRUPT', 'the inventory has no on_hand');
  return encodeInventory(record);
}

/** Why a SKU line's inventory (packed, or a layout-3 hash) cannot be restored, or undefined. */
function inventoryProblem(line: SkuLine): string | undefined {
  try {
    if (line.packed?.inv !== undefined) decodeInventory(line.packed.inv);
    if (line.keys.inventory !== undefined) packInventory(line.keys.inventory);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** One MULTI/EXEC per SKU (its keys share a slot): a SKU is restored whole or not at all. */
async function writeCommands(redis: RedisClient, commands: readonly Command[], atomic: boolean): Promise<void> {
  if (commands.length === 0) return;
  const batch = atomic ? redis.multi() : redis.pipeline();
  for (const [name, ...args] of commands) batch.call(name, ...args);
  const results = await batch.exec();
  for (const [error] of results ?? []) if (error) throw error;
}

/** A key under the prefix other than the layout marker (which `stockguard restore` itself wrote when it opened Redis). */
async function firstKey(redis: RedisClient, keys: KeySpace): Promise<string | undefined> {
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*`, 1000)) {
    const present = found.find((key) => key !== keys.layoutMarker());
    if (present !== undefined) return present;
  }
  return undefined;
}

/** --force: deletes every key a snapshot holds (per-SKU and global), leaving event streams, marks, DLQ and locks. */
async function deleteCoveredKeys(redis: RedisClient, keys: KeySpace): Promise<number> {
  const globals = new Set(GLOBAL_NAMES.map((name) => globalKey(keys, name)));
  let deleted = 0;
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*`, 2000)) {
    const covered = found.filter((key) => {
      const bucket = keys.parseBucketKey(key);
      // The item buckets too: a restore rebuilds them from the catalogue entries.
      return globals.has(key) || keys.parsePerSkuKey(key) !== undefined || keys.parsePartitionJournal(key) !== undefined || (bucket !== undefined && ([...PACKED_KINDS, 'item'] as readonly BucketKind[]).includes(bucket.kind));
    });
    // One UNLINK per key: on Cluster the keys of one call would have to share a slot.
    await Promise.all(covered.map((key) => redis.unlink(key)));
    deleted += covered.length;
  }
  return deleted;
}

function isFsError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string' && /^E[A-Z]+$/.test((error as NodeJS.ErrnoException).code!) && (error as NodeJS.ErrnoException).syscall !== undefined;
}

function fileError(file: string, error: unknown): StockguardError {
  return new StockguardError('STOCKGUARD_E_FILE', `${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}
