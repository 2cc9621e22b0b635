// Turns a ledger the current code wrote (layout 3, the inventory in buckets) back into the layouts before it, so the
// migration has real old ledgers to move: layout 2 (a journal stream per SKU,
// `<prefix>:journal:{p<N>}:<SKU>`, marker 2) and layout 1 (`<prefix>:<kind>:{<SKU>}`, no
// marker). The old names are written out here, not taken from src/redis/keys.ts, so the
// test does not trust the code it tests for what the old layouts were.
// DUMP + RESTORE + DEL (not RENAME): layout-1 and layout-2 names are in different Cluster slots.
import type { Cluster, Redis } from 'ioredis';
import { layoutPartition } from '../../src/domain/layout.ts';
import { decodeInventory, inventoryToHash } from '../../src/domain/inventoryCodec.ts';
import type { KeySpace, Layout1KeyKind, PerSkuKeyKind } from '../../src/redis/keys.ts';

/** The kind segment of each layout-1 key name, as layout 1 wrote them. */
export const LAYOUT1_SEGMENTS: Record<Layout1KeyKind, string> = {
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

export function layout1Key(prefix: string, kind: Layout1KeyKind, sku: string): string {
  return `${prefix}:${LAYOUT1_SEGMENTS[kind]}:{${sku}}`;
}

/** The SKU's own journal in layout 2. */
export function layout2JournalKey(prefix: string, sku: string): string {
  return `${prefix}:journal:{p${layoutPartition(sku)}}:${sku}`;
}

/**
 * Unpacks the inventory of `skus` from their `inv` buckets into layout 3's per-SKU inventory
 * hashes (`<prefix>:inv:{p<N>}:<SKU>`, the decimal fields the scripts once kept there) and
 * removes their bucket fields; returns the hashes written.
 */
export async function inventoryToLayout3(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<string[]> {
  const written: string[] = [];
  for (const sku of skus) {
    const bucket = keys.sku(sku).inventoryBucket;
    const packed = await client.hget(bucket, sku);
    if (packed === null) continue;
    const hash = `${keys.prefix}:inv:{p${layoutPartition(sku)}}:${sku}`;
    await client.hset(hash, inventoryToHash(decodeInventory(packed)));
    await client.hdel(bucket, sku);
    written.push(hash);
  }
  return written;
}

/**
 * Splits the partition journals of `skus` into one journal per SKU under its layout-2 name
 * (same ids, the field `sku` dropped), deletes the partition journals and sets the marker to
 * 2; returns the layout-2 journals written.
 */
export async function toLayout2(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<string[]> {
  await inventoryToLayout3(client, keys, skus);
  const written = new Set<string>();
  for (const partition of new Set(skus.map((sku) => layoutPartition(sku)))) {
    const journal = keys.partitionJournal(partition);
    for (const [id, fields] of await client.xrange(journal, '-', '+')) {
      const at = fields.indexOf('sku');
      const sku = fields[at + 1]!;
      const own = layout2JournalKey(keys.prefix, sku);
      await client.xadd(own, id, ...fields.filter((_field, index) => index !== at && index !== at + 1));
      written.add(own);
    }
    await client.del(journal);
  }
  await client.set(keys.layoutMarker(), '2');
  return [...written];
}

/** Turns the ledger of `skus` into layout 1 (through layout 2) and deletes the marker; returns the keys moved. */
export async function toLayout1(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<string[]> {
  await toLayout2(client, keys, skus);
  const moved: string[] = [];
  for (const sku of skus) {
    const current: [Layout1KeyKind, string][] = [...(Object.entries(keys.perSkuKeys(sku)) as [PerSkuKeyKind, string][]), ['journal', layout2JournalKey(keys.prefix, sku)]];
    for (const [kind, key] of current) {
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

/** `count` SKUs `<stem>-<n>` that share one layout partition (the first such set, by n). */
export function skusSharingAPartition(stem: string, count = 2): string[] {
  const byPartition = new Map<number, string[]>();
  for (let n = 0; ; n += 1) {
    const sku = `${stem}-${n}`;
    const partition = layoutPartition(sku);
    const members = [...(byPartition.get(partition) ?? []), sku];
    if (members.length === count) return members;
    byPartition.set(partition, members);
  }
}
