// Reads a catalogue file into rows, unchecked: JSON (an array of row objects) or CSV
// (a header line naming the columns), chosen by extension. Anything that stops the file
// from being read as rows at all is STOCKGUARD_E_CATALOG_FILE; everything about a single
// row is left to checkRow so that all row errors can be listed together.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parse } from 'csv-parse/sync';
import { StockguardError } from '../errors.ts';
import { CATALOG_COLUMNS, type CatalogColumn, isRecord, NUMBER_COLUMNS, type SourceRow } from './row.ts';

export async function readCatalogFile(file: string): Promise<SourceRow[]> {
  const extension = extname(file).toLowerCase();
  if (extension !== '.json' && extension !== '.csv') {
    throw fileError(file, `the name must end in .json or .csv, got ${JSON.stringify(extension || file)}`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw fileError(file, error instanceof Error ? error.message : String(error), error);
  }
  // Spreadsheet exports often start with a byte order mark.
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  return extension === '.json' ? jsonRows(file, text) : csvRows(file, text);
}

function jsonRows(file: string, text: string): SourceRow[] {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw fileError(file, `not valid JSON: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  if (!Array.isArray(document)) throw fileError(file, 'a JSON catalogue must be an array of row objects');
  return document.map((values: unknown, index) => ({
    row: index + 1,
    // null is how JSON exports write an empty cell: treat it as absent, like an empty CSV cell.
    values: isRecord(values) ? Object.fromEntries(Object.entries(values).filter(([, value]) => value !== null)) : values,
  }));
}

function csvRows(file: string, text: string): SourceRow[] {
  // csv-parse 6 counts a CRLF inside a quoted cell as two lines, which would shift every
  // later line number in the row errors; with LF line ends its counts are exact.
  const normalised = text.replace(/\r\n?/g, '\n');
  const endLines: number[] = [];
  let records: string[][];
  try {
    records = parse(normalised, {
      bom: true,
      skip_empty_lines: true,
      // A row with too few or too many cells is a row error, reported with the others.
      relax_column_count: true,
      on_record: (record, context) => {
        endLines.push(context.lines);
        return record;
      },
    });
  } catch (error) {
    throw fileError(file, `not valid CSV: ${error instanceof Error ? error.message : String(error)}`, error);
  }
  const [header, ...data] = records;
  if (header === undefined) throw fileError(file, 'the CSV file is empty; it needs a header line naming the columns');
  const columns = checkHeader(file, header);

  return data.map((cells, index) => {
    // A quoted cell may span lines; the row starts as many lines above its end as its cells hold newlines.
    const innerNewlines = cells.reduce((count, cell) => count + (cell.match(/\n/g)?.length ?? 0), 0);
    const row = index + 1;
    const line = endLines[index + 1]! - innerNewlines;
    if (cells.length !== columns.length) {
      return { row, line, values: {}, problem: `has ${cells.length} cells where the header has ${columns.length} columns` };
    }
    const values: Record<string, unknown> = {};
    columns.forEach((column, position) => {
      const cell = cells[position]!;
      // An empty cell means "not set", so the column's default applies.
      if (cell === '') return;
      values[column] = NUMBER_COLUMNS.has(column) && /^-?[0-9]+$/.test(cell) ? Number(cell) : cell;
    });
    return { row, line, values };
  });
}

function checkHeader(file: string, header: string[]): CatalogColumn[] {
  const known = new Set<string>(CATALOG_COLUMNS);
  const unknown = header.filter((column) => !known.has(column));
  if (unknown.length > 0) {
    throw fileError(file, `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((column) => JSON.stringify(column)).join(', ')} in the header; the columns are ${CATALOG_COLUMNS.join(', ')}`);
  }
  const repeated = header.filter((column, index) => header.indexOf(column) !== index);
  if (repeated.length > 0) throw fileError(file, `column ${JSON.stringify(repeated[0])} appears twice in the header`);
  if (!header.includes('sku')) throw fileError(file, 'the header has no "sku" column');
  return header.filter((column): column is CatalogColumn => known.has(column));
}

function fileError(file: string, detail: string, cause?: unknown): StockguardError {
  return new StockguardError('STOCKGUARD_E_CATALOG_FILE', `${file}: ${detail}`, { cause, details: { file } });
}
