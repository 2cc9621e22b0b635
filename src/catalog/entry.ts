// The catalogue entry of one SKU as the rest of stockguard uses it, and its conversion
// to and from the flat row that files and the stored Redis hash share.
import { type AllocationMode, parseAllocationMode } from '../domain/allocation.ts';
import { type BundleComponent, formatComponents, parseComponents } from '../domain/bundles.ts';
import type { ChannelPolicy } from '../domain/sellable.ts';
import type { CatalogRow } from './row.ts';

export type SalesChannel = 'shopify' | 'amazon';
export type AmazonFulfillment = 'MFN' | 'FBA';

/** Where the SKU's stock is set on Shopify (inventorySetQuantities, name "available"). */
export interface ShopifyListing {
  /** e.g. gid://shopify/InventoryItem/44012345678901; a string because ids exceed 2^53. */
  inventoryItemId: string;
  /** e.g. gid://shopify/Location/76543210987 */
  locationId: string;
  /**
   * e.g. gid://shopify/ProductVariant/40123456789012: how a Shopify order line (which names
   * its variant, not its inventory item) finds this SKU.
   */
  variantId?: string;
  /**
   * The variant's SKU text on Shopify, when the catalogue allows matching order lines by it
   * (many shops leave it blank or reuse it: set it only where it is unique and stable).
   */
  sku?: string;
}

/** The SKU's Amazon listing. FBA listings are never written (invariant I6). */
export interface AmazonListing {
  sellerSku: string;
  marketplaceId: string;
  /** Required by patchListingsItem, so always present for MFN. */
  productType?: string;
  fulfillment: AmazonFulfillment;
}

export interface CatalogEntry {
  sku: string;
  /** Static units withheld from every channel; the ledger holds the value in force. */
  holdback: number;
  /** Groups SKUs for reconciliation thresholds; "default" unless the file says otherwise. */
  skuClass: string;
  /**
   * How the channels share the SKU's stock (invariant I8): shared, strict, budget:N or auto.
   * Unset: the class default (allocationModeOf).
   */
  allocationMode?: string;
  shopify?: ShopifyListing;
  amazon?: AmazonListing;
  /** Per-channel overrides of DEFAULT_POLICY; a field left out takes the default. */
  policies: { shopify?: Partial<ChannelPolicy>; amazon?: Partial<ChannelPolicy> };
  /**
   * Set when the entry is a bundle: the SKUs one unit of it draws on. A bundle has no ledger
   * of its own; its sales reserve the components (docs/catalog.md, "Bundles").
   */
  components?: BundleComponent[];
}

export const DEFAULT_SKU_CLASS = 'default';

/**
 * The allocation mode of each SKU class when a row does not set one: `hot` SKUs (a flash
 * sale's drops) are `strict` — the oversell bound by accounting, not an estimate
 * (docs/decisions.md) — every other class `shared`.
 */
export const CLASS_ALLOCATION_MODES: Readonly<Record<string, string>> = Object.freeze({ hot: 'strict' });

/** The SKU's allocation mode: its own, else its class's, else shared. */
export function allocationModeOf(entry: Pick<CatalogEntry, 'allocationMode' | 'skuClass'>): AllocationMode {
  return parseAllocationMode(entry.allocationMode ?? CLASS_ALLOCATION_MODES[entry.skuClass] ?? 'shared');
}

/** What the catalogue stores for a SKU: the row without onHand (stock lives in the ledger). */
export type CatalogRecord = Omit<CatalogRow, 'onHand'>;

export function rowToEntry(row: CatalogRow): CatalogEntry {
  const entry: CatalogEntry = {
    sku: row.sku,
    holdback: row.holdback ?? 0,
    skuClass: row.skuClass ?? DEFAULT_SKU_CLASS,
    policies: {},
  };
  if (row.allocationMode !== undefined) entry.allocationMode = row.allocationMode;
  if (row.shopifyInventoryItemId !== undefined && row.shopifyLocationId !== undefined) {
    entry.shopify = { inventoryItemId: row.shopifyInventoryItemId, locationId: row.shopifyLocationId };
    if (row.shopifyVariantId !== undefined) entry.shopify.variantId = row.shopifyVariantId;
    if (row.shopifySku !== undefined) entry.shopify.sku = row.shopifySku;
  }
  if (row.amazonSellerSku !== undefined && row.amazonMarketplaceId !== undefined && row.amazonFulfillment !== undefined) {
    entry.amazon = { sellerSku: row.amazonSellerSku, marketplaceId: row.amazonMarketplaceId, fulfillment: row.amazonFulfillment };
    if (row.amazonProductType !== undefined) entry.amazon.productType = row.amazonProductType;
  }
  if (row.components !== undefined) {
    const parsed = parseComponents(row.components, row.sku);
    if (!parsed.ok) throw new Error(`components of ${row.sku}: ${parsed.problem}`);
    entry.components = parsed.components;
  }
  const shopifyPolicy = policyOf(row.shopifyPercent, row.shopifyMaxShown, row.shopifySafety, row.shopifyFloor);
  if (shopifyPolicy) entry.policies.shopify = shopifyPolicy;
  const amazonPolicy = policyOf(row.amazonPercent, row.amazonMaxShown, row.amazonSafety, row.amazonFloor);
  if (amazonPolicy) entry.policies.amazon = amazonPolicy;
  return entry;
}

/** The stored form: holdback and skuClass written out, absent fields left out. */
export function entryToRecord(entry: CatalogEntry): CatalogRecord {
  const shopify = entry.policies.shopify ?? {};
  const amazon = entry.policies.amazon ?? {};
  return withoutUndefined({
    sku: entry.sku,
    holdback: entry.holdback,
    skuClass: entry.skuClass,
    allocationMode: entry.allocationMode,
    shopifyInventoryItemId: entry.shopify?.inventoryItemId,
    shopifyLocationId: entry.shopify?.locationId,
    shopifyVariantId: entry.shopify?.variantId,
    shopifySku: entry.shopify?.sku,
    amazonSellerSku: entry.amazon?.sellerSku,
    amazonMarketplaceId: entry.amazon?.marketplaceId,
    amazonProductType: entry.amazon?.productType,
    amazonFulfillment: entry.amazon?.fulfillment,
    shopifyPercent: shopify.percent,
    shopifyMaxShown: shopify.maxShown,
    shopifySafety: shopify.safety,
    shopifyFloor: shopify.floor,
    amazonPercent: amazon.percent,
    amazonMaxShown: amazon.maxShown,
    amazonSafety: amazon.safety,
    amazonFloor: amazon.floor,
    components: entry.components === undefined ? undefined : formatComponents(entry.components),
  });
}

function policyOf(percent?: number, maxShown?: number, safety?: number, floor?: number): Partial<ChannelPolicy> | undefined {
  const policy = withoutUndefined({ percent, maxShown, safety, floor });
  return Object.keys(policy).length === 0 ? undefined : policy;
}

// Entries compare with deep equality (re-import detects "unchanged"), and a key holding
// undefined is not equal to a missing key.
function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}
