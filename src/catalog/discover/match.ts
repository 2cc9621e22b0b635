// The proposal of `stockguard catalog discover`, pure (no I/O): Shopify variants and Amazon
// listings in, catalogue rows and a review out. Variants and listings are matched by SKU
// text, exactly, after trimming surrounding spaces. Nothing is guessed: anything that would
// need a guess (a blank Shopify SKU, a SKU text shared by several variants or listings,
// texts that differ only in case) is listed for a human and left out of the rows, so the
// rows always import cleanly (docs/catalog.md, "Discovering your catalogue").
import type { AmazonFulfillment } from '../entry.ts';
import { checkRow, type CatalogRow } from '../row.ts';

/** One Shopify variant as `productVariants` shows it. */
export interface DiscoveredVariant {
  /** gid://shopify/ProductVariant/… */
  variantId: string;
  /** gid://shopify/InventoryItem/… */
  inventoryItemId: string;
  /** The variant's SKU text as Shopify holds it: null or "" when blank. */
  sku: string | null;
  /** InventoryItem.tracked: false when Shopify does not count the variant's stock. */
  tracked: boolean;
  /** Product and variant title, for people reading the review. */
  displayName?: string;
}

/** One Amazon listing (one seller SKU in one marketplace) as `searchListingsItems` shows it. */
export interface DiscoveredListing {
  sellerSku: string;
  marketplaceId: string;
  productType?: string;
  /** fulfillmentAvailability channel codes: DEFAULT (merchant-fulfilled), AMAZON_NA/EU/JP… (FBA). */
  fulfillmentChannels: readonly string[];
  /** summaries[].fnSku: Amazon's fulfilment-centre id, present only on FBA offers. */
  fnSku?: string;
  itemName?: string;
}

export interface MatchOptions {
  /** The location every proposed Shopify mapping names (the one whose `available` stockguard sets). */
  shopifyLocationId?: string;
  /** The configured marketplaces in order: a seller SKU listed in several is mapped in the first. */
  marketplaceIds: readonly string[];
}

export interface VariantRef {
  variantId: string;
  inventoryItemId: string;
  sku: string | null;
  displayName?: string;
}

export interface ListingRef {
  sellerSku: string;
  marketplaceId: string;
  fulfillment: AmazonFulfillment | 'unknown';
  productType?: string;
}

export type AmbiguityKind =
  /** A tracked variant with no SKU text: it can be mapped by its variant id only, to a SKU a human names. */
  | 'shopify-blank-sku'
  /** Several variants share the SKU text: which one the SKU is (if any) is a human's call. */
  | 'shopify-duplicate-sku'
  /** Several seller SKUs are the same text once trimmed. */
  | 'amazon-duplicate-sku'
  /** Texts equal but for letter case, on one channel or across both: never merged, never guessed. */
  | 'case-only-difference'
  /** The text cannot be a ledger SKU (over 200 characters, "{", "}" or control characters). */
  | 'unusable-sku-text';

export interface Ambiguity {
  kind: AmbiguityKind;
  /** The SKU texts involved (trimmed); empty for a blank Shopify SKU. */
  skuTexts: string[];
  shopify: VariantRef[];
  amazon: ListingRef[];
  /** What a human has to decide. */
  action: string;
}

export type ExclusionReason =
  /** Shopify does not track the variant's quantity: there is nothing to set. */
  | 'shopify-untracked'
  /** The seller SKU breaks the catalogue's rule (over 40 characters, surrounding spaces, control characters). */
  | 'amazon-unusable-seller-sku'
  /** Neither fulfillmentAvailability nor summaries say MFN or FBA (an incomplete listing). */
  | 'amazon-unknown-fulfillment'
  /** A merchant-fulfilled listing without a product type: patchListingsItem needs one. */
  | 'amazon-no-product-type';

export interface Exclusion {
  reason: ExclusionReason;
  shopify?: VariantRef;
  amazon?: ListingRef;
  detail: string;
}

export type NoteKind =
  /** The listing has a merchant-fulfilled and an FBA offer: marked FBA, so stockguard never writes it. */
  | 'amazon-mfn-and-fba'
  /** The seller SKU is listed in several marketplaces: mapped in the first configured one. */
  | 'amazon-other-marketplaces';

export interface Note {
  kind: NoteKind;
  sku: string;
  detail: string;
}

/** A proposed row with where it came from (the row itself is what the catalogue file holds). */
export interface ProposedRow {
  row: CatalogRow;
  source: 'both' | 'shopify-only' | 'amazon-only';
}

export interface Proposal {
  rows: ProposedRow[];
  ambiguous: Ambiguity[];
  excluded: Exclusion[];
  notes: Note[];
  counts: {
    variants: number;
    listings: number;
    rows: number;
    matched: number;
    shopifyOnly: number;
    amazonOnly: number;
    fba: number;
    ambiguous: number;
    excluded: number;
  };
}

const MFN_CHANNEL = 'DEFAULT';

/** MFN, FBA, both offers, or unknown: from the channel codes, else from an fnSku (only FBA offers have one). */
export function fulfillmentOf(listing: Pick<DiscoveredListing, 'fulfillmentChannels' | 'fnSku'>): 'MFN' | 'FBA' | 'both' | 'unknown' {
  const mfn = listing.fulfillmentChannels.includes(MFN_CHANNEL);
  const fba = listing.fulfillmentChannels.some((code) => code.startsWith('AMAZON_'));
  if (mfn && fba) return 'both';
  if (mfn) return 'MFN';
  if (fba || listing.fnSku) return 'FBA';
  return 'unknown';
}

/** The text a SKU is matched on: surrounding spaces trimmed; '' when blank. */
export function skuKey(text: string | null | undefined): string {
  return (text ?? '').trim();
}

function variantRef(variant: DiscoveredVariant): VariantRef {
  return { variantId: variant.variantId, inventoryItemId: variant.inventoryItemId, sku: variant.sku, ...(variant.displayName ? { displayName: variant.displayName } : {}) };
}

interface Candidate {
  listing: DiscoveredListing;
  fulfillment: AmazonFulfillment;
}

function listingRef(listing: DiscoveredListing, fulfillment: AmazonFulfillment | 'unknown'): ListingRef {
  return { sellerSku: listing.sellerSku, marketplaceId: listing.marketplaceId, fulfillment, ...(listing.productType ? { productType: listing.productType } : {}) };
}

/** Does `values` pass the catalogue's rules for these columns? The rules are import's own (checkRow). */
function columnProblem(values: Record<string, unknown>, columns: readonly string[]): string | undefined {
  const checked = checkRow({ row: 1, values });
  if (checked.ok) return undefined;
  const problems = checked.errors.filter((error) => error.field !== undefined && columns.includes(error.field));
  return problems.length > 0 ? problems.map((error) => `${error.field} ${error.problem}`).join('; ') : undefined;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function proposeCatalog(variants: readonly DiscoveredVariant[], listings: readonly DiscoveredListing[], options: MatchOptions): Proposal {
  const ambiguous: Ambiguity[] = [];
  const excluded: Exclusion[] = [];
  const notes: Note[] = [];

  // ---- Shopify: tracked variants with SKU text take part; blank ones need a human.
  const variantsByKey = new Map<string, DiscoveredVariant[]>();
  for (const variant of variants) {
    if (!variant.tracked) {
      excluded.push({ reason: 'shopify-untracked', shopify: variantRef(variant), detail: 'Shopify does not track this variant\'s quantity, so stockguard has nothing to set; turn tracking on in Shopify and run discover again to map it' });
      continue;
    }
    const key = skuKey(variant.sku);
    if (key === '') {
      ambiguous.push({
        kind: 'shopify-blank-sku',
        skuTexts: [],
        shopify: [variantRef(variant)],
        amazon: [],
        action: 'the variant has no SKU text: add a row for it by hand with the ledger SKU it sells (shopifyVariantId and shopifyInventoryItemId as listed), or give it a SKU in Shopify and run discover again',
      });
      continue;
    }
    variantsByKey.set(key, [...(variantsByKey.get(key) ?? []), variant]);
  }

  // ---- Amazon: one listing per seller SKU (the first configured marketplace it is listed in).
  const marketplaceRank = (marketplaceId: string) => {
    const rank = options.marketplaceIds.indexOf(marketplaceId);
    return rank === -1 ? options.marketplaceIds.length : rank;
  };
  const bySellerSku = new Map<string, DiscoveredListing[]>();
  for (const listing of listings) bySellerSku.set(listing.sellerSku, [...(bySellerSku.get(listing.sellerSku) ?? []), listing]);
  const listingsByKey = new Map<string, Candidate[]>();
  for (const [sellerSku, offers] of bySellerSku) {
    const [listing, ...others] = [...offers].sort((a, b) => marketplaceRank(a.marketplaceId) - marketplaceRank(b.marketplaceId) || compare(a.marketplaceId, b.marketplaceId));
    if (!listing) continue;
    const seen = fulfillmentOf(listing);
    const sellerSkuProblem = columnProblem({ sku: 'X', amazonSellerSku: sellerSku }, ['amazonSellerSku']);
    if (sellerSkuProblem) {
      excluded.push({ reason: 'amazon-unusable-seller-sku', amazon: listingRef(listing, seen === 'both' ? 'FBA' : seen), detail: `${sellerSkuProblem}; rename the SKU in Seller Central or map it by hand` });
      continue;
    }
    if (seen === 'unknown') {
      excluded.push({ reason: 'amazon-unknown-fulfillment', amazon: listingRef(listing, 'unknown'), detail: 'the listing shows no fulfilment channel (no DEFAULT or AMAZON_xx record, no fnSku): it is probably incomplete; fix it in Seller Central and run discover again' });
      continue;
    }
    // A listing with both offers is marked FBA: stockguard must never write a DEFAULT
    // quantity a human has not decided on, and writing FBA is the one mistake it never makes (I6).
    const fulfillment: AmazonFulfillment = seen === 'MFN' ? 'MFN' : 'FBA';
    if (seen === 'both') {
      notes.push({ kind: 'amazon-mfn-and-fba', sku: sellerSku, detail: 'the listing has a merchant-fulfilled (DEFAULT) and an FBA offer: proposed as FBA, so stockguard never writes it; change amazonFulfillment to MFN if stockguard should set the merchant-fulfilled quantity' });
    }
    if (fulfillment === 'MFN') {
      const productTypeProblem = listing.productType === undefined ? 'no product type in summaries' : columnProblem({ sku: 'X', amazonProductType: listing.productType }, ['amazonProductType']);
      if (productTypeProblem) {
        excluded.push({ reason: 'amazon-no-product-type', amazon: listingRef(listing, fulfillment), detail: `${productTypeProblem}: patchListingsItem needs the listing's product type; add amazonProductType by hand` });
        continue;
      }
    }
    if (others.length > 0) {
      notes.push({ kind: 'amazon-other-marketplaces', sku: sellerSku, detail: `also listed in ${others.map((other) => other.marketplaceId).join(', ')}: the catalogue maps one marketplace per seller SKU, ${listing.marketplaceId} here` });
    }
    const key = skuKey(sellerSku);
    listingsByKey.set(key, [...(listingsByKey.get(key) ?? []), { listing, fulfillment }]);
  }

  // ---- Match by text. Texts equal but for case are one group, and an ambiguity.
  const keysByFolded = new Map<string, Set<string>>();
  for (const key of [...variantsByKey.keys(), ...listingsByKey.keys()]) {
    const folded = key.toLowerCase();
    keysByFolded.set(folded, (keysByFolded.get(folded) ?? new Set()).add(key));
  }
  const rows: ProposedRow[] = [];
  for (const keys of keysByFolded.values()) {
    const texts = [...keys].sort(compare);
    const groupVariants = texts.flatMap((key) => variantsByKey.get(key) ?? []);
    const groupListings = texts.flatMap((key) => listingsByKey.get(key) ?? []);
    const refs = {
      shopify: groupVariants.map(variantRef).sort((a, b) => compare(a.variantId, b.variantId)),
      amazon: groupListings.map((candidate) => listingRef(candidate.listing, candidate.fulfillment)).sort((a, b) => compare(a.sellerSku, b.sellerSku)),
    };
    if (texts.length > 1) {
      ambiguous.push({ kind: 'case-only-difference', skuTexts: texts, ...refs, action: 'these SKU texts differ only in letter case: decide whether they are one SKU (then add one row with both mappings) or several, and correct the SKU text on the channel' });
      continue;
    }
    const text = texts[0]!;
    if (groupVariants.length > 1) {
      ambiguous.push({ kind: 'shopify-duplicate-sku', skuTexts: texts, ...refs, action: 'several Shopify variants carry this SKU text: give each its own SKU in Shopify and run discover again, or add rows by hand naming each variant\'s ledger SKU' });
      continue;
    }
    if (groupListings.length > 1) {
      ambiguous.push({ kind: 'amazon-duplicate-sku', skuTexts: texts, ...refs, action: 'several seller SKUs are this text once trimmed: decide which listing the SKU is, and add its row by hand' });
      continue;
    }
    if (columnProblem({ sku: text }, ['sku'])) {
      ambiguous.push({ kind: 'unusable-sku-text', skuTexts: texts, ...refs, action: 'this text cannot be a ledger SKU (1 to 200 characters without "{", "}" or control characters): add the row by hand under a SKU of your choosing' });
      continue;
    }
    const variant = groupVariants[0];
    const candidate = groupListings[0];
    const values: Record<string, unknown> = { sku: text };
    if (variant) {
      if (options.shopifyLocationId === undefined) throw new Error('proposeCatalog: Shopify variants need options.shopifyLocationId');
      values.shopifyInventoryItemId = variant.inventoryItemId;
      values.shopifyLocationId = options.shopifyLocationId;
      values.shopifyVariantId = variant.variantId;
    }
    if (candidate) {
      values.amazonSellerSku = candidate.listing.sellerSku;
      values.amazonMarketplaceId = candidate.listing.marketplaceId;
      if (candidate.listing.productType !== undefined) values.amazonProductType = candidate.listing.productType;
      values.amazonFulfillment = candidate.fulfillment;
    }
    // Every proposed row is checked with import's own rules, so the file imports as written.
    const checked = checkRow({ row: rows.length + 1, values });
    if (!checked.ok) throw new Error(`proposeCatalog built a row import refuses: ${checked.errors.map((error) => `${error.field}: ${error.problem}`).join('; ')}`);
    rows.push({ row: checked.row, source: variant && candidate ? 'both' : variant ? 'shopify-only' : 'amazon-only' });
  }

  rows.sort((a, b) => compare(a.row.sku, b.row.sku));
  ambiguous.sort((a, b) => compare(a.kind, b.kind) || compare(a.skuTexts.join('\n'), b.skuTexts.join('\n')) || compare(a.shopify[0]?.variantId ?? '', b.shopify[0]?.variantId ?? ''));
  excluded.sort((a, b) => compare(a.reason, b.reason) || compare(a.shopify?.variantId ?? a.amazon?.sellerSku ?? '', b.shopify?.variantId ?? b.amazon?.sellerSku ?? ''));
  notes.sort((a, b) => compare(a.kind, b.kind) || compare(a.sku, b.sku));
  return {
    rows,
    ambiguous,
    excluded,
    notes,
    counts: {
      variants: variants.length,
      listings: listings.length,
      rows: rows.length,
      matched: rows.filter((row) => row.source === 'both').length,
      shopifyOnly: rows.filter((row) => row.source === 'shopify-only').length,
      amazonOnly: rows.filter((row) => row.source === 'amazon-only').length,
      fba: rows.filter((row) => row.row.amazonFulfillment === 'FBA').length,
      ambiguous: ambiguous.length,
      excluded: excluded.length,
    },
  };
}
