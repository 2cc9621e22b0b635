// A ledger with every kind of per-SKU key (inventory, reservations, event marks, journal,
// channel levels, FBA stock, pushed levels, push state, catalogue entry), written by the
// current code, and the figures the daemon's own readers give for it: what a layout
// migration must give back exactly. Shared by migrate-layout.test.ts (one server) and
// migrate-layout.cluster.test.ts.
import type { Cluster, Redis } from 'ioredis';
import type { Catalog } from '../../src/catalog/catalog.ts';
import type { Ledger } from '../../src/ledger/ledger.ts';
import { PushStore } from '../../src/pushers/store.ts';
import { readLedgerBatch } from '../../src/reconcile/readLedger.ts';

/** ':' and unicode in SKUs; one SKU with keys and no catalogue entry; one with 600 reservation records (a hashtable-encoded hash). */
export const CATALOGUED = ['TEE-BLK-M', 'MUG:WHT:11oz', 'MÜTZE-ROT-黒', 'ZZ-BULK'];
export const LEDGER_ONLY = 'LEDGER-ONLY:7';
export const SKUS = [...CATALOGUED, LEDGER_ONLY];
export const BULK_LINES = 600;

export interface Built {
  /** A time between the fixture's changes: the as-of of the reconciliation reads. */
  asOfMs: number;
}

export async function buildLedger(ledger: Ledger, catalog: Catalog | undefined, redis: Redis | Cluster, clock: { now: number }): Promise<Built> {
  for (const [index, sku] of CATALOGUED.entries()) {
    await catalog?.put({
      sku,
      holdback: 1,
      skuClass: index === 1 ? 'bulk' : 'default',
      policies: { shopify: { safety: 2 } },
      // Channel ids that differ from the SKU, above 2^53.
      shopify: { inventoryItemId: `gid://shopify/InventoryItem/${9007199254740993n + BigInt(index)}`, locationId: 'gid://shopify/Location/1' },
      ...(index === 1 ? { amazon: { sellerSku: 'AMZ-MUG-11', marketplaceId: 'ATVPDKIKX0DER', productType: 'MUG', fulfillment: 'MFN' as const } } : {}),
    });
  }
  for (const sku of SKUS) {
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: `initial-${sku}`, counted: sku === 'ZZ-BULK' ? 5_000 : 50 });
  }
  await ledger.setHoldback('TEE-BLK-M', 3, 'import');
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-1', lines: [{ lineId: '1', sku: 'TEE-BLK-M', quantity: 2 }, { lineId: '2', sku: 'MUG:WHT:11oz', quantity: 1 }, { lineId: '3', sku: 'TEE-BLK-M', quantity: 1 }] });
  await ledger.reserveOrder({ channel: 'amazon', orderId: '111-2222222-3333333', lines: [{ lineId: '9', sku: 'TEE-BLK-M', quantity: 1 }, { lineId: '1', sku: LEDGER_ONLY, quantity: 4 }] });
  const asOfMs = clock.now;
  clock.now += 1_000;
  await ledger.ship('TEE-BLK-M', { shipmentId: 'ship-1', reservationId: 'shopify:o-1:1', quantity: 1 });
  await ledger.release('MUG:WHT:11oz', 'shopify:o-1:2');
  await ledger.adjust('MÜTZE-ROT-黒', { eventId: 'adj-1', delta: -4, cause: 'adjustment' });
  await ledger.adjust(LEDGER_ONLY, { eventId: 'rcpt-1', delta: 6, cause: 'receipt' });
  await ledger.recordChannelLevel('TEE-BLK-M', 'shopify', { quantity: 44, observedAtMs: clock.now, eventId: 'lvl-1' });
  await ledger.recordFbaStock('MUG:WHT:11oz', 'ATVPDKIKX0DER', { quantity: 12, observedAtMs: clock.now, eventId: 'fba-1' });
  const pushStore = new PushStore(redis, ledger.keys, ledger);
  await pushStore.recordPushed('TEE-BLK-M', 'shopify', { quantity: 44, atMs: clock.now, version: 5 });
  await pushStore.recordPushed('MUG:WHT:11oz', 'amazon', { quantity: 9, atMs: clock.now - 1, version: 0 });
  // Amazon reported the pushed 9: that push is confirmed (its apply lag counted once).
  await pushStore.confirmApplied('MUG:WHT:11oz', 'amazon', { quantity: 9, observedAtMs: clock.now + 4_000 });
  await ledger.recordChannelLevel('MUG:WHT:11oz', 'amazon', { quantity: -2, observedAtMs: clock.now - 7_000, eventId: 'lvl-2' });
  await redis.hset(ledger.keys.pushState('TEE-BLK-M'), 'cursor', `${asOfMs}-0`, 'dynamic_holdback', '2');
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-bulk', lines: Array.from({ length: BULK_LINES }, (_, index) => ({ lineId: String(index + 1), sku: 'ZZ-BULK', quantity: 1 })) });
  return { asOfMs };
}

/** Everything the daemon's readers say about the fixture's SKUs. */
export async function figures(ledger: Ledger, catalog: Catalog | undefined, redis: Redis | Cluster, asOfMs: number): Promise<unknown> {
  const perSku: Record<string, unknown> = {};
  for (const sku of SKUS) {
    perSku[sku] = {
      inventory: await ledger.inventory(sku),
      reservations: await ledger.reservations(sku),
      journal: await ledger.journal(sku),
      channelLevels: await ledger.observations(sku, 'channelLevels'),
      fbaStock: await ledger.observations(sku, 'fbaStock'),
      pushed: await new PushStore(redis, ledger.keys, ledger).pushed(sku),
      pushState: await redis.hgetall(ledger.keys.pushState(sku)),
      catalogue: (await catalog?.get(sku)) ?? null,
    };
  }
  // The reconciliation's as-of reads (src/reconcile/readLedger.ts), with and without a watermark.
  const asOf = await readLedgerBatch(redis, ledger.keys, SKUS, { asOfMs, settleEndMs: asOfMs + 2_000 });
  const atWatermark = await readLedgerBatch(redis, ledger.keys, SKUS, { asOfMs, settleEndMs: asOfMs, watermarks: SKUS.map(() => 0) });
  return { perSku, asOf, atWatermark, catalogue: (await catalog?.list()) ?? null };
}
