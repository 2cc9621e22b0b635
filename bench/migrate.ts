// `npm run bench -- migrate`: how long `stockguard migrate layout` takes on a large ledger
// written in layout 1 (the key names of every release before the compact layout,
// `<prefix>:<kind>:{<SKU>}`, a journal stream per SKU), and what it leaves behind.
//
// The seeded ledger is what an import leaves, plus some activity: per SKU an inventory
// hash, the import's event mark, a journal of two entries (create, initial count), a
// catalogue entry with a Shopify mapping (and its line in the channel-item index and the
// catalogue index); one SKU in ten also an open reservation and a pushed level. The layout-1
// shapes are written out here, not taken from src/redis/keys.ts, so the benchmark does
// not trust the code it measures for what the old layout was (as test/helpers/layout.ts).
// Pipelined, 1,000 SKUs at a time, on a private redis-server at its defaults.
//
// Measured: the migration's wall time and SKUs per second, its passes and keys moved, the
// Redis memory per SKU before and after. Checked afterwards: the marker is the current
// layout, and for a sample of SKUs the ledger's and the catalogue's own readers give back
// the seeded figures (on_hand, reserved, the journal's two entries, the Shopify mapping).
import type { Redis } from 'ioredis';
import { Catalog } from '../src/catalog/catalog.ts';
import { LAYOUT_VERSION } from '../src/domain/layout.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { KeySpace } from '../src/redis/keys.ts';
import { migrateLayout, type MigrateSummary } from '../src/redis/migrateLayout.ts';
import { type BenchEnv, benchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { connect, disconnect, execPipeline, usedMemory } from './lib/redis.ts';
import { round } from './lib/stats.ts';

export const DEFAULT_MIGRATE_SKUS = 1_000_000;
const SEED_BATCH = 1_000;
const SAMPLE = 1_000;
const PREFIX = 'bench-migrate';

export interface MigrateBenchResult {
  scenario: 'migrate';
  date: string;
  env: BenchEnv;
  redis_private: boolean;
  skus: number;
  seeded: { seconds: number; bytes_per_sku: number; keys: number };
  migration: {
    seconds: number;
    skus_per_second: number;
    outcome: MigrateSummary['outcome'];
    passes: number;
    keys_moved: number;
    journals_merged: number;
    entries_merged: number;
    layout_before: string;
    layout_after: number | undefined;
    bytes_per_sku_after: number;
  };
  checked: { skus: number; mismatches: number };
}

interface SeededSku {
  sku: string;
  onHand: number;
  reserved: number;
  inventoryItem: string;
}

function seeded(index: number): SeededSku {
  const open = index % 10 === 0;
  return {
    sku: `SKU-${String(index).padStart(7, '0')}`,
    onHand: 20 + (index % 180),
    reserved: open ? 1 : 0,
    inventoryItem: `gid://shopify/InventoryItem/${44012345678901 + index}`,
  };
}

/** Layout 1's key name of one kind (`<prefix>:<segment>:{<SKU>}`). */
const layout1 = (segment: string, sku: string) => `${PREFIX}:${segment}:{${sku}}`;

/** Writes SKUs first … first + count − 1 in layout 1, as the import and a little trading left them. */
function seedBatch(redis: Redis, first: number, count: number, nowMs: number) {
  const pipeline = redis.pipeline();
  for (let index = first; index < first + count; index += 1) {
    const s = seeded(index);
    const created = nowMs - 60_000;
    pipeline.hset(layout1('inv', s.sku), 'on_hand', s.onHand, 'reserved', s.reserved, 'holdback', 0, 'oversold', 0, 'version', s.reserved > 0 ? 3 : 2, 'updated_ms', nowMs, 'journal_ms', nowMs, 'swept_ms', nowMs);
    pipeline.hset(layout1('marks', s.sku), `evt:initial-${s.sku}`, `count|${s.onHand}@${nowMs}`);
    const entry = (cause: string, event: string, dOnHand: number, onHand: number, at: number) =>
      ['cause', cause, 'event', event, 'ref', '', 'd_on_hand', dOnHand, 'd_reserved', 0, 'd_oversold', 0, 'd_holdback', 0, 'on_hand', onHand, 'reserved', 0, 'at_ms', at];
    pipeline.xadd(layout1('journal', s.sku), `${created}-0`, ...entry('create', 'create', 0, 0, created));
    pipeline.xadd(layout1('journal', s.sku), `${nowMs}-0`, ...entry('count', `initial-${s.sku}`, s.onHand, s.onHand, nowMs));
    pipeline.hset(layout1('catalog', s.sku), 'sku', s.sku, 'holdback', '0', 'skuClass', 'default', 'shopifyInventoryItemId', s.inventoryItem, 'shopifyLocationId', 'gid://shopify/Location/76543210987');
    pipeline.sadd(`${PREFIX}:catalog-index`, s.sku);
    pipeline.hset(`${PREFIX}:catalog-channel-items`, `shopify:${s.inventoryItem}`, s.sku);
    if (s.reserved > 0) {
      pipeline.hset(layout1('res', s.sku), `shopify:${5_550_000 + index}:1`, JSON.stringify({ q: 1, h: 1, c: 0, r: 1, sf: 0, sh: 0 }));
      pipeline.hset(layout1('pushed', s.sku), 'shopify', JSON.stringify({ quantity: s.onHand - 1, atMs: nowMs, version: 3 }));
    }
  }
  return execPipeline(pipeline.exec());
}

export async function runMigrateScenario(options: { redisUrl: string; redisPrivate: boolean; skus?: number; log?: (line: string) => void }): Promise<MigrateBenchResult> {
  const log = options.log ?? (() => undefined);
  const skus = options.skus ?? DEFAULT_MIGRATE_SKUS;
  const [redis] = await connect(options.redisUrl, 1);
  try {
    const keys = new KeySpace(PREFIX);
    if ((await redis!.dbsize()) > 0 && options.redisPrivate) throw new Error('the private redis-server is not empty');
    const env = await benchEnv(redis!);
    const emptyBytes = await usedMemory(redis!);
    const nowMs = Date.now();
    const seedStart = performance.now();
    for (let first = 0; first < skus; first += SEED_BATCH) {
      await seedBatch(redis!, first, Math.min(SEED_BATCH, skus - first), nowMs);
      if ((first / SEED_BATCH) % 100 === 99) log(`seeded ${(first + SEED_BATCH).toLocaleString('en-US')} SKUs in layout 1`);
    }
    const seedSeconds = (performance.now() - seedStart) / 1000;
    const seededKeys = await redis!.dbsize();
    const bytesBefore = (await usedMemory(redis!)) - emptyBytes;
    log(`seeded ${skus.toLocaleString('en-US')} SKUs (${seededKeys.toLocaleString('en-US')} keys) in ${round(seedSeconds, 1)} s: ${round(bytesBefore / skus, 0)} B per SKU`);
    const layoutBefore = (await redis!.get(keys.layoutMarker())) ?? 'none (layout 1)';

    let lastLog = 0;
    const summary = await migrateLayout({
      redis: redis!,
      keys,
      onProgress: (progress) => {
        if (progress.elapsedMs - lastLog < 10_000) return;
        lastLog = progress.elapsedMs;
        log(`  ${progress.phase}: ${progress.skusDone.toLocaleString('en-US')}${progress.skusTotal !== undefined ? ` of ${progress.skusTotal.toLocaleString('en-US')}` : ''} SKUs, ${progress.keysMoved.toLocaleString('en-US')} keys moved${progress.partitionsTotal !== undefined ? `, partitions merged ${progress.partitionsMerged} of ${progress.partitionsTotal}` : ''}, ${round(progress.elapsedMs / 1000, 1)} s`);
      },
    });
    const seconds = summary.durationMs / 1000;
    const bytesAfter = (await usedMemory(redis!)) - emptyBytes;
    log(`migrated: ${summary.outcome} in ${round(seconds, 1)} s (${summary.passes} passes, ${summary.keysMoved.toLocaleString('en-US')} keys moved, ${summary.journalsMerged.toLocaleString('en-US')} journals merged), marker ${String(summary.markerWritten)}`);

    // The daemon's own readers on a sample spread over the catalogue.
    const ledger = new Ledger({ redis: redis!, keyPrefix: PREFIX });
    const catalog = new Catalog({ redis: redis!, keyPrefix: PREFIX });
    let mismatches = 0;
    const step = Math.max(1, Math.floor(skus / SAMPLE));
    let checkedSkus = 0;
    for (let index = 0; index < skus; index += step) {
      const s = seeded(index);
      const inventory = await ledger.inventory(s.sku);
      const journal = await ledger.journal(s.sku);
      const entry = await catalog.get(s.sku);
      const ok = inventory?.onHand === s.onHand && inventory.reserved === s.reserved && journal.length === 2 && journal[1]?.onHand === s.onHand && entry?.shopify?.inventoryItemId === s.inventoryItem;
      if (!ok) {
        mismatches += 1;
        if (mismatches <= 3) log(`MISMATCH ${s.sku}: inventory ${JSON.stringify(inventory)}, journal entries ${journal.length}, catalogue ${JSON.stringify(entry?.shopify)}`);
      }
      checkedSkus += 1;
    }
    log(`checked ${checkedSkus} SKUs through the ledger's and the catalogue's readers: ${mismatches} mismatches`);
    return {
      scenario: 'migrate',
      date: new Date().toISOString(),
      env,
      redis_private: options.redisPrivate,
      skus,
      seeded: { seconds: round(seedSeconds, 1), bytes_per_sku: round(bytesBefore / skus, 0), keys: seededKeys },
      migration: {
        seconds: round(seconds, 1),
        skus_per_second: round(skus / seconds, 0),
        outcome: summary.outcome,
        passes: summary.passes,
        keys_moved: summary.keysMoved,
        journals_merged: summary.journalsMerged,
        entries_merged: summary.entriesMerged,
        layout_before: layoutBefore,
        layout_after: summary.markerWritten,
        bytes_per_sku_after: round(bytesAfter / skus, 0),
      },
      checked: { skus: checkedSkus, mismatches },
    };
  } finally {
    if (!options.redisPrivate) {
      const { deleteKeys } = await import('./lib/redis.ts');
      await deleteKeys(redis!, PREFIX);
    }
    await disconnect([redis!]);
  }
}

const HEADER = ['SKUs', 'layout', 'seconds', 'SKUs/s', 'passes', 'keys moved', 'journals merged', 'B/SKU before', 'B/SKU after', 'sample checked', 'mismatches'];
const rows = (result: MigrateBenchResult) => [[
  result.skus.toLocaleString('en-US'),
  `1 → ${String(result.migration.layout_after)}`,
  String(result.migration.seconds),
  result.migration.skus_per_second.toLocaleString('en-US'),
  String(result.migration.passes),
  result.migration.keys_moved.toLocaleString('en-US'),
  result.migration.journals_merged.toLocaleString('en-US'),
  String(result.seeded.bytes_per_sku),
  String(result.migration.bytes_per_sku_after),
  String(result.checked.skus),
  String(result.checked.mismatches),
]];

export function migrateTextReport(result: MigrateBenchResult): string {
  return `${describeEnv(result.env)}\n${textTable(HEADER, rows(result))}`;
}

export function migrateMarkdown(result: MigrateBenchResult): string {
  return [
    '## Layout migration (`npm run bench -- migrate`)',
    '',
    `\`stockguard migrate layout\` (src/redis/migrateLayout.ts, called directly) on a ledger seeded in layout 1 (per SKU: inventory, the import's event mark, a two-entry journal, a catalogue entry with a Shopify mapping; one SKU in ten an open reservation and a pushed level), to layout ${LAYOUT_VERSION}, on a ${result.redis_private ? 'private redis-server at its defaults' : 'shared Redis (BENCH_REDIS_URL)'}. Measured ${result.date.slice(0, 10)} on ${describeEnv(result.env)}; one run, nothing else asked of the machine by this benchmark. "B/SKU" is INFO used_memory above the empty server, divided by the SKUs (the journals are fresh, not trimmed). After the run, a sample of SKUs is read back through the ledger's and the catalogue's own readers and compared with what was seeded.`,
    '',
    markdownTable(HEADER, rows(result)),
  ].join('\n');
}
