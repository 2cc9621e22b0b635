// One catalogue row: the columns of a catalogue file, their rules, and the checks that
// turn a row read from JSON or CSV into a valid row or a list of row errors naming the
// row, the field and what is wrong. The stored catalogue hash uses the same columns
// (without onHand), so a file and what `stockguard catalog` shows read the same.
import { z } from 'zod';
import { parseAllocationMode } from '../domain/allocation.ts';
import { formatComponents, parseComponents } from '../domain/bundles.ts';
import { assertSku, MAX_QUANTITY } from '../domain/validate.ts';

/** Every column a catalogue file may have, in the order the docs and examples list them. */
export const CATALOG_COLUMNS = [
  'sku',
  'onHand',
  'holdback',
  'skuClass',
  'allocationMode',
  'shopifyInventoryItemId',
  'shopifyLocationId',
  'shopifyVariantId',
  'shopifySku',
  'amazonSellerSku',
  'amazonMarketplaceId',
  'amazonProductType',
  'amazonFulfillment',
  'shopifyPercent',
  'shopifyMaxShown',
  'shopifySafety',
  'shopifyFloor',
  'amazonPercent',
  'amazonMaxShown',
  'amazonSafety',
  'amazonFloor',
  'components',
] as const;
export type CatalogColumn = (typeof CATALOG_COLUMNS)[number];

/** Columns holding whole numbers: CSV cells of these are read as numbers. */
export const NUMBER_COLUMNS: ReadonlySet<CatalogColumn> = new Set<CatalogColumn>([
  'onHand',
  'holdback',
  'shopifyPercent',
  'shopifyMaxShown',
  'shopifySafety',
  'shopifyFloor',
  'amazonPercent',
  'amazonMaxShown',
  'amazonSafety',
  'amazonFloor',
]);

const SHOPIFY_MAPPING = ['shopifyInventoryItemId', 'shopifyLocationId'] as const;
/** How a Shopify order line finds this SKU: its variant, or (where the catalogue says so) its SKU text. */
const SHOPIFY_ORDER_KEYS = ['shopifyVariantId', 'shopifySku'] as const;
const AMAZON_REQUIRED = ['amazonSellerSku', 'amazonMarketplaceId', 'amazonFulfillment'] as const;
const AMAZON_MAPPING = [...AMAZON_REQUIRED, 'amazonProductType'] as const;
const SHOPIFY_POLICY = ['shopifyPercent', 'shopifyMaxShown', 'shopifySafety', 'shopifyFloor'] as const;
const AMAZON_POLICY = ['amazonPercent', 'amazonMaxShown', 'amazonSafety', 'amazonFloor'] as const;

const quantityRule = `must be a whole number from 0 to ${MAX_QUANTITY}`;
const quantity = z.int({ error: quantityRule }).min(0, { error: quantityRule }).max(MAX_QUANTITY, { error: quantityRule });
// Whole percentages keep the policy's rounding exact (see src/domain/sellable.ts).
const percentRule = 'must be a whole number from 0 to 100';
const percent = z.int({ error: percentRule }).min(0, { error: percentRule }).max(100, { error: percentRule });
// Shopify ids exceed 2^53, so they are kept as strings and a JSON number is refused.
const shopifyGid = (resource: string) => {
  const rule = `must be a Shopify gid like "gid://shopify/${resource}/123" (a string)`;
  return z.string({ error: rule }).regex(new RegExp(`^gid://shopify/${resource}/[1-9][0-9]*$`), { error: rule });
};
const sellerSkuRule = 'must be an Amazon seller SKU: 1 to 40 characters, no control characters or surrounding spaces';
const marketplaceRule = 'must be an Amazon marketplace id like "ATVPDKIKX0DER"';
const productTypeRule = 'must be an Amazon product type in capitals like "SHIRT" or "HOME_BED_AND_BATH"';
const skuClassRule = 'must be 1 to 64 letters, digits, "_" or "-"';
const shopifySkuRule = 'must be the variant\'s SKU text on Shopify: 1 to 255 characters, no control characters or surrounding spaces';

export const CATALOG_ROW_SCHEMA = z.strictObject({
  // The SKU's own rules (assertSku) are checked after the schema, with its message.
  sku: z.string({ error: 'must be a string' }),
  onHand: quantity.optional(),
  holdback: quantity.optional(),
  skuClass: z.string({ error: skuClassRule }).regex(/^[A-Za-z0-9_-]{1,64}$/, { error: skuClassRule }).optional(),
  // shared | strict | budget:N | auto (docs/allocation.md); parseAllocationMode says what is wrong.
  allocationMode: z
    .string({ error: 'must be one of shared, strict, budget:N (N ≥ 0 units), auto' })
    .superRefine((value, context) => {
      try {
        parseAllocationMode(value);
      } catch (error) {
        context.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      }
    })
    .optional(),
  shopifyInventoryItemId: shopifyGid('InventoryItem').optional(),
  shopifyLocationId: shopifyGid('Location').optional(),
  shopifyVariantId: shopifyGid('ProductVariant').optional(),
  shopifySku: z
    .string({ error: shopifySkuRule })
    .regex(/^(?! )[^\p{Cc}]{1,255}(?<! )$/u, { error: shopifySkuRule })
    .optional(),
  amazonSellerSku: z
    .string({ error: sellerSkuRule })
    .regex(/^(?! )[^\p{Cc}]{1,40}(?<! )$/u, { error: sellerSkuRule })
    .optional(),
  amazonMarketplaceId: z.string({ error: marketplaceRule }).regex(/^A[0-9A-Z]{9,15}$/, { error: marketplaceRule }).optional(),
  amazonProductType: z.string({ error: productTypeRule }).regex(/^[A-Z0-9_]{1,100}$/, { error: productTypeRule }).optional(),
  amazonFulfillment: z.enum(['MFN', 'FBA'], { error: 'must be MFN or FBA' }).optional(),
  shopifyPercent: percent.optional(),
  shopifyMaxShown: quantity.optional(),
  shopifySafety: quantity.optional(),
  shopifyFloor: quantity.optional(),
  amazonPercent: percent.optional(),
  amazonMaxShown: quantity.optional(),
  amazonSafety: quantity.optional(),
  amazonFloor: quantity.optional(),
  // A bundle's components (src/domain/bundles.ts): "A*2;B" or [{"sku":"A","quantity":2}];
  // kept in the canonical JSON form, so a file and the stored entry compare equal.
  components: z
    .union([z.string(), z.array(z.unknown())], { error: 'must be a list of components: "SKU-A*2;SKU-B" or [{"sku":"SKU-A","quantity":2}]' })
    .transform((value, context) => {
      const parsed = parseComponents(value);
      if (!parsed.ok) {
        context.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return formatComponents(parsed.components);
    })
    .optional(),
});

/** A row that passed every check. */
export type CatalogRow = z.infer<typeof CATALOG_ROW_SCHEMA>;

/** A row as read from a file, before any check; absent cells are left out of `values`. */
export interface SourceRow {
  /** 1-based number of the data row (the CSV header is not a row). */
  row: number;
  /** 1-based line the row starts on (CSV only). */
  line?: number;
  values: unknown;
  /** Set by the reader when the row cannot even be split into columns. */
  problem?: string;
}

export interface RowError {
  row: number;
  line?: number;
  /** The column at fault; undefined when the row as a whole is wrong. */
  field?: string;
  problem: string;
}

/** `row 7 (line 8), field amazonFulfillment: must be MFN or FBA, got "FBM"` */
export function formatRowError(error: RowError): string {
  const where = error.line === undefined ? `row ${error.row}` : `row ${error.row} (line ${error.line})`;
  return error.field === undefined ? `${where}: ${error.problem}` : `${where}, field ${error.field}: ${error.problem}`;
}

export type RowCheck = { ok: true; row: CatalogRow } | { ok: false; errors: RowError[] };

/** Every problem of one row: field rules, the SKU's rules, and the rules between fields. */
export function checkRow(source: SourceRow): RowCheck {
  const at = { row: source.row, ...(source.line === undefined ? {} : { line: source.line }) };
  if (source.problem !== undefined) return { ok: false, errors: [{ ...at, problem: source.problem }] };
  const values = source.values;
  if (!isRecord(values)) {
    return { ok: false, errors: [{ ...at, problem: `must be an object with one property per column, got ${describe(values)}` }] };
  }
  const problems: { field: string; problem: string }[] = [];
  const parsed = CATALOG_ROW_SCHEMA.safeParse(values, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') {
        for (const key of issue.keys) problems.push({ field: key, problem: 'is not a catalogue column (see docs/catalog.md)' });
        continue;
      }
      const field = String(issue.path[0] ?? '');
      const problem =
        field === 'components' && issue.code === 'custom' ? issue.message : issue.input === undefined ? 'is required' : `${issue.message}, got ${describe(issue.input)}`;
      problems.push({ field, problem });
    }
  }
  const present = (column: CatalogColumn) => values[column] !== undefined;
  const sku = values.sku;
  if (typeof sku === 'string') {
    try {
      assertSku(sku);
    } catch {
      problems.push({
        field: 'sku',
        problem: `must be 1 to 200 characters without "{", "}", control characters or surrounding spaces, got ${describe(sku)}`,
      });
    }
  }
  problems.push(...crossFieldProblems(values, present));

  if (problems.length > 0 || !parsed.success) {
    const order = (field: string) => {
      const index = (CATALOG_COLUMNS as readonly string[]).indexOf(field);
      return index === -1 ? CATALOG_COLUMNS.length : index;
    };
    problems.sort((a, b) => order(a.field) - order(b.field));
    return { ok: false, errors: problems.map(({ field, problem }) => ({ ...at, field, problem })) };
  }
  return { ok: true, row: parsed.data };
}

// Rules between columns. They look only at which cells are filled (and at values the
// schema also checks), so they run even when a field failed and every problem of a row
// is listed at once.
function crossFieldProblems(
  values: Record<string, unknown>,
  present: (column: CatalogColumn) => boolean,
): { field: string; problem: string }[] {
  const problems: { field: string; problem: string }[] = [];
  const hasShopify = SHOPIFY_MAPPING.some(present);
  const hasAmazon = AMAZON_MAPPING.some(present);
  // inventorySetQuantities needs both the item and the location.
  if (hasShopify) {
    for (const column of SHOPIFY_MAPPING) {
      if (!present(column)) problems.push({ field: column, problem: 'is required when the row has a Shopify mapping' });
    }
  }
  if (hasAmazon) {
    for (const column of AMAZON_REQUIRED) {
      if (!present(column)) problems.push({ field: column, problem: 'is required when the row has an Amazon mapping' });
    }
    // patchListingsItem needs the product type; FBA listings are never written (I6).
    if (values.amazonFulfillment === 'MFN' && !present('amazonProductType')) {
      problems.push({ field: 'amazonProductType', problem: 'is required for an MFN listing (patchListingsItem needs it)' });
    }
  }
  // Orders name the variant (and maybe its SKU text), never the inventory item: these only
  // make sense beside the item and location the pushers write to.
  for (const column of SHOPIFY_ORDER_KEYS) {
    if (present(column) && !hasShopify) {
      problems.push({ field: column, problem: 'is set but the row has no Shopify mapping (shopifyInventoryItemId and shopifyLocationId)' });
    }
  }
  for (const column of SHOPIFY_POLICY) {
    if (present(column) && !hasShopify) {
      problems.push({ field: column, problem: 'is set but the row has no Shopify mapping, so it would never apply' });
    }
  }
  for (const column of AMAZON_POLICY) {
    if (!present(column)) continue;
    if (!hasAmazon) {
      problems.push({ field: column, problem: 'is set but the row has no Amazon mapping, so it would never apply' });
    } else if (values.amazonFulfillment === 'FBA') {
      problems.push({ field: column, problem: 'does not apply to an FBA listing: FBA quantities are Amazon\'s and never pushed' });
    }
  }
  // A bundle has no stock of its own: stock, holdback and allocation live on its components.
  if (present('components')) {
    if (present('onHand')) problems.push({ field: 'onHand', problem: 'is set on a bundle; a bundle has no stock of its own (set onHand on its components)' });
    if (typeof values.holdback === 'number' && values.holdback > 0) problems.push({ field: 'holdback', problem: 'is set on a bundle; hold units back on its components' });
    if (present('allocationMode')) problems.push({ field: 'allocationMode', problem: 'is set on a bundle; a bundle follows its components\' allocation modes' });
    const parsed = parseComponents(values.components, typeof values.sku === 'string' ? values.sku : undefined);
    if (!parsed.ok && parsed.problem.includes('cannot contain itself')) problems.push({ field: 'components', problem: parsed.problem });
  }
  for (const channel of ['shopify', 'amazon'] as const) {
    const floor = values[`${channel}Floor`];
    const maxShown = values[`${channel}MaxShown`];
    // A floor above the cap tells the channel 0 forever: almost certainly a typo.
    if (typeof floor === 'number' && typeof maxShown === 'number' && floor > maxShown) {
      problems.push({
        field: `${channel}Floor`,
        problem: `${floor} is above ${channel}MaxShown ${maxShown}, so the channel would always be told 0`,
      });
    }
  }
  return problems;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 60 ? `a string of ${value.length} characters` : JSON.stringify(value);
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
