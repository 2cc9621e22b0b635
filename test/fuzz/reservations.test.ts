// Property-based fuzzing of the reservation API (bearer token, JSON bodies, path ids)
// through real HTTP into an in-process daemon (http role only: no reaper, no consumers).
// Properties: never a crash or a 5xx; every refusal is a 4xx with a JSON error.code and
// holds nothing (no hold record, reserved unchanged on every SKU), and a 400/401 writes
// nothing at all; a 201 holds exactly the lines asked for.
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { assertUnchanged, checkProperty, errorCodeOf, fingerprint, rawRequest, trapProcessErrors } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const API_TOKEN = 'api_fuzz_token_0123456789abcdef';
const STOCK: Record<string, number> = { 'R-A': 1_000_000, 'R-B': 3, 'R-C': 0, 'R-ÜNï-👕': 50 };
const SKUS = Object.keys(STOCK);

const test = suite('fuzz: reservation API');
const trap = trapProcessErrors();
let redisHandle: TestRedis;
let redis: Redis;
let daemon: Daemon;
let port: number;

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  const config = loadConfig({
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_ROLES: 'http',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_API_TOKEN: API_TOKEN,
  });
  daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  port = daemon.http!.port;
  for (const [sku, onHand] of Object.entries(STOCK)) {
    await daemon.runtime.ledger.createSku(sku);
    if (onHand > 0) await daemon.runtime.ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
  }
});

test.after(async () => {
  await daemon.stop();
  await redisHandle.close();
  trap.remove();
});

const raw = (literal: string) => `@@RAW:${literal}@@`;
const toJson = (value: unknown) => JSON.stringify(value).replace(/"@@RAW:([^"@]*)@@"/g, '$1');
const junk = fc.oneof(fc.string(), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.object({ maxDepth: 1 }));

const authorization = fc.oneof(
  { arbitrary: fc.constant(`Bearer ${API_TOKEN}`), weight: 8 },
  {
    arbitrary: fc.constantFrom(
      `Bearer ${API_TOKEN.slice(0, -1)}`,
      `Bearer ${API_TOKEN}x`,
      `bearer ${API_TOKEN}`,
      `Bearer  ${API_TOKEN}`,
      `Basic ${Buffer.from(`user:${API_TOKEN}`).toString('base64')}`,
      'Bearer',
      'Bearer ',
      API_TOKEN,
    ),
    weight: 2,
  },
  { arbitrary: fc.constant(undefined), weight: 1 },
);
const quantity = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 4 }), weight: 10 },
  { arbitrary: fc.constantFrom(0, -1, 1.5, 1_000_000_000, 1_000_000_001, 2 ** 53, 1e21), weight: 2 },
  { arbitrary: fc.constantFrom('2', '1e400', '-0', '123456789012345678901234567890').map((literal) => (literal === '2' ? literal : raw(literal))), weight: 1 },
  { arbitrary: junk, weight: 1 },
);
const sku = fc.oneof(
  { arbitrary: fc.constantFrom(...SKUS), weight: 10 },
  { arbitrary: fc.constantFrom('R-UNKNOWN', '', ' R-A', 'R-A ', '{R-A}', 'R\u0000A', 'x'.repeat(201), 'R-a'), weight: 2 },
  { arbitrary: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 20 }), junk), weight: 1 },
);
const lineId = fc.oneof(
  { arbitrary: fc.constantFrom('1', '2', '3', '4'), weight: 8 },
  { arbitrary: fc.oneof(fc.constantFrom('', 'x'.repeat(257), 'línea/1', '%2F'), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.integer()), weight: 1 },
);
const line = fc.oneof(
  { arbitrary: fc.record({ lineId, sku, quantity }), weight: 8 },
  { arbitrary: fc.record({ lineId, sku, quantity, note: fc.string() }, { requiredKeys: [] }), weight: 1 },
  { arbitrary: junk, weight: 1 },
);
const ttlSeconds = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.integer({ min: 1, max: 86_400 }), weight: 4 },
  { arbitrary: fc.constantFrom(0, -1, 86_401, 1.5, '60', null, 2 ** 53), weight: 1 },
);
/** orderId: 'fresh' becomes a new id per run, so each run starts from no hold. */
const orderId = fc.oneof(
  { arbitrary: fc.constant('fresh'), weight: 10 },
  { arbitrary: fc.constantFrom('', 'x'.repeat(257), 42, null), weight: 1 },
);

let counter = 0;
const freshOrderId = () => `fuzz-${process.pid}-${(counter += 1)}-ördér/✓`;

async function reservedBySku(): Promise<Record<string, number>> {
  const reserved: Record<string, number> = {};
  for (const name of SKUS) reserved[name] = (await daemon.runtime.ledger.inventory(name))!.reserved;
  return reserved;
}

async function holdOf(id: string): Promise<{ expires: string | null; lines: string | null }> {
  const keys = daemon.runtime.ledger.keys;
  return { expires: await redis.zscore(keys.holdExpiries(), id), lines: await redis.hget(keys.holdLines(), id) };
}

test('POST /v1/reservations: any token and body: 201 holds exactly what was asked; anything else holds nothing', async () => {
  await checkProperty(
    fc.asyncProperty(
      authorization,
      fc.oneof(
        {
          arbitrary: fc
            .tuple(fc.record({ orderId, ttlSeconds, lines: fc.oneof({ arbitrary: fc.array(line, { maxLength: 4 }), weight: 8 }, { arbitrary: junk, weight: 1 }) }, { requiredKeys: ['orderId', 'lines'] }), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }))
            .map(([fields, extra]) => ({ ...extra, ...fields })),
          weight: 10,
        },
        { arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.string().map((text) => raw(`"${text.replace(/["\\@]/g, '')}`))), weight: 1 },
      ),
      async (auth, request) => {
        const fresh = typeof request === 'object' && request !== null && !Array.isArray(request) && 'orderId' in request && request.orderId === 'fresh';
        const id = fresh ? freshOrderId() : undefined;
        const body = toJson(fresh ? { ...request, orderId: id } : request);
        const reservedBefore = await reservedBySku();
        const keysBefore = await fingerprint(redis, redisHandle.prefix);
        const response = await rawRequest(port, {
          method: 'POST',
          target: '/v1/reservations',
          headers: { 'content-type': 'application/json', ...(auth === undefined ? {} : { authorization: auth }) },
          body: Buffer.from(body, 'utf8'),
        });
        trap.assertNone();
        const reservedAfter = await reservedBySku();
        assert.ok(response.status !== undefined && response.status < 500, `${response.status} ${response.body}`);
        if (auth !== `Bearer ${API_TOKEN}`) assert.is(response.status, 401);

        if (response.status === 201) {
          const answer = JSON.parse(response.body) as { held: boolean; orderId: string; lines: { sku: string; held: number; status: string }[] };
          assert.ok(answer.held);
          assert.is(answer.orderId, id);
          const hold = await holdOf(id!);
          assert.ok(hold.expires !== null && hold.lines !== null, 'a 201 without a hold record');
          const asked = (request as { lines: { sku: string; quantity: number }[] }).lines;
          for (const name of SKUS) {
            const wanted = asked.filter((item) => item.sku === name).reduce((sum, item) => sum + item.quantity, 0);
            assert.is(reservedAfter[name], reservedBefore[name]! + wanted, `reserved of ${name}`);
          }
          return;
        }
        const code = errorCodeOf(response.body);
        if (response.status === 409) assert.is(JSON.parse(response.body).held, false);
        else assert.ok(response.status! >= 400 && code, `a refusal without a code: ${response.status} ${response.body}`);
        assert.equal(reservedAfter, reservedBefore, `${response.status} ${code ?? ''} changed reserved`);
        if (id !== undefined) assert.equal(await holdOf(id), { expires: null, lines: null }, 'a refused request left a hold');
        // Refused before the ledger was asked: not a byte written.
        if (response.status === 400 || response.status === 401) assertUnchanged(keysBefore, await fingerprint(redis, redisHandle.prefix), `${response.status} ${response.body}`);
      },
    ),
    { numRuns: 300 },
  );
});

test('confirm and cancel: any token and unknown order id: a 4xx (coded unless 404/410) that changes nothing', async () => {
  const pathId = fc.oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }).map(encodeURIComponent),
    fc.constantFrom('%', '%E0%A4%A', '%ZZ', '%00', '..', 'x'.repeat(300), '%2F%2F', '%F0%9F%91%95'),
  );
  await checkProperty(
    fc.asyncProperty(authorization, fc.constantFrom('confirm', 'cancel'), pathId, async (auth, action, id) => {
      const keysBefore = await fingerprint(redis, redisHandle.prefix);
      const response = await rawRequest(port, {
        method: action === 'confirm' ? 'POST' : 'DELETE',
        target: action === 'confirm' ? `/v1/reservations/${id}/confirm` : `/v1/reservations/${id}`,
        headers: auth === undefined ? {} : { authorization: auth },
      });
      trap.assertNone();
      assert.ok(response.status !== undefined && response.status >= 400 && response.status < 500, `${response.status} ${response.body}`);
      // A path that is not valid percent-encoding (400) or that `..` moves off the routes (404)
      // is refused before any route looks at the token.
      if (auth !== `Bearer ${API_TOKEN}`) assert.ok([400, 401, 404].includes(response.status), `${response.status} without the token`);
      if (response.status === 400) assert.is(errorCodeOf(response.body), 'STOCKGUARD_E_BAD_ARGUMENT');
      // 404/410 say why in their own body; every other refusal is a coded error.
      if (response.status !== 404 && response.status !== 410) assert.ok(errorCodeOf(response.body), response.body);
      assertUnchanged(keysBefore, await fingerprint(redis, redisHandle.prefix), 'a refusal wrote to Redis');
    }),
    { numRuns: 150 },
  );
});

test('a malformed request for an order that already holds stock is refused and leaves that hold exactly as it was', async () => {
  const badLines = fc.oneof(
    fc.constantFrom('{R-A}', 'R-A ', 'R\u0001A', '').map((name) => [{ lineId: '1', sku: name, quantity: 1 }]),
    fc.constant([{ lineId: '1', sku: 'R-A', quantity: 1 }, { lineId: '1', sku: 'R-B', quantity: 1 }]),
    fc.constantFrom(0, -2, 1.5, 1_000_000_001).map((value) => [{ lineId: '1', sku: 'R-A', quantity: value }]),
  );
  await checkProperty(
    fc.asyncProperty(fc.integer({ min: 1, max: 3 }), badLines, async (held, lines) => {
      const id = freshOrderId();
      const post = (body: unknown) =>
        rawRequest(port, { method: 'POST', target: '/v1/reservations', headers: { authorization: `Bearer ${API_TOKEN}` }, body: Buffer.from(JSON.stringify(body)) });
      assert.is((await post({ orderId: id, lines: [{ lineId: 'kept', sku: 'R-A', quantity: held }] })).status, 201);
      const keysBefore = await fingerprint(redis, redisHandle.prefix);
      const refused = await post({ orderId: id, lines });
      trap.assertNone();
      assert.is(refused.status, 400, refused.body);
      assertUnchanged(keysBefore, await fingerprint(redis, redisHandle.prefix), `${refused.status} ${refused.body}`);
    }),
    { numRuns: 40 },
  );
});

test.run();
