// Property-based fuzzing of catalogue files: JSON and CSV generated from the documented
// columns with good and bad values, then possibly mutated byte by byte, written to a temp
// dir and imported into a real Redis. Properties: importCatalog either imports every row
// (each SKU then has a catalogue entry and a ledger) or throws a coded
// STOCKGUARD_E_CATALOG_* error, and then not one key under the prefix changed.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { CATALOG_COLUMNS } from '../../src/catalog/row.ts';
import { importCatalog } from '../../src/catalog/import.ts';
import { loadConfig } from '../../src/config.ts';
import { isStockguardError } from '../../src/errors.ts';
import { openRuntime, type Runtime } from '../../src/main.ts';
import { assertUnchanged, checkProperty, fingerprint, trapProcessErrors } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('fuzz: catalogue files');
const trap = trapProcessErrors();
let redisHandle: TestRedis;
let redis: Redis;
let runtime: Runtime;
let directory: string;

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  runtime = await openRuntime(loadConfig({ REDIS_URL: redisHandle.url, STOCKGUARD_KEY_PREFIX: redisHandle.prefix }));
  directory = mkdtempSync(join(tmpdir(), 'stockguard-fuzz-catalog-'));
});

test.after(async () => {
  await runtime.close();
  await redisHandle.close();
  rmSync(directory, { recursive: true, force: true });
  trap.remove();
});

type Cell = string | number | boolean | null;
const whole = (min: number, max: number) =>
  fc.oneof({ arbitrary: fc.integer({ min, max }), weight: 8 }, { arbitrary: fc.constantFrom<Cell>(-1, 1.5, 1_000_000_001, 'ten', '', true, null), weight: 1 });
const gid = (resource: string) =>
  fc.oneof(
    { arbitrary: fc.bigInt({ min: 1n, max: 2n ** 64n }).map((id) => `gid://shopify/${resource}/${id}`), weight: 8 },
    { arbitrary: fc.constantFrom<Cell>(`gid://shopify/${resource}/0`, 'gid://shopify/Product/1', '12345', 12345, `gid://shopify/${resource}/1 `), weight: 1 },
  );
/** Values per column, mostly valid. A SKU pool makes files repeat SKUs (within and across imports). */
const COLUMN_VALUES: Record<(typeof CATALOG_COLUMNS)[number], fc.Arbitrary<Cell>> = {
  sku: fc.oneof(
    { arbitrary: fc.constantFrom('CAT-1', 'CAT-2', 'CAT-3', 'MUG-WHT', '杯子-白', 'TEE/BLK,"M"', 'a b'), weight: 8 },
    { arbitrary: fc.stringMatching(/^[A-Z]{2,5}-[0-9]{1,4}$/), weight: 4 },
    { arbitrary: fc.constantFrom<Cell>('', ' CAT-1', 'CAT-1 ', '{CAT}', 'x'.repeat(201), 'line\nbreak', 7, null), weight: 1 },
  ),
  onHand: whole(0, 500),
  holdback: whole(0, 20),
  skuClass: fc.oneof({ arbitrary: fc.constantFrom('default', 'hot', 'slow_movers'), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('has space', '', 'x'.repeat(65)), weight: 1 }),
  allocationMode: fc.oneof({ arbitrary: fc.constantFrom('shared', 'strict', 'auto', 'budget:0', 'budget:5'), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('budget:-1', 'budget:x', 'strictly', 3), weight: 1 }),
  shopifyInventoryItemId: gid('InventoryItem'),
  shopifyLocationId: gid('Location'),
  shopifyVariantId: gid('ProductVariant'),
  shopifySku: fc.oneof({ arbitrary: fc.stringMatching(/^[A-Z]{2,5}-[0-9]{1,4}$/), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('', ' X', 'x'.repeat(256)), weight: 1 }),
  amazonSellerSku: fc.oneof({ arbitrary: fc.stringMatching(/^SG-[A-Z0-9-]{1,20}$/), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('', ' X', 'x'.repeat(41)), weight: 1 }),
  amazonMarketplaceId: fc.oneof({ arbitrary: fc.constantFrom('ATVPDKIKX0DER', 'A1F83G8C2ARO7P'), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('atvpdkikx0der', 'B123'), weight: 1 }),
  amazonProductType: fc.oneof({ arbitrary: fc.constantFrom('SHIRT', 'HOME_BED_AND_BATH'), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('shirt', ''), weight: 1 }),
  amazonFulfillment: fc.oneof({ arbitrary: fc.constantFrom('MFN', 'FBA'), weight: 8 }, { arbitrary: fc.constantFrom<Cell>('FBM', 'mfn'), weight: 1 }),
  shopifyPercent: whole(0, 100),
  shopifyMaxShown: whole(0, 1000),
  shopifySafety: whole(0, 10),
  shopifyFloor: whole(0, 10),
  amazonPercent: whole(0, 100),
  amazonMaxShown: whole(0, 1000),
  amazonSafety: whole(0, 10),
  amazonFloor: whole(0, 10),
  // Bundles of the pool's SKUs, and broken lists (a zero quantity, itself, a missing component, a nested bundle).
  components: fc.oneof(
    { arbitrary: fc.constantFrom<Cell>('CAT-1*2;CAT-2', 'MUG-WHT', 'CAT-3*1;MUG-WHT*4', '[{"sku":"CAT-2","quantity":3}]'), weight: 6 },
    { arbitrary: fc.constantFrom<Cell>('', 'CAT-1*0', 'CAT-1;CAT-1', 'NOT-THERE*2', 'KIT-1', '{CAT}*2', 5), weight: 2 },
  ),
};
const OPTIONAL_COLUMNS = CATALOG_COLUMNS.filter((column) => column !== 'sku');

/** A row: the SKU (usually), a few other columns; sometimes a column the catalogue does not know. */
const row = fc
  .tuple(
    fc.option(COLUMN_VALUES.sku, { freq: 12, nil: undefined }),
    fc.subarray([...OPTIONAL_COLUMNS], { maxLength: 5 }).chain((columns) => fc.tuple(...columns.map((column) => COLUMN_VALUES[column].map((value): [string, Cell] => [column, value])))),
    fc.option(fc.constantFrom<[string, Cell]>(['colour', 'black'], ['onhand', 3], ['__proto__', 1]), { freq: 10, nil: undefined }),
  )
  .map(([sku, cells, unknown]) => {
    const record: Record<string, Cell> = {};
    if (sku !== undefined) record.sku = sku;
    for (const [column, value] of cells) record[column] = value;
    if (unknown) Object.defineProperty(record, unknown[0], { value: unknown[1], enumerable: true, writable: true, configurable: true });
    return record;
  });

function csvCell(value: Cell | undefined): string {
  if (value === undefined || value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function toCsv(rows: Record<string, Cell>[], lineEnd: string, bom: boolean): string {
  const columns = [...new Set(rows.flatMap((record) => Object.keys(record)))];
  if (!columns.includes('sku')) columns.unshift('sku');
  const lines = [columns.join(','), ...rows.map((record) => columns.map((column) => csvCell(record[column])).join(','))];
  return `${bom ? '\uFEFF' : ''}${lines.join(lineEnd)}${lineEnd}`;
}

type Mutation = { kind: 'none' } | { kind: 'truncate'; at: number } | { kind: 'flip'; at: number; xor: number } | { kind: 'insert'; at: number; text: string };
const mutation = fc.oneof(
  { arbitrary: fc.constant<Mutation>({ kind: 'none' }), weight: 6 },
  { arbitrary: fc.nat().map((at): Mutation => ({ kind: 'truncate', at })), weight: 1 },
  { arbitrary: fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }).map((fields): Mutation => ({ kind: 'flip', ...fields })), weight: 1 },
  { arbitrary: fc.record({ at: fc.nat(), text: fc.constantFrom(',', '"', '\n', '\r\n', ']', '{', ',,,', '\u0000') }).map((fields): Mutation => ({ kind: 'insert', ...fields })), weight: 1 },
);
function mutate(bytes: Buffer, change: Mutation): Buffer {
  if (bytes.length === 0 || change.kind === 'none') return bytes;
  const at = change.at % bytes.length;
  if (change.kind === 'truncate') return bytes.subarray(0, at);
  if (change.kind === 'insert') return Buffer.concat([bytes.subarray(0, at), Buffer.from(change.text), bytes.subarray(at)]);
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ change.xor;
  return copy;
}

/** The SKUs a file of these rows names, when every row has one. */
function skusOf(rows: unknown[]): string[] | undefined {
  const skus = rows.map((record) => (typeof record === 'object' && record !== null && 'sku' in record && typeof record.sku === 'string' ? record.sku : undefined));
  return skus.every((sku) => sku !== undefined) ? skus : undefined;
}

const catalogueFile = fc.oneof(
  {
    arbitrary: fc.record({ rows: fc.array(row, { maxLength: 6 }), lineEnd: fc.constantFrom('\n', '\r\n'), bom: fc.boolean() }).map(({ rows, lineEnd, bom }) => ({ extension: '.csv', text: toCsv(rows, lineEnd, bom), skus: skusOf(rows) })),
    weight: 5,
  },
  { arbitrary: fc.array(fc.oneof({ arbitrary: row, weight: 10 }, { arbitrary: fc.jsonValue({ maxDepth: 1 }), weight: 1 }), { maxLength: 6 }).map((rows) => ({ extension: '.json', text: JSON.stringify(rows), skus: skusOf(rows) })), weight: 5 },
  { arbitrary: fc.oneof(fc.json({ maxDepth: 2 }), fc.constantFrom('', ',,,\n', 'sku\n', '{"sku":"A"}')).map((text) => ({ extension: '.json', text, skus: undefined })), weight: 1 },
  { arbitrary: fc.constantFrom('.txt', '.JSON', '.CSV', '', '.csv.gz').map((extension) => ({ extension, text: 'sku\nA-1\n', skus: undefined })), weight: 1 },
);

let fileNumber = 0;

test('importCatalog: any file imports every row or throws a coded STOCKGUARD_E_CATALOG_* error and writes nothing', async () => {
  const outcomes = new Map<string, number>();
  await checkProperty(
    fc.asyncProperty(catalogueFile, mutation, async (file, change) => {
      const path = join(directory, `catalogue-${(fileNumber += 1)}${file.extension}`);
      writeFileSync(path, mutate(Buffer.from(file.text, 'utf8'), change));
      const before = await fingerprint(redis, redisHandle.prefix);
      let report: Awaited<ReturnType<typeof importCatalog>> | undefined;
      try {
        report = await importCatalog({ file: path, catalog: runtime.catalog, ledger: runtime.ledger });
      } catch (error) {
        trap.assertNone();
        assert.ok(isStockguardError(error), `not a coded error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        assert.ok(error.code === 'STOCKGUARD_E_CATALOG_ROW' || error.code === 'STOCKGUARD_E_CATALOG_FILE', `${error.code}: ${error.message}`);
        outcomes.set(error.code, (outcomes.get(error.code) ?? 0) + 1);
        assertUnchanged(before, await fingerprint(redis, redisHandle.prefix), `${error.code} but the import wrote`);
        return;
      }
      trap.assertNone();
      outcomes.set('imported', (outcomes.get('imported') ?? 0) + 1);
      assert.is(report.created + report.updated + report.unchanged, report.rows);
      const listed = new Set(await runtime.catalog.list());
      const skus = [...listed];
      for (const sku of skus) {
        const entry = await runtime.catalog.get(sku);
        assert.ok(entry, `${sku} is listed without an entry`);
        // A bundle has no ledger; its components are catalogued SKUs with one, and not bundles.
        if (entry.components) {
          for (const component of entry.components) {
            assert.ok(listed.has(component.sku), `bundle ${sku}'s component ${component.sku} is not catalogued`);
            assert.not.ok((await runtime.catalog.get(component.sku))?.components, `bundle ${sku}'s component ${component.sku} is a bundle`);
          }
        } else assert.ok(await runtime.ledger.inventory(sku), `${sku} is catalogued without a ledger`);
      }
      assert.ok(listed.size >= report.rows);
      // Unmutated, the file's rows are known: every one of them is now in the catalogue.
      if (change.kind === 'none' && file.skus) {
        assert.is(report.rows, file.skus.length);
        for (const sku of file.skus) assert.ok(listed.has(sku), `${sku} was imported but is not listed`);
      }
    }),
    { numRuns: 200 },
  );
  // Each outcome is reached, so no branch of the property holds vacuously.
  assert.equal([...outcomes.keys()].sort(), ['STOCKGUARD_E_CATALOG_FILE', 'STOCKGUARD_E_CATALOG_ROW', 'imported']);
});

test.run();
