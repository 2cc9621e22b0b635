// Every Redis key name stockguard uses is built here and nowhere else.
// All keys of one SKU share the hash tag `{sku}` (invariant I7), so every ledger
// script touches a single Cluster slot.
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
    assertSku(sku);
    const tag = `{${sku}}`;
    return {
      inventory: `${this.prefix}:inv:${tag}`,
      reservations: `${this.prefix}:res:${tag}`,
      eventMarks: `${this.prefix}:marks:${tag}`,
      journal: `${this.prefix}:journal:${tag}`,
      channelLevels: `${this.prefix}:chan:${tag}`,
      fbaStock: `${this.prefix}:fba:${tag}`,
    };
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
    assertSku(sku);
    return `${this.prefix}:pushed:{${sku}}`;
  }

  /**
   * Hash in the SKU's slot, owned by the pushers: the sales window behind the dynamic
   * holdback (`sales`, `cursor`) and the dynamic holdback in force (`dynamic_holdback`).
   * Never the ledger's `holdback` field.
   */
  pushState(sku: string): string {
    assertSku(sku);
    return `${this.prefix}:pushstate:{${sku}}`;
  }

  /** String: JSON {p99Ms, samples, atMs}, the consumers' measured sale-to-ledger latency. */
  saleToLedgerLatency(): string {
    return `${this.prefix}:sale-latency`;
  }

  /** The catalogue entry of one SKU (a redis-om hash), in the SKU's slot. */
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

  /** The SKU's catalogue entry key (`catalogEntryPrefix()` + `:{SKU}`, as redis-om names it). */
  catalogEntry(sku: string): string {
    assertSku(sku);
    return `${this.catalogEntryPrefix()}:{${sku}}`;
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

  /** The kind and SKU of a per-SKU key (the inverse of perSkuKeys); undefined for any other key. */
  parsePerSkuKey(key: string): { kind: PerSkuKeyKind; sku: string } | undefined {
    if (!key.startsWith(`${this.prefix}:`) || !key.endsWith('}')) return undefined;
    const rest = key.slice(this.prefix.length + 1);
    const open = rest.indexOf(':{');
    if (open <= 0) return undefined;
    const kind = PER_SKU_SEGMENTS.get(rest.slice(0, open));
    const sku = rest.slice(open + 2, -1);
    if (kind === undefined || sku === '' || sku.includes('{') || sku.includes('}')) return undefined;
    return { kind, sku };
  }
}

export type PerSkuKeyKind = keyof SkuKeys | 'pushedLevels' | 'pushState' | 'catalogEntry';

// The middle segment of each per-SKU key name, as built by sku(), pushedLevels(), pushState() and catalogEntry().
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
