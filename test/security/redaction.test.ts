// Secrets in configuration: the printed configuration and configuration errors never show
// a password or token, whatever characters it has (encoded or not), and the logger's
// redaction paths hide secrets even in an object logged by mistake.
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, redactConfig, redactUrl } from '../../src/config.ts';
import { isStockguardError } from '../../src/errors.ts';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.ts';
import { RedisServer } from '../../src/sim/redisServer.ts';

/** A password-like string: a marker no URL part contains, then anything URL-ish, "@", "/", ":" and "%" included. */
const password = fc
  .string({ unit: fc.constantFrom(...'abcXYZ0189-_.~!$&\'()*+,;=:@/?#%[] '.split('')), minLength: 1, maxLength: 16 })
  .map((rest) => `Pw7q${rest}`);

test('the Redis password never shows in the printed configuration or in a configuration error, encoded or not', () => {
  fc.assert(
    fc.property(password, fc.constantFrom('', 'stockguard', 'default'), fc.boolean(), fc.constantFrom('redis', 'rediss'), (secret, user, encode, scheme) => {
      const written = encode ? encodeURIComponent(secret) : secret;
      const url = `${scheme}://${user}:${written}@redis.internal:6379/0`;
      let shown: string;
      try {
        shown = JSON.stringify(redactConfig(loadConfig({ REDIS_URL: url })));
      } catch (error) {
        assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'), String(error));
        shown = `${error.message} ${JSON.stringify(error.details)}`;
      }
      for (const form of new Set([secret, written, encodeURIComponent(secret)])) {
        assert.not.ok(shown.includes(form), `${JSON.stringify(form)} shows in ${shown}`);
      }
    }),
    { numRuns: 300 },
  );
});

test('redactUrl keeps what tells deployments apart (scheme, user, host, port, db) and hides the rest of the credentials', () => {
  assert.is(redactUrl('redis://stockguard:s3cret@redis.internal:6379/0'), 'redis://stockguard:***@redis.internal:6379/0');
  assert.is(redactUrl('rediss://:s3cret@redis.internal:6380'), 'rediss://***@redis.internal:6380');
  assert.is(redactUrl('redis://user:p@ss/w:rd@redis.internal:6379'), 'redis://user:***@redis.internal:6379');
  assert.is(redactUrl('redis://redis.internal:6379?password=s3cret&db=1'), 'redis://redis.internal:6379?password=***&db=1');
  assert.is(redactUrl('redis://127.0.0.1:6379'), 'redis://127.0.0.1:6379');
});

test('REDIS_URL that is not a URL, and TLS files without rediss://, stop start-up naming the variable', () => {
  for (const url of ['redis://', 'redis://user:%ZZ@host:6379', 'redis://:pa%@host']) {
    const error = (() => {
      try {
        loadConfig({ REDIS_URL: url });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'), `${url} was accepted`);
    assert.equal(error.details.variables, ['REDIS_URL']);
  }
  assert.throws(() => loadConfig({ REDIS_URL: 'redis://h:6379', STOCKGUARD_REDIS_TLS_CA_FILE: '/ca.pem' }), /STOCKGUARD_REDIS_TLS_CA_FILE only apply to a TLS connection/);
  assert.throws(() => loadConfig({ REDIS_URL: 'rediss://h:6379', STOCKGUARD_REDIS_TLS_CERT_FILE: '/c.pem' }), /STOCKGUARD_REDIS_TLS_KEY_FILE must be set too/);
  assert.equal(loadConfig({ REDIS_URL: 'rediss://h:6379', STOCKGUARD_REDIS_TLS_CA_FILE: '/ca.pem' }).redis.tls, { caFile: '/ca.pem', certFile: undefined, keyFile: undefined });
  assert.is(loadConfig({ REDIS_URL: 'redis://h:6379' }).redis.tls, undefined);
});

test('the logger hides secrets even in an unredacted configuration or request headers logged by mistake', () => {
  const secrets = {
    REDIS_URL: 'redis://stockguard:RedisPw-0c41d@redis.internal:6379',
    SHOPIFY_APP_SECRET: 'shpss_AppSecret-0c41d0000',
    SHOPIFY_APP_SECRET_PREVIOUS: 'shpss_OldSecret-0c41d0000',
    STOCKGUARD_WMS_WEBHOOK_SECRET: 'WmsSecret-0c41d00000000',
    STOCKGUARD_API_TOKEN: 'ApiToken-0c41d000000000',
    STOCKGUARD_WMS_URL: 'http://wms:WmsUrlPw-0c41d@wms.internal',
    AMAZON_SQS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123/q',
    AMAZON_SQS_ENDPOINT: 'http://key:SqsUrlPw-0c41d@sqs.internal',
    STOCKGUARD_WMS_TOKEN: 'WmsToken-0c41d000000000',
    SHOPIFY_STORE_DOMAIN: 'shop.myshopify.com',
    SHOPIFY_ACCESS_TOKEN: 'shpat_AccessToken-0c41d',
    AMAZON_SELLER_ID: 'A3TH9S8BH6GOGM',
    AMAZON_MARKETPLACE_IDS: 'ATVPDKIKX0DER',
    AMAZON_LWA_CLIENT_ID: 'amzn1.application-oa2-client.x',
    AMAZON_LWA_CLIENT_SECRET: 'LwaSecret-0c41d',
    AMAZON_LWA_REFRESH_TOKEN: 'Atzr|Refresh-0c41d',
  };
  const config = loadConfig(secrets);
  let output = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  const logger = createLogger({ level: 'trace', destination });
  logger.info({ config }, 'a configuration logged unredacted by mistake');
  logger.info({ config: redactConfig(config) }, 'starting stockguard');
  logger.debug({ headers: { authorization: `Bearer ${secrets.STOCKGUARD_API_TOKEN}`, 'x-shopify-hmac-sha256': 'c2lnbmF0dXJl' } }, 'request');
  logger.debug({ request: { headers: { authorization: `Bearer ${secrets.STOCKGUARD_API_TOKEN}` } } }, 'nested request');
  logger.debug({ sqs: { credentials: { accessKeyId: 'AKIA0C41D', secretAccessKey: 'AwsSecret-0c41d' } } }, 'sqs client');
  assert.match(output, /starting stockguard/);
  const printed = JSON.stringify(redactConfig(config));
  for (const value of ['RedisPw-0c41d', 'WmsUrlPw-0c41d', 'SqsUrlPw-0c41d', ...Object.entries(secrets).filter(([name]) => /SECRET|TOKEN/.test(name)).map(([, value]) => value)]) {
    assert.not.ok(printed.includes(value), `${value} is in the printed configuration: ${printed}`);
  }
  for (const value of [...Object.entries(secrets).filter(([name]) => /SECRET|TOKEN/.test(name)).map(([, value]) => value), 'RedisPw-0c41d', 'AwsSecret-0c41d']) {
    assert.not.ok(output.includes(value), `${value} is in the log:\n${output}`);
  }
});

test('a Redis error logged as err or error never shows the command arguments (a failed AUTH carries the password)', async () => {
  const server = await RedisServer.start();
  const client = new Redis({ port: server.port, host: '127.0.0.1' });
  await client.config('SET', 'requirepass', 'ServerPw-77ab');
  let output = '';
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      output += chunk.toString();
      done();
    },
  });
  try {
    // The same AUTH a client sends when it reconnects after the server's password changed.
    const refused = await client.call('AUTH', 'default', 'ClientPw-77ab').then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(refused instanceof Error && /WRONGPASS/.test(refused.message), `the wrong password was not refused: ${String(refused)}`);
    // What the client really attaches: the AUTH command with its arguments.
    assert.ok(JSON.stringify(refused).includes('ClientPw-77ab'), 'the Redis error no longer carries the password; this test would pass vacuously');
    const logger = createLogger({ level: 'trace', destination });
    logger.error({ err: refused }, 'dead-letter write failed');
    logger.warn({ error: refused }, 'read failed');
    logger.warn({ err: new Error('wrapped', { cause: refused }) }, 'wrapped');
  } finally {
    client.disconnect();
    await server.stop();
  }
  assert.match(output, /WRONGPASS/);
  assert.match(output, /"command":\{"name":"auth","args":"\*\*\* \(2 arguments\)"\}/i);
  assert.not.ok(output.includes('ClientPw-77ab'), `the password is in the log:\n${output}`);
});

test.run();
