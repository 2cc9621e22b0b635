// Turns a ledger the current code wrote (layout 2) back into layout 1, the layout before
// partition tags, so the migration has a real old ledger to move. The old names are
// written out here, not taken from src/redis/keys.ts, so the test does not trust the code
// it tests for what layout 1 was: `<prefix>:<kind>:{<SKU>}`, no marker.
// DUMP + RESTORE + DEL (not RENAME): the two names are in different Cluster slots.
import type { Cluster, Redis } from 'ioredis';
import type { KeySpace, PerSkuKeyKind } from '../../src/redis/keys.ts';

/** The kind segment of each layout-1 key name, as layout 1 wrote them. */
export const LAYOUT1_SEGMENTS: Record<PerSkuKeyKind, string> = {
  inventory: 'inv',
  reservations: 'res',
  eventMarks: 'marks',
  journal: 'journal',
  channelLevels: 'chan',
  fbaStock: 'fba',
  pushedLevels: 'pushed',
  pushState: 'pushstate',
  catalogEntry: 'catalog',
};

export function layout1Key(prefix: string, kind: PerSkuKeyKind, sku: string): string {
  return `${prefix}:${LAYOUT1_SEGMENTS[kind]}:{${sku}}`;
}

/** Moves every per-SKU key of `skus` to its layout-1 name and deletes the marker; returns the keys moved. */
export async function toLayout1(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<string[]> {
  const moved: string[] = [];
  for (const sku of skus) {
    for (const [kind, key] of Object.entries(keys.perSkuKeys(sku)) as [PerSkuKeyKind, string][]) {
      const dump = await client.dumpBuffer(key);
      if (dump === null) continue;
      const ttl = await client.pttl(key);
      const old = layout1Key(keys.prefix, kind, sku);
      await client.restore(old, ttl > 0 ? ttl : 0, dump);
      await client.del(key);
      moved.push(old);
    }
  }
  await client.del(keys.layoutMarker());
  return moved;
}
