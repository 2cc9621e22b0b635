// The key layout marker, `<prefix>:layout` (docs/ledger.md, "Layout version"). Checked
// whenever stockguard opens Redis (src/main.ts), so a daemon of this version never reads
// or writes a ledger kept in the layout before it: it would see every SKU as missing,
// and its writes would land beside the old keys, where `stockguard migrate layout` would
// then refuse them as conflicts.
import { LAYOUT_PARTITION_JOURNALS, LAYOUT_PARTITION_TAGS, LAYOUT_VERSION } from '../domain/layout.ts';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from './client.ts';
import type { KeySpace } from './keys.ts';
import { globEscape, scanKeys } from './scan.ts';

/** Catalogued SKUs whose layout-1 keys are looked up before any SCAN. */
const SAMPLE_SKUS = 16;

export type LayoutCheck =
  /** The marker says LAYOUT_VERSION. */
  | 'current'
  /** No marker and no layout-1 key: the marker was written (a new ledger, or one only this version wrote). */
  | 'marked';

/**
 * Refuses a ledger in an older layout (STOCKGUARD_E_LAYOUT_OUTDATED: layout 1, no marker
 * and layout-1 keys; layout 2 or 3, the marker 2 or 3) or a marker this version does not know
 * (STOCKGUARD_E_LAYOUT_UNKNOWN); marks a ledger that has neither.
 * Cheap: one GET once the marker is there. Without it, the layout-1 keys of a few
 * catalogued SKUs are looked up (one round trip), then a SCAN for layout-1 names stops at
 * the first one it finds; only a large keyspace without a marker and without layout-1
 * keys is walked whole, once, before the marker is written.
 */
export async function ensureLayout(redis: RedisClient, keys: KeySpace): Promise<LayoutCheck> {
  const marker = await redis.get(keys.layoutMarker());
  if (marker === String(LAYOUT_VERSION)) return 'current';
  if (marker === String(LAYOUT_PARTITION_TAGS)) {
    throw new StockguardError(
      'STOCKGUARD_E_LAYOUT_OUTDATED',
      `${keys.layoutMarker()} is ${LAYOUT_PARTITION_TAGS} (layout ${LAYOUT_PARTITION_TAGS}, a journal stream per SKU) under the prefix ${JSON.stringify(keys.prefix)}; this stockguard reads layout ${LAYOUT_VERSION} (one journal per layout partition). Stop every daemon, then run: stockguard migrate layout`,
      { details: { marker, expected: LAYOUT_VERSION } },
    );
  }
  if (marker === String(LAYOUT_PARTITION_JOURNALS)) {
    throw new StockguardError(
      'STOCKGUARD_E_LAYOUT_OUTDATED',
      `${keys.layoutMarker()} is ${LAYOUT_PARTITION_JOURNALS} (layout ${LAYOUT_PARTITION_JOURNALS}, a hash per SKU and kind) under the prefix ${JSON.stringify(keys.prefix)}; this stockguard reads layout ${LAYOUT_VERSION} (SKUs packed into layout buckets). Stop every daemon, then run: stockguard migrate layout`,
      { details: { marker, expected: LAYOUT_VERSION } },
    );
  }
  if (marker !== null) {
    throw new StockguardError('STOCKGUARD_E_LAYOUT_UNKNOWN', `${keys.layoutMarker()} is ${JSON.stringify(marker)}, this stockguard reads layout ${LAYOUT_VERSION}`, {
      details: { marker, expected: LAYOUT_VERSION },
    });
  }
  const found = await findLayout1Key(redis, keys);
  if (found !== undefined) {
    throw new StockguardError(
      'STOCKGUARD_E_LAYOUT_OUTDATED',
      `found ${JSON.stringify(found)} (layout 1, keys tagged by the SKU) under the prefix ${JSON.stringify(keys.prefix)} and no ${keys.layoutMarker()}; this stockguard reads layout ${LAYOUT_VERSION} (keys tagged by the layout partition, one journal per partition). Stop every daemon, then run: stockguard migrate layout`,
      { details: { key: found, expected: LAYOUT_VERSION } },
    );
  }
  // NX: replicas starting together, or a migration that finished meanwhile, write the same value.
  await redis.set(keys.layoutMarker(), String(LAYOUT_VERSION), 'NX');
  return 'marked';
}

/** A layout-1 per-SKU key under the prefix, or undefined when there is none. */
export async function findLayout1Key(redis: RedisClient, keys: KeySpace): Promise<string | undefined> {
  const sample = (await redis.srandmember(keys.catalogIndex(), SAMPLE_SKUS)) as string[];
  const candidates = sample.flatMap((sku) => {
    try {
      const old = keys.layout1PerSkuKeys(sku);
      return [old.inventory, old.catalogEntry];
    } catch {
      // A member that is not a valid SKU has no keys of its own.
      return [];
    }
  });
  // One EXISTS per key: on Cluster the keys live in different slots.
  const exists = await Promise.all(candidates.map((key) => redis.exists(key)));
  const hit = candidates.find((_key, index) => exists[index] === 1);
  if (hit !== undefined) return hit;
  // Every layout-1 per-SKU key ends with '}' (a SKU holds no brace; layout-2 keys end with the SKU).
  for await (const found of scanKeys(redis, `${globEscape(keys.prefix)}:*}`, 1000)) {
    const old = found.find((key) => keys.parseLayout1PerSkuKey(key) !== undefined);
    if (old !== undefined) return old;
  }
  return undefined;
}
