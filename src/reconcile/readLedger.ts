// Reads what reconciliation needs about each SKU in one atomic step per SKU (a Lua read
// over the SKU's keys, all in its `{p<N>}` slot), pipelined over a page of SKUs. The
// journal is the layout partition's: each read scans the partition's entries after the
// as-of and keeps the SKU's (few: the as-of is hours old at most). Atomic per
// SKU matters: on_hand and the journal entries after the snapshot must be read together,
// or a pick landing between two reads would be counted twice or not at all.
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../redis/client.ts';
import type { KeySpace } from '../redis/keys.ts';
import { luaScripts } from '../redis/scripts.ts';

// The script is src/lua/readLedgerAsOf.lua. Its openUnits comes from the ledger's own
// include, so "what a reservation holds" has one definition (the one repairReserved.lua
// uses); its WMS causes are WMS_CAUSES (src/domain/reconcile.ts), checked equal by
// test/unit/luaHeaders.test.ts.

export interface LedgerReading {
  sku: string;
  exists: boolean;
  onHand: number;
  reserved: number;
  /** Σ d_on_hand of the journal entries applied after the as-of. */
  onHandChangesAfter: number;
  /** WMS-caused entries applied within the settle window after the as-of. */
  wmsChangesInSettleWindow: number;
  /** What the open reservation records hold: `reserved` must equal it (I3). */
  openUnits: number;
  /** The catalogue's skuClass; undefined when the SKU has no catalogue entry. */
  skuClass: string | undefined;
  /** A count is among the changes after the snapshot: it already set on_hand to a newer warehouse figure. */
  countAfter?: boolean;
  /** Read at a watermark (docs/wms.md, "Watermark"): the SKU's record of applied WMS movement numbers. */
  sequence?: {
    /** The first movement number up to the watermark the ledger has not applied; 0 when none is pending. */
    firstPending: number;
    /** `wms_seq`: every movement up to it was applied (or covered by a correction). */
    applied: number;
    /** `wms_ahead`: ranges applied above it ('' when none). */
    ahead: string;
  };
}

export interface ReadWindow {
  asOfMs: number;
  settleEndMs: number;
  /**
   * Per SKU (same order as the SKUs), its last WMS movement number in the snapshot;
   * undefined for a SKU the snapshot gives none (it is read as of the time alone).
   */
  watermarks?: readonly (number | undefined)[];
  /**
   * With a watermark: how far the ledger's clock may be behind the WMS's. Journal entries
   * from as-of − this are read, so a movement after the watermark applied by a ledger clock
   * that reads earlier than as-of is still taken back.
   */
  clockSkewMs?: number;
}

/** Reads a batch of SKUs: one pipeline on a single server, one command per SKU (routed by slot) on Cluster. */
export async function readLedgerBatch(redis: RedisClient, keys: KeySpace, skus: readonly string[], window: ReadWindow): Promise<LedgerReading[]> {
  if (skus.length === 0) return [];
  const watermarks = new Map<string, number>();
  window.watermarks?.forEach((seq, index) => {
    if (seq !== undefined) watermarks.set(skus[index]!, seq);
  });
  const calls = skus.map((sku) => {
    const skuKeys = keys.sku(sku);
    const watermark = watermarks.get(sku);
    const firstId = watermark === undefined ? window.asOfMs + 1 : Math.max(0, window.asOfMs - (window.clockSkewMs ?? 0)) + 1;
    return {
      keys: [skuKeys.inventoryBucket, skuKeys.reservations, skuKeys.journal, keys.skuBucket('catalog', sku)],
      args: [window.asOfMs, `${firstId}`, window.settleEndMs, watermark ?? '', sku],
    };
  });
  const replies = await luaScripts().readLedgerAsOf.runMany(redis, calls);
  return replies.map((reply, index) => decodeReading(skus[index]!, reply, watermarks.has(skus[index]!)));
}

function decodeReading(sku: string, reply: unknown, atWatermark: boolean): LedgerReading {
  const integer = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);
  if (
    !Array.isArray(reply) ||
    reply.length !== 11 ||
    !reply.slice(0, 6).every(integer) ||
    typeof reply[6] !== 'string' ||
    !reply.slice(7, 10).every(integer) ||
    typeof reply[10] !== 'string'
  ) {
    throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `readLedgerAsOf for SKU ${JSON.stringify(sku)}: unexpected reply ${JSON.stringify(reply)}`);
  }
  const [exists, onHand, reserved, onHandChangesAfter, wmsChangesInSettleWindow, openUnits, skuClass, firstPending, countAfter, applied, ahead] = reply as [
    number, number, number, number, number, number, string, number, number, number, string,
  ];
  return {
    countAfter: countAfter === 1,
    ...(atWatermark ? { sequence: { firstPending, applied, ahead } } : {}),
    sku,
    exists: exists === 1,
    onHand,
    reserved,
    onHandChangesAfter,
    wmsChangesInSettleWindow,
    openUnits,
    skuClass: skuClass === '' ? undefined : skuClass,
  };
}
