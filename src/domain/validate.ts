// Input checks shared by every edge. Each failure is a coded error; nothing is written
// before these pass.
import { StockguardError } from '../errors.ts';

export const MAX_SKU_LENGTH = 200;
export const MAX_ID_LENGTH = 256;
/** Largest quantity accepted on one line or event: far above any real order, far below 2^53. */
export const MAX_QUANTITY = 1_000_000_000;

// "{" and "}" would break the Cluster hash tag; control characters break logs and CSV.
const FORBIDDEN_SKU_CHARACTERS = /[{}\p{Cc}]/u;

export function assertSku(sku: string): void {
  if (typeof sku !== 'string' || sku.length === 0 || sku.length > MAX_SKU_LENGTH || sku.trim() !== sku) {
    throw new StockguardError('STOCKGUARD_E_BAD_SKU', `got ${describe(sku)}`, { details: { sku } });
  }
  if (FORBIDDEN_SKU_CHARACTERS.test(sku)) {
    throw new StockguardError('STOCKGUARD_E_BAD_SKU', `${JSON.stringify(sku)} contains "{", "}" or a control character`, {
      details: { sku },
    });
  }
}

export function assertId(name: string, id: string): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    throw new StockguardError('STOCKGUARD_E_EMPTY_ID', `${name} is ${describe(id)}`, { details: { field: name } });
  }
}

export type QuantityRule = 'positive' | 'nonZero' | 'nonNegative';

export function assertQuantity(name: string, quantity: number, rule: QuantityRule): void {
  const whole = typeof quantity === 'number' && Number.isSafeInteger(quantity) && Math.abs(quantity) <= MAX_QUANTITY;
  const inRange =
    rule === 'positive' ? quantity > 0 : rule === 'nonZero' ? quantity !== 0 : quantity >= 0;
  if (!whole || !inRange) {
    const wanted = rule === 'positive' ? 'a whole number ≥ 1' : rule === 'nonZero' ? 'a non-zero whole number' : 'a whole number ≥ 0';
    throw new StockguardError('STOCKGUARD_E_BAD_QUANTITY', `${name} must be ${wanted} up to ${MAX_QUANTITY}, got ${describe(quantity)}`, {
      details: { field: name, value: quantity },
    });
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value);
  return String(value);
}
