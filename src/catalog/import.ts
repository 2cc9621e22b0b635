// `stockguard catalog import`: checks every row of a catalogue file first and writes
// nothing when any row is bad; then, per SKU, creates the ledger (with the file's onHand
// when the SKU is new), sets the static holdback, and writes the catalogue entry last,
// so a SKU the catalogue lists always has a ledger. Importing the same file again
// changes nothing.
import { performance } from 'node:perf_hooks';
import { type BundleComponent, bundlesByComponent } from '../domain/bundles.ts';
import { StockguardError } from '../errors.ts';
import type { Ledger } from '../ledger/ledger.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { type Catalog, CHANNEL_ITEM_COLUMNS } from './catalog.ts';
import { type CatalogEntry, rowToEntry } from './entry.ts';
import { readCatalogFile } from './readFile.ts';
import { type CatalogRow, checkRow, formatRowError, type RowError } from './row.ts';

/** The ledger operations an import uses. */
export type CatalogImportLedger = Pick<Ledger, 'createSku' | 'setHoldback'>;

export interface CatalogImportOptions {
  file: string;
  catalog: Catalog;
  ledger: CatalogImportLedger;
  /** SKUs written at once; each SKU is a few round trips, and SKUs are independent. */
  concurrency?: number;
}

/** A file onHand that was not applied because the ledger already had the SKU. */
export interface IgnoredOnHand {
  sku: string;
  fileOnHand: number;
  ledgerOnHand: number;
}

export interface CatalogImportReport {
  file: string;
  rows: number;
  /** SKUs the catalogue did not have. */
  created: number;
  /** SKUs whose catalogue entry or ledger (holdback, or a missing ledger) changed. */
  updated: number;
  /** SKUs for which nothing was written. */
  unchanged: number;
  ignoredOnHand: IgnoredOnHand[];
  durationMs: number;
}

/** A checked row with its 1-based row number in the file, for messages. */
interface NumberedRow {
  row: CatalogRow;
  number: number;
}

// Enough to list every problem of a typical bad export in the message; details keep all.
const ERRORS_IN_MESSAGE = 50;

export async function importCatalog(options: CatalogImportOptions): Promise<CatalogImportReport> {
  const started = performance.now();
  const rows = await checkedRows(options.file);

  const report: CatalogImportReport = {
    file: options.file,
    rows: rows.length,
    created: 0,
    updated: 0,
    unchanged: 0,
    ignoredOnHand: [],
    durationMs: 0,
  };
  // Every SKU of the file gets the file's mapping, so an item may move between them.
  const inFile = new Set(rows.map(({ row }) => row.sku));
  await refuseTakenItems(options, rows, inFile);
  await refuseBadBundles(options, rows);
  // Plain SKUs first, bundles after: a bundle's components are in the catalogue before it.
  await writeRows(rows.filter(({ row }) => row.components === undefined).map(({ row }) => row), options, report, inFile);
  await writeRows(rows.filter(({ row }) => row.components !== undefined).map(({ row }) => row), options, report, inFile);

  report.ignoredOnHand.sort((a, b) => a.sku.localeCompare(b.sku));
  report.durationMs = performance.now() - started;
  return report;
}

async function writeRows(queue: CatalogRow[], options: CatalogImportOptions, report: CatalogImportReport, inFile: ReadonlySet<string>): Promise<void> {
  if (queue.length === 0) return;
  const worker = async () => {
    for (let row = queue.shift(); row; row = queue.shift()) {
      try {
        report[await importRow(row, options, report.ignoredOnHand, inFile)] += 1;
      } catch (error) {
        // Stop taking rows; what was written stays, and importing the file again is safe.
        queue.length = 0;
        throw error;
      }
    }
  };
  const concurrency = Math.max(1, options.concurrency ?? 16);
  // allSettled, so no write is still in flight when the caller sees the error.
  const workers = await Promise.allSettled(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
  const failed = workers.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
}

/** Every row, checked; throws STOCKGUARD_E_CATALOG_ROW listing every bad row. */
async function checkedRows(file: string): Promise<NumberedRow[]> {
  const sources = await readCatalogFile(file);
  const errors: RowError[] = [];
  const rows: NumberedRow[] = [];
  const firstRowOf = new Map<string, number>();
  const firstRowOfItem = new Map<string, { sku: string; row: number }>();
  for (const source of sources) {
    const checked = checkRow(source);
    if (!checked.ok) {
      errors.push(...checked.errors);
      continue;
    }
    const sku = checked.row.sku;
    const first = firstRowOf.get(sku);
    if (first !== undefined) {
      errors.push({
        row: source.row,
        ...(source.line === undefined ? {} : { line: source.line }),
        field: 'sku',
        problem: `${JSON.stringify(sku)} is already in row ${first}; a SKU may appear once`,
      });
      continue;
    }
    firstRowOf.set(sku, source.row);
    // One channel item maps to one SKU (Catalog.put).
    let clash = false;
    for (const field of CHANNEL_ITEM_COLUMNS) {
      const value = checked.row[field];
      if (value === undefined) continue;
      const owner = firstRowOfItem.get(`${field}:${value}`);
      if (owner !== undefined) {
        clash = true;
        errors.push({
          row: source.row,
          ...(source.line === undefined ? {} : { line: source.line }),
          field,
          problem: `${JSON.stringify(value)} is already mapped to SKU ${JSON.stringify(owner.sku)} in row ${owner.row}; a channel item maps to one SKU`,
        });
      } else firstRowOfItem.set(`${field}:${value}`, { sku, row: source.row });
    }
    if (clash) continue;
    rows.push({ row: checked.row, number: source.row });
  }
  if (errors.length > 0) {
    const badRows = new Set(errors.map((error) => error.row)).size;
    const listed = errors.slice(0, ERRORS_IN_MESSAGE).map(formatRowError);
    if (errors.length > ERRORS_IN_MESSAGE) listed.push(`and ${errors.length - ERRORS_IN_MESSAGE} more`);
    throw new StockguardError(
      'STOCKGUARD_E_CATALOG_ROW',
      `${file}: ${badRows} of ${sources.length} rows are bad, nothing was imported:\n${listed.join('\n')}\n`,
      { details: { file, errors } },
    );
  }
  return rows;
}

/** Nothing is written when a row maps a channel item that a SKU outside the file has. */
async function refuseTakenItems(options: CatalogImportOptions, rows: readonly NumberedRow[], inFile: ReadonlySet<string>): Promise<void> {
  const errors: RowError[] = [];
  for (const { row, number } of rows) {
    for (const taken of await options.catalog.takenItems(rowToEntry(row), inFile)) {
      errors.push({ row: number, field: taken.column, problem: `${JSON.stringify(taken.item)} is already mapped to SKU ${JSON.stringify(taken.owner)} in the catalogue; a channel item maps to one SKU — remove it from ${JSON.stringify(taken.owner)} or add that SKU's row to this file` });
    }
  }
  if (errors.length > 0) {
    throw new StockguardError('STOCKGUARD_E_CATALOG_ROW', `${options.file}: ${errors.length} rows map channel items other SKUs have, nothing was imported:\n${errors.slice(0, ERRORS_IN_MESSAGE).map(formatRowError).join('\n')}\n`, {
      details: { file: options.file, errors },
    });
  }
}

/**
 * Nothing is written when a bundle row breaks a bundle rule: every component must be a SKU
 * of the file or of the catalogue, and not a bundle (bundles inside bundles are not
 * supported); a SKU some bundle uses as a component cannot become a bundle.
 */
async function refuseBadBundles(options: CatalogImportOptions, rows: readonly NumberedRow[]): Promise<void> {
  const fileRows = new Map(rows.map(({ row, number }) => [row.sku, { row, number }]));
  const bundleRows = rows.filter(({ row }) => row.components !== undefined);
  if (bundleRows.length === 0) return;
  const stored = await options.catalog.bundles();
  const listed = new Set(await options.catalog.list());
  // What each SKU will be after the import: the file's row wins over the catalogue.
  const isBundle = (sku: string) => (fileRows.has(sku) ? fileRows.get(sku)!.row.components !== undefined : stored.has(sku));
  const componentsAfter = new Map<string, BundleComponent[]>([...stored].filter(([bundle]) => !fileRows.has(bundle)));
  for (const { row } of bundleRows) componentsAfter.set(row.sku, rowToEntry(row).components!);
  const usedBy = bundlesByComponent(componentsAfter);
  const errors: RowError[] = [];
  for (const { row, number } of bundleRows) {
    for (const { sku: component } of componentsAfter.get(row.sku)!) {
      if (!fileRows.has(component) && !listed.has(component)) {
        errors.push({ row: number, field: 'components', problem: `component ${JSON.stringify(component)} is neither in this file nor in the catalogue; add its row` });
      } else if (isBundle(component)) {
        errors.push({ row: number, field: 'components', problem: `component ${JSON.stringify(component)} is a bundle; bundles inside bundles are not supported: list its components instead` });
      }
    }
    const users = usedBy.get(row.sku);
    if (users) errors.push({ row: number, field: 'components', problem: `${JSON.stringify(row.sku)} is a component of bundle ${users.map(({ bundle }) => JSON.stringify(bundle)).join(', ')}, so it cannot be a bundle itself (bundles inside bundles are not supported)` });
  }
  if (errors.length > 0) {
    throw new StockguardError('STOCKGUARD_E_CATALOG_ROW', `${options.file}: ${new Set(errors.map((error) => error.row)).size} bundle rows are bad, nothing was imported:\n${errors.slice(0, ERRORS_IN_MESSAGE).map(formatRowError).join('\n')}\n`, {
      details: { file: options.file, errors },
    });
  }
}

async function importRow(
  row: CatalogRow,
  options: CatalogImportOptions,
  ignoredOnHand: IgnoredOnHand[],
  inFile: ReadonlySet<string>,
): Promise<'created' | 'updated' | 'unchanged'> {
  const entry: CatalogEntry = rowToEntry(row);
  const { ledger, catalog } = options;
  // A bundle has no ledger of its own: its sales reserve its components.
  if (entry.components) return catalog.put(entry, { releasedBy: inFile });
  // The initial stock is counted in the call that creates the SKU (a `count` journal entry,
  // event `catalog-import:<SKU>`): created with its stock or not at all, so a retried import
  // never counts it twice and no event mark is kept for it.
  const initial = row.onHand === undefined ? undefined : { counted: row.onHand, eventId: `catalog-import:${entry.sku}` };
  const ledgerSku = await ledger.createSku(entry.sku, initial);
  const ledgerCreated = ledgerSku.status === LedgerStatus.CREATED;
  if (row.onHand !== undefined && !ledgerCreated) {
    // Once the ledger has the SKU, stock moves only through WMS events.
    ignoredOnHand.push({ sku: entry.sku, fileOnHand: row.onHand, ledgerOnHand: ledgerSku.inventory.onHand });
  }
  const holdback = await ledger.setHoldback(entry.sku, entry.holdback, 'catalog-import');
  const catalogued = await catalog.put(entry, { releasedBy: inFile });
  if (catalogued === 'created') return 'created';
  if (catalogued === 'updated' || ledgerCreated || holdback.status === LedgerStatus.APPLIED) return 'updated';
  return 'unchanged';
}
