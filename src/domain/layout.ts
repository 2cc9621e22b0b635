// The key layout's partitions: every per-SKU key carries the hash tag `{p<N>}` of its SKU's
// layout partition instead of the SKU itself (docs/ledger.md, "Keys"; docs/decisions.md,
// "Compact layout"). A fixed 1,024 partitions over Redis Cluster's 16,384 slots: all keys
// of one SKU still share one tag (invariant I7), and the later slices of the compact
// layout pack many SKUs into per-partition keys, which needs the tag to be the partition's.
//
// Not the event streams' partitions (src/consumers/partition.ts): those are configurable
// (STOCKGUARD_STREAM_PARTITIONS) and only route events; this one is fixed because it is
// part of every key name, and changing it would mean moving every key.
import { fnv1a32 } from './fnv1a.ts';

/** How many layout partitions there are. Fixed: it is part of every per-SKU key name. */
export const LAYOUT_PARTITIONS = 1024;

/**
 * The key layout this stockguard reads and writes, kept in `<prefix>:layout`:
 * 1 = per-SKU keys tagged by the SKU (`inv:{SKU}`, no marker was written),
 * 2 = per-SKU keys tagged by the layout partition (`inv:{p<N>}:SKU`), a journal per SKU
 *     (`journal:{p<N>}:SKU`),
 * 3 = the same keys, one journal per layout partition (`journal:{p<N>}`, entries naming
 *     their SKU),
 * 4 = the SKUs' state packed into layout buckets (`inv-bucket:{p<N>}:<bucket>` …, field =
 *     SKU), the journal per partition as in 3.
 */
export const LAYOUT_VERSION = 4;

/** Layout 3, the one `stockguard migrate layout` passes through before packing into buckets. */
export const LAYOUT_PARTITION_JOURNALS = 3;

/** Layout 2, the one `stockguard migrate layout` passes through from layout 1. */
export const LAYOUT_PARTITION_TAGS = 2;

/**
 * How many buckets the compact layout packs SKUs into: 16 per layout partition. A bucket is
 * one hash per kind of state (`<prefix>:<kind>-bucket:{p<N>}:<bucket>`, src/redis/keys.ts),
 * field = the SKU, value = the SKU's state packed into one short string, so ~61 SKUs share a
 * key at 10^6 SKUs and the hash stays a listpack (Redis's default hash-max-listpack-entries
 * is 512: listpacks up to ~8 × 10^6 SKUs). Fixed, like the partitions: it is part of the key
 * names. A multiple of LAYOUT_PARTITIONS, so a bucket's partition is its SKU's.
 */
export const LAYOUT_BUCKETS = 16 * LAYOUT_PARTITIONS;

/**
 * The layout bucket of `key` (a SKU, or a channel item's name for the channel-item index),
 * 0 … LAYOUT_BUCKETS − 1: FNV-1a 32-bit mod LAYOUT_BUCKETS. Its partition,
 * `bucket % LAYOUT_PARTITIONS`, is layoutPartition(key).
 */
export function layoutBucket(key: string): number {
  return fnv1a32(key) % LAYOUT_BUCKETS;
}

/** The layout partition of `sku`, 0 … 1023: FNV-1a 32-bit of its UTF-8 bytes mod 1,024. */
export function layoutPartition(sku: string): number {
  return fnv1a32(sku) % LAYOUT_PARTITIONS;
}
