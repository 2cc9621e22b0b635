import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertQuantity, assertSku } from '../../src/domain/validate.ts';
import { isStockguardError } from '../../src/errors.ts';
import { parseReservationId, reservationId } from '../../src/ledger/reservationId.ts';

function codeOf(call: () => void): string | undefined {
  try {
    call();
    return undefined;
  } catch (error) {
    return isStockguardError(error) ? error.code : `uncoded: ${String(error)}`;
  }
}

test('unicode SKUs are accepted; braces, control characters, padding and empty ones are not', () => {
  assert.is(codeOf(() => assertSku('TSHIRT-ÄÖ-黒-XL')), undefined);
  for (const sku of ['', ' A', 'A ', 'a{b', 'a}b', 'a\nb', 'x'.repeat(201)]) {
    assert.is(codeOf(() => assertSku(sku)), 'STOCKGUARD_E_BAD_SKU', JSON.stringify(sku));
  }
});

test('quantities must be whole numbers within the rule', () => {
  assert.is(codeOf(() => assertQuantity('q', 1, 'positive')), undefined);
  assert.is(codeOf(() => assertQuantity('q', 0, 'nonNegative')), undefined);
  assert.is(codeOf(() => assertQuantity('q', -4, 'nonZero')), undefined);
  for (const [quantity, rule] of [[0, 'positive'], [-1, 'nonNegative'], [0, 'nonZero'], [1.5, 'positive'], [Number.NaN, 'positive'], [Infinity, 'positive'], [2 ** 53, 'positive']] as const) {
    assert.is(codeOf(() => assertQuantity('q', quantity, rule)), 'STOCKGUARD_E_BAD_QUANTITY', `${quantity} ${rule}`);
  }
});

test('reservation ids keep channel, order and line apart even when they contain ":"', () => {
  const first = reservationId('shopify', 'gid://shopify/Order/1:2', '3');
  const second = reservationId('shopify', 'gid://shopify/Order/1', '2:3');
  assert.is.not(first, second);
  assert.equal(parseReservationId(first), { channel: 'shopify', orderId: 'gid://shopify/Order/1:2', lineId: '3' });
  assert.is(reservationId('amazon', '114-123', '7'), 'amazon:114-123:7');
});

test.run();
