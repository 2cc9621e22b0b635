// Turns a ledger the current code wrote (layout 4) back into the layouts before it, so the
// migration has real old ledgers to move: layout 3 (a hash per SKU and kind,
// `<prefix>:<kind>:{p<N>}:<SKU>`, marker 3), layout 2 (a journal stream per SKU,
// `<prefix>:journal:{p<N>}:<SKU>`, marker 2) and layout 1 (`<prefix>:<kind>:{<SKU>}`, no
// marker). The old names are written out here, not taken from src/redis/keys.ts, so the
// test does not trust the code it tests for what the old layouts were.
// DUMP + RESTORE + DEL (not RENAME): layout-1 and layout-2 names are in different Cluster slots.
import { decodeChannelState } from '../../src/domain/channelState.ts';
import type { Cluster, Redis } from 'ioredis';
import { CHANNEL_ITEM_KINDS } from '../../src/catalog/catalog.ts';
import { itemField, unpackRecord } from '../../src/catalog/packed.ts';
import { layoutBucket, layoutPartition } from '../../src/domain/layout.ts';
import { decodeInventory, inventoryToHash } from '../../src/domain/inventoryCodec.ts';
import type { KeySpace, Layout1KeyKind } from '../../src/redis/keys.ts';

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

/** A layout-3 per-SKU key, as layout 3 named it. */
export function layout3Key(prefix: string, kind: Exclude<Layout1KeyKind, 'journal'>, sku: string): string {
  return `${prefix}:${LAYOUT1_SEGMENTS[kind]}:{p${layoutPartition(sku)}}:${sku}`;
}

/**
 * Unpacks one bucket kind's packed value of a SKU back into the per-SKU hashes layout 3 kept
 * (the inverse of that kind's migration packer, src/redis/migrate/toBuckets.ts). Each packed
 * kind adds its own here, beside its codec's tests.
 */
export interface Layout3Unpacker {
  bucket: 'inv' | 'catalog' | 'chan';
  unpack(sku: string, value: string): Partial<Record<Exclude<Layout1KeyKind, 'journal'>, Record<string, string>>>;
}

export const LAYOUT3_UNPACKERS: Layout3Unpacker[] = [
  // The ledger inventory: `inv` bucket → `<prefix>:inv:{p<N>}:<SKU>` (src/domain/inventoryCodec.ts).
  { bucket: 'inv', unpack: (_sku, value) => ({ inventory: inventoryToHash(decodeInventory(value)) }) },
  {
    // The channel state (src/pushers/channelStatePacker.ts): event ids were not kept, so a
    // made-up one stands in (nothing reads it); a confirmed push is layout 3's
    // `applied:<channel>` field of the pushstate hash, holding the push's atMs.
    bucket: 'chan',
    unpack: (_sku, value) => {
      const state = decodeChannelState(value);
      const observations = (entries: Record<string, { quantity: number; observedAtMs: number }>) =>
        Object.fromEntries(Object.entries(entries).map(([name, { quantity, observedAtMs }]) => [name, JSON.stringify({ at: observedAtMs, q: quantity, e: `layout3-${observedAtMs}` })]));
      return {
        pushedLevels: Object.fromEntries(Object.entries(state.pushed).map(([channel, { quantity, atMs, version }]) => [channel, JSON.stringify({ quantity, atMs, version })])),
        channelLevels: observations(state.observed),
        fbaStock: observations(state.fba),
        pushState: Object.fromEntries(Object.entries(state.pushed).filter(([, { applied }]) => applied).map(([channel, { atMs }]) => [`applied:${channel}`, String(atMs)])),
      };
    },
  },
  // The catalogue entry as redis-om's HASH entity held it: every column as text, and `sku`.
  {
    bucket: 'catalog',
    unpack: (sku, value) => ({ catalogEntry: Object.fromEntries(Object.entries(unpackRecord(sku, value)).map(([column, field]) => [column, String(field)])) }),
  },
];

/**
 * The catalogue's global keys of layout 3 for `skus`: each SKU in the set
 * `<prefix>:catalog-index`, each of its channel items in the hash
 * `<prefix>:catalog-channel-items` (`<kind>:<identifier>` → SKU) instead of its item bucket.
 * Reads the SKUs' catalog buckets, so it runs before their entries are unpacked.
 */
async function catalogGlobalsToLayout3(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<void> {
  for (const sku of skus) {
    const packed = await client.hget(keys.skuBucket('catalog', sku), sku);
    if (packed === null) continue;
    await client.sadd(`${keys.prefix}:catalog-index`, sku);
    const record = unpackRecord(sku, packed);
    for (const [kind, { column }] of Object.entries(CHANNEL_ITEM_KINDS)) {
      const identifier = record[column];
      if (identifier === undefined) continue;
      const ref = `${kind}:${String(identifier)}`;
      const field = itemField(ref)!;
      const bucket = keys.bucketKey('item', layoutBucket(field));
      if ((await client.hget(bucket, field)) !== sku) continue;
      await client.hset(`${keys.prefix}:catalog-channel-items`, ref, sku);
      await client.hdel(bucket, field);
    }
  }
}

/**
 * Turns the bucketed state of `skus` (layout 4) into layout 3's per-SKU hashes, with every
 * unpacker of LAYOUT3_UNPACKERS (or those given), and sets the marker to 3; returns the
 * layout-3 keys written.
 */
export async function toLayout3(client: Redis | Cluster, keys: KeySpace, skus: readonly string[], unpackers: readonly Layout3Unpacker[] = LAYOUT3_UNPACKERS): Promise<string[]> {
  const written: string[] = [];
  if (unpackers.some(({ bucket }) => bucket === 'catalog')) await catalogGlobalsToLayout3(client, keys, skus);
  for (const sku of skus) {
    for (const { bucket, unpack } of unpackers) {
      const key = keys.skuBucket(bucket, sku);
      const value = await client.hget(key, sku);
      if (value === null) continue;
      for (const [kind, fields] of Object.entries(unpack(sku, value)) as [Exclude<Layout1KeyKind, 'journal'>, Record<string, string>][]) {
        if (Object.keys(fields).length === 0) continue;
        const old = layout3Key(keys.prefix, kind, sku);
        await client.hset(old, fields);
        written.push(old);
      }
      await client.hdel(key, sku);
    }
  }
  await client.set(keys.layoutMarker(), '3');
  return written;
}

/** The SKU's own journal in layout 2. */
export function layout2JournalKey(prefix: string, sku: string): string {
  return `${prefix}:journal:{p${layoutPartition(sku)}}:${sku}`;
}

/**
 * Unpacks the buckets of `skus` (toLayout3), splits the partition journals of `skus` into one journal per SKU under its layout-2 name
 * (same ids, the field `sku` dropped), deletes the partition journals and sets the marker to
 * 2; returns the layout-2 journals written.
 */
export async function toLayout2(client: Redis | Cluster, keys: KeySpace, skus: readonly string[]): Promise<string[]> {
  await toLayout3(client, keys, skus);
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
    // Layout 2's names are layout 3's, written out here (not keys.perSkuKeys: the current layout packs some kinds into buckets).
    const current: [Layout1KeyKind, string][] = (Object.keys(LAYOUT1_SEGMENTS) as Layout1KeyKind[]).map((kind) => [kind, kind === 'journal' ? layout2JournalKey(keys.prefix, sku) : layout3Key(keys.prefix, kind, sku)]);
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
