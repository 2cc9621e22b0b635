// The pushers' settings: defaults, channels enabled only with complete credentials, bad
// values named, secrets redacted.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, redactConfig, ROLES } from '../../src/config.ts';
import { isStockguardError } from '../../src/errors.ts';

const SHOPIFY = { SHOPIFY_STORE_DOMAIN: 'my-shop.myshopify.com', SHOPIFY_ACCESS_TOKEN: 'shpat_secret_value_123' };
const AMAZON = {
  AMAZON_SELLER_ID: 'A3TH9S8BH6GOGM',
  AMAZON_MARKETPLACE_IDS: 'ATVPDKIKX0DER, A2EUQ1WTGCTBG2',
  AMAZON_LWA_CLIENT_ID: 'amzn1.application-oa2-client.x',
  AMAZON_LWA_CLIENT_SECRET: 'lwa-client-secret-value',
  AMAZON_LWA_REFRESH_TOKEN: 'Atzr|refresh-token-value',
};

test('the pushers role exists and runs by default; no channel without credentials', () => {
  assert.ok(ROLES.includes('pushers'));
  const config = loadConfig({});
  assert.ok(config.roles.includes('pushers'));
  assert.is(config.shopify, undefined);
  assert.is(config.amazon, undefined);
  assert.equal(config.pushers, {
    sweepCron: '* * * * *',
    lingerMs: 50,
    pollMs: 50,
    maxAttempts: 5,
    requestTimeoutMs: 10_000,
    dynamicHoldback: { windowMs: 60_000, maxUnits: 10, defaultLatencyMs: 1_000 },
    driftSettleMs: 30_000,
    topExposureSkus: 10,
  });
});

test('Shopify and Amazon settings with their defaults', () => {
  const config = loadConfig({ ...SHOPIFY, ...AMAZON, SHOPIFY_ADMIN_BASE_URL: 'http://127.0.0.1:9000' });
  assert.equal(config.shopify, { storeDomain: 'my-shop.myshopify.com', accessToken: 'shpat_secret_value_123', apiVersion: '2026-10', baseUrl: 'http://127.0.0.1:9000', batchSize: 250 });
  assert.equal(config.amazon, {
    sellerId: 'A3TH9S8BH6GOGM',
    marketplaceIds: ['ATVPDKIKX0DER', 'A2EUQ1WTGCTBG2'],
    endpoint: 'https://sellingpartnerapi-na.amazon.com',
    lwa: { clientId: 'amzn1.application-oa2-client.x', clientSecret: 'lwa-client-secret-value', refreshToken: 'Atzr|refresh-token-value', tokenUrl: 'https://api.amazon.com/auth/o2/token' },
    ratePerSecond: 5,
    burst: 5,
    // The JSON_LISTINGS_FEED path for backlogs, on by default (docs/pushers.md, "Amazon backlogs: feeds").
    feeds: { threshold: 300, maxMessages: 25_000, windowMs: 5_000, pollMs: 10_000, timeoutMs: 3_600_000, urgentDecreaseUnits: 5, urgentDecreasePercent: 20, patchSettleMs: 300_000 },
  });
});

test('half a channel configuration stops start-up, naming what is missing', () => {
  try {
    loadConfig({ SHOPIFY_STORE_DOMAIN: 'my-shop.myshopify.com', AMAZON_SELLER_ID: 'A3TH9S8BH6GOGM', AMAZON_LWA_CLIENT_ID: 'id' });
    assert.unreachable('incomplete credentials must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'));
    assert.equal(error.details.variables, ['SHOPIFY_ACCESS_TOKEN', 'AMAZON_MARKETPLACE_IDS', 'AMAZON_LWA_CLIENT_SECRET', 'AMAZON_LWA_REFRESH_TOKEN']);
  }
});

test('bad values are refused: batch over 250, a cron that does not parse, a marketplace list of junk', () => {
  assert.throws(() => loadConfig({ STOCKGUARD_SHOPIFY_BATCH_SIZE: '251' }), /STOCKGUARD_SHOPIFY_BATCH_SIZE/);
  assert.throws(() => loadConfig({ STOCKGUARD_PUSH_SWEEP_CRON: 'every minute' }), /STOCKGUARD_PUSH_SWEEP_CRON must be a cron expression/);
  assert.throws(() => loadConfig({ ...AMAZON, AMAZON_MARKETPLACE_IDS: 'us-east' }), /AMAZON_MARKETPLACE_IDS/);
  assert.throws(() => loadConfig({ SHOPIFY_API_VERSION: 'latest' }), /SHOPIFY_API_VERSION/);
});

test('STOCKGUARD_ALLOCATION_CHANNEL_MIX: channel=weight pairs, refused with what is wrong', () => {
  assert.equal(loadConfig({ STOCKGUARD_ALLOCATION_CHANNEL_MIX: 'shopify=60, amazon=40' }).pushers.channelMix, { shopify: 60, amazon: 40 });
  assert.is(loadConfig({}).pushers.channelMix, undefined);
  assert.throws(() => loadConfig({ STOCKGUARD_ALLOCATION_CHANNEL_MIX: 'ebay=10' }), /STOCKGUARD_ALLOCATION_CHANNEL_MIX must be channel=weight pairs/);
  assert.throws(() => loadConfig({ STOCKGUARD_ALLOCATION_CHANNEL_MIX: 'shopify=1,shopify=2' }), /names shopify twice/);
  assert.throws(() => loadConfig({ STOCKGUARD_ALLOCATION_CHANNEL_MIX: 'shopify=0' }), /at least one channel with a weight above 0/);
});

test('the printed configuration hides the Shopify token and the LWA secret and refresh token', () => {
  const printed = JSON.stringify(redactConfig(loadConfig({ ...SHOPIFY, ...AMAZON })));
  for (const secret of ['shpat_secret_value_123', 'lwa-client-secret-value', 'Atzr|refresh-token-value']) assert.not.ok(printed.includes(secret), secret);
  assert.ok(printed.includes('amzn1.application-oa2-client.x'), 'the client id is not a secret');
});

test.run();
