// The fake's listings: what Amazon holds per (seller, marketplace, SKU), how a
// ListingsItemPatchRequest changes it, and how getListingsItem shows it.
// Business rules and their sources are in the spec notes §1.1–1.3 and docs/sim-amazon.md.
import type { FulfillmentAvailability, Issue, Item, ItemSummaryByMarketplace } from '@sp-api-sdk/listings-items-api-2021-08-01';

export type Fulfillment = 'MFN' | 'FBA';

/** The merchant-fulfilled channel code; FBA codes are AMAZON_NA, AMAZON_EU, AMAZON_JP… */
export const MFN_CHANNEL = 'DEFAULT';
const FULFILLMENT_ATTRIBUTE = 'fulfillment_availability';
/** The generic product type many integrators send on quantity-only patches (spec notes §1.1; acceptance UNCONFIRMED). */
const GENERIC_PRODUCT_TYPE = 'PRODUCT';

const FBA_CHANNEL_BY_MARKETPLACE: Readonly<Record<string, string>> = {
  ATVPDKIKX0DER: 'AMAZON_NA', // US
  A2EUQ1WTGCTBG2: 'AMAZON_NA', // CA
  A1AM78C64UM0Y8: 'AMAZON_NA', // MX
  A2Q3Y263D00KWC: 'AMAZON_NA', // BR
  A1F83G8C2ARO7P: 'AMAZON_EU', // UK
  A1PA6795UKMFR9: 'AMAZON_EU', // DE
  A13V1IB3VIYZZH: 'AMAZON_EU', // FR
  APJ6JRA9NG5V4: 'AMAZON_EU', // IT
  A1RKKUPIHCS9HS: 'AMAZON_EU', // ES
  A1VC38T7YXB528: 'AMAZON_JP', // JP
};

export function fbaChannelFor(marketplaceId: string): string {
  return FBA_CHANNEL_BY_MARKETPLACE[marketplaceId] ?? 'AMAZON_NA';
}

function isFbaChannel(code: string): boolean {
  return code.startsWith('AMAZON_');
}

export interface ListingSeed {
  /** Defaults to the fake's seller. */
  sellerId?: string;
  sku: string;
  marketplaceId: string;
  productType: string;
  fulfillment: Fulfillment;
  /** MFN: the DEFAULT quantity. FBA: the fulfillable units in Amazon's warehouses. */
  quantity: number;
  asin?: string;
  fnSku?: string;
  itemName?: string;
  /** FBA only; derived from the marketplace when left out. */
  fbaChannelCode?: string;
  /** When the listing was created (ms); the fake's clock when left out. searchListingsItems filters and sorts on it. */
  createdAtMs?: number;
}

/** FBA warehouse counts, as FBA_INVENTORY_AVAILABILITY_CHANGES reports them. */
export interface FbaInventory {
  fulfillable: number;
  unfulfillable: number;
  researching: number;
  inboundWorking: number;
  inboundShipped: number;
  inboundReceiving: number;
  reservedPendingCustomerOrder: number;
  reservedWarehouseProcessing: number;
  reservedWarehouseTransfer: number;
  futureSupplyBuyable: number;
  pendingCustomerOrderInTransit: number;
}

/** One `fulfillment_availability` record as patched (snake_case, as in the listing's attributes). */
export type FulfillmentRecord = { fulfillment_channel_code: string } & Record<string, unknown>;

export interface Listing {
  readonly sellerId: string;
  readonly sku: string;
  readonly marketplaceId: string;
  productType: string;
  asin: string | undefined;
  fnSku: string | undefined;
  itemName: string | undefined;
  readonly createdAtMs: number;
  updatedAtMs: number;
  /**
   * False when the listing exists only because a PATCH named an unknown SKU: Amazon accepts
   * such a patch and stores the offer or fulfilment part of a listing that is not buyable
   * (amzn/selling-partner-api-docs#3748).
   */
  complete: boolean;
  /** Records keyed by fulfillment_channel_code (amzn/selling-partner-api-models#2061). */
  readonly fulfillmentAvailability: Map<string, FulfillmentRecord>;
  /** Other top-level attributes: stored as patched, not interpreted. */
  readonly attributes: Map<string, Array<Record<string, unknown>>>;
  /** Present when the listing has an FBA offer. */
  fba: FbaInventory | undefined;
}

export interface PatchOperationRequest {
  op: 'add' | 'replace' | 'merge' | 'delete';
  path: string;
  value?: Array<Record<string, unknown>>;
}

export interface PatchRequest {
  productType: string;
  patches: PatchOperationRequest[];
}

/** A change of a listing's DEFAULT (MFN) quantity, for LISTINGS_ITEM_MFN_QUANTITY_CHANGE. */
export interface MfnQuantityChange {
  sellerId: string;
  sku: string;
  marketplaceId: string;
  before: number | undefined;
  after: number | undefined;
}

function invalidAttribute(message: string, attributeName: string | undefined, marketplaceIds: readonly string[]): Issue {
  // 90000900 / INVALID_ATTRIBUTE is the model's own example of a rejected attribute value.
  return { code: '90000900', message, severity: 'ERROR', categories: ['INVALID_ATTRIBUTE'], ...(attributeName ? { attributeNames: [attributeName] } : {}), marketplaceIds: [...marketplaceIds] };
}

export function listingKey(sellerId: string, marketplaceId: string, sku: string): string {
  return JSON.stringify([sellerId, marketplaceId, sku]);
}

export class ListingStore {
  private readonly listings = new Map<string, Listing>();
  /** The same listings by SKU (one per marketplace), so `find` does not scan the catalogue on every sale. */
  private readonly bySku = new Map<string, Listing[]>();

  constructor(
    readonly sellerId: string,
    private readonly now: () => number,
  ) {}

  add(seed: ListingSeed): Listing {
    const sellerId = seed.sellerId ?? this.sellerId;
    if (sellerId !== this.sellerId) throw new Error(`the fake serves seller ${this.sellerId}; addListing got seller ${sellerId}`);
    if (!Number.isInteger(seed.quantity) || seed.quantity < 0) throw new Error(`addListing: quantity must be a whole number >= 0, got ${seed.quantity}`);
    if (!seed.sku || !seed.marketplaceId || !seed.productType) throw new Error('addListing: sku, marketplaceId and productType are required');
    const key = listingKey(sellerId, seed.marketplaceId, seed.sku);
    const now = this.now();
    let listing = this.listings.get(key);
    if (!listing) {
      listing = {
        sellerId,
        sku: seed.sku,
        marketplaceId: seed.marketplaceId,
        productType: seed.productType,
        asin: seed.asin ?? `B0${String(this.listings.size + 1).padStart(8, '0')}`,
        fnSku: undefined,
        itemName: seed.itemName ?? seed.sku,
        createdAtMs: seed.createdAtMs ?? now,
        updatedAtMs: Math.max(now, seed.createdAtMs ?? now),
        complete: true,
        fulfillmentAvailability: new Map(),
        attributes: new Map(),
        fba: undefined,
      };
      this.insert(key, listing);
    }
    // Seeding the same SKU again with the other fulfilment adds a second offer: one listing
    // can hold DEFAULT and AMAZON_xx records at once (spec notes §1.2).
    listing.complete = true;
    listing.productType = seed.productType;
    listing.updatedAtMs = Math.max(now, listing.createdAtMs);
    if (seed.fulfillment === 'MFN') {
      listing.fulfillmentAvailability.set(MFN_CHANNEL, { fulfillment_channel_code: MFN_CHANNEL, quantity: seed.quantity });
    } else {
      const channel = seed.fbaChannelCode ?? fbaChannelFor(seed.marketplaceId);
      listing.fulfillmentAvailability.set(channel, { fulfillment_channel_code: channel });
      listing.fnSku = seed.fnSku ?? listing.fnSku ?? `X00${String(this.listings.size).padStart(7, '0')}`;
      listing.fba = { ...emptyFbaInventory(), fulfillable: seed.quantity };
    }
    return listing;
  }

  get(sellerId: string, marketplaceId: string, sku: string): Listing | undefined {
    return this.listings.get(listingKey(sellerId, marketplaceId, sku));
  }

  /** The seller's listing of `sku`; `marketplaceId` is needed only when the SKU is listed in several. */
  find(sku: string, marketplaceId?: string): Listing {
    const listed = this.bySku.get(sku) ?? [];
    const matches = marketplaceId ? listed.filter((listing) => listing.marketplaceId === marketplaceId) : listed;
    if (matches.length === 0) throw new Error(`no listing for SKU ${JSON.stringify(sku)}${marketplaceId ? ` in ${marketplaceId}` : ''}`);
    if (matches.length > 1) throw new Error(`SKU ${JSON.stringify(sku)} is listed in several marketplaces; name one`);
    const [match] = matches;
    if (!match) throw new Error('unreachable');
    return match;
  }

  private insert(key: string, listing: Listing): void {
    this.listings.set(key, listing);
    const listed = this.bySku.get(listing.sku);
    if (listed) listed.push(listing);
    else this.bySku.set(listing.sku, [listing]);
  }

  all(): Listing[] {
    return [...this.listings.values()];
  }

  /**
   * Checks a patch the way Amazon does after the schema: returns the issues that make it
   * INVALID (nothing is applied then), or an empty list.
   */
  reviewPatch(sellerId: string, sku: string, marketplaceIds: readonly string[], request: PatchRequest): Issue[] {
    const issues: Issue[] = [];
    for (const marketplaceId of marketplaceIds) {
      const listing = this.get(sellerId, marketplaceId, sku);
      if (listing?.complete && request.productType !== listing.productType && request.productType !== GENERIC_PRODUCT_TYPE) {
        issues.push(invalidAttribute(`The product type '${request.productType}' does not match the product type '${listing.productType}' of the listing.`, undefined, [marketplaceId]));
      }
      // Which channels the listing will have as the patches are applied in order.
      const channels = new Set(listing?.fulfillmentAvailability.keys() ?? []);
      for (const patch of request.patches) {
        const attribute = /^\/attributes\/([^/]+)$/.exec(patch.path)?.[1];
        if (!attribute) {
          issues.push(invalidAttribute(
            patch.path.startsWith('/attributes/')
              ? `The path '${patch.path}' is not supported: only top-level attributes can be patched.`
              : `The path '${patch.path}' is not supported: patch paths have the form /attributes/{attributeName}.`,
            undefined,
            [marketplaceId],
          ));
          continue;
        }
        if (patch.op !== 'delete' && (!patch.value || patch.value.length === 0)) {
          issues.push(invalidAttribute(`The '${patch.op}' operation for the attribute '${attribute}' needs a value.`, attribute, [marketplaceId]));
          continue;
        }
        if (attribute !== FULFILLMENT_ATTRIBUTE) continue;
        for (const record of patch.value ?? []) {
          issues.push(...this.reviewFulfillmentRecord(record, patch.op, channels, listing, marketplaceId));
        }
        if (patch.op === 'delete' && !patch.value) {
          for (const channel of channels) if (!isFbaChannel(channel)) channels.delete(channel);
        }
      }
    }
    return issues;
  }

  /** Applies a reviewed patch; returns the DEFAULT quantity changes it made. */
  applyPatch(sellerId: string, sku: string, marketplaceIds: readonly string[], request: PatchRequest): MfnQuantityChange[] {
    const changes: MfnQuantityChange[] = [];
    const now = this.now();
    for (const marketplaceId of marketplaceIds) {
      let listing = this.get(sellerId, marketplaceId, sku);
      if (!listing) {
        listing = {
          sellerId,
          sku,
          marketplaceId,
          productType: request.productType,
          asin: undefined,
          fnSku: undefined,
          itemName: undefined,
          createdAtMs: now,
          updatedAtMs: now,
          complete: false,
          fulfillmentAvailability: new Map(),
          attributes: new Map(),
          fba: undefined,
        };
        this.insert(listingKey(sellerId, marketplaceId, sku), listing);
      }
      const before = mfnQuantity(listing);
      for (const patch of request.patches) {
        const attribute = /^\/attributes\/([^/]+)$/.exec(patch.path)?.[1];
        if (!attribute) continue;
        if (attribute === FULFILLMENT_ATTRIBUTE) applyFulfillmentPatch(listing, patch);
        else applyAttributePatch(listing, attribute, patch);
      }
      listing.updatedAtMs = now;
      const after = mfnQuantity(listing);
      if (before !== after) changes.push({ sellerId, sku, marketplaceId, before, after });
    }
    return changes;
  }

  private reviewFulfillmentRecord(
    record: Record<string, unknown>,
    op: PatchOperationRequest['op'],
    channels: Set<string>,
    listing: Listing | undefined,
    marketplaceId: string,
  ): Issue[] {
    const code = record['fulfillment_channel_code'];
    if (typeof code !== 'string' || code === '') {
      // Wording from the API's answer in jlevers/selling-partner-api#493; code 99022 from amzn/selling-partner-api-models#5219.
      return [{
        code: '99022',
        message: "The field 'fulfillment_channel_code' for the attribute 'fulfillment_availability' does not have enough values. The required minimum is '1' value(s).",
        severity: 'ERROR',
        categories: ['INVALID_ATTRIBUTE'],
        attributeNames: [FULFILLMENT_ATTRIBUTE],
        marketplaceIds: [marketplaceId],
      }];
    }
    const issues: Issue[] = [];
    const hasQuantity = Object.hasOwn(record, 'quantity');
    const quantity = record['quantity'];
    if (hasQuantity && !(typeof quantity === 'number' && Number.isInteger(quantity) && quantity >= 0)) {
      issues.push(invalidAttribute(`The value '${JSON.stringify(quantity)}' for 'quantity' in the attribute 'fulfillment_availability' is invalid: it must be a whole number of 0 or more.`, FULFILLMENT_ATTRIBUTE, [marketplaceId]));
    }
    if (isFbaChannel(code) && (hasQuantity || op === 'delete')) {
      // FBA quantity is counted by Amazon's fulfilment centres; sellers cannot set it (spec notes §1.2).
      issues.push(invalidAttribute(`The quantity for fulfillment channel '${code}' is managed by Amazon fulfillment centers and cannot be set or removed by the seller.`, FULFILLMENT_ATTRIBUTE, [marketplaceId]));
    }
    const fbaOnly = [...channels].some(isFbaChannel) && !channels.has(MFN_CHANNEL);
    if (code === MFN_CHANNEL && op !== 'delete' && listing?.fba && fbaOnly) {
      // With the legacy inventory feed, a seller quantity on an FBA offer switched it to merchant-fulfilled
      // and stranded the FBA stock (spec notes §1.2). What the Listings API does is UNCONFIRMED: the fake refuses.
      issues.push(invalidAttribute(`SKU '${listing.sku}' is fulfilled by Amazon: its quantity is managed by Amazon fulfillment centers. Setting a DEFAULT (merchant-fulfilled) quantity would convert the offer to merchant-fulfilled and strand the FBA inventory.`, FULFILLMENT_ATTRIBUTE, [marketplaceId]));
    }
    if (op === 'delete') channels.delete(code);
    else channels.add(code);
    return issues;
  }
}

export function emptyFbaInventory(): FbaInventory {
  return {
    fulfillable: 0,
    unfulfillable: 0,
    researching: 0,
    inboundWorking: 0,
    inboundShipped: 0,
    inboundReceiving: 0,
    reservedPendingCustomerOrder: 0,
    reservedWarehouseProcessing: 0,
    reservedWarehouseTransfer: 0,
    futureSupplyBuyable: 0,
    pendingCustomerOrderInTransit: 0,
  };
}

/** The DEFAULT (MFN) quantity, or undefined when the listing has no MFN quantity. */
export function mfnQuantity(listing: Listing): number | undefined {
  const quantity = listing.fulfillmentAvailability.get(MFN_CHANNEL)?.['quantity'];
  return typeof quantity === 'number' ? quantity : undefined;
}

function applyFulfillmentPatch(listing: Listing, patch: PatchOperationRequest): void {
  const records = listing.fulfillmentAvailability;
  if (patch.op === 'delete') {
    if (!patch.value) {
      for (const code of [...records.keys()]) if (!isFbaChannel(code)) records.delete(code);
      return;
    }
    for (const record of patch.value) records.delete(String(record['fulfillment_channel_code']));
    return;
  }
  for (const record of patch.value ?? []) {
    const code = String(record['fulfillment_channel_code']);
    // add/replace send the complete record (fields left out are dropped); merge keeps them
    // (https://developer-docs.amazon.com/sp-api/docs/merge-a-listing).
    const base = patch.op === 'merge' ? records.get(code) ?? { fulfillment_channel_code: code } : { fulfillment_channel_code: code };
    records.set(code, { ...base, ...record, fulfillment_channel_code: code });
  }
}

function applyAttributePatch(listing: Listing, attribute: string, patch: PatchOperationRequest): void {
  if (patch.op === 'delete') {
    listing.attributes.delete(attribute);
    return;
  }
  const value = (patch.value ?? []).map((record) => ({ ...record }));
  if (patch.op === 'merge') {
    const current = listing.attributes.get(attribute) ?? [];
    listing.attributes.set(attribute, value.map((record, index) => ({ ...current[index], ...record })));
    return;
  }
  listing.attributes.set(attribute, value);
}

function iso(milliseconds: number): string {
  return new Date(milliseconds).toISOString();
}

function summaryOf(listing: Listing): ItemSummaryByMarketplace {
  const sellable = (mfnQuantity(listing) ?? 0) > 0 || (listing.fba?.fulfillable ?? 0) > 0;
  return {
    marketplaceId: listing.marketplaceId,
    ...(listing.asin ? { asin: listing.asin } : {}),
    productType: listing.productType,
    conditionType: 'new_new',
    // An incomplete listing (created by a patch) is neither buyable nor discoverable.
    status: !listing.complete ? [] : sellable ? ['BUYABLE', 'DISCOVERABLE'] : ['DISCOVERABLE'],
    ...(listing.fnSku ? { fnSku: listing.fnSku } : {}),
    ...(listing.itemName ? { itemName: listing.itemName } : {}),
    createdDate: iso(listing.createdAtMs),
    lastUpdatedDate: iso(listing.updatedAtMs),
  };
}

function fulfillmentAvailabilityOf(listing: Listing): FulfillmentAvailability[] {
  return [...listing.fulfillmentAvailability.values()].map((record) => {
    const code = record.fulfillment_channel_code;
    // Whether Amazon reports a quantity for AMAZON_xx records is UNCONFIRMED (spec notes §1.3); the fake reports the fulfillable units.
    const quantity = isFbaChannel(code) ? listing.fba?.fulfillable : record['quantity'];
    return typeof quantity === 'number' ? { fulfillmentChannelCode: code, quantity } : { fulfillmentChannelCode: code };
  });
}

function attributesOf(listing: Listing): Record<string, Array<Record<string, unknown>>> {
  const attributes: Record<string, Array<Record<string, unknown>>> = {};
  for (const [name, value] of listing.attributes) attributes[name] = value.map((record) => ({ ...record, marketplace_id: listing.marketplaceId }));
  if (listing.fulfillmentAvailability.size > 0) {
    attributes[FULFILLMENT_ATTRIBUTE] = [...listing.fulfillmentAvailability.values()].map((record) => ({ ...record, marketplace_id: listing.marketplaceId }));
  }
  return attributes;
}

function issuesOf(listing: Listing): Issue[] {
  if (listing.complete) return [];
  // The model's own example issue for a listing missing a required attribute.
  return [{ code: '90220', message: "'item_name' is required but not supplied.", severity: 'ERROR', attributeNames: ['item_name'], categories: ['MISSING_ATTRIBUTE'], marketplaceIds: [listing.marketplaceId] }];
}

export type GetIncludedData = 'summaries' | 'attributes' | 'issues' | 'offers' | 'fulfillmentAvailability' | 'procurement' | 'relationships' | 'productTypes';

/** The getListingsItem `Item` for a SKU's listings in the requested marketplaces. */
export function itemOf(sku: string, listings: readonly Listing[], includedData: readonly GetIncludedData[]): Item {
  const item: Item = { sku };
  const included = new Set(includedData);
  if (included.has('summaries')) item.summaries = listings.map(summaryOf);
  if (included.has('attributes')) {
    // Attribute records carry marketplace_id, so several marketplaces' records share one array each.
    const attributes: Record<string, Array<Record<string, unknown>>> = {};
    for (const [name, records] of listings.flatMap((listing) => Object.entries(attributesOf(listing)))) {
      attributes[name] = [...(attributes[name] ?? []), ...records];
    }
    item.attributes = attributes;
  }
  if (included.has('issues')) item.issues = listings.flatMap(issuesOf);
  // Prices are not modelled, so there are no offers to show.
  if (included.has('offers')) item.offers = [];
  if (included.has('fulfillmentAvailability')) item.fulfillmentAvailability = listings.flatMap(fulfillmentAvailabilityOf);
  // Procurement is for vendors; sellers' listings carry none.
  if (included.has('procurement')) item.procurement = [];
  if (included.has('relationships')) item.relationships = listings.map((listing) => ({ marketplaceId: listing.marketplaceId, relationships: [] }));
  if (included.has('productTypes')) item.productTypes = listings.map((listing) => ({ marketplaceId: listing.marketplaceId, productType: listing.productType }));
  return item;
}
