// Secrets never appear in logs, errors, CLI output or /metrics. An in-process daemon with
// every role but the scheduled jobs, logging at trace through stockguard's own logger into
// a buffer, configured with recognisable secret values (Shopify app secrets and access
// token, WMS webhook secret and token, API token, LWA client secret and refresh token, the
// Redis password in REDIS_URL, AWS keys), is driven with good and bad requests, bad SQS
// messages, channels that refuse its credentials and a Redis that changes its password
// under it; then `stockguard config` and a CLI run with a wrong Redis password. Every
// byte captured is searched for every secret.
import { Writable } from 'node:stream';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { run } from '../../src/cli.ts';
import { loadConfig, redactConfig } from '../../src/config.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { signShopify, signWms } from '../../src/ingest/http/signatures.ts';
import { createLogger } from '../../src/logger.ts';
import { type AmazonFake, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { RedisServer } from '../../src/sim/redisServer.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { trapProcessErrors } from '../helpers/fuzz.ts';

const SECRETS = {
  redisPassword: 'RedisPw-9f1c-secret',
  shopifyAppSecret: 'shpss_AppSecret-9f1c-secret',
  shopifyPreviousSecret: 'shpss_OldSecret-9f1c-secret',
  shopifyAccessToken: 'shpat_AccessToken-9f1c-secret',
  wmsWebhookSecret: 'WmsHookSecret-9f1c-secret',
  wmsToken: 'WmsApiToken-9f1c-secret',
  apiToken: 'ReserveApiToken-9f1c-secret',
  lwaClientSecret: 'LwaClientSecret-9f1c-secret',
  lwaRefreshToken: 'Atzr|LwaRefresh-9f1c-secret',
  awsAccessKeyId: 'AKIA9F1CSECRETKEYID0',
  awsSecretAccessKey: 'AwsSecretKey-9f1c-secret',
};
const SELLER_ID = 'A3TH9S8BH6GOGM';
const US = 'ATVPDKIKX0DER';

const test = suite('secrets stay out of logs, errors, output and metrics');
const trap = trapProcessErrors();
let captured = '';
const destination = new Writable({
  write(chunk: Buffer, _encoding, done) {
    captured += chunk.toString();
    done();
  },
});
let server: RedisServer;
let admin: Redis;
let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;
let shopify: ShopifyFake;
let amazon: AmazonFake;
let daemon: Daemon;
let env: Record<string, string>;
const savedEnv = { ...process.env };

async function eventually(check: () => Promise<boolean> | boolean, what: string, guardMs = 20_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test.before(async () => {
  server = await RedisServer.start();
  admin = new Redis(server.url);
  admin.on('error', () => undefined);
  await admin.config('SET', 'requirepass', SECRETS.redisPassword);
  await admin.auth(SECRETS.redisPassword);
  fauxqs = await startFauxqs({ port: 0, logger: false });
  const sqsEndpoint = `http://127.0.0.1:${fauxqs.port}`;
  sqs = new SQSClient({ endpoint: sqsEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  const queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: 'secrets' }))).QueueUrl!;
  // The channels know other credentials than stockguard's: every push fails on authentication.
  shopify = await startShopifyFake({ accessToken: 'shpat_the_right_token', appSecret: 'shpss_the_right_secret', shopDomain: 'secrets-shop.myshopify.com' });
  shopify.addLocation({ id: 'gid://shopify/Location/1', name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
  amazon = await startAmazonFake({ clientId: 'amzn1.application-oa2-client.secrets', clientSecret: 'the-right-lwa-secret', refreshToken: 'Atzr|the-right-refresh', sellerId: SELLER_ID, notifyQuantityChanges: false });

  env = {
    REDIS_URL: `redis://default:${SECRETS.redisPassword}@127.0.0.1:${server.port}`,
    STOCKGUARD_KEY_PREFIX: 'sgsecrets',
    STOCKGUARD_ROLES: 'http,consumers,sqs,holds,pushers',
    STOCKGUARD_LOG_LEVEL: 'trace',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_CONSUMER_NAME: 'secrets-1',
    SHOPIFY_APP_SECRET: SECRETS.shopifyAppSecret,
    SHOPIFY_APP_SECRET_PREVIOUS: SECRETS.shopifyPreviousSecret,
    STOCKGUARD_WMS_WEBHOOK_SECRET: SECRETS.wmsWebhookSecret,
    STOCKGUARD_API_TOKEN: SECRETS.apiToken,
    STOCKGUARD_WMS_URL: 'http://127.0.0.1:1',
    STOCKGUARD_WMS_TOKEN: SECRETS.wmsToken,
    SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
    SHOPIFY_ACCESS_TOKEN: SECRETS.shopifyAccessToken,
    SHOPIFY_ADMIN_BASE_URL: shopify.url,
    AMAZON_SELLER_ID: SELLER_ID,
    AMAZON_MARKETPLACE_IDS: US,
    AMAZON_LWA_CLIENT_ID: 'amzn1.application-oa2-client.secrets',
    AMAZON_LWA_CLIENT_SECRET: SECRETS.lwaClientSecret,
    AMAZON_LWA_REFRESH_TOKEN: SECRETS.lwaRefreshToken,
    AMAZON_LWA_TOKEN_URL: amazon.lwaTokenUrl,
    AMAZON_SP_API_ENDPOINT: amazon.url,
    AMAZON_SQS_QUEUE_URL: queueUrl,
    AMAZON_SQS_ENDPOINT: sqsEndpoint,
    STOCKGUARD_SQS_WAIT_SECONDS: '1',
    STOCKGUARD_PUSH_POLL_MS: '10',
    STOCKGUARD_PUSH_MAX_ATTEMPTS: '2',
    AWS_ACCESS_KEY_ID: SECRETS.awsAccessKeyId,
    AWS_SECRET_ACCESS_KEY: SECRETS.awsSecretAccessKey,
  };
  Object.assign(process.env, env);
  const config = loadConfig(env);
  const logger = createLogger({ level: config.logLevel, destination });
  // What `stockguard serve` logs first.
  logger.info({ config: redactConfig(config) }, 'starting stockguard');
  daemon = await startDaemon({ config, logger });
  await daemon.runtime.catalog.put({
    sku: 'SECRET-A',
    holdback: 0,
    skuClass: 'default',
    shopify: { inventoryItemId: 'gid://shopify/InventoryItem/1', locationId: 'gid://shopify/Location/1' },
    amazon: { sellerSku: 'SECRET-A-AMZ', marketplaceId: US, productType: 'LAMP', fulfillment: 'MFN' },
    policies: {},
  });
  await daemon.runtime.ledger.createSku('SECRET-A');
});

test.after(async () => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  sqs.destroy();
  await fauxqs.stop();
  await shopify.close();
  await amazon.close();
  admin.disconnect();
  await server.stop();
  trap.remove();
});

test('good and bad traffic, refused credentials, a Redis password change and the CLI: no secret in any output', async () => {
  const url = daemon.http!.url;
  const outputs: string[] = [];
  const send = async (path: string, init: RequestInit) => {
    const response = await fetch(`${url}${path}`, init);
    outputs.push(`${response.status} ${await response.text()}`);
    return response.status;
  };
  const shopifyBody = JSON.stringify({ id: 9001, line_items: [{ id: 1, sku: 'SECRET-A', quantity: 1 }] });
  const shopifyHeaders = (hmac: string, eventId: string) => ({ 'x-shopify-topic': 'orders/create', 'x-shopify-hmac-sha256': hmac, 'x-shopify-event-id': eventId, 'content-type': 'application/json' });
  assert.is(await send('/webhooks/shopify', { method: 'POST', headers: shopifyHeaders(signShopify(shopifyBody, SECRETS.shopifyAppSecret), 's-1'), body: shopifyBody }), 200);
  assert.is(await send('/webhooks/shopify', { method: 'POST', headers: shopifyHeaders(signShopify(shopifyBody, SECRETS.shopifyPreviousSecret), 's-2'), body: shopifyBody }), 200);
  assert.is(await send('/webhooks/shopify', { method: 'POST', headers: shopifyHeaders(signShopify(shopifyBody, 'not-the-secret'), 's-3'), body: shopifyBody }), 401);
  assert.is(await send('/webhooks/shopify', { method: 'POST', headers: shopifyHeaders(signShopify('{"id":', SECRETS.shopifyAppSecret), 's-4'), body: '{"id":' }), 400);

  const timestamp = String(Math.floor(Date.now() / 1000));
  const wmsBody = JSON.stringify({ events: [{ id: 'secret-receipt-1', type: 'receipt', sku: 'SECRET-A', quantity: 5 }, { id: 'secret-unknown-1', type: 'receipt', sku: 'NOT-CATALOGUED', quantity: 1 }] });
  const wmsHeaders = (signature: string, at = timestamp) => ({ 'x-stockguard-timestamp': at, 'x-stockguard-signature': signature, 'content-type': 'application/json' });
  assert.is(await send('/webhooks/wms', { method: 'POST', headers: wmsHeaders(signWms(wmsBody, timestamp, SECRETS.wmsWebhookSecret)), body: wmsBody }), 202);
  assert.is(await send('/webhooks/wms', { method: 'POST', headers: wmsHeaders(signWms(wmsBody, timestamp, 'wrong')), body: wmsBody }), 401);
  assert.is(await send('/webhooks/wms', { method: 'POST', headers: wmsHeaders(signWms(wmsBody, '1000', SECRETS.wmsWebhookSecret), '1000'), body: wmsBody }), 401);
  const badBatch = '{"events":[{"id":"x","type":"receipt","sku":"SECRET-A","quantity":-1}]}';
  assert.is(await send('/webhooks/wms', { method: 'POST', headers: wmsHeaders(signWms(badBatch, timestamp, SECRETS.wmsWebhookSecret)), body: badBatch }), 400);

  const hold = JSON.stringify({ orderId: 'secret-checkout-1', lines: [{ lineId: '1', sku: 'SECRET-A', quantity: 1 }] });
  await eventually(async () => (await daemon.runtime.ledger.inventory('SECRET-A'))?.onHand === 5, 'the receipt to reach the ledger');
  assert.is(await send('/v1/reservations', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.apiToken}` }, body: hold }), 201);
  assert.is(await send('/v1/reservations', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.apiToken.slice(0, -1)}` }, body: hold }), 401);
  assert.is(await send('/v1/reservations', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.apiToken}` }, body: '{"orderId":' }), 400);
  assert.is(await send('/v1/reservations/%E0%A4%A/confirm', { method: 'POST', headers: { authorization: `Bearer ${SECRETS.apiToken}` } }), 400);

  await sqs.send(new SendMessageCommand({ QueueUrl: env.AMAZON_SQS_QUEUE_URL!, MessageBody: '{"NotificationType":"ORDER_CHANGE","NotificationMetadata":{"NotificationId":"secret-n-1"}}' }));
  await sqs.send(new SendMessageCommand({ QueueUrl: env.AMAZON_SQS_QUEUE_URL!, MessageBody: 'not json' }));
  await eventually(() => captured.includes('notification rejected and dead-lettered') && captured.includes('entry dead-lettered'), 'the dead letters');
  // The pushers have tried both channels with credentials they refuse.
  await eventually(() => /Login with Amazon failed|STOCKGUARD_E_AMAZON_AUTH/.test(captured) && /push failed|push refused|Shopify/.test(captured), 'the channels to refuse the credentials');

  // Redis changes its password and drops every connection: the clients fail to log in again.
  await admin.config('SET', 'requirepass', 'a-new-password-for-the-test');
  await admin.client('KILL', 'USER', 'default', 'SKIPME', 'yes');
  await eventually(() => /WRONGPASS/.test(captured), 'the clients to report the failed login');
  await admin.config('SET', 'requirepass', SECRETS.redisPassword);
  await eventually(async () => (await fetch(`${url}/readyz`)).status === 200, 'the daemon to reconnect');

  const metrics = await (await fetch(`${url}/metrics`)).text();
  assert.match(metrics, /stockguard_/);
  await daemon.stop();

  const cliLines: string[] = [];
  assert.is(await run(['config'], (line) => cliLines.push(line)), 0);
  process.env.REDIS_URL = `redis://default:${SECRETS.redisPassword}x@127.0.0.1:${server.port}`;
  assert.is(await run(['sku', 'SECRET-A'], (line) => cliLines.push(line)), 3);
  process.env.REDIS_URL = env.REDIS_URL;
  trap.assertNone();

  const everything = [captured, metrics, ...outputs, ...cliLines].join('\n');
  for (const [name, value] of Object.entries(SECRETS)) {
    const at = everything.indexOf(value);
    assert.ok(at === -1, `${name} appears in the output: …${everything.slice(Math.max(0, at - 300), at + 100)}…`);
  }
  // The search covered the error paths, not an empty buffer.
  for (const line of [/starting stockguard/, /entry dead-lettered/, /notification rejected/, /Login with Amazon failed/, /push failed/, /WRONGPASS/]) assert.match(captured, line);
});

test.run();
