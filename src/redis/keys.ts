// Every Redis key name stockguard uses is built here and nowhere else.
// Every per-SKU key is `<prefix>:<kind>:{p<N>}:<SKU>`, tagged by the SKU's layout
// partition N (src/domain/layout.ts): all keys of one SKU share that tag (invariant I7),
// so every ledger script touches a single Cluster slot. The layout before it (version 1,
// `<prefix>:<kind>:{<SKU>}`) is still named here, for `stockguard migrate layout` and the
// start-up check that refuses it (src/redis/layout.ts).
import { layoutPartition } from '../domain/layout.ts';
import { assertSku } from '../domain/validate.ts';
import { StockguardError } from '../errors.ts';

/** The event streams the consumers read (see docs/streams.md). */
export const EVENT_KINDS = ['sales', 'wms', 'notifications'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface SkuKeys {
  /** hash: on_hand, reserved, holdback, oversold, version, updated_ms, journal_ms */
  readonly inventory: string;
  /** hash: reservation id (`channel:order:line`) → JSON reservation record */
  readonly reservations: string;
  /** hash: WMS event / shipment id → fingerprint of the event, for idempotency */
  readonly eventMarks: string;
  /** stream: every change with its cause, event id, deltas and time */
  readonly journal: string;
  /** hash: channel → newest level the channel reported (drift detection input) */
  readonly channelLevels: string;
  /** hash: Amazon marketplace → newest FBA fulfillable quantity (informational, never pushed) */
  readonly fbaStock: string;
}

export class KeySpace {
  constructor(readonly prefix: string) {}

  sku(sku: string): SkuKeys {
    const suffix = this.skuSuffix(sku);
    return {
      inventory: `${this.prefix}:inv:${suffix}`,
      reservations: `${this.prefix}:res:${suffix}`,
      eventMarks: `${this.prefix}:marks:${suffix}`,
      journal: `${this.prefix}:journal:${suffix}`,
      channelLevels: `${this.prefix}:chan:${suffix}`,
      fbaStock: `${this.prefix}:fba:${suffix}`,
    };
  }

  /** What follows `<prefix>:<kind>:` in every per-SKU key: `{p<N>}:<SKU>`, the tag of its layout partition and the SKU. */
  private skuSuffix(sku: string): string {
    assertSku(sku);
    return `{p${layoutPartition(sku)}}:${sku}`;
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

  /** What the catalogue entry keys start with: redis-om's schema name (the key is `<this>:<catalogEntryId(sku)>`). */
  catalogEntryPrefix(): string {
    return `${this.prefix}:catalog`;
  }

  /** Hash: `shopify:<inventory item gid>` / `amazon:<seller SKU>` → our SKU. */
  catalogChannelItems(): string {
    return `${this.prefix}:catalog-channel-items`;
  }

  /** Hash: bundle SKU → its components as JSON `[{sku, quantity}]` (docs/catalog.md, "Bundles"). */
  catalogBundles(): string {
    return `${this.prefix}:catalog-bundles`;
  }

  /** Set of every SKU in the catalogue. */
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

  /** The SKU's catalogue entry key (`catalogEntryPrefix()` + `:` + `catalogEntryId(sku)`, as redis-om names it), in the SKU's slot. */
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

  /** Every per-SKU key of the SKU, by kind: the ledger's, the observations, the pushers', the catalogue entry. */
  perSkuKeys(sku: string): Record<PerSkuKeyKind, string> {
    const keys = this.sku(sku);
    return { ...keys, pushedLevels: this.pushedLevels(sku), pushState: this.pushState(sku), catalogEntry: this.catalogEntry(sku) };
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
   * Every per-SKU key of the SKU in layout 1 (before partition tags), by kind:
   * `<prefix>:<kind>:{<SKU>}`. Read only by `stockguard migrate layout` and the start-up check.
   */
  layout1PerSkuKeys(sku: string): Record<PerSkuKeyKind, string> {
    assertSku(sku);
    const keys = {} as Record<PerSkuKeyKind, string>;
    for (const [segment, kind] of PER_SKU_SEGMENTS) keys[kind] = `${this.prefix}:${segment}:{${sku}}`;
    return keys;
  }

  /** The kind and SKU of a layout-1 per-SKU key (the inverse of layout1PerSkuKeys); undefined for any other key. */
  parseLayout1PerSkuKey(key: string): { kind: PerSkuKeyKind; sku: string } | undefined {
    if (!key.startsWith(`${this.prefix}:`) || !key.endsWith('}')) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    const open = rest.indexOf(':{');
    if (open <= 0) return undefined;
    const kind = PER_SKU_SEGMENTS.get(rest.slice(0, open));
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

export type PerSkuKeyKind = keyof SkuKeys | 'pushedLevels' | 'pushState' | 'catalogEntry';

// The kind segment of each per-SKU key name, as built by sku(), pushedLevels(), pushState() and catalogEntry().
const PER_SKU_SEGMENTS = new Map<string, PerSkuKeyKind>([
  ['inv', 'inventory'],
  ['res', 'reservations'],
  ['marks', 'eventMarks'],
  ['journal', 'journal'],
  ['chan', 'channelLevels'],
  ['fba', 'fbaStock'],
  ['pushed', 'pushedLevels'],
  ['pushstate', 'pushState'],
  ['catalog', 'catalogEntry'],
]);
