// What a SKU costs in Redis, measured on SKUs written through the daemon's own code in the
// shape merchants have: a catalogue entry with a Shopify listing (inventory item, location,
// variant) and an Amazon MFN listing whose seller SKU is not ours, imported with its initial
// count; later pushed to both channels, reported by both and confirmed; then left idle.
// Every figure is INFO used_memory above the server before the SKUs, divided by the SKUs,
// with a breakdown by kind of key (MEMORY USAGE of every key under the prefix).
import type { Redis } from 'ioredis';
import { Catalog } from '../../src/catalog/catalog.ts';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import type { Ledger } from '../../src/ledger/ledger.ts';
import { luaScripts } from '../../src/redis/scripts.ts';
import type { KeySpace } from '../../src/redis/keys.ts';
import { globEscape, scanKeys } from '../../src/redis/scan.ts';
import { PushStore } from '../../src/pushers/store.ts';
import { benchSku } from './reconcileData.ts';
import { execPipeline, usedMemory } from './redis.ts';
import { round } from './stats.ts';

/** SKUs written at once (each through several round trips of the real code). */
const IN_FLIGHT = 1000;

/** The catalogue entry of bench SKU `index`: Shopify and Amazon MFN, the seller SKU not ours. */
export function benchEntry(index: number): CatalogEntry {
  const sku = benchSku(index);
  return {
    sku,
    holdback: 0,
    skuClass: 'default',
    policies: {},
    shopify: {
      inventoryItemId: `gid://shopify/InventoryItem/${44012345678901 + index}`,
      locationId: 'gid://shopify/Location/76543210987',
      variantId: `gid://shopify/ProductVariant/${40123456789012 + index}`,
    },
    amazon: { sellerSku: `AMZ-${(7_000_000 + index).toString(36).toUpperCase()}`, marketplaceId: 'ATVPDKIKX0DER', productType: 'SHIRT', fulfillment: 'MFN' },
  };
}

async function inBatches(count: number, work: (index: number) => Promise<unknown>, log?: (line: string) => void, label = 'SKUs'): Promise<void> {
  for (let from = 0; from < count; from += IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count - from) }, (_, offset) => work(from + offset)));
    if (log && from > 0 && from % 200_000 === 0) log(`  ${label}: ${from.toLocaleString('en-US')}`);
  }
}

/** Imports `skus` SKUs as the catalogue import does: the entry (Catalog.put), then the ledger's createSku with the initial count in the same call. */
export async function importSkus(redis: Redis, ledger: Ledger, skus: number, onHand: (index: number) => number, log?: (line: string) => void): Promise<void> {
  const catalog = new Catalog({ redis, keyPrefix: ledger.keys.prefix });
  await inBatches(
    skus,
    async (index) => {
      const entry = benchEntry(index);
      await catalog.put(entry);
      const result = await ledger.createSku(entry.sku, { counted: onHand(index), eventId: `initial-${entry.sku}` });
      if (result.status !== 'CREATED' && result.status !== 'EXISTS') throw new Error(`seeding ${entry.sku}: createSku answered ${JSON.stringify(result)}`);
    },
    log,
    'imported',
  );
}

/**
 * What the pushers and the channels leave per SKU once a SKU is live: an absolute write to
 * each channel (PushStore.recordPushed), each channel's report of it (the ledger's
 * observation, the pushers' report for the bounded allocation, the confirmation), as the
 * daemon's handler of a `channel.level` event does.
 */
export async function goLive(redis: Redis, ledger: Ledger, skus: number, nowMs: number, log?: (line: string) => void): Promise<void> {
  const store = new PushStore(redis, ledger.keys, ledger);
  await inBatches(
    skus,
    async (index) => {
      const sku = benchSku(index);
      const inventory = await ledger.inventory(sku);
      const quantity = Math.max(0, (inventory?.onHand ?? 0) - (inventory?.reserved ?? 0));
      for (const [offset, channel] of (['shopify', 'amazon'] as const).entries()) {
        const atMs = nowMs + offset;
        await store.recordPushed(sku, channel, { quantity, atMs, version: inventory?.version ?? 0 });
        const report = { quantity, observedAtMs: atMs + 1_500, eventId: `${channel}-level-${index}-${atMs}` };
        await ledger.recordChannelLevel(sku, channel, report);
        await store.noteChannelReport(sku, channel, report);
        await store.confirmApplied(sku, channel, report);
        await ledger.touch(sku);
      }
    },
    log,
    'live',
  );
}

export interface IdleReport {
  /** Journal entries past the retention, written out and trimmed as the hourly trimmer does. */
  trim_seconds: number;
  /** SKUs the pushers had not yet taken from the dirty index (they drain it; the benchmark runs no pushers, so it empties it). */
  dirty_drained: number;
  /** Per-SKU pushers' state keys with an idle expiry: removed as their expiry would (after checking each has one). */
  expired_push_state: number;
  /** Per-SKU pushers' state keys without an expiry: kept, and counted in the figure. */
  kept_push_state: number;
}

/**
 * Brings the SKUs to rest as time does on an idle ledger: the journal trimmer empties the
 * partition journals (trimJournal.lua, as the trimmer runs it once the entries are past
 * the retention and written to the audit files), the pushers drain the dirty index, and the
 * per-SKU pushers' state expires (only keys that carry an expiry are removed).
 */
export async function letRest(redis: Redis, keys: KeySpace): Promise<IdleReport> {
  const started = performance.now();
  const beyondEverything = String(Date.now() + 86_400_000);
  await luaScripts().trimJournal.runMany(redis, keys.partitionJournals().map((journal) => ({ keys: [journal], args: [beyondEverything, '1'] })));
  const trimSeconds = (performance.now() - started) / 1000;
  const dirty = await redis.zcard(keys.dirtySkus());
  await redis.del(keys.dirtySkus());
  let expired = 0;
  let kept = 0;
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:pushstate:*`, 1000)) {
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.pttl(key);
    const ttls = (await execPipeline(pipeline.exec())) as number[];
    const expiring = found.filter((_key, index) => ttls[index]! > 0);
    kept += found.length - expiring.length;
    expired += expiring.length;
    if (expiring.length > 0) await redis.del(...expiring);
  }
  return { trim_seconds: round(trimSeconds, 1), dirty_drained: dirty, expired_push_state: expired, kept_push_state: kept };
}

/** MEMORY USAGE of every key under the prefix, summed by kind of key, per SKU. */
export async function memoryByKind(redis: Redis, keys: KeySpace, skus: number): Promise<Record<string, number>> {
  const totals: Record<string, number> = {};
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*`, 1000)) {
    const pipeline = redis.pipeline();
    for (const key of found) pipeline.call('MEMORY', 'USAGE', key, 'SAMPLES', '0');
    const bytes = await execPipeline(pipeline.exec());
    found.forEach((key, index) => {
      const kind = kindOf(keys, key);
      totals[kind] = (totals[kind] ?? 0) + Number(bytes[index] ?? 0);
    });
  }
  return Object.fromEntries(Object.entries(totals).sort(([, a], [, b]) => b - a).map(([kind, total]) => [kind, round(total / skus, 1)]));
}

function kindOf(keys: KeySpace, key: string): string {
  const bucket = keys.parseBucketKey(key);
  if (bucket) return `${bucket.kind} buckets`;
  if (keys.parsePartitionJournal(key) !== undefined) return 'partition journals';
  const perSku = keys.parsePerSkuKey(key);
  if (perSku) return `per-SKU ${perSku.kind}`;
  return key.slice(keys.prefix.length + 1).split(':')[0]!;
}

/** used_memory above `emptyBytes`, per SKU. */
export async function bytesPerSku(redis: Redis, emptyBytes: number, skus: number): Promise<number> {
  return round(((await usedMemory(redis)) - emptyBytes) / skus, 0);
}
