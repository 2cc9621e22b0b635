// Reading and writing a SKU's whole packed inventory from TS (src/domain/inventoryCodec.ts):
// its field in the SKU's `inv` bucket. The ledger scripts change it in Lua
// (src/lua/includes/inventoryCodec.lua); TS only reads it, and writes it whole only where a
// script would be wrong: restoring a snapshot, migrating, and tests.
import { decodeInventory, encodeInventory, type InventoryRecord } from '../domain/inventoryCodec.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { globEscape, scanKeys } from '../redis/scan.ts';

export type { InventoryRecord } from '../domain/inventoryCodec.ts';

/** The SKU's whole inventory, or undefined for a SKU the ledger does not know. */
export async function readInventoryRecord(redis: RedisClient, keys: KeySpace, sku: string): Promise<InventoryRecord | undefined> {
  const packed = await redis.hget(keys.sku(sku).inventoryBucket, sku);
  return packed === null ? undefined : decodeInventory(packed);
}

/** Overwrites the SKU's whole inventory (no journal entry, no version bump): snapshot restores, migrations and tests only. */
export async function writeInventoryRecord(redis: RedisClient, keys: KeySpace, sku: string, record: InventoryRecord): Promise<void> {
  await redis.hset(keys.sku(sku).inventoryBucket, sku, encodeInventory(record));
}

/**
 * Every SKU the ledger has (its field in an `inv` bucket), a bucket's SKUs at a time: SCAN
 * for the bucket keys (on every master of a Cluster), then HKEYS of each.
 */
export async function* scanInventorySkus(redis: RedisClient, keys: KeySpace, count = 1000): AsyncIterable<string[]> {
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:inv-bucket:*`, count)) {
    const buckets = found.filter((key) => keys.parseBucketKey(key)?.kind === 'inv');
    // One HKEYS per bucket: on Cluster the buckets live in different slots.
    const fields = await Promise.all(buckets.map((key) => redis.hkeys(key)));
    for (const skus of fields) if (skus.length > 0) yield skus;
  }
}
