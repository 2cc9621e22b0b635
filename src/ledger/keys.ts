// Every Redis key name stockguard uses is built here and nowhere else.
// All keys of one SKU share the hash tag `{sku}` (invariant I7), so every ledger
// script touches a single Cluster slot.
import { assertSku } from '../domain/validate.ts';

export interface SkuKeys {
  /** hash: on_hand, reserved, holdback, oversold, version, updated_ms, journal_ms */
  readonly inventory: string;
  /** hash: reservation id (`channel:order:line`) → JSON reservation record */
  readonly reservations: string;
  /** hash: WMS event / shipment id → fingerprint of the event, for idempotency */
  readonly eventMarks: string;
  /** stream: every change with its cause, event id, deltas and time */
  readonly journal: string;
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
    };
  }

  /** Sorted set of SKUs changed since the pushers last looked (score = first change ms). */
  dirtySkus(): string {
    return `${this.prefix}:dirty`;
  }

  /** The catalogue entry of one SKU (a redis-om hash), in the SKU's slot. */
  catalogEntryPrefix(): string {
    return `${this.prefix}:catalog`;
  }

  /** Set of every SKU in the catalogue. */
  catalogIndex(): string {
    return `${this.prefix}:catalog-index`;
  }
}
