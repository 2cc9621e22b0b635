// The migration's packer of the ledger inventory (layout 3 → 4, src/redis/migrate/toBuckets.ts,
// which lists it in BUCKET_PACKERS): a SKU's layout-3 inventory hash
// `<prefix>:inv:{p<N>}:<SKU>` becomes its field in its `inv` bucket, packed by the same codec
// the TS readers use (src/domain/inventoryCodec.ts; the scripts' Lua half agrees with it,
// test/integration/inventory-codec.test.ts). Pure: the step reads and writes the keys.
import { encodeInventory, inventoryFromHash } from '../../domain/inventoryCodec.ts';
import type { PerSkuKeyKind } from '../keys.ts';
import type { BucketPacker } from './toBuckets.ts';

export const inventoryPacker: BucketPacker = {
  name: 'inventory',
  from: ['inventory'],
  to: 'inv',
  /** The SKU's packed inventory, or undefined when it has no inventory hash (or one without on_hand: nothing the scripts would read). */
  pack(_sku: string, hashes: Partial<Record<PerSkuKeyKind, Record<string, string>>>): string | undefined {
    const hash = hashes.inventory;
    if (hash === undefined) return undefined;
    const record = inventoryFromHash(hash);
    return record === undefined ? undefined : encodeInventory(record);
  },
};
