// The catalogue's part of `stockguard migrate layout` step 3 → 4 (src/redis/migrate/toBuckets.ts):
// - catalogEntryPacker: a SKU's layout-3 entry hash (redis-om's HASH entity at
//   `<prefix>:catalog:{p<N>}:<SKU>`: every column as text, numbers included, and `sku`)
//   becomes its packed field in its `catalog` bucket (./packed.ts);
// - migrateCatalogGlobals: the global reverse index `<prefix>:catalog-channel-items`
//   (`shopify:<gid>`, `shopify-variant:<gid>`, `shopify-sku:<text>`, `amazon:<seller SKU>` →
//   SKU) moves into the `item` buckets, and the global set `<prefix>:catalog-index` is
//   deleted: the catalog buckets are the index now.
import { layoutBucket } from '../domain/layout.ts';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../redis/client.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { BucketPacker, GlobalStep } from '../redis/migrate/toBuckets.ts';
import { type KeyCommand, sendEach } from '../redis/topology.ts';
import { itemField, packRecord } from './packed.ts';

/** A layout-3 catalogue entry (redis-om's hash) → the SKU's packed `catalog` bucket field. */
export const catalogEntryPacker: BucketPacker = {
  name: 'catalogue entry',
  from: ['catalogEntry'],
  to: 'catalog',
  pack(sku, hashes) {
    const entry = hashes.catalogEntry;
    if (entry === undefined) return undefined;
    // redis-om wrote `sku` beside the columns; another SKU there means a hash copied by hand.
    if (entry.sku !== undefined && entry.sku !== sku) {
      throw new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `the catalogue entry of SKU ${JSON.stringify(sku)} names SKU ${JSON.stringify(entry.sku)}`, { details: { sku } });
    }
    return packRecord(sku, entry);
  },
};

export interface CatalogGlobalsOptions {
  dryRun?: boolean;
  /** Reverse-index fields per HSCAN round (default 1,000). */
  batchSize?: number;
}

export interface CatalogGlobalsReport {
  /** Channel-item fields written to the item buckets (or that would be, on a dry run). */
  itemsMoved: number;
  /** Fields of a shape the catalogue never writes (not a channel item it maps): dropped. */
  itemsDropped: string[];
  /** Fields already in their item bucket (a resumed batch, or written by a layout-4 catalogue: the bucket's is kept). */
  itemsKept: number;
  /** Whether the old index set was deleted (false when it was already gone). */
  indexDeleted: boolean;
}

/**
 * Moves the catalogue's global keys to layout 4: each field of the old channel-items hash
 * into its item bucket (HSETNX: a field a layout-4 catalogue already wrote is kept), then
 * deleted from the old hash, one HSCAN batch at a time, so an interrupted run resumes where
 * it stopped and a second run finds nothing; then the old index set is deleted (UNLINK). Run
 * after every entry is packed (toBuckets runs global steps last).
 */
export async function migrateCatalogGlobals(redis: RedisClient, keys: KeySpace, options: CatalogGlobalsOptions = {}): Promise<CatalogGlobalsReport> {
  const batchSize = options.batchSize ?? 1000;
  const oldItems = keys.catalogChannelItems();
  const report: CatalogGlobalsReport = { itemsMoved: 0, itemsDropped: [], itemsKept: 0, indexDeleted: false };
  let cursor = '0';
  do {
    const [next, flat] = await redis.hscan(oldItems, cursor, 'COUNT', batchSize);
    cursor = next;
    const moves: { ref: string; field: string; sku: string }[] = [];
    const refs: string[] = [];
    for (let index = 0; index < flat.length; index += 2) {
      const ref = flat[index]!;
      const sku = flat[index + 1]!;
      refs.push(ref);
      const field = itemField(ref);
      if (field === undefined) report.itemsDropped.push(ref);
      else moves.push({ ref, field, sku });
    }
    if (options.dryRun) {
      report.itemsMoved += moves.length;
      continue;
    }
    if (moves.length > 0) {
      const commands: KeyCommand[] = moves.map(({ field, sku }) => ['HSETNX', keys.bucketKey('item', layoutBucket(field)), field, sku]);
      const replies = await sendEach(redis, commands);
      replies.forEach(([error, reply], index) => {
        if (error) throw new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `moving channel item ${JSON.stringify(moves[index]!.ref)} failed: ${error.message}`, { cause: error });
        if (Number(reply) === 1) report.itemsMoved += 1;
        else report.itemsKept += 1;
      });
    }
    // Only after their item-bucket fields are written: a crash in between redoes the batch.
    if (refs.length > 0) await redis.hdel(oldItems, ...refs);
  } while (cursor !== '0');
  if (!options.dryRun) {
    await redis.unlink(oldItems);
    report.indexDeleted = (await redis.unlink(keys.catalogIndex())) > 0;
  }
  return report;
}

/** migrateCatalogGlobals as toBuckets' global step; counts the channel items moved. */
export const catalogGlobalsStep: GlobalStep = {
  name: 'catalogue channel-item',
  async run({ redis, keys, dryRun }) {
    const report = await migrateCatalogGlobals(redis, keys, { dryRun });
    return report.itemsMoved;
  },
};
