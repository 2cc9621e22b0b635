// Webhook authentication: the HMACs cover the raw bytes exactly (one changed byte
// anywhere, a re-serialised body, another timestamp: refused), a rotated-out secret
// still verifies during the rotation, and the bearer check takes nothing but the exact
// token. Timing is not asserted (no timed assertions); signatures.ts compares with
// crypto.timingSafeEqual, also when the lengths differ.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { signShopify, signWms, verifyBearer, verifyShopifyHmac, verifyWmsSignature } from '../../src/ingest/http/signatures.ts';

const SECRET = 'shpss_security_secret_0123456789';
const PREVIOUS = 'shpss_previous_secret_0123456789';
const WMS_SECRET = 'wms_security_secret_0123456789';
const TOKEN = 'api_security_token_0123456789abc';

const body = fc.uint8Array({ minLength: 1, maxLength: 512 }).map((bytes) => Buffer.from(bytes));

test('Shopify: the HMAC of the exact bytes verifies; any one byte changed, dropped or added does not', () => {
  fc.assert(
    fc.property(body, fc.nat(), fc.integer({ min: 1, max: 255 }), (bytes, position, xor) => {
      const signature = signShopify(bytes, SECRET);
      assert.ok(verifyShopifyHmac(bytes, signature, [SECRET]));
      const at = position % bytes.length;
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at]! ^ xor;
      assert.not.ok(verifyShopifyHmac(flipped, signature, [SECRET]), 'one byte changed');
      assert.not.ok(verifyShopifyHmac(bytes.subarray(0, bytes.length - 1), signature, [SECRET]), 'last byte dropped');
      assert.not.ok(verifyShopifyHmac(Buffer.concat([bytes, Buffer.from(' ')]), signature, [SECRET]), 'a space added');
    }),
    { numRuns: 300 },
  );
});

test('Shopify: the raw bytes count, not the JSON they parse to; rotation accepts the previous secret only while listed', () => {
  const sent = Buffer.from('{"id": 1,\n "line_items": []}');
  const signature = signShopify(sent, SECRET);
  assert.not.ok(verifyShopifyHmac(Buffer.from(JSON.stringify(JSON.parse(sent.toString()))), signature, [SECRET]), 're-serialised JSON must not verify');
  const oldSignature = signShopify(sent, PREVIOUS);
  assert.ok(verifyShopifyHmac(sent, oldSignature, [SECRET, PREVIOUS]));
  assert.not.ok(verifyShopifyHmac(sent, oldSignature, [SECRET]));
  assert.not.ok(verifyShopifyHmac(sent, undefined, [SECRET]));
  assert.not.ok(verifyShopifyHmac(sent, '', [SECRET]));
  // A truncated or padded digest (another length) is refused, not compared by prefix.
  const digest = Buffer.from(signature, 'base64');
  assert.not.ok(verifyShopifyHmac(sent, digest.subarray(0, 16).toString('base64'), [SECRET]));
  assert.not.ok(verifyShopifyHmac(sent, Buffer.concat([digest, Buffer.alloc(1)]).toString('base64'), [SECRET]));
});

test('WMS: the signature binds the timestamp and the bytes; a replay with a new timestamp, or another body, does not verify', () => {
  fc.assert(
    fc.property(body, fc.integer({ min: 1_000_000_000, max: 4_000_000_000 }), fc.integer({ min: 1, max: 1_000_000 }), fc.nat(), (bytes, timestamp, shift, position) => {
      const signature = signWms(bytes, String(timestamp), WMS_SECRET);
      assert.ok(verifyWmsSignature(bytes, String(timestamp), signature, WMS_SECRET));
      assert.not.ok(verifyWmsSignature(bytes, String(timestamp + shift), signature, WMS_SECRET), 'the timestamp moved');
      const flipped = Buffer.from(bytes);
      flipped[position % bytes.length] = flipped[position % bytes.length]! ^ 1;
      assert.not.ok(verifyWmsSignature(flipped, String(timestamp), signature, WMS_SECRET), 'a byte changed');
      assert.not.ok(verifyWmsSignature(bytes, String(timestamp), signature.slice('sha256='.length), WMS_SECRET), 'no sha256= prefix');
      assert.not.ok(verifyWmsSignature(bytes, undefined, signature, WMS_SECRET), 'no timestamp');
      assert.not.ok(verifyWmsSignature(bytes, String(timestamp), signWms(bytes, String(timestamp), `${WMS_SECRET}x`), WMS_SECRET), 'another secret');
    }),
    { numRuns: 300 },
  );
});

test('bearer: only "Bearer <token>" exactly', () => {
  assert.ok(verifyBearer(`Bearer ${TOKEN}`, TOKEN));
  for (const header of [undefined, '', TOKEN, `bearer ${TOKEN}`, `Bearer  ${TOKEN}`, `Bearer ${TOKEN} `, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Basic ${TOKEN}`, 'Bearer ']) {
    assert.not.ok(verifyBearer(header, TOKEN), JSON.stringify(header));
  }
});

test.run();
