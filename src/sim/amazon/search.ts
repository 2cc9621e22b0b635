// searchListingsItems (Listings Items API 2021-08-01) over the fake's listings: the filters,
// sort and pageToken pagination of GET /listings/2021-08-01/items/{sellerId}, after the
// parameters passed the model's schema. Amazon pages through at most 1,000 results of one
// search, whatever numberOfResults says ("Search for listings items by product identifier",
// developer-docs.amazon.com/sp-api/docs/search-for-listings-items-by-id): past that a
// caller must narrow the search (e.g. by createdAfter / createdBefore), and so must a
// caller of the fake.
import { createHash } from 'node:crypto';
import type { Item, ItemSearchResults } from '@sp-api-sdk/listings-items-api-2021-08-01';
import { type GetIncludedData, itemOf, type Listing, type ListingStore } from './listings.ts';

/** Results one search can page through (the official guide). */
export const SEARCH_RESULT_LIMIT = 1000;
const DEFAULT_PAGE_SIZE = 10;

export type SearchOutcome =
  | { kind: 'results'; body: ItemSearchResults }
  | { kind: 'invalid'; details: string }
  | { kind: 'notImplemented'; what: string };

type Values = Readonly<Record<string, unknown>>;

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((entry): entry is string => typeof entry === 'string') : [];
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function timeOf(value: unknown): number | undefined {
  const given = text(value);
  return given === undefined ? undefined : Date.parse(given);
}

/** A token is the offset and a fingerprint of the search it belongs to, so it cannot be replayed on another search. */
function fingerprint(values: Values): string {
  const search = Object.entries(values)
    .filter(([name]) => name !== 'pageToken' && name !== 'pageSize')
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(JSON.stringify(search)).digest('base64url').slice(0, 16);
}

function token(offset: number, search: string): string {
  return Buffer.from(JSON.stringify({ o: offset, s: search }), 'utf8').toString('base64url');
}

function offsetOf(pageToken: string, search: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(pageToken, 'base64url').toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { o, s } = parsed as { o?: unknown; s?: unknown };
    return typeof o === 'number' && Number.isInteger(o) && o >= 0 && s === search ? o : undefined;
  } catch {
    return undefined;
  }
}

/** What the search needs of one item: its listings in the requested marketplaces. */
interface Candidate {
  sku: string;
  listings: Listing[];
  createdAtMs: number;
  updatedAtMs: number;
  status: Set<string>;
  severities: Set<string>;
}

export function searchListings(store: ListingStore, values: Values): SearchOutcome {
  const marketplaceIds = new Set(strings(values['marketplaceIds']));
  const identifiers = strings(values['identifiers']);
  const identifiersType = text(values['identifiersType']);
  const variationParentSku = text(values['variationParentSku']);
  const packageHierarchySku = text(values['packageHierarchySku']);
  // The rules between parameters, as the model's descriptions state them.
  if ((identifiers.length > 0) !== (identifiersType !== undefined)) {
    return { kind: 'invalid', details: 'identifiers and identifiersType must be given together' };
  }
  if (identifiers.length > 0 && (variationParentSku !== undefined || packageHierarchySku !== undefined)) {
    return { kind: 'invalid', details: 'identifiers cannot be combined with variationParentSku or packageHierarchySku' };
  }
  if (variationParentSku !== undefined && packageHierarchySku !== undefined) {
    return { kind: 'invalid', details: 'variationParentSku and packageHierarchySku cannot be combined' };
  }
  if (identifiersType !== undefined && identifiersType !== 'SKU' && identifiersType !== 'ASIN' && identifiersType !== 'FNSKU') {
    return { kind: 'notImplemented', what: `searchListingsItems by identifiersType ${identifiersType} (the fake knows SKU, ASIN and FNSKU)` };
  }
  const pageSize = typeof values['pageSize'] === 'number' ? values['pageSize'] : DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1) return { kind: 'invalid', details: `pageSize must be a whole number from 1 to 20, got ${String(values['pageSize'])}` };
  const search = fingerprint(values);
  const pageToken = text(values['pageToken']);
  const offset = pageToken === undefined ? 0 : offsetOf(pageToken, search);
  if (offset === undefined) return { kind: 'invalid', details: 'pageToken is not a token of this search' };

  const includedData = (strings(values['includedData']).length > 0 ? strings(values['includedData']) : ['summaries']) as GetIncludedData[];
  const createdAfter = timeOf(values['createdAfter']);
  const createdBefore = timeOf(values['createdBefore']);
  const updatedAfter = timeOf(values['lastUpdatedAfter']);
  const updatedBefore = timeOf(values['lastUpdatedBefore']);
  const withStatus = strings(values['withStatus']);
  const withoutStatus = strings(values['withoutStatus']);
  const withIssueSeverity = strings(values['withIssueSeverity']);
  const wanted = new Set(identifiers);

  const bySku = new Map<string, Listing[]>();
  for (const listing of store.all()) {
    if (!marketplaceIds.has(listing.marketplaceId)) continue;
    bySku.set(listing.sku, [...(bySku.get(listing.sku) ?? []), listing]);
  }
  const candidates: Candidate[] = [];
  for (const [sku, listings] of bySku) {
    // The fake models no variations or package hierarchies: no listing is related to another.
    if (variationParentSku !== undefined || packageHierarchySku !== undefined) continue;
    if (identifiersType === 'SKU' && !wanted.has(sku)) continue;
    if (identifiersType === 'ASIN' && !listings.some((listing) => listing.asin !== undefined && wanted.has(listing.asin))) continue;
    if (identifiersType === 'FNSKU' && !listings.some((listing) => listing.fnSku !== undefined && wanted.has(listing.fnSku))) continue;
    const shown = itemOf(sku, listings, ['summaries', 'issues']);
    const candidate: Candidate = {
      sku,
      listings,
      createdAtMs: Math.min(...listings.map((listing) => listing.createdAtMs)),
      updatedAtMs: Math.max(...listings.map((listing) => listing.updatedAtMs)),
      status: new Set((shown.summaries ?? []).flatMap((summary) => summary.status ?? [])),
      severities: new Set((shown.issues ?? []).map((issue) => issue.severity)),
    };
    if (createdAfter !== undefined && candidate.createdAtMs < createdAfter) continue;
    if (createdBefore !== undefined && candidate.createdAtMs > createdBefore) continue;
    if (updatedAfter !== undefined && candidate.updatedAtMs < updatedAfter) continue;
    if (updatedBefore !== undefined && candidate.updatedAtMs > updatedBefore) continue;
    if (withStatus.length > 0 && !withStatus.some((status) => candidate.status.has(status))) continue;
    if (withoutStatus.some((status) => candidate.status.has(status))) continue;
    if (withIssueSeverity.length > 0 && !withIssueSeverity.some((severity) => candidate.severities.has(severity))) continue;
    candidates.push(candidate);
  }

  const sortBy = text(values['sortBy']);
  const descending = text(values['sortOrder']) !== 'ASC';
  const key = (candidate: Candidate): number | string =>
    sortBy === 'sku' ? candidate.sku : sortBy === 'createdDate' ? candidate.createdAtMs : candidate.updatedAtMs;
  candidates.sort((a, b) => {
    const [left, right] = [key(a), key(b)];
    const order = left < right ? -1 : left > right ? 1 : a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0;
    return descending ? -order : order;
  });

  const reachable = Math.min(candidates.length, SEARCH_RESULT_LIMIT);
  const page = offset < reachable ? candidates.slice(offset, Math.min(offset + pageSize, reachable)) : [];
  const items: Item[] = page.map((candidate) => itemOf(candidate.sku, candidate.listings, includedData));
  const pagination: { nextToken?: string; previousToken?: string } = {};
  if (offset + pageSize < reachable) pagination.nextToken = token(offset + pageSize, search);
  if (offset > 0) pagination.previousToken = token(Math.max(0, offset - pageSize), search);
  return {
    kind: 'results',
    body: { numberOfResults: candidates.length, ...(Object.keys(pagination).length > 0 ? { pagination } : {}), items },
  };
}
