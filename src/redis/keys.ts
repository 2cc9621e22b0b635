// Every Redis key name stockguard uses is built here and nowhere else.
// Every per-SKU key is `<prefix>:<kind>:{p<N>}:<SKU>`, tagged by the SKU's layout
// partition N (src/domain/layout.ts), and the journal is one stream per partition,
// `<prefix>:journal:{p<N>}`, whose entries name their SKU (layout 3): all keys of one SKU
// share that tag (invariant I7), so every ledger script touches a single Cluster slot.
// The layouts before it (1: `<prefix>:<kind>:{<SKU>}`; 2: today's names with a journal per
// SKU, `<prefix>:journal:{p<N>}:<SKU>`) are still named here, for `stockguard migrate
// layout` and the start-up check that refuses them (src/redis/layout.ts).
import { LAYOUT_BUCKETS, LAYOUT_PARTITIONS, layoutBucket, layoutPartition } from '../domain/layout.ts';
import { assertSku } from '../domain/validate.ts';
import { StockguardError } from '../errors.ts';

/** The event streams the consumers read (see docs/streams.md). */
export const EVENT_KINDS = ['sales', 'wms', 'notifications'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface SkuKeys {
  /**
   * hash, the SKU's `inv` bucket (shared with the bucket's other SKUs): field = the SKU,
   * value = its ledger inventory packed in one string (src/domain/inventoryCodec.ts,
   * src/lua/includes/inventoryCodec.lua): on_hand, reserved, holdback, oversold, version,
   * updated_ms, journal_ms, swept_ms, sold:<channel>, wms_seq, wms_ahead.
   */
  readonly inventoryBucket: string;
  /** hash: reservation id (`channel:order:line`) → JSON reservation record */
  readonly reservations: string;
  /** hash: WMS event / shipment id → fingerprint of the event, for idempotency */
  readonly eventMarks: string;
  /**
   * stream: the journal of the SKU's layout partition, shared with the partition's other
   * SKUs: every change with its SKU (`sku`), cause, event id, deltas and time. Read a SKU's
   * entries through Ledger.journal (filtered by `sku`), never with a bare XRANGE.
   */
  readonly journal: string;
  /** hash: channel → newest level the channel reported (drift detection input) */
  readonly channelLevels: string;
  /** hash: Amazon marketplace → newest FBA fulfillable quantity (informational, never pushed) */
  readonly fbaStock: string;
}

/**
 * The kinds of bucket hash (docs/decisions.md, "Compact layout"): `inv` the ledger's
 * inventory, `catalog` the catalogue entries, `chan` the channel state, `item` the index from
 * a channel's item name to our SKU (bucketed by the item name, not the SKU).
 */
export const BUCKET_KINDS = ['inv', 'catalog', 'chan', 'item'] as const;
export type BucketKind = (typeof BUCKET_KINDS)[number];

export class KeySpace {
  constructor(readonly prefix: string) {}

  /**
   * Hash of one layout bucket of one kind: field = SKU (for `item`, the item name), value
   * = that SKU's state of this kind packed in one string. In the bucket's partition's slot
   * `{p<bucket mod 1024>}`, which for a SKU's bucket is the SKU's own tag (I7).
   */
  bucketKey(kind: BucketKind, bucket: number): string {
    if (!BUCKET_KINDS.includes(kind)) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `bucket kind must be one of ${BUCKET_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    if (!Number.isSafeInteger(bucket) || bucket < 0 || bucket >= LAYOUT_BUCKETS) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `layout bucket must be a whole number 0 … ${LAYOUT_BUCKETS - 1}, got ${String(bucket)}`);
    }
    return `${this.prefix}:${kind}-bucket:{p${bucket % LAYOUT_PARTITIONS}}:${bucket}`;
  }

  /** The bucket hash of `kind` holding `sku`'s field (the field is the SKU itself). */
  skuBucket(kind: Exclude<BucketKind, 'item'>, sku: string): string {
    assertSku(sku);
    return this.bucketKey(kind, layoutBucket(sku));
  }

  /** Every bucket hash of `kind` in one layout partition (16), in bucket order. */
  partitionBuckets(kind: BucketKind, partition: number): string[] {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= LAYOUT_PARTITIONS) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `layout partition must be a whole number 0 … ${LAYOUT_PARTITIONS - 1}, got ${String(partition)}`);
    }
    return Array.from({ length: LAYOUT_BUCKETS / LAYOUT_PARTITIONS }, (_, index) => this.bucketKey(kind, partition + index * LAYOUT_PARTITIONS));
  }

  /** The bucket and partition of a bucket hash key (the inverse of bucketKey); undefined for any other key. */
  parseBucketKey(key: string): { kind: BucketKind; bucket: number } | undefined {
    if (!key.startsWith(`${this.prefix}:`)) return undefined;
    const match = /^([a-z]+)-bucket:\{p(0|[1-9]\d{0,3})\}:(0|[1-9]\d{0,4})$/su.exec(key.slice(this.prefix.length + 1));
    if (!match) return undefined;
    const kind = match[1] as BucketKind;
    const bucket = Number(match[3]);
    if (!BUCKET_KINDS.includes(kind) || bucket >= LAYOUT_BUCKETS || bucket % LAYOUT_PARTITIONS !== Number(match[2])) return undefined;
    return { kind, bucket };
  }

  sku(sku: string): SkuKeys {
    const suffix = this.skuSuffix(sku);
    return {
      inventoryBucket: this.skuBucket('inv', sku),
      reservations: `${this.prefix}:res:${suffix}`,
      eventMarks: `${this.prefix}:marks:${suffix}`,
      journal: this.partitionJournal(layoutPartition(sku)),
      channelLevels: `${this.prefix}:chan:${suffix}`,
      fbaStock: `${this.prefix}:fba:${suffix}`,
    };
  }

  /** What follows `<prefix>:<kind>:` in every per-SKU key: `{p<N>}:<SKU>`, the tag of its layout partition and the SKU. */
  private skuSuffix(sku: string): string {
    assertSku(sku);
    return `{p${layoutPartition(sku)}}:${sku}`;
  }

  /**
   * Stream: the journal of one layout partition (0 … LAYOUT_PARTITIONS − 1), every ledger
   * change of its SKUs in id order, each entry with the field `sku` (docs/ledger.md, "Journal").
   */
  partitionJournal(partition: number): string {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= LAYOUT_PARTITIONS) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `layout partition must be a whole number 0 … ${LAYOUT_PARTITIONS - 1}, got ${String(partition)}`);
    }
    return `${this.prefix}:journal:{p${partition}}`;
  }

  /** Every partition journal, partition 0 first. */
  partitionJournals(): string[] {
    return Array.from({ length: LAYOUT_PARTITIONS }, (_, partition) => this.partitionJournal(partition));
  }

  /** The layout partition of a partition journal key (the inverse of partitionJournal); undefined for any other key. */
  parsePartitionJournal(key: string): number | undefined {
    const match = /^journal:\{p(0|[1-9]\d{0,3})\}$/su.exec(key.startsWith(`${this.prefix}:`) ? key.slice(this.prefix.length + 1) : '');
    if (!match) return undefined;
    const partition = Number(match[1]);
    return partition < LAYOUT_PARTITIONS ? partition : undefined;
  }

  /**
   * The SKU's own journal stream in layout 2 (`<prefix>:journal:{p<N>}:<SKU>`, before one
   * journal per partition). Read only by `stockguard migrate layout` and the start-up check.
   */
  layout2Journal(sku: string): string {
    return `${this.prefix}:journal:${this.skuSuffix(sku)}`;
  }

  /** The SKU of a layout-2 journal key (the inverse of layout2Journal); undefined for any other key. */
  parseLayout2Journal(key: string): string | undefined {
    if (!key.startsWith(`${this.prefix}:journal:{p`)) return undefined;
    const match = /^journal:\{p(0|[1-9]\d{0,3})\}:(.+)$/su.exec(key.slice(this.prefix.length + 1));
    if (!match) return undefined;
    const sku = match[2]!;
    if (!isKeyableSku(sku) || Number(match[1]) !== layoutPartition(sku)) return undefined;
    return sku;
  }

  /** String holding the key layout version of the ledger under this prefix (LAYOUT_VERSION; src/redis/layout.ts). */
  layoutMarker(): string {
    return `${this.prefix}:layout`;
  }

  /** Sorted set of SKUs changed since the pushers last looked (score = first change ms). */
  dirtySkus(): string {
    return `${this.prefix}:dirty`;
  }

  /**
   * Hash in the SKU's slot, owned by the pushers: channel → JSON {quantity, atMs, version}
   * of the last push the channel acknowledged (docs/pushers.md).
   */
  pushedLevels(sku: string): string {
    return `${this.prefix}:pushed:${this.skuSuffix(sku)}`;
  }

  /**
   * Hash in the SKU's slot, owned by the pushers: the sales window behind the dynamic
   * holdback (`sales`, `cursor`) and the dynamic holdback in force (`dynamic_holdback`).
   * Never the ledger's `holdback` field.
   */
  pushState(sku: string): string {
    return `${this.prefix}:pushstate:${this.skuSuffix(sku)}`;
  }

  /** String: JSON {p99Ms, samples, atMs}, the consumers' measured sale-to-ledger latency. */
  saleToLedgerLatency(): string {
    return `${this.prefix}:sale-latency`;
  }

  /** Layout ≤ 3 only (the migration reads it): what the catalogue entry keys started with, redis-om's schema name. */
  catalogEntryPrefix(): string {
    return `${this.prefix}:catalog`;
  }

  /**
   * Layout ≤ 3 only (the migration moves it into the `item` buckets): hash
   * `shopify:<inventory item gid>` / `amazon:<seller SKU>` / … → our SKU.
   */
  catalogChannelItems(): string {
    return `${this.prefix}:catalog-channel-items`;
  }

  /** Hash: bundle SKU → its components as JSON `[{sku, quantity}]` (docs/catalog.md, "Bundles"). */
  catalogBundles(): string {
    return `${this.prefix}:catalog-bundles`;
  }

  /** Layout ≤ 3 only (the migration deletes it; the catalog buckets list the SKUs now): set of every SKU in the catalogue. */
  catalogIndex(): string {
    return `${this.prefix}:catalog-index`;
  }

  /**
   * Event stream of one kind and partition. The `{kind:partition}` hash tag spreads the
   * partitions over Cluster slots while keeping each stream's delivery marks in its slot,
   * so appendEvent.lua can mark and append atomically.
   */
  eventStream(kind: EventKind, partition: number): string {
    if (!EVENT_KINDS.includes(kind)) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `event kind must be one of ${EVENT_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
    }
    if (!Number.isSafeInteger(partition) || partition < 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `partition must be a whole number ≥ 0, got ${String(partition)}`);
    }
    return `${this.eventStreamPrefix()}{${kind}:${partition}}`;
  }

  /** Every partition of one kind: partitions 0 … partitions − 1. */
  eventStreams(kind: EventKind, partitions: number): string[] {
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `partitions must be a whole number ≥ 1, got ${String(partitions)}`);
    }
    return Array.from({ length: partitions }, (_, partition) => this.eventStream(kind, partition));
  }

  /** What every event stream key starts with (the DLQ replay refuses any other target). */
  eventStreamPrefix(): string {
    return `${this.prefix}:events:`;
  }

  /** Stream of dead letters: entries no handler could apply, with the reason. */
  deadLetters(): string {
    return `${this.prefix}:dlq`;
  }

  /** Marks a delivery id as appended to `stream` (same hash tag as the stream). */
  deliveryMark(stream: string, deliveryId: string): string {
    return `${stream}:seen:${deliveryId}`;
  }

  /** Sorted set: order id of an open checkout hold → expiry time (ms). */
  holdExpiries(): string {
    return `${this.prefix}:holds`;
  }

  /** Hash: order id of an open checkout hold → JSON list of its lines ({sku, lineId}). */
  holdLines(): string {
    return `${this.prefix}:hold-lines`;
  }

  /** Layout ≤ 3 only: the SKU's catalogue entry key, as redis-om named it (`catalogEntryPrefix()` + `:` + `catalogEntryId(sku)`); now a field of `skuBucket('catalog', sku)`. */
  catalogEntry(sku: string): string {
    return `${this.catalogEntryPrefix()}:${this.catalogEntryId(sku)}`;
  }

  /** redis-om's entity id of the SKU's catalogue entry: `{p<N>}:<SKU>`, so the entry shares the SKU's tag. */
  catalogEntryId(sku: string): string {
    return this.skuSuffix(sku);
  }

  /** String holding the owner token of a run that must happen once across replicas (a lock with a TTL). */
  runLock(name: 'reconcile' | 'snapshot' | 'journal-trim'): string {
    return `${this.prefix}:lock:${name}`;
  }

  /**
   * Hash owned by reconciliation: SKU → `<first pending movement number>:<ms first seen>`
   * for SKUs whose WMS movements were pending at the last run (docs/reconcile.md,
   * "Pending and lost movements"). Holds only the SKUs pending at the last completed run.
   */
  reconcilePending(): string {
    return `${this.prefix}:reconcile-pending`;
  }

  /** String marking that one replica took a scheduled job's time slot (node-cron run coordination); expires. */
  scheduledSlot(slotKey: string): string {
    return `${this.prefix}:schedule:${slotKey}`;
  }

  /**
   * Every key of the SKU's own, by kind: the ledger's, the observations, the pushers', the
   * catalogue entry. Not the journal: the partition's stream is shared with other SKUs. Nor
   * the buckets: `inventory` is the layout-3 inventory hash `<prefix>:inv:{p<N>}:<SKU>`,
   * read only by `stockguard migrate layout` (the inventory now lives in the `inv` bucket).
   */
  perSkuKeys(sku: string): Record<PerSkuKeyKind, string> {
    const { journal: _shared, inventoryBucket: _bucket, ...keys } = this.sku(sku);
    return { inventory: `${this.prefix}:inv:${this.skuSuffix(sku)}`, ...keys, pushedLevels: this.pushedLevels(sku), pushState: this.pushState(sku), catalogEntry: this.catalogEntry(sku) };
  }

  /** The kind and SKU of a per-SKU key (the inverse of perSkuKeys); undefined for any other key, a layout-1 one included. */
  parsePerSkuKey(key: string): { kind: PerSkuKeyKind; sku: string } | undefined {
    if (!key.startsWith(`${this.prefix}:`)) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    // `<segment>:{p<N>}:<SKU>`: no segment holds ':', the SKU may.
    const match = /^([a-z]+):\{p(0|[1-9]\d{0,3})\}:(.+)$/su.exec(rest);
    if (!match) return undefined;
    const kind = PER_SKU_SEGMENTS.get(match[1]!);
    const sku = match[3]!;
    if (kind === undefined || !isKeyableSku(sku)) return undefined;
    // The tag must be the SKU's own partition: anything else is not a key stockguard wrote.
    if (Number(match[2]) !== layoutPartition(sku)) return undefined;
    return { kind, sku };
  }

  /**
   * Every per-SKU key of the SKU in layout 1 (before partition tags), by kind, its own
   * journal included: `<prefix>:<kind>:{<SKU>}`. Read only by `stockguard migrate layout`
   * and the start-up check.
   */
  layout1PerSkuKeys(sku: string): Record<Layout1KeyKind, string> {
    assertSku(sku);
    const keys = {} as Record<Layout1KeyKind, string>;
    for (const [segment, kind] of LAYOUT1_SEGMENTS) keys[kind] = `${this.prefix}:${segment}:{${sku}}`;
    return keys;
  }

  /**
   * The kind and SKU of a layout-1 per-SKU key (the inverse of layout1PerSkuKeys); undefined
   * for any other key, and for a name that is also a partition journal's (`journal:{p9}`: the
   * layout-1 journal of a SKU named `p9` has it too, but that SKU is found by its other keys).
   */
  parseLayout1PerSkuKey(key: string): { kind: Layout1KeyKind; sku: string } | undefined {
    if (!key.startsWith(`${this.prefix}:`) || !key.endsWith('}')) return undefined;
    if (this.parsePartitionJournal(key) !== undefined) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    const open = rest.indexOf(':{');
    if (open <= 0) return undefined;
    const kind = LAYOUT1_SEGMENTS.get(rest.slice(0, open));
    const sku = rest.slice(open + 2, -1);
    if (kind === undefined || !isKeyableSku(sku)) return undefined;
    return { kind, sku };
  }
}

/** What assertSku accepts, without throwing: a parsed key name with anything else is not one of ours. */
function isKeyableSku(sku: string): boolean {
  try {
    assertSku(sku);
    return true;
  } catch {
    return false;
  }
}

/** The kinds of key a SKU has of its own (the journal is its partition's). */
export type PerSkuKeyKind = Exclude<keyof SkuKeys, 'journal' | 'inventoryBucket'> | 'inventory' | 'pushedLevels' | 'pushState' | 'catalogEntry';

/** The kinds of per-SKU key in layout 1, where every SKU had its own journal. */
export type Layout1KeyKind = PerSkuKeyKind | 'journal';

// The kind segment of each per-SKU key name, as built by sku(), pushedLevels(), pushState() and catalogEntry().
const PER_SKU_SEGMENTS = new Map<string, PerSkuKeyKind>([
  ['inv', 'inventory'],
  ['res', 'reservations'],
  ['marks', 'eventMarks'],
  ['chan', 'channelLevels'],
  ['fba', 'fbaStock'],
  ['pushed', 'pushedLevels'],
  ['pushstate', 'pushState'],
  ['catalog', 'catalogEntry'],
]);

// Layout 1 named the journal like any other per-SKU key: `<prefix>:journal:{<SKU>}`.
const LAYOUT1_SEGMENTS = new Map<string, Layout1KeyKind>([...PER_SKU_SEGMENTS, ['journal', 'journal']]);
