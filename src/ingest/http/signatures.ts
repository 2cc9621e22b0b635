// HMAC checks over the raw request bytes, compared in constant time.
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Shopify: base64 HMAC-SHA256 of the raw body with the app's client secret. */
export function verifyShopifyHmac(rawBody: Buffer, header: string | undefined, secrets: readonly string[]): boolean {
  if (!header) return false;
  const given = Buffer.from(header, 'base64');
  // During a secret rotation Shopify may sign with the old secret for up to an hour.
  return secrets.some((secret) => safeEqual(createHmac('sha256', secret).update(rawBody).digest(), given));
}

export function signShopify(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/**
 * WMS webhooks: `X-Stockguard-Signature: sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>`
 * with `X-Stockguard-Timestamp: <unix seconds>`; binding the timestamp into the MAC lets the
 * receiver refuse replays older than its window. See docs/wms.md.
 */
export function verifyWmsSignature(rawBody: Buffer, timestamp: string | undefined, header: string | undefined, secret: string): boolean {
  if (!header || !timestamp || !header.startsWith('sha256=')) return false;
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  return safeEqual(expected, given);
}

export function signWms(rawBody: string | Buffer, timestamp: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')}`;
}

/** Bearer token check for the reservation and admin APIs. */
export function verifyBearer(header: string | undefined, token: string): boolean {
  if (!header?.startsWith('Bearer ')) return false;
  return safeEqual(Buffer.from(header.slice('Bearer '.length)), Buffer.from(token));
}

function safeEqual(expected: Buffer, given: Buffer): boolean {
  // timingSafeEqual needs equal lengths; comparing against itself keeps the time constant.
  if (expected.length !== given.length) {
    timingSafeEqual(expected, expected);
    return false;
  }
  return timingSafeEqual(expected, given);
}
