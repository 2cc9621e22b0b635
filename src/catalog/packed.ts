// The packed form of a catalogue entry and of the channel-item index, as the compact layout
// stores them (docs/catalog.md, "Keys and packed format"; docs/decisions.md, "Compact
// layout"). Pure: no Redis here.
//
// An entry is one field of its SKU's `catalog` bucket hash (field = the SKU), its value the
// entry's columns as `<tag><value>` parts joined by U+001F (unit separator): a control
// character, which no catalogue column may hold (row.ts refuses them in every free-text
// column, assertSku in SKUs), so no escaping is needed. A column at its default is left
// out (holdback 0, skuClass "default", amazonFulfillment MFN beside a seller SKU), Shopify
// gids are kept as their numeric id in base 36, an Amazon marketplace id Amazon lists as
// its country code, and a seller SKU or Shopify SKU text equal to our SKU as an empty
// value: a SKU listed on Shopify (item, location, variant) and on Amazon (seller SKU,
// marketplace, product type) packs into ~50 bytes, under Redis's hash-max-listpack-value
// of 64, so its bucket hash stays a listpack.
//
// The channel-item index is the `item` buckets, bucketed by the item's field name: the
// same tag and packed value as the entry's column (`i<inventory item id in base 36>`,
// `v<variant id in base 36>`, `k<Shopify SKU text>`, `s<seller SKU>`), value = our SKU.
import { parseComponents } from '../domain/bundles.ts';
import { type CatalogColumn, NUMBER_COLUMNS } from './row.ts';

/** Separates the parts of a packed entry (U+001F, a control character no column may hold). */
export const PACKED_SEPARATOR = '\u001f';

/** The stored columns (every catalogue column but sku and onHand), each with its one-character tag. */
export const PACKED_TAGS = {
  holdback: 'h',
  skuClass: 'c',
  allocationMode: 'x',
  shopifyInventoryItemId: 'i',
  shopifyLocationId: 'l',
  shopifyVariantId: 'v',
  shopifySku: 'k',
  amazonSellerSku: 's',
  amazonMarketplaceId: 'm',
  amazonProductType: 't',
  amazonFulfillment: 'f',
  shopifyPercent: 'P',
  shopifyMaxShown: 'M',
  shopifySafety: 'S',
  shopifyFloor: 'F',
  amazonPercent: 'p',
  amazonMaxShown: 'n',
  amazonSafety: 'e',
  amazonFloor: 'o',
  components: 'b',
} as const satisfies Record<Exclude<CatalogColumn, 'sku' | 'onHand'>, string>;
export type PackedColumn = keyof typeof PACKED_TAGS;

const COLUMN_OF_TAG = new Map<string, PackedColumn>(Object.entries(PACKED_TAGS).map(([column, tag]) => [tag, column as PackedColumn]));

/** The Shopify gid prefix of each gid column: the packed form keeps only the number after it. */
const GID_PREFIXES: Partial<Record<PackedColumn, string>> = {
  shopifyInventoryItemId: 'gid://shopify/InventoryItem/',
  shopifyLocationId: 'gid://shopify/Location/',
  shopifyVariantId: 'gid://shopify/ProductVariant/',
};
/**
 * Amazon's marketplace ids by country code, as Amazon lists them
 * (https://developer-docs.amazon.com/sp-api/docs/marketplace-ids): a listed id packs as its
 * two-letter code, any other id as written (every id is 12 characters or more, so the two
 * never meet). Never change a code's id: packed entries in Redis and in snapshots name it.
 */
const MARKETPLACE_CODES: Readonly<Record<string, string>> = {
  CA: 'A2EUQ1WTGCTBG2',
  US: 'ATVPDKIKX0DER',
  MX: 'A1AM78C64UM0Y8',
  BR: 'A2Q3Y263D00KWC',
  IE: 'A28R8C7NBKEWEA',
  ES: 'A1RKKUPIHCS9HS',
  UK: 'A1F83G8C2ARO7P',
  FR: 'A13V1IB3VIYZZH',
  BE: 'AMEN7PMS3EDWL',
  NL: 'A1805IZSGTT6HS',
  DE: 'A1PA6795UKMFR9',
  IT: 'APJ6JRA9NG5V4',
  SE: 'A2NODRKZP88ZB9',
  ZA: 'AE08WJ6YKNBMC',
  PL: 'A1C3SOZRARQ6R3',
  EG: 'ARBP9OOSHTCHU',
  TR: 'A33AVAJ2PDY3EV',
  SA: 'A17E79C6D8DWNP',
  AE: 'A2VIGQ35RCS4UG',
  IN: 'A21TJRUUN4KGV',
  SG: 'A19VAU5U5O7RUS',
  AU: 'A39IBJ37TRP1C6',
  JP: 'A1VC38T7YXB528',
};
const CODE_OF_MARKETPLACE = new Map(Object.entries(MARKETPLACE_CODES).map(([code, id]) => [id, code]));

/** A gid's decimal number in base 36 (exact for any length: BigInt), and back. */
function toBase36(decimal: string): string {
  return BigInt(decimal).toString(36);
}

function fromBase36(packed: string): string | undefined {
  if (!/^[1-9a-z][0-9a-z]*$/.test(packed)) return undefined;
  let value = 0n;
  for (const digit of packed) value = value * 36n + BigInt(Number.parseInt(digit, 36));
  return value.toString();
}

/** Columns whose empty packed value stands for our own SKU (the usual case for both). */
const SAME_AS_SKU: ReadonlySet<PackedColumn> = new Set(['amazonSellerSku', 'shopifySku']);
const DEFAULT_HOLDBACK = 0;
// DEFAULT_SKU_CLASS (entry.ts), repeated in src/lua/readLedgerAsOf.lua, which reads it packed.
const DEFAULT_CLASS = 'default';

/** A record as it may come from Redis: any column present, numbers possibly as text. */
export type LooseRecord = Partial<Record<CatalogColumn, string | number>>;

/**
 * The packed value of one entry's record (CatalogRecord, or redis-om's hash of it with
 * numbers as text). Columns are written in PACKED_TAGS order, so equal records pack to
 * equal strings. The record's `sku` is the bucket field, not part of the value.
 */
export function packRecord(sku: string, record: LooseRecord): string {
  const parts: string[] = [];
  for (const [column, tag] of Object.entries(PACKED_TAGS) as [PackedColumn, string][]) {
    const raw = record[column];
    if (raw === undefined) continue;
    const value = String(raw);
    if (column === 'holdback' && value === String(DEFAULT_HOLDBACK)) continue;
    if (column === 'skuClass' && value === DEFAULT_CLASS) continue;
    if (column === 'amazonFulfillment' && value === 'MFN' && record.amazonSellerSku !== undefined) continue;
    parts.push(tag + packValue(sku, column, value));
  }
  return parts.join(PACKED_SEPARATOR);
}

/**
 * The record a packed value holds (the inverse of packRecord), numbers as numbers, holdback
 * and skuClass always present. Not checked: Catalog.get checks it like a file row.
 */
export function unpackRecord(sku: string, packed: string): Record<string, string | number> {
  const record: Record<string, string | number> = { sku, holdback: DEFAULT_HOLDBACK, skuClass: DEFAULT_CLASS };
  if (packed !== '') {
    for (const part of packed.split(PACKED_SEPARATOR)) {
      const column = COLUMN_OF_TAG.get(part.charAt(0));
      // An unknown tag is kept under its own name, so the row check names it instead of dropping it.
      if (column === undefined) {
        record[`packed tag ${JSON.stringify(part.charAt(0))}`] = part.slice(1);
        continue;
      }
      const value = unpackValue(sku, column, part.slice(1));
      record[column] = NUMBER_COLUMNS.has(column) && /^(0|[1-9][0-9]{0,15})$/.test(value) ? Number(value) : value;
    }
  }
  if (record.amazonSellerSku !== undefined && record.amazonFulfillment === undefined) record.amazonFulfillment = 'MFN';
  return record;
}

function packValue(sku: string, column: PackedColumn, value: string): string {
  const gidPrefix = GID_PREFIXES[column];
  if (gidPrefix !== undefined && value.startsWith(gidPrefix) && /^[1-9][0-9]*$/.test(value.slice(gidPrefix.length))) return toBase36(value.slice(gidPrefix.length));
  if (column === 'amazonMarketplaceId' && CODE_OF_MARKETPLACE.has(value)) return CODE_OF_MARKETPLACE.get(value)!;
  if (SAME_AS_SKU.has(column) && value === sku) return '';
  if (column === 'components') return packComponents(value);
  return value;
}

function unpackValue(sku: string, column: PackedColumn, value: string): string {
  const gidPrefix = GID_PREFIXES[column];
  // A gid of another shape is kept whole (it starts with `gid://`, which base 36 cannot).
  const number = gidPrefix === undefined ? undefined : fromBase36(value);
  if (gidPrefix !== undefined && number !== undefined) return gidPrefix + number;
  if (column === 'amazonMarketplaceId' && Object.hasOwn(MARKETPLACE_CODES, value)) return MARKETPLACE_CODES[value]!;
  if (SAME_AS_SKU.has(column) && value === '') return sku;
  if (column === 'components') return unpackComponents(value);
  return value;
}

// Components as `SKU*2;SKU` (parseComponents' short form) instead of the stored JSON, unless
// a component's SKU holds `;` (the short form's separator) or the list would read as JSON.
function packComponents(json: string): string {
  const parsed = parseComponents(json);
  if (!parsed.ok || parsed.components.some(({ sku }) => sku.includes(';')) || parsed.components[0]?.sku.startsWith('[')) return json;
  return parsed.components.map(({ sku, quantity }) => (quantity === 1 && !sku.includes('*') ? sku : `${sku}*${quantity}`)).join(';');
}

function unpackComponents(packed: string): string {
  if (packed.startsWith('[')) return packed;
  const parsed = parseComponents(packed);
  return parsed.ok ? JSON.stringify(parsed.components.map(({ sku, quantity }) => ({ sku, quantity }))) : packed;
}

/**
 * The channel-item kinds the catalogue maps (`<kind>:<identifier>`, Catalog.channelItemRef),
 * each with the column that holds its identifier.
 */
const ITEM_KIND_COLUMNS = {
  shopify: 'shopifyInventoryItemId',
  'shopify-variant': 'shopifyVariantId',
  'shopify-sku': 'shopifySku',
  amazon: 'amazonSellerSku',
} as const satisfies Record<string, PackedColumn>;

/**
 * The `item` bucket fields of a packed entry's channel items (what Catalog.put maps to its
 * SKU): snapshots restore the item buckets from the entries with it.
 */
export function packedItemFields(sku: string, packed: string): string[] {
  const record = unpackRecord(sku, packed);
  return (Object.entries(ITEM_KIND_COLUMNS) as [string, PackedColumn][]).flatMap(([kind, column]) => {
    const identifier = record[column];
    const field = identifier === undefined ? undefined : itemField(`${kind}:${String(identifier)}`);
    return field === undefined ? [] : [field];
  });
}

/**
 * The `item` bucket field of a channel item reference (`shopify:gid://shopify/InventoryItem/44`
 * → `i18`, `amazon:TEE-1` → `sTEE-1`): the column's tag and the identifier, a gid by its
 * number in base 36. Undefined for a reference of no known kind, or a Shopify gid of another shape:
 * the catalogue never maps those.
 */
export function itemField(ref: string): string | undefined {
  const colon = ref.indexOf(':');
  if (colon <= 0) return undefined;
  const kind = ref.slice(0, colon);
  const identifier = ref.slice(colon + 1);
  if (!Object.hasOwn(ITEM_KIND_COLUMNS, kind) || identifier === '') return undefined;
  const column = ITEM_KIND_COLUMNS[kind as keyof typeof ITEM_KIND_COLUMNS];
  const gidPrefix = GID_PREFIXES[column];
  if (gidPrefix !== undefined) {
    const id = identifier.startsWith(gidPrefix) ? identifier.slice(gidPrefix.length) : '';
    return /^[1-9][0-9]*$/.test(id) ? PACKED_TAGS[column] + toBase36(id) : undefined;
  }
  return PACKED_TAGS[column] + identifier;
}
