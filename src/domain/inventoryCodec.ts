// The packed form of a SKU's ledger inventory: the value of the SKU's field in its `inv`
// bucket hash (`<prefix>:inv-bucket:{p<N>}:<bucket>`, src/redis/keys.ts). The Lua half is
// src/lua/includes/inventoryCodec.lua; both must agree (test/integration/inventory-codec.test.ts).
//
// Format (docs/ledger.md, "Packed inventory"): twelve positional fields joined by ',',
// trailing empty fields dropped. Every number is a whole number in base 36 (0-9a-z), a
// leading '-' when negative; an empty field is the field's default.
//
//   #  field                        empty means
//   1  on_hand                      0
//   2  reserved                     0
//   3  holdback                     0
//   4  oversold                     0
//   5  version                      0
//   6  updated_ms                   0
//   7  journal_ms − updated_ms      0 (journal_ms = updated_ms)
//   8  swept_ms − updated_ms        never swept (no swept_ms)
//   9  sold:shopify                 0
//  10  sold:amazon                  0
//  11  wms_seq                      0
//  12  wms_ahead: ranges lo-hi (lo alone when lo = hi), base 36, joined by '.'   none
//
// e.g. on_hand 120, version 2, updated and journaled at 1733480000000, swept then:
// `3c,,,,2,m4cl8ge8,,0` (19 bytes). A busy SKU stays near 40 bytes, under Redis's
// hash-max-listpack-value (64), so the bucket hash stays a listpack.
// Pure: no I/O.
import { StockguardError } from '../errors.ts';

/** A SKU's ledger inventory, every field (the layout-3 hash's fields, by their TS names). */
export interface InventoryRecord {
  onHand: number;
  reserved: number;
  holdback: number;
  oversold: number;
  version: number;
  updatedMs: number;
  journalMs: number;
  /** When the SKU's dedupe state was last swept (sweepExpiredMarks.lua); undefined: never. */
  sweptMs: number | undefined;
  soldShopify: number;
  soldAmazon: number;
  wmsSeq: number;
  /** Movement numbers applied above wmsSeq, as the scripts keep them: `lo-hi,lo-hi` in decimal, ascending; '' when none. */
  wmsAhead: string;
}

export const EMPTY_INVENTORY: Readonly<InventoryRecord> = {
  onHand: 0,
  reserved: 0,
  holdback: 0,
  oversold: 0,
  version: 0,
  updatedMs: 0,
  journalMs: 0,
  sweptMs: undefined,
  soldShopify: 0,
  soldAmazon: 0,
  wmsSeq: 0,
  wmsAhead: '',
};

const FIELD_COUNT = 12;
const NUMBER = /^-?(0|[1-9a-z][0-9a-z]*)$/;
const RANGES = /^(\d+)-(\d+)$/;

function bad(message: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `packed inventory: ${message}`);
}

function whole(name: string, value: number): number {
  if (!Number.isSafeInteger(value)) throw bad(`${name} must be a safe whole number, got ${String(value)}`);
  return value;
}

function encodeNumber(value: number): string {
  return value < 0 ? `-${(-value).toString(36)}` : value.toString(36);
}

/** A number field: '' at 0. */
function field(name: string, value: number): string {
  return whole(name, value) === 0 ? '' : encodeNumber(value);
}

function decodeNumber(name: string, text: string): number {
  if (!NUMBER.test(text) || text === '-0') throw bad(`${name} is not a base-36 whole number: ${JSON.stringify(text)}`);
  const value = text.startsWith('-') ? -parseInt(text.slice(1), 36) : parseInt(text, 36);
  if (!Number.isSafeInteger(value)) throw bad(`${name} is out of range: ${JSON.stringify(text)}`);
  return value;
}

/** `lo-hi,lo-hi` (decimal) → `lo-hi.lo` (base 36, lo alone when lo = hi). */
function encodeAhead(text: string): string {
  if (text === '') return '';
  return text
    .split(',')
    .map((range) => {
      const match = RANGES.exec(range);
      if (!match) throw bad(`wms_ahead must be ranges lo-hi joined by ',', got ${JSON.stringify(text)}`);
      const lo = whole('wms_ahead', Number(match[1]));
      const hi = whole('wms_ahead', Number(match[2]));
      return lo === hi ? encodeNumber(lo) : `${encodeNumber(lo)}-${encodeNumber(hi)}`;
    })
    .join('.');
}

function decodeAhead(text: string): string {
  if (text === '') return '';
  return text
    .split('.')
    .map((range) => {
      const [lo, hi, ...rest] = range.split('-');
      if (rest.length > 0 || lo === undefined || lo === '' || hi === '') throw bad(`wms_ahead range ${JSON.stringify(range)}`);
      const low = decodeNumber('wms_ahead', lo);
      return `${low}-${hi === undefined ? low : decodeNumber('wms_ahead', hi)}`;
    })
    .join(',');
}

/** The packed value of a SKU's field in its `inv` bucket. */
export function encodeInventory(record: InventoryRecord): string {
  const updated = whole('updated_ms', record.updatedMs);
  const fields = [
    field('on_hand', record.onHand),
    field('reserved', record.reserved),
    field('holdback', record.holdback),
    field('oversold', record.oversold),
    field('version', record.version),
    field('updated_ms', updated),
    field('journal_ms', whole('journal_ms', record.journalMs) - updated),
    record.sweptMs === undefined ? '' : encodeNumber(whole('swept_ms', record.sweptMs) - updated),
    field('sold:shopify', record.soldShopify),
    field('sold:amazon', record.soldAmazon),
    field('wms_seq', record.wmsSeq),
    encodeAhead(record.wmsAhead),
  ];
  while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop();
  return fields.join(',');
}

/** The inverse of encodeInventory; throws STOCKGUARD_E_BAD_ARGUMENT on anything it would not write. */
export function decodeInventory(packed: string): InventoryRecord {
  const fields = packed.split(',');
  if (fields.length > FIELD_COUNT) throw bad(`${fields.length} fields, at most ${FIELD_COUNT}: ${JSON.stringify(packed)}`);
  const at = (index: number, name: string): number => {
    const text = fields[index] ?? '';
    return text === '' ? 0 : decodeNumber(name, text);
  };
  const updatedMs = at(5, 'updated_ms');
  const swept = fields[7] ?? '';
  return {
    onHand: at(0, 'on_hand'),
    reserved: at(1, 'reserved'),
    holdback: at(2, 'holdback'),
    oversold: at(3, 'oversold'),
    version: at(4, 'version'),
    updatedMs,
    journalMs: updatedMs + at(6, 'journal_ms'),
    sweptMs: swept === '' ? undefined : updatedMs + decodeNumber('swept_ms', swept),
    soldShopify: at(8, 'sold:shopify'),
    soldAmazon: at(9, 'sold:amazon'),
    wmsSeq: at(10, 'wms_seq'),
    wmsAhead: decodeAhead(fields[11] ?? ''),
  };
}

/**
 * A layout-3 inventory hash (`on_hand`, `reserved`, …, `sold:shopify`; HGETALL) as a record;
 * undefined without `on_hand` (no SKU). Absent fields take their defaults, as the scripts
 * read them. For the migration to buckets and snapshot lines.
 */
export function inventoryFromHash(hash: Readonly<Record<string, string>>): InventoryRecord | undefined {
  if (hash.on_hand === undefined) return undefined;
  const number = (name: string): number => {
    const text = hash[name];
    if (text === undefined || text === '') return 0;
    const value = Number(text);
    if (!Number.isSafeInteger(value)) throw bad(`${name} is not a whole number: ${JSON.stringify(text)}`);
    return value;
  };
  const record: InventoryRecord = {
    onHand: number('on_hand'),
    reserved: number('reserved'),
    holdback: number('holdback'),
    oversold: number('oversold'),
    version: number('version'),
    updatedMs: number('updated_ms'),
    journalMs: number('journal_ms'),
    sweptMs: hash.swept_ms === undefined ? undefined : number('swept_ms'),
    soldShopify: number('sold:shopify'),
    soldAmazon: number('sold:amazon'),
    wmsSeq: number('wms_seq'),
    wmsAhead: hash.wms_ahead ?? '',
  };
  // Checks the ranges the way the codec will write them.
  encodeAhead(record.wmsAhead);
  return record;
}

/** The record as a layout-3 inventory hash (field → decimal text), fields at their default left out but the first seven. */
export function inventoryToHash(record: InventoryRecord): Record<string, string> {
  const hash: Record<string, string> = {
    on_hand: String(record.onHand),
    reserved: String(record.reserved),
    holdback: String(record.holdback),
    oversold: String(record.oversold),
    version: String(record.version),
    updated_ms: String(record.updatedMs),
    journal_ms: String(record.journalMs),
  };
  if (record.sweptMs !== undefined) hash.swept_ms = String(record.sweptMs);
  if (record.soldShopify !== 0) hash['sold:shopify'] = String(record.soldShopify);
  if (record.soldAmazon !== 0) hash['sold:amazon'] = String(record.soldAmazon);
  if (record.wmsSeq !== 0) hash.wms_seq = String(record.wmsSeq);
  if (record.wmsAhead !== '') hash.wms_ahead = record.wmsAhead;
  return hash;
}
