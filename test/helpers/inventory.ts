// Tests that simulate drift the scripts never cause edit a SKU's packed inventory by hand
// (its field in the `inv` bucket) through the TS codec.
import type { InventoryRecord } from '../../src/domain/inventoryCodec.ts';
import { readInventoryRecord, writeInventoryRecord } from '../../src/ledger/inventoryRecord.ts';
import type { KeySpace } from '../../src/redis/keys.ts';
import type { RedisClient } from '../../src/redis/client.ts';

/** Overwrites some fields of the SKU's inventory (no journal entry, no version bump); the SKU must exist. */
export async function patchInventory(redis: RedisClient, keys: KeySpace, sku: string, patch: Partial<InventoryRecord>): Promise<void> {
  const record = await readInventoryRecord(redis, keys, sku);
  if (record === undefined) throw new Error(`patchInventory: no inventory for ${sku}`);
  await writeInventoryRecord(redis, keys, sku, { ...record, ...patch });
}
