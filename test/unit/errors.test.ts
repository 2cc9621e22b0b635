// docs/errors.md and src/errors.ts list the same codes with the same HTTP statuses.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ERROR_CATALOGUE, type ErrorCode, type ErrorDefinition, StockguardError } from '../../src/errors.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = [...doc.matchAll(/^\| `(STOCKGUARD_E_[A-Z_]+)` \| ([^|]+) \|/gm)].map((match) => ({
  code: match[1]!,
  status: match[2]!.trim(),
}));

test('every catalogue code is documented in docs/errors.md, and nothing else is', () => {
  assert.equal(rows.map((row) => row.code).sort(), Object.keys(ERROR_CATALOGUE).sort());
});

test('the documented HTTP status of each code matches the catalogue', () => {
  for (const row of rows) {
    const definition: ErrorDefinition = ERROR_CATALOGUE[row.code as ErrorCode];
    assert.is(row.status, definition.status === undefined ? '—' : String(definition.status), row.code);
  }
});

test('a StockguardError carries its code, status and the fix in its message', () => {
  const error = new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', '"ABC-1"', { details: { skus: ['ABC-1'] } });
  assert.is(error.code, 'STOCKGUARD_E_UNKNOWN_SKU');
  assert.is(error.status, 422);
  assert.match(error.message, /^STOCKGUARD_E_UNKNOWN_SKU: The SKU is not in the catalogue: "ABC-1"\. Fix: Import the SKU/);
  assert.equal(error.details, { skus: ['ABC-1'] });
});

test.run();
