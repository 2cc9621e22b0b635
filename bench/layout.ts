// `npm run bench -- layout`: what does a SKU cost in Redis under each candidate key layout
// (issue 13 §1, "Compact layout")? Every candidate is seeded with the same SKUs holding the
// same content, on one Redis with its default settings, in one run:
//
//   ledger       on_hand, reserved, holdback, oversold, version, updated_ms, journal_ms
//                (what commitChange.lua writes)
//   catalogue    sku, holdback, skuClass, Shopify inventory item and location gids (the
//                redis-om hash the catalogue import writes for a Shopify-mapped SKU)
//   channel      the newest Shopify level reported (recordObservation.lua's JSON), the
//                last push Shopify acknowledged (PushStore.recordPushed's JSON) and the
//                pushers' state (dynamic holdback, journal cursor, an empty sales window)
//   journal      two entries, `create` and the initial `count`, with commitChange's fields
//
// and measured twice: "fresh" (both journal entries inside the retention, as right after an
// import) and "at rest" (every journal entry older than the retention and trimmed; the
// dedupe marks and closed reservation records are swept after 15 days, so a SKU at rest has
// none). Bytes per SKU = INFO used_memory after seeding minus before, over the SKUs.
// Then, on the fresh data, the read reconciliation does per SKU, atomically (one Lua call per
// SKU, or per bucket): on_hand as of a time between the seeding's entries (the last 1 % of
// the SKUs' entries are after it), i.e. on_hand minus Σ d_on_hand of the SKU's journal
// entries after the as-of; pipelined 500 calls at a time. The sum over all SKUs must equal
// the seeded stock, checked.
//
// Candidates:
//   per-sku            layout 1, the layout when this benchmark was written: one key per
//                      kind per SKU, tag `{SKU}` (I7), a journal stream per SKU (layout 2,
//                      built since, tags the same keys `{p<N>}`: same memory, see
//                      docs/decisions.md "Compact layout")
//   partition-journal  the same per-SKU keys, but the journal is one stream per partition
//                      (`journal:{p<N>}`, entries carry the SKU); the SKU's keys are tagged
//                      `{p<N>}` so a script still touches one slot
//   sku-hash           one hash per SKU holding ledger, catalogue and channel fields, tag
//                      `{p<N>}`, journal per partition
//   bucketed           SKUs hashed into buckets of ~48 (one hash per kind per bucket, field =
//                      SKU, value = the kind's fields packed in one string ≤ 64 bytes, so
//                      every bucket hash stays a listpack under Redis's default
//                      hash-max-listpack-entries 128 / -value 64), buckets grouped into
//                      partitions whose tag they share with the partition's journal
import { Redis } from 'ioredis';
import { type BenchEnv, benchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { benchSku, ledgerOnHand } from './lib/reconcileData.ts';
import { connect, deleteKeys, disconnect, execPipeline, usedMemory } from './lib/redis.ts';
import { round } from './lib/stats.ts';

export const LAYOUT_CANDIDATES = ['per-sku', 'partition-journal', 'sku-hash', 'bucketed'] as const;
export type LayoutCandidate = (typeof LAYOUT_CANDIDATES)[number];

/** Journal partitions of the partitioned candidates (spread over Cluster slots; 16,384 slots). */
const PARTITIONS = 1024;
/** Mean SKUs per bucket: 2 × 48 fields stay under 128 entries with a margin (Poisson tail). */
const SKUS_PER_BUCKET = 48;
const SEED = 20261127;
const CHUNK = 2000;

export interface LayoutRow {
  candidate: LayoutCandidate;
  skus: number;
  /** Redis keys per SKU after seeding (DBSIZE delta / SKUs). */
  keys_per_sku: number;
  fresh_bytes_per_sku: number;
  at_rest_bytes_per_sku: number;
  /** at rest ÷ per-sku at rest. */
  ratio_to_today: number;
  /** Seconds to read every SKU's on_hand as of a time (reconciliation's read), see above. */
  read_as_of_seconds: number;
  /** Bucket hashes that outgrew a listpack (hashtable encoding), of all bucket hashes. */
  hashtable_buckets?: string;
  /** The most fields in one bucket hash (redis.conf's sample sets hash-max-listpack-entries 128). */
  max_bucket_fields?: number;
  seed_seconds: number;
}

export interface LayoutBenchResult {
  scenario: 'layout';
  date: string;
  env: BenchEnv;
  redis_config: Record<string, string>;
  partitions: number;
  skus_per_bucket: number;
  rows: LayoutRow[];
  target_bytes_per_sku: 300;
}

interface SkuContent {
  sku: string;
  index: number;
  onHand: number;
  atMs: number;
}

export interface LayoutBenchOptions {
  redisUrl: string;
  sizes?: readonly number[];
  candidates?: readonly LayoutCandidate[];
  /** Keys go under `<keyPrefix>-<candidate>-<time>:…` and are deleted after each candidate (default `bench-layout`). */
  keyPrefix?: string;
  log?: (line: string) => void;
}

export async function runLayoutScenario(options: LayoutBenchOptions): Promise<LayoutBenchResult> {
  const log = options.log ?? (() => undefined);
  const [redis] = await connect(options.redisUrl, 1);
  const config: Record<string, string> = {};
  for (const name of ['hash-max-listpack-entries', 'hash-max-listpack-value', 'stream-node-max-bytes', 'stream-node-max-entries']) {
    config[name] = ((await redis!.config('GET', name)) as string[])[1] ?? '?';
  }
  const result: LayoutBenchResult = {
    scenario: 'layout',
    date: new Date().toISOString(),
    env: await benchEnv(redis!),
    redis_config: config,
    partitions: PARTITIONS,
    skus_per_bucket: SKUS_PER_BUCKET,
    rows: [],
    target_bytes_per_sku: 300,
  };
  log(`${describeEnv(result.env)}; ${Object.entries(config).map(([name, value]) => `${name} ${value}`).join(', ')}`);
  try {
    for (const skus of options.sizes ?? [100_000]) {
      let today: number | undefined;
      for (const candidate of options.candidates ?? LAYOUT_CANDIDATES) {
        const row = await measure(redis!, options.keyPrefix ?? 'bench-layout', candidate, skus, log);
        today ??= candidate === 'per-sku' ? row.at_rest_bytes_per_sku : undefined;
        row.ratio_to_today = today === undefined ? Number.NaN : round(row.at_rest_bytes_per_sku / today, 3);
        result.rows.push(row);
        log(`${skus.toLocaleString('en-US')} SKUs ${candidate.padEnd(17)} fresh ${row.fresh_bytes_per_sku} B/SKU, at rest ${row.at_rest_bytes_per_sku} B/SKU, ${row.keys_per_sku} keys/SKU, as-of read ${row.read_as_of_seconds} s${row.hashtable_buckets ? `, hashtable buckets ${row.hashtable_buckets}, most fields in a bucket ${row.max_bucket_fields}` : ''} (seeded in ${row.seed_seconds} s)`);
      }
    }
  } finally {
    await disconnect([redis!]);
  }
  return result;
}

async function measure(redis: Redis, keyPrefix: string, candidate: LayoutCandidate, skus: number, log: (line: string) => void): Promise<LayoutRow> {
  const prefix = `${keyPrefix}-${candidate}-${Date.now().toString(36)}`;
  const layout = LAYOUTS[candidate](prefix, skus);
  const memoryBefore = await usedMemory(redis);
  const keysBefore = await redis.dbsize();
  const started = performance.now();
  const baseMs = Date.now() - 3_600_000;
  try {
    for (let from = 0; from < skus; from += CHUNK) {
      const pipeline = redis.pipeline();
      for (let index = from; index < Math.min(skus, from + CHUNK); index += 1) {
        layout.write(pipeline, { sku: benchSku(index), index, onHand: ledgerOnHand(SEED, index), atMs: baseMs + index });
      }
      await execPipeline(pipeline.exec());
      if (from % 500_000 === 0 && from > 0) log(`  ${candidate}: seeded ${from.toLocaleString('en-US')} SKUs`);
    }
    const seedSeconds = (performance.now() - started) / 1000;
    const fresh = await usedMemory(redis);
    const keys = (await redis.dbsize()) - keysBefore;
    const buckets = layout.bucketKeys ? await inspectBuckets(redis, layout.bucketKeys()) : undefined;
    const asOfMs = baseMs + Math.floor(skus * 0.99);
    const readStarted = performance.now();
    const total = await layout.readAsOf(redis, skus, asOfMs);
    const readSeconds = (performance.now() - readStarted) / 1000;
    let expected = 0;
    for (let index = 0; index < skus; index += 1) expected += baseMs + index > asOfMs ? 0 : ledgerOnHand(SEED, index);
    if (total !== expected) throw new Error(`${candidate}: on_hand as of ${asOfMs} sums to ${total}, expected ${expected}`);
    // At rest: every journal entry is past the retention. MINID above every id trims them all.
    const streams = layout.journalKeys(skus);
    for (let from = 0; from < streams.length; from += CHUNK) {
      const pipeline = redis.pipeline();
      for (const stream of streams.slice(from, from + CHUNK)) pipeline.xtrim(stream, 'MINID', `${Date.now() + 1}`);
      await execPipeline(pipeline.exec());
    }
    const atRest = await usedMemory(redis);
    return {
      candidate,
      skus,
      keys_per_sku: round(keys / skus, 3),
      fresh_bytes_per_sku: round((fresh - memoryBefore) / skus, 0),
      at_rest_bytes_per_sku: round((atRest - memoryBefore) / skus, 0),
      ratio_to_today: Number.NaN,
      read_as_of_seconds: round(readSeconds, 2),
      ...(buckets ? { hashtable_buckets: buckets.hashtables, max_bucket_fields: buckets.maxFields } : {}),
      seed_seconds: round(seedSeconds, 1),
    };
  } finally {
    await deleteKeys(redis, prefix);
  }
}

type Pipeline = ReturnType<Redis['pipeline']>;

interface Layout {
  write(pipeline: Pipeline, content: SkuContent): void;
  /** Σ over every SKU of its on_hand as of asOfMs (reconciliation's read; see the header). */
  readAsOf(redis: Redis, skus: number, asOfMs: number): Promise<number>;
  journalKeys(skus: number): string[];
  bucketKeys?(): string[];
}

// The content, field by field, as today's writers produce it.
const inventoryFields = (c: SkuContent) => ({ on_hand: c.onHand, reserved: 0, holdback: 0, oversold: 0, version: 2, updated_ms: c.atMs, journal_ms: c.atMs });
const catalogueFields = (c: SkuContent) => ({
  sku: c.sku,
  holdback: '0',
  skuClass: 'default',
  shopifyInventoryItemId: `gid://shopify/InventoryItem/${44012345678901 + c.index}`,
  shopifyLocationId: 'gid://shopify/Location/76543210987',
});
const observation = (c: SkuContent) => JSON.stringify({ at: c.atMs, q: c.onHand, e: `shopify-level-${40123456789012 + c.index}` });
const pushed = (c: SkuContent) => JSON.stringify({ quantity: c.onHand, atMs: c.atMs, version: 2 });
const pushState = (c: SkuContent) => ({ sales: '[]', dynamic_holdback: '0', cursor: `${c.atMs}-1` });
const journalEntries = (c: SkuContent) => [
  { cause: 'create', event: 'create', ref: '', d_on_hand: 0, d_reserved: 0, d_oversold: 0, d_holdback: 0, on_hand: 0, reserved: 0, at_ms: c.atMs },
  { cause: 'count', event: `initial-${c.sku}`, ref: '', d_on_hand: c.onHand, d_reserved: 0, d_oversold: 0, d_holdback: 0, on_hand: c.onHand, reserved: 0, at_ms: c.atMs },
];
const flat = (fields: Record<string, string | number>) => Object.entries(fields).flat();

/** FNV-1a over the SKU's UTF-8 bytes: stable across processes and languages. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return hash;
}

function partitionOf(sku: string): number {
  return fnv1a(sku) % PARTITIONS;
}

function partitionJournals(prefix: string): string[] {
  return Array.from({ length: PARTITIONS }, (_, partition) => `${prefix}:journal:{p${partition}}`);
}

function appendJournal(pipeline: Pipeline, stream: string, c: SkuContent, withSku: boolean): void {
  for (const entry of journalEntries(c)) pipeline.xadd(stream, `${c.atMs}-*`, ...(withSku ? ['sku', c.sku] : []), ...flat(entry));
}

// The reads, as small as the candidates need. Entries carry at_ms (the as-of test) and, in a
// shared journal, the SKU. Stream ids start with the ms, so XRANGE starts at as-of + 1.
const READ_SKU = `
local onHand = tonumber(redis.call('HGET', KEYS[1], ARGV[2]))
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], ARGV[1], '+')) do
  local fields, sku, atMs, delta = entry[2], nil, 0, 0
  for i = 1, #fields, 2 do
    if fields[i] == 'sku' then sku = fields[i + 1]
    elseif fields[i] == 'at_ms' then atMs = tonumber(fields[i + 1])
    elseif fields[i] == 'd_on_hand' then delta = tonumber(fields[i + 1]) end
  end
  if (ARGV[3] == '' or sku == ARGV[3]) and atMs >= tonumber(ARGV[1]) then onHand = onHand - delta end
end
return onHand`;
const READ_BUCKET = `
local onHand = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do onHand[all[i]] = tonumber(string.match(all[i + 1], '^(%-?%d+),')) end
for _, entry in ipairs(redis.call('XRANGE', KEYS[2], ARGV[1], '+')) do
  local fields, sku, atMs, delta = entry[2], nil, 0, 0
  for i = 1, #fields, 2 do
    if fields[i] == 'sku' then sku = fields[i + 1]
    elseif fields[i] == 'at_ms' then atMs = tonumber(fields[i + 1])
    elseif fields[i] == 'd_on_hand' then delta = tonumber(fields[i + 1]) end
  end
  if onHand[sku] ~= nil and atMs >= tonumber(ARGV[1]) then onHand[sku] = onHand[sku] - delta end
end
local total = 0
for _, value in pairs(onHand) do total = total + value end
return total`;

/** Runs `calls` scripts (KEYS[1], KEYS[2], ARGV…) pipelined `batch` at a time; returns Σ replies. */
async function sumScript(redis: Redis, script: string, calls: number, args: (call: number) => (string | number)[], batch = 500): Promise<number> {
  const sha = (await redis.script('LOAD', script)) as string;
  let total = 0;
  for (let from = 0; from < calls; from += batch) {
    const pipeline = redis.pipeline();
    for (let call = from; call < Math.min(calls, from + batch); call += 1) pipeline.evalsha(sha, 2, ...args(call));
    for (const [error, reply] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      total += Number(reply);
    }
  }
  return total;
}

const LAYOUTS: Record<LayoutCandidate, (prefix: string, skus: number) => Layout> = {
  'per-sku': (prefix) => ({
    write(pipeline, c) {
      const tag = `{${c.sku}}`;
      pipeline.hset(`${prefix}:inv:${tag}`, inventoryFields(c));
      pipeline.hset(`${prefix}:catalog:${tag}`, catalogueFields(c));
      pipeline.hset(`${prefix}:chan:${tag}`, 'shopify', observation(c));
      pipeline.hset(`${prefix}:pushed:${tag}`, 'shopify', pushed(c));
      pipeline.hset(`${prefix}:pushstate:${tag}`, pushState(c));
      appendJournal(pipeline, `${prefix}:journal:${tag}`, c, false);
    },
    journalKeys: (skus) => Array.from({ length: skus }, (_, index) => `${prefix}:journal:{${benchSku(index)}}`),
    readAsOf: (redis, skus, asOfMs) =>
      sumScript(redis, READ_SKU, skus, (index) => [`${prefix}:inv:{${benchSku(index)}}`, `${prefix}:journal:{${benchSku(index)}}`, asOfMs + 1, 'on_hand', '']),
  }),
  'partition-journal': (prefix) => ({
    write(pipeline, c) {
      const partition = partitionOf(c.sku);
      const key = (kind: string) => `${prefix}:${kind}:{p${partition}}${c.sku}`;
      pipeline.hset(key('inv'), inventoryFields(c));
      pipeline.hset(key('catalog'), catalogueFields(c));
      pipeline.hset(key('chan'), 'shopify', observation(c));
      pipeline.hset(key('pushed'), 'shopify', pushed(c));
      pipeline.hset(key('pushstate'), pushState(c));
      appendJournal(pipeline, `${prefix}:journal:{p${partition}}`, c, true);
    },
    journalKeys: () => partitionJournals(prefix),
    readAsOf: (redis, skus, asOfMs) =>
      sumScript(redis, READ_SKU, skus, (index) => {
        const sku = benchSku(index);
        const partition = partitionOf(sku);
        return [`${prefix}:inv:{p${partition}}${sku}`, `${prefix}:journal:{p${partition}}`, asOfMs + 1, 'on_hand', sku];
      }),
  }),
  'sku-hash': (prefix) => ({
    write(pipeline, c) {
      const partition = partitionOf(c.sku);
      const fields: Record<string, string | number> = { ...inventoryFields(c) };
      for (const [name, value] of Object.entries(catalogueFields(c))) fields[`c:${name}`] = value;
      fields['obs:shopify'] = observation(c);
      fields['pushed:shopify'] = pushed(c);
      for (const [name, value] of Object.entries(pushState(c))) fields[`ps:${name}`] = value;
      pipeline.hset(`${prefix}:sku:{p${partition}}${c.sku}`, fields);
      appendJournal(pipeline, `${prefix}:journal:{p${partition}}`, c, true);
    },
    journalKeys: () => partitionJournals(prefix),
    readAsOf: (redis, skus, asOfMs) =>
      sumScript(redis, READ_SKU, skus, (index) => {
        const sku = benchSku(index);
        const partition = partitionOf(sku);
        return [`${prefix}:sku:{p${partition}}${sku}`, `${prefix}:journal:{p${partition}}`, asOfMs + 1, 'on_hand', sku];
      }),
  }),
  bucketed: (prefix, skus) => {
    const buckets = Math.max(1, Math.ceil(skus / SKUS_PER_BUCKET));
    const bucketOf = (sku: string) => fnv1a(`bucket:${sku}`) % buckets;
    // A bucket lives in partition bucket mod PARTITIONS, whose tag it shares with that partition's journal.
    const key = (kind: string, bucket: number) => `${prefix}:${kind}:{p${bucket % PARTITIONS}}${bucket}`;
    const kinds = ['inv', 'catalog', 'chan'];
    return {
      write(pipeline, c) {
        const bucket = bucketOf(c.sku);
        const ledger = inventoryFields(c);
        // Packed: one field per SKU and kind, values ≤ 64 bytes. Numbers as decimal text; the
        // Shopify gids keep only their numeric id (the gid prefix is the same for every SKU).
        pipeline.hset(key('inv', bucket), c.sku, [ledger.on_hand, ledger.reserved, ledger.holdback, ledger.oversold, ledger.version, ledger.updated_ms, ledger.journal_ms].join(','));
        pipeline.hset(key('catalog', bucket), c.sku, ['default', 0, 44012345678901 + c.index, 76543210987].join(','));
        // Channel state of the SKU: observed level/time, pushed level/time/version, dynamic holdback, journal cursor.
        pipeline.hset(key('chan', bucket), c.sku, ['s', c.onHand, c.atMs, c.onHand, c.atMs, 2, 0, `${c.atMs}-1`].join(','));
        appendJournal(pipeline, `${prefix}:journal:{p${bucket % PARTITIONS}}`, c, true);
      },
      journalKeys: () => partitionJournals(prefix),
      // One call per bucket: ~48 SKUs read atomically with their partition's journal.
      readAsOf: (redis, _skus, asOfMs) =>
        sumScript(redis, READ_BUCKET, buckets, (bucket) => [key('inv', bucket), `${prefix}:journal:{p${bucket % PARTITIONS}}`, asOfMs + 1], 50),
      bucketKeys: () => kinds.flatMap((kind) => Array.from({ length: buckets }, (_, bucket) => key(kind, bucket))),
    };
  },
};

async function inspectBuckets(redis: Redis, keys: readonly string[]): Promise<{ hashtables: string; maxFields: number }> {
  let hashtables = 0;
  let existing = 0;
  let maxFields = 0;
  for (let from = 0; from < keys.length; from += CHUNK) {
    const pipeline = redis.pipeline();
    for (const key of keys.slice(from, from + CHUNK)) pipeline.object('ENCODING', key).hlen(key);
    const replies = (await pipeline.exec()) ?? [];
    for (let index = 0; index < replies.length; index += 2) {
      const encoding = replies[index]![1];
      if (encoding === null || encoding === undefined) continue;
      existing += 1;
      if (encoding === 'hashtable') hashtables += 1;
      maxFields = Math.max(maxFields, Number(replies[index + 1]![1]));
    }
  }
  return { hashtables: `${hashtables} of ${existing}`, maxFields };
}

export function layoutTextReport(result: LayoutBenchResult): string {
  return [
    describeEnv(result.env),
    textTable(HEADER, rows(result)),
  ].join('\n');
}

const HEADER = ['SKUs', 'candidate', 'keys/SKU', 'fresh B/SKU', 'at rest B/SKU', 'at rest ÷ per-sku', 'as-of read (s)', 'hashtable buckets', 'most fields in a bucket', 'seed (s)'];

function rows(result: LayoutBenchResult): string[][] {
  return result.rows.map((row) => [
    row.skus.toLocaleString('en-US'),
    row.candidate,
    String(row.keys_per_sku),
    String(row.fresh_bytes_per_sku),
    String(row.at_rest_bytes_per_sku),
    Number.isNaN(row.ratio_to_today) ? '—' : row.ratio_to_today.toFixed(3),
    String(row.read_as_of_seconds),
    row.hashtable_buckets ?? '—',
    row.max_bucket_fields === undefined ? '—' : String(row.max_bucket_fields),
    String(row.seed_seconds),
  ]);
}

export function layoutMarkdown(result: LayoutBenchResult): string {
  return [
    '## Key layout candidates (`npm run bench -- layout`)',
    '',
    `${describeEnv(result.env)}, ${result.date.slice(0, 10)}. Redis at its defaults: ${Object.entries(result.redis_config).map(([name, value]) => `\`${name} ${value}\``).join(', ')}. Partitions: ${result.partitions}; buckets of ~${result.skus_per_bucket} SKUs. Target: ≤ ${result.target_bytes_per_sku} bytes per SKU at rest (issue 13 §1).`,
    '',
    'Each SKU holds the same content under every candidate: ledger fields, a Shopify-mapped catalogue entry, the newest Shopify level, the last acknowledged push and the pushers\' state, and two journal entries (create, initial count). "Fresh": the journal entries inside the retention; "at rest": every journal entry trimmed (older than the retention), no dedupe marks or reservation records (swept after the horizon). Bytes per SKU = `INFO memory used_memory` delta over the SKUs. Candidates are described in `bench/layout.ts` and the choice in `docs/decisions.md` ("Compact layout").',
    '',
    markdownTable(HEADER, rows(result)),
  ].join('\n');
}
