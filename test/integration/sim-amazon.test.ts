// The Amazon SP-API fake, driven through the real clients the daemon uses:
// @sp-api-sdk/listings-items-api-2021-08-01 (axios instance from @sp-api-sdk/common, base path
// pointed at the fake, our own LWA token provider) and @aws-sdk/client-sqs against fauxqs.
import { SellingPartnerApiAuth } from '@sp-api-sdk/auth';
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, type ListingsItemPatchRequest, ListingsItemsApi } from '@sp-api-sdk/listings-items-api-2021-08-01';
import { createServer } from 'node:http';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AmazonFake, type AmazonFakeOptions, buildMfnQuantityChangeNotification, notificationValidator, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { notificationSchemaExamples } from '../../src/sim/amazon/schemas.ts';

const LWA = { clientId: 'amzn1.application-oa2-client.stockguard', clientSecret: 'lwa-secret', refreshToken: 'Atzr|stockguard-refresh' };
const SELLER = 'A3TH9S8BH6GOGM';
const US = 'ATVPDKIKX0DER';
const START_MS = Date.parse('2026-11-27T12:00:00.000Z');

/** A clock the test moves by hand: token expiry and the rate limiter only see this. */
class ManualClock {
  private ms = START_MS;
  readonly now = (): number => this.ms;
  advance(milliseconds: number): void {
    this.ms += milliseconds;
  }
}

/**
 * An LWA token provider with a configurable URL, as the spec notes recommend (§4.3):
 * @sp-api-sdk/auth hard-codes https://api.amazon.com. Subclassing keeps the SDK's type.
 */
class FakeLwaAuth extends SellingPartnerApiAuth {
  private cached: { token: string; expiresAtMs: number } | undefined;
  tokenRequests = 0;

  constructor(
    private readonly tokenUrl: string,
    private readonly clock: () => number,
  ) {
    super({ clientId: LWA.clientId, clientSecret: LWA.clientSecret, refreshToken: LWA.refreshToken });
  }

  override async getAccessToken(): Promise<string> {
    if (this.cached && this.clock() < this.cached.expiresAtMs) return this.cached.token;
    this.tokenRequests += 1;
    const response = await fetch(this.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: LWA.refreshToken, client_id: LWA.clientId, client_secret: LWA.clientSecret }),
    });
    const body: unknown = await response.json();
    if (!response.ok || !isRecord(body) || typeof body['access_token'] !== 'string' || typeof body['expires_in'] !== 'number') {
      throw new Error(`LWA answered ${response.status}: ${JSON.stringify(body)}`);
    }
    this.cached = { token: body['access_token'], expiresAtMs: this.clock() + body['expires_in'] * 1000 };
    return this.cached.token;
  }

  forget(): void {
    this.cached = undefined;
  }
}

/** A token provider that always hands out the same token, however old. */
class StaticTokenAuth extends SellingPartnerApiAuth {
  constructor(private readonly token: string) {
    super({ clientId: LWA.clientId, clientSecret: LWA.clientSecret, refreshToken: LWA.refreshToken });
  }

  override async getAccessToken(): Promise<string> {
    return this.token;
  }
}

async function rejects(promise: Promise<unknown>, expected: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.match(error instanceof Error ? error.message : String(error), expected);
    return;
  }
  assert.unreachable(`expected a rejection matching ${expected}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

interface Harness {
  fake: AmazonFake;
  clock: ManualClock;
  auth: FakeLwaAuth;
  api: ListingsItemsApi;
}

function sdkClient(fake: AmazonFake, auth: SellingPartnerApiAuth, options: { retryThrottled?: boolean; onRetry?: (rateLimit: number | undefined) => void } = {}): ListingsItemsApi {
  const { axios } = createAxiosInstance(
    {
      auth,
      region: 'na',
      ...(options.retryThrottled ? { rateLimiting: { retry: true, onRetry: ({ rateLimit }) => options.onRetry?.(rateLimit) } } : {}),
    },
    clientRateLimits,
  );
  // The generated class takes (configuration, basePath, axios); the region's endpoint is ignored then.
  return new ListingsItemsApi(undefined, fake.url, axios);
}

async function withFake(overrides: Partial<AmazonFakeOptions>, body: (harness: Harness) => Promise<void>, clientOptions?: Parameters<typeof sdkClient>[2]): Promise<void> {
  const clock = new ManualClock();
  const fake = await startAmazonFake({ ...LWA, sellerId: SELLER, now: clock.now, ...overrides });
  const auth = new FakeLwaAuth(fake.lwaTokenUrl, overrides.now ?? clock.now);
  try {
    await body({ fake, clock, auth, api: sdkClient(fake, auth, clientOptions) });
    assert.equal(fake.modelViolations(), [], 'every response the fake sent matched the model');
  } finally {
    await fake.close();
  }
}

function quantityPatch(quantity: unknown, options: { op?: 'merge' | 'replace'; channel?: string; productType?: string; extra?: Record<string, unknown> } = {}): ListingsItemPatchRequest {
  return {
    productType: options.productType ?? 'LUGGAGE',
    patches: [{ op: options.op ?? 'merge', path: '/attributes/fulfillment_availability', value: [{ fulfillment_channel_code: options.channel ?? 'DEFAULT', quantity, ...options.extra }] }],
  };
}

async function sdkFailure(call: Promise<unknown>): Promise<SellingPartnerApiError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof SellingPartnerApiError) return error;
    throw error;
  }
  throw new Error('expected the SDK call to fail');
}

function firstError(data: unknown): { code: unknown; message: unknown; details: unknown } {
  if (!isRecord(data) || !Array.isArray(data['errors']) || !isRecord(data['errors'][0])) throw new Error(`not an SP-API ErrorList: ${JSON.stringify(data)}`);
  const [error] = data['errors'];
  return { code: error['code'], message: error['message'], details: error['details'] };
}

async function postToken(fake: AmazonFake, contentType: string, body: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(fake.lwaTokenUrl, { method: 'POST', headers: { 'content-type': contentType }, body });
  const parsed: unknown = await response.json();
  if (!isRecord(parsed)) throw new Error('LWA answered a non-object');
  return { status: response.status, body: parsed };
}

function seedLuggage(fake: AmazonFake, sku = 'GM-ZDPI-9B4E', quantity = 10): void {
  fake.addListing({ sku, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity });
}

// ---------------------------------------------------------------------------------------
// SQS (fauxqs) shared by the notification tests

let fauxqs: FauxqsServer | undefined;
let sqs: SQSClient | undefined;

test.before(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({ endpoint: `http://127.0.0.1:${fauxqs.port}`, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
});

test.after(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

async function newQueue(name: string): Promise<{ queueUrl: string; destination: NonNullable<AmazonFakeOptions['sqs']> }> {
  if (!sqs || !fauxqs) throw new Error('fauxqs is not running');
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  if (!created.QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
  return { queueUrl: created.QueueUrl, destination: { endpoint: `http://127.0.0.1:${fauxqs.port}`, queueUrl: created.QueueUrl, region: 'us-east-1' } };
}

interface ReceivedNotification {
  messageId: string;
  body: Record<string, unknown>;
}

/** Receives (and deletes) exactly `count` messages, failing if fewer arrive within a few long polls or more are waiting. */
async function receive(queueUrl: string, count: number): Promise<ReceivedNotification[]> {
  if (!sqs) throw new Error('fauxqs is not running');
  const received: ReceivedNotification[] = [];
  for (let poll = 0; poll < 5 && received.length < count; poll += 1) {
    const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const message of output.Messages ?? []) {
      const body: unknown = JSON.parse(message.Body ?? 'null');
      if (!isRecord(body) || !message.MessageId) throw new Error(`unexpected SQS message ${message.Body}`);
      received.push({ messageId: message.MessageId, body });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  assert.is(received.length, count, `received ${received.length} notifications, expected ${count}`);
  return received;
}

function metadataOf(notification: Record<string, unknown>): Record<string, unknown> {
  const metadata = notification['NotificationMetadata'];
  if (!isRecord(metadata)) throw new Error('notification without NotificationMetadata');
  return metadata;
}

function payloadOf(notification: Record<string, unknown>): Record<string, unknown> {
  const payload = notification['Payload'];
  if (!isRecord(payload)) throw new Error('notification without Payload');
  return payload;
}

function assertOfficialSchema(notification: Record<string, unknown>): void {
  const type = notification['NotificationType'];
  assert.ok(type === 'ORDER_CHANGE' || type === 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE' || type === 'FBA_INVENTORY_AVAILABILITY_CHANGES', `type ${String(type)}`);
  const validate = notificationValidator(type);
  assert.ok(validate(notification), JSON.stringify(validate.errors));
}

// ---------------------------------------------------------------------------------------
// LWA

test('LWA grants a token for a form-encoded body and for a JSON body; wrong credentials get the LWA error shapes', async () => {
  await withFake({}, async ({ fake }) => {
    const fields = { grant_type: 'refresh_token', refresh_token: LWA.refreshToken, client_id: LWA.clientId, client_secret: LWA.clientSecret };
    const form = await postToken(fake, 'application/x-www-form-urlencoded;charset=UTF-8', new URLSearchParams(fields).toString());
    const json = await postToken(fake, 'application/json', JSON.stringify(fields));
    for (const grant of [form, json]) {
      assert.is(grant.status, 200);
      assert.equal(Object.keys(grant.body).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
      assert.ok(String(grant.body['access_token']).startsWith('Atza|'));
      assert.is(grant.body['token_type'], 'bearer');
      assert.is(grant.body['expires_in'], 3600);
      assert.is(grant.body['refresh_token'], LWA.refreshToken);
    }
    assert.is.not(form.body['access_token'], json.body['access_token']);

    const badSecret = await postToken(fake, 'application/json', JSON.stringify({ ...fields, client_secret: 'wrong' }));
    assert.equal(badSecret, { status: 401, body: { error_description: 'Client authentication failed', error: 'invalid_client' } });
    const badRefresh = await postToken(fake, 'application/x-www-form-urlencoded', new URLSearchParams({ ...fields, refresh_token: 'Atzr|revoked' }).toString());
    assert.equal(badRefresh, { status: 400, body: { error_description: 'The request has an invalid grant parameter : refresh_token', error: 'invalid_grant' } });
    const missing = await postToken(fake, 'application/json', JSON.stringify({ grant_type: 'refresh_token', client_id: LWA.clientId, client_secret: LWA.clientSecret }));
    assert.is(missing.status, 400);
    assert.is(missing.body['error'], 'invalid_request');
    assert.is(fake.issuedTokenCount(), 2);
  });
});

test('a grantless (client_credentials) token cannot call seller operations', async () => {
  await withFake({}, async ({ fake }) => {
    seedLuggage(fake);
    const grantless = await postToken(fake, 'application/json', JSON.stringify({ grant_type: 'client_credentials', scope: 'sellingpartnerapi::notifications', client_id: LWA.clientId, client_secret: LWA.clientSecret }));
    assert.is(grantless.status, 200);
    assert.is(grantless.body['refresh_token'], undefined);
    const response = await fetch(`${fake.url}/listings/2021-08-01/items/${SELLER}/GM-ZDPI-9B4E?marketplaceIds=${US}`, { headers: { 'x-amz-access-token': String(grantless.body['access_token']) } });
    assert.is(response.status, 403);
    assert.is(firstError(await response.json()).code, 'Unauthorized');
  });
});

// ---------------------------------------------------------------------------------------
// patchListingsItem

test('PATCH through the SDK sets the MFN quantity, answers ACCEPTED with the rate-limit header, and is logged', async () => {
  await withFake({}, async ({ fake, api }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    const response = await api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(12) });
    assert.is(response.status, 200);
    assert.is(response.data.status, 'ACCEPTED');
    assert.is(response.data.sku, 'GM-ZDPI-9B4E');
    assert.match(response.data.submissionId, /^[0-9a-f]{32}$/);
    assert.equal(response.data.issues, []);
    assert.is(response.headers['x-amzn-ratelimit-limit'], '5');
    assert.ok(response.headers['x-amzn-requestid']);
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 12);

    const [logged, ...others] = fake.acceptedPatches();
    assert.is(others.length, 0);
    assert.is(logged?.submissionId, response.data.submissionId);
    assert.equal(logged?.marketplaceIds, [US]);
    assert.equal(logged?.patches, [{ op: 'merge', path: '/attributes/fulfillment_availability', value: [{ fulfillment_channel_code: 'DEFAULT', quantity: 12 }] }]);
    assert.ok(logged?.appliedAtMs !== undefined);
  });
});

test('merge keeps the other fields of the DEFAULT record; replace drops the ones it does not resend', async () => {
  await withFake({}, async ({ fake, api }) => {
    seedLuggage(fake, 'LEAD-TIME', 3);
    const sku = 'LEAD-TIME';
    await api.patchListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], body: quantityPatch(4, { extra: { lead_time_to_ship_max_days: 5 } }) });
    await api.patchListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], body: quantityPatch(6) });
    assert.equal(fake.listing(sku).fulfillmentAvailability, [{ fulfillment_channel_code: 'DEFAULT', quantity: 6, lead_time_to_ship_max_days: 5 }]);
    await api.patchListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], body: quantityPatch(7, { op: 'replace' }) });
    assert.equal(fake.listing(sku).fulfillmentAvailability, [{ fulfillment_channel_code: 'DEFAULT', quantity: 7 }]);
  });
});

test('bodies the model rejects (no productType, patches not an array) get 400 InvalidInput and change nothing', async () => {
  await withFake({}, async ({ fake, api, auth }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    const withoutProductType = quantityPatch(3);
    Reflect.deleteProperty(withoutProductType, 'productType');
    const patchesNotArray = quantityPatch(3);
    Reflect.set(patchesNotArray, 'patches', { op: 'merge', path: '/attributes/fulfillment_availability' });
    const unknownOp = quantityPatch(3);
    Reflect.set(unknownOp, 'patches', [{ op: 'set', path: '/attributes/fulfillment_availability', value: [] }]);

    for (const [body, mention] of [[withoutProductType, 'productType'], [patchesNotArray, '/patches'], [unknownOp, '/patches/0/op']] as const) {
      const error = await sdkFailure(api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body }));
      assert.is(error.response?.status, 400);
      const first = firstError(error.response?.data);
      assert.is(first.code, 'InvalidInput');
      assert.is(first.message, 'Request has missing or invalid parameters and cannot be parsed.');
      assert.ok(String(first.details).includes(mention), String(first.details));
      assert.is(error.response?.headers['x-amzn-ratelimit-limit'], '5');
    }
    const badIncludedData = await fetch(`${fake.url}/listings/2021-08-01/items/${SELLER}/GM-ZDPI-9B4E?marketplaceIds=${US}&includedData=everything`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json', 'x-amz-access-token': await auth.getAccessToken() },
      body: JSON.stringify(quantityPatch(3)),
    });
    assert.is(badIncludedData.status, 400);
    assert.ok(String(firstError(await badIncludedData.json()).details).includes('/includedData/0'));
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 10);
    assert.equal(fake.submissions(), []);
  });
});

test('a missing marketplaceIds query parameter is a 400 from the parameter schema', async () => {
  await withFake({}, async ({ fake, auth }) => {
    seedLuggage(fake);
    const response = await fetch(`${fake.url}/listings/2021-08-01/items/${SELLER}/GM-ZDPI-9B4E`, { headers: { 'x-amz-access-token': await auth.getAccessToken() } });
    assert.is(response.status, 400);
    assert.ok(String(firstError(await response.json()).details).includes("'marketplaceIds'"));
  });
});

test('negative or fractional quantities, a missing channel code, nested paths and a foreign productType are 200 INVALID with issues', async () => {
  await withFake({}, async ({ fake, api, clock }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    const cases: Array<[ListingsItemPatchRequest, string]> = [
      [quantityPatch(-1), "for 'quantity'"],
      [quantityPatch(1.5), "for 'quantity'"],
      [quantityPatch('7'), "for 'quantity'"],
      [{ productType: 'LUGGAGE', patches: [{ op: 'merge', path: '/attributes/fulfillment_availability', value: [{ quantity: 4 }] }] }, "'fulfillment_channel_code'"],
      [{ productType: 'LUGGAGE', patches: [{ op: 'replace', path: '/attributes/fulfillment_availability/0/quantity', value: [{ value: 4 }] }] }, 'only top-level attributes'],
      [quantityPatch(4, { productType: 'SHOES' }), "does not match the product type 'LUGGAGE'"],
    ];
    for (const [body, expected] of cases) {
      clock.advance(200); // one request's worth of the 5/s bucket
      const response = await api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body });
      assert.is(response.status, 200);
      assert.is(response.data.status, 'INVALID', JSON.stringify(body));
      const messages = (response.data.issues ?? []).map((issue) => `${issue.severity} ${issue.message}`);
      assert.ok(messages.some((message) => message.startsWith('ERROR') && message.includes(expected)), messages.join(' | '));
    }
    const missingCode = fake.submissions()[3]?.issues[0];
    assert.is(missingCode?.code, '99022');
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 10);
    assert.equal(fake.acceptedPatches(), []);
    assert.is(fake.submissions().length, cases.length);

    // The generic product type integrators send on quantity-only patches is accepted.
    const generic = await api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(8, { productType: 'PRODUCT' }) });
    assert.is(generic.data.status, 'ACCEPTED');
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 8);
  });
});

test('an FBA listing: DEFAULT and AMAZON_NA quantities are INVALID with an issue, and FBA stock is never written', async () => {
  await withFake({}, async ({ fake, api }) => {
    fake.addListing({ sku: 'FBA-1', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'FBA', quantity: 40 });
    const asDefault = await api.patchListingsItem({ sellerId: SELLER, sku: 'FBA-1', marketplaceIds: [US], body: quantityPatch(5) });
    const asAmazon = await api.patchListingsItem({ sellerId: SELLER, sku: 'FBA-1', marketplaceIds: [US], body: quantityPatch(5, { channel: 'AMAZON_NA' }) });
    for (const response of [asDefault, asAmazon]) {
      assert.is(response.data.status, 'INVALID');
      const [issue] = response.data.issues ?? [];
      assert.is(issue?.severity, 'ERROR');
      assert.equal(issue?.attributeNames, ['fulfillment_availability']);
      assert.match(issue?.message ?? '', /managed by Amazon fulfillment centers/);
    }
    assert.match(asDefault.data.issues?.[0]?.message ?? '', /convert the offer to merchant-fulfilled/);
    assert.is(fake.quantity('FBA-1', { fulfillment: 'FBA' }), 40);
    assert.is(fake.quantity('FBA-1', { fulfillment: 'MFN' }), undefined);
    assert.equal(fake.listing('FBA-1').fulfillmentAvailability, [{ fulfillment_channel_code: 'AMAZON_NA' }]);
    assert.equal(fake.acceptedPatches(), []);
    assert.equal(fake.submissions().map((entry) => entry.status), ['INVALID', 'INVALID']);

    // A listing with both offers takes DEFAULT quantities and still refuses AMAZON_NA ones.
    fake.addListing({ sku: 'FBA-1', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 2 });
    const mfnOnDual = await api.patchListingsItem({ sellerId: SELLER, sku: 'FBA-1', marketplaceIds: [US], body: quantityPatch(3) });
    assert.is(mfnOnDual.data.status, 'ACCEPTED');
    assert.is(fake.quantity('FBA-1', { fulfillment: 'MFN' }), 3);
    assert.is(fake.quantity('FBA-1', { fulfillment: 'FBA' }), 40);
  });
});

test('a PATCH for an unknown SKU is ACCEPTED and leaves an incomplete, unbuyable listing; GET of a never-seen SKU is 404', async () => {
  await withFake({}, async ({ fake, api }) => {
    const accepted = await api.patchListingsItem({ sellerId: SELLER, sku: 'TYPO-SKU', marketplaceIds: [US], body: quantityPatch(9, { productType: 'PRODUCT' }) });
    assert.is(accepted.data.status, 'ACCEPTED');
    assert.is(fake.listing('TYPO-SKU').complete, false);
    const item = await api.getListingsItem({ sellerId: SELLER, sku: 'TYPO-SKU', marketplaceIds: [US], includedData: ['summaries', 'issues'] });
    assert.equal(item.data.summaries?.[0]?.status, []);
    assert.is(item.data.issues?.[0]?.categories[0], 'MISSING_ATTRIBUTE');
    await rejects(fake.sellOnAmazon('TYPO-SKU', 1), /incomplete/);

    const missing = await sdkFailure(api.getListingsItem({ sellerId: SELLER, sku: 'NEVER-SEEN', marketplaceIds: [US] }));
    assert.is(missing.response?.status, 404);
    assert.is(firstError(missing.response?.data).code, 'NOT_FOUND');
  });
});

test('VALIDATION_PREVIEW answers VALID with identifiers and changes nothing; identifiers without it is a 400', async () => {
  await withFake({}, async ({ fake, api }) => {
    fake.addListing({ sku: 'PREVIEW', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 1, asin: 'B07N4M94X4' });
    const preview = await api.patchListingsItem({ sellerId: SELLER, sku: 'PREVIEW', marketplaceIds: [US], body: quantityPatch(50), mode: 'VALIDATION_PREVIEW', includedData: ['identifiers', 'issues'] });
    assert.is(preview.data.status, 'VALID');
    assert.equal(preview.data.identifiers, [{ marketplaceId: US, asin: 'B07N4M94X4' }]);
    assert.is(fake.quantity('PREVIEW'), 1);
    assert.equal(fake.acceptedPatches(), []);
    const error = await sdkFailure(api.patchListingsItem({ sellerId: SELLER, sku: 'PREVIEW', marketplaceIds: [US], body: quantityPatch(50), includedData: ['identifiers'] }));
    assert.is(error.response?.status, 400);
  });
});

test('an expired or missing access token gets 403 Unauthorized; a fresh token works again', async () => {
  await withFake({ tokenLifetimeSeconds: 60 }, async ({ fake, api, auth, clock }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    const before = await api.getListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US] });
    assert.is(before.status, 200);

    // Our token provider is told the token lives 60 s; the fake's clock moves past that
    // while the provider keeps using the old token, as one with a skewed clock would.
    const staleToken = await auth.getAccessToken();
    clock.advance(61_000);
    const staleApi = sdkClient(fake, new StaticTokenAuth(staleToken));
    const expired = await sdkFailure(staleApi.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(1) }));
    assert.is(expired.response?.status, 403);
    const error = firstError(expired.response?.data);
    assert.is(error.code, 'Unauthorized');
    assert.is(error.message, 'Access to requested resource is denied.');
    // amazon-sp-api refreshes on exactly this test.
    assert.match(String(error.details), /access token.*expired/);
    assert.is(expired.response?.headers['x-amzn-ratelimit-limit'], undefined);

    const noToken = await fetch(`${fake.url}/listings/2021-08-01/items/${SELLER}/GM-ZDPI-9B4E?marketplaceIds=${US}`);
    assert.is(noToken.status, 403);
    assert.is(firstError(await noToken.json()).code, 'Unauthorized');

    // The harness provider sees its own expiry (same clock) and fetches a new token.
    const after = await api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(2) });
    assert.is(after.data.status, 'ACCEPTED');
    assert.is(auth.tokenRequests, 2);

    fake.expireAccessTokens();
    const revoked = await sdkFailure(api.getListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US] }));
    assert.is(revoked.response?.status, 403);
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 2);
  });
});

test('a burst of 10 PATCHes at one instant: exactly 5 pass, 5 get 429 QuotaExceeded with x-amzn-RateLimit-Limit; the bucket refills at 5/s', async () => {
  await withFake({}, async ({ fake, api, auth, clock }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    await auth.getAccessToken();
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(index) })),
    );
    const throttled = results.flatMap((result) => (result.status === 'rejected' && result.reason instanceof SellingPartnerApiError ? [result.reason] : []));
    assert.is(results.filter((result) => result.status === 'fulfilled').length, 5);
    assert.is(throttled.length, 5);
    for (const error of throttled) {
      assert.is(error.response?.status, 429);
      assert.is(firstError(error.response?.data).code, 'QuotaExceeded');
      assert.is(error.response?.headers['x-amzn-ratelimit-limit'], '5');
    }
    assert.is(fake.acceptedPatches().length, 5);

    clock.advance(400); // 2 requests' worth of refill
    const refilled = await Promise.allSettled(
      Array.from({ length: 3 }, () => api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(1) })),
    );
    assert.equal(refilled.map((result) => result.status).sort(), ['fulfilled', 'fulfilled', 'rejected']);
    // getListingsItem has its own bucket (burst 10), untouched by the PATCH burst.
    const read = await api.getListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US] });
    assert.is(read.headers['x-amzn-ratelimit-limit'], '5');
  });
});

test('the SDK retry reads the fake x-amzn-RateLimit-Limit header and gets a throttled burst through', async () => {
  let rateLimits: Array<number | undefined> = [];
  await withFake(
    { now: Date.now },
    async ({ fake, api }) => {
      seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
      const results = await Promise.all(Array.from({ length: 7 }, (_, index) => api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(index) })));
      assert.ok(results.every((result) => result.data.status === 'ACCEPTED'));
      assert.is(fake.acceptedPatches().length, 7);
      assert.is(fake.requests().filter((entry) => entry.operation === 'patchListingsItem' && entry.outcome === 429).length, rateLimits.length);
    },
    { retryThrottled: true, onRetry: (rateLimit) => (rateLimits = [...rateLimits, rateLimit]) },
  );
  assert.ok(rateLimits.length >= 2, `retried ${rateLimits.length} times`);
  assert.ok(rateLimits.every((rateLimit) => rateLimit === 5));
});

// ---------------------------------------------------------------------------------------
// getListingsItem

test('GET returns fulfillmentAvailability only when includedData asks for it, for SKUs that need percent-encoding too', async () => {
  await withFake({}, async ({ fake, api }) => {
    const sku = 'SKU 1/ä#2';
    fake.addListing({ sku, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 4 });
    await api.patchListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], body: quantityPatch(21) });
    const withAvailability = await api.getListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], includedData: ['summaries', 'fulfillmentAvailability'] });
    assert.is(withAvailability.data.sku, sku);
    assert.equal(withAvailability.data.fulfillmentAvailability, [{ fulfillmentChannelCode: 'DEFAULT', quantity: 21 }]);
    assert.equal(withAvailability.data.summaries?.map((summary) => [summary.marketplaceId, summary.productType, summary.status]), [[US, 'LUGGAGE', ['BUYABLE', 'DISCOVERABLE']]]);

    const byDefault = await api.getListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US] });
    assert.is(byDefault.data.fulfillmentAvailability, undefined);
    assert.is(byDefault.data.summaries?.length, 1);

    const attributes = await api.getListingsItem({ sellerId: SELLER, sku, marketplaceIds: [US], includedData: ['attributes'] });
    assert.equal(attributes.data.attributes, { fulfillment_availability: [{ fulfillment_channel_code: 'DEFAULT', quantity: 21, marketplace_id: US }] });
    assert.is(fake.requests().filter((entry) => entry.path.includes('SKU%201%2F%C3%A4%232')).length, 4);
  });
});

test('with processing delay, GET right after an ACCEPTED PATCH still shows the old quantity until the patch is processed', async () => {
  await withFake({ processingDelayMs: 60_000 }, async ({ fake, api }) => {
    seedLuggage(fake, 'SLOW', 10);
    const accepted = await api.patchListingsItem({ sellerId: SELLER, sku: 'SLOW', marketplaceIds: [US], body: quantityPatch(0) });
    assert.is(accepted.data.status, 'ACCEPTED');
    const readBack = await api.getListingsItem({ sellerId: SELLER, sku: 'SLOW', marketplaceIds: [US], includedData: ['fulfillmentAvailability'] });
    assert.equal(readBack.data.fulfillmentAvailability, [{ fulfillmentChannelCode: 'DEFAULT', quantity: 10 }]);
    assert.is(fake.acceptedPatches()[0]?.appliedAtMs, undefined);
    assert.is(fake.processQueuedPatches(), 1);
    assert.is(fake.quantity('SLOW'), 0);
  });
});

// ---------------------------------------------------------------------------------------
// Notifications over SQS (fauxqs)

test('the official schema examples pass the vendored validators, and a builder refuses a payload the schema rejects', () => {
  for (const type of ['ORDER_CHANGE', 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE'] as const) {
    const examples = notificationSchemaExamples(type);
    assert.ok(examples.length > 0, type);
    for (const example of examples) assert.ok(notificationValidator(type)(example), type);
  }
  const envelope = { applicationId: 'amzn1.sellerapps.app.test', subscriptionId: 'sub-1', eventTime: new Date(START_MS) };
  assert.throws(() => buildMfnQuantityChangeNotification({ SellerId: SELLER, FulfillmentChannelCode: 'DEFAULT', Sku: 'X', Quantity: 1.5 }, envelope), /Payload\/Quantity must be integer/);
  const fbaSchema = notificationValidator('FBA_INVENTORY_AVAILABILITY_CHANGES');
  assert.not.ok(fbaSchema({ NotificationType: 'FBA_INVENTORY_AVAILABILITY_CHANGES', Payload: { SellerId: SELLER } }));
});

test('a storefront sale of an MFN SKU decrements at once and publishes ORDER_CHANGE and the MFN quantity change to SQS', async () => {
  const { queueUrl, destination } = await newQueue('sale-mfn');
  await withFake({ sqs: destination }, async ({ fake }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    const sale = fake.sellOnAmazon('GM-ZDPI-9B4E', 3);
    assert.is(fake.quantity('GM-ZDPI-9B4E'), 7, 'decremented before the promise settles');
    const result = await sale;
    assert.is(result.remaining, 7);
    await rejects(fake.sellOnAmazon('GM-ZDPI-9B4E', 8), /would not sell/);

    const received = await receive(queueUrl, 2);
    for (const message of received) assertOfficialSchema(message.body);
    const orderChange = received.find((message) => message.body['NotificationType'] === 'ORDER_CHANGE');
    const quantityChange = received.find((message) => message.body['NotificationType'] === 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE');
    if (!orderChange || !quantityChange) throw new Error('missing a notification type');
    const order = payloadOf(orderChange.body)['OrderChangeNotification'];
    assert.ok(isRecord(order));
    assert.is(order['AmazonOrderId'], result.amazonOrderId);
    assert.is(order['SellerId'], SELLER);
    const summary = order['Summary'];
    assert.ok(isRecord(summary));
    assert.is(summary['FulfillmentType'], 'MFN');
    assert.is(summary['MarketplaceId'], US);
    assert.equal(summary['OrderItems'], [{ OrderItemId: result.orderItemId, SellerSKU: 'GM-ZDPI-9B4E', SupplySourceId: null, Quantity: 3, OrderItemStatus: 'Unshipped', QuantityShipped: 0 }]);
    assert.equal(payloadOf(quantityChange.body), { SellerId: SELLER, FulfillmentChannelCode: 'DEFAULT', Sku: 'GM-ZDPI-9B4E', Quantity: 7 });
    assert.equal(Object.keys(metadataOf(orderChange.body)).sort(), ['ApplicationId', 'NotificationId', 'PublishTime', 'SubscriptionId']);
    assert.equal(Object.keys(orderChange.body).sort(), ['EventTime', 'NotificationMetadata', 'NotificationType', 'NotificationVersion', 'Payload', 'PayloadVersion']);
  });
});

test('an accepted PATCH that changes the DEFAULT quantity is echoed as LISTINGS_ITEM_MFN_QUANTITY_CHANGE', async () => {
  const { queueUrl, destination } = await newQueue('patch-echo');
  await withFake({ sqs: destination }, async ({ fake, api }) => {
    seedLuggage(fake, 'ECHO', 10);
    await api.patchListingsItem({ sellerId: SELLER, sku: 'ECHO', marketplaceIds: [US], body: quantityPatch(4) });
    await api.patchListingsItem({ sellerId: SELLER, sku: 'ECHO', marketplaceIds: [US], body: quantityPatch(4) }); // no change, no echo
    await fake.idle();
    const [echo] = await receive(queueUrl, 1);
    assert.ok(echo);
    assertOfficialSchema(echo.body);
    assert.is(payloadOf(echo.body)['Quantity'], 4);
  });
});

test('a duplicate carries the same NotificationId; a delayed notification is overtaken by a later one', async () => {
  const { queueUrl, destination } = await newQueue('duplicates');
  await withFake({ sqs: destination }, async ({ fake }) => {
    seedLuggage(fake, 'DUP', 5);
    const published = await fake.publishMfnQuantityChange('DUP', { duplicates: 1 });
    assert.is(published.status, 'sent');
    assert.is(published.sqsMessageIds.length, 2);
    const copies = await receive(queueUrl, 2);
    assert.is.not(copies[0]?.messageId, copies[1]?.messageId);
    assert.is(metadataOf(copies[0]?.body ?? {})['NotificationId'], metadataOf(copies[1]?.body ?? {})['NotificationId']);
    assert.is(metadataOf(copies[0]?.body ?? {})['NotificationId'], published.notification.NotificationMetadata.NotificationId);

    const late = fake.publishMfnQuantityChange('DUP', { delayMs: 60_000 });
    late.catch(() => undefined); // settled by close() below
    await fake.setMfnQuantity('DUP', 2);
    const [overtaking] = await receive(queueUrl, 1);
    assert.is(payloadOf(overtaking?.body ?? {})['Quantity'], 2);
    assert.equal(fake.notifications().map((entry) => entry.status), ['sent', 'pending', 'sent']);

    const shortDelay = await fake.publishMfnQuantityChange('DUP', { delayMs: 50, notificationId: 'fixed-id-1' });
    assert.is(shortDelay.status, 'sent');
    const [delayed] = await receive(queueUrl, 1);
    assert.is(metadataOf(delayed?.body ?? {})['NotificationId'], 'fixed-id-1');
  });
});

test('apply lag: buyers keep buying at the old quantity until an accepted PATCH takes effect; then GET shows it and the MFN quantity change goes out', async () => {
  const { queueUrl, destination } = await newQueue('apply-lag');
  await withFake({ sqs: destination, applyLag: 300 }, async ({ fake, api }) => {
    seedLuggage(fake, 'LAGGED', 10);
    const accepted = await api.patchListingsItem({ sellerId: SELLER, sku: 'LAGGED', marketplaceIds: [US], body: quantityPatch(2) });
    assert.is(accepted.data.status, 'ACCEPTED');
    // Amazon still sells from the old 10: a buyer takes 6, more than the pushed 2.
    const sale = await fake.sellOnAmazon('LAGGED', 6);
    assert.is(sale.remaining, 4);
    const readBack = await api.getListingsItem({ sellerId: SELLER, sku: 'LAGGED', marketplaceIds: [US], includedData: ['fulfillmentAvailability'] });
    assert.equal(readBack.data.fulfillmentAvailability, [{ fulfillmentChannelCode: 'DEFAULT', quantity: 4 }], 'GET shows the quantity in effect, not the pending one');
    const beforeApply = await receive(queueUrl, 2); // the sale's ORDER_CHANGE and its quantity change (4)
    assert.equal(beforeApply.map((message) => message.body['NotificationType']).sort(), ['LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'ORDER_CHANGE']);
    assert.equal(beforeApply.filter((message) => message.body['NotificationType'] === 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE').map((message) => payloadOf(message.body)['Quantity']), [4]);
    assert.is(fake.acceptedPatches()[0]?.appliedAtMs, undefined);

    await new Promise((resolve) => setTimeout(resolve, 400));
    await fake.idle();
    assert.ok(fake.acceptedPatches()[0]?.appliedAtMs !== undefined, 'applied once its lag passed');
    assert.is(fake.quantity('LAGGED'), 2, 'the absolute write overwrote what Amazon had left (no compare-and-set)');
    const [applied] = await receive(queueUrl, 1);
    assert.ok(applied);
    assertOfficialSchema(applied.body);
    assert.is(applied.body['NotificationType'], 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE');
    assert.is(payloadOf(applied.body)['Quantity'], 2);
    await rejects(fake.sellOnAmazon('LAGGED', 3), /would not sell 3/);
  });
});

test('apply lag drawn from a range: patches of one SKU still take effect in the order they were accepted', async () => {
  await withFake({ applyLag: { minMs: 0, maxMs: 200, seed: 7 } }, async ({ fake, api }) => {
    seedLuggage(fake, 'ORDERED', 10);
    for (const quantity of [9, 8, 7, 6, 5]) await api.patchListingsItem({ sellerId: SELLER, sku: 'ORDERED', marketplaceIds: [US], body: quantityPatch(quantity) });
    await new Promise((resolve) => setTimeout(resolve, 450));
    assert.is(fake.quantity('ORDERED'), 5);
    const applied = fake.acceptedPatches().map((entry) => entry.appliedAtMs);
    assert.ok(applied.every((at) => at !== undefined));
  });
  await rejects(startAmazonFake({ ...LWA, sellerId: SELLER, applyLag: 5, processingDelayMs: 5 }), /not both/);
  await rejects(startAmazonFake({ ...LWA, sellerId: SELLER, applyLag: { minMs: 10, maxMs: 5 } }), /maxMs/);
});

test('delivery lag: ORDER_CHANGE arrives after its lag, the sale resolves at once with the notification pending, and EventTime stays the sale time', async () => {
  const { queueUrl, destination } = await newQueue('delivery-lag');
  await withFake({ sqs: destination, deliveryLag: { ORDER_CHANGE: { minMs: 300, maxMs: 300 } }, notifyQuantityChanges: false }, async ({ fake, clock }) => {
    seedLuggage(fake, 'LATE', 10);
    const saleAtMs = clock.now();
    const started = Date.now();
    const sale = await fake.sellOnAmazon('LATE', 1);
    assert.ok(Date.now() - started < 250, 'the sale does not wait for its notification');
    assert.equal(sale.notifications.map((entry) => entry.status), ['pending']);
    if (!sqs) throw new Error('fauxqs is not running');
    const early = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
    assert.is(early.Messages?.length ?? 0, 0, 'nothing on the queue before the lag');
    await fake.idle();
    assert.ok(Date.now() - started >= 290, 'idle() waited for the lagged notification');
    assert.equal(sale.notifications.map((entry) => entry.status), ['sent']);
    const [orderChange] = await receive(queueUrl, 1);
    assert.ok(orderChange);
    assertOfficialSchema(orderChange.body);
    assert.is(orderChange.body['EventTime'], new Date(saleAtMs).toISOString());
    // An explicit delayMs wins over the configured lag.
    const quick = await fake.publishOrderChange(payloadOf(orderChange.body) as never, { delayMs: 0 });
    assert.is(quick.status, 'sent');
    await receive(queueUrl, 1);
  });
});

test('FBA: a sale publishes ORDER_CHANGE (AFN) and an FBA_INVENTORY_AVAILABILITY_CHANGES snapshot, both schema-valid', async () => {
  const { queueUrl, destination } = await newQueue('fba');
  await withFake({ sqs: destination }, async ({ fake }) => {
    fake.addListing({ sku: 'FBA-2', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'FBA', quantity: 40, asin: 'B071VG5N9D', fnSku: 'X001ABCDEF' });
    const sale = await fake.sellOnAmazon('FBA-2', 2, { fulfillment: 'FBA' });
    assert.is(sale.remaining, 38);
    const received = await receive(queueUrl, 2);
    for (const message of received) assertOfficialSchema(message.body);
    const inventory = received.find((message) => message.body['NotificationType'] === 'FBA_INVENTORY_AVAILABILITY_CHANGES');
    if (!inventory) throw new Error('no FBA_INVENTORY_AVAILABILITY_CHANGES');
    const payload = payloadOf(inventory.body);
    assert.is(payload['FNSKU'], 'X001ABCDEF');
    const [marketplace] = Array.isArray(payload['FulfillmentInventoryByMarketplace']) ? payload['FulfillmentInventoryByMarketplace'] : [];
    assert.ok(isRecord(marketplace) && isRecord(marketplace['FulfillmentInventory']));
    assert.is(marketplace['FulfillmentInventory']['Fulfillable'], 38);
    const orderChange = received.find((message) => message.body['NotificationType'] === 'ORDER_CHANGE');
    const order = orderChange ? payloadOf(orderChange.body)['OrderChangeNotification'] : undefined;
    assert.ok(isRecord(order) && isRecord(order['Summary']) && order['Summary']['FulfillmentType'] === 'AFN');
  });
});

// ---------------------------------------------------------------------------------------
// Faults

test('injected 503, 500 and connection reset reach the SDK as errors; a timeout never answers', async () => {
  await withFake({}, async ({ fake, api, auth }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    await auth.getAccessToken();
    const request = () => api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(1) });

    fake.injectFault({ kind: 'serverError', operations: ['patchListingsItem'] });
    const unavailable = await sdkFailure(request());
    assert.is(unavailable.response?.status, 503);
    assert.is(firstError(unavailable.response?.data).code, 'ServiceUnavailable');

    fake.injectFault({ kind: 'serverError', status: 500 });
    const internal = await sdkFailure(request());
    assert.is(internal.response?.status, 500);
    assert.is(firstError(internal.response?.data).code, 'InternalFailure');

    fake.injectFault({ kind: 'reset' });
    const reset = await sdkFailure(request());
    assert.is(reset.response, undefined);
    assert.is(reset.code, 'ECONNRESET');

    fake.injectFault({ kind: 'timeout' });
    const timedOut = await sdkFailure(api.patchListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US], body: quantityPatch(1) }, { timeout: 200 }));
    assert.is(timedOut.response, undefined);
    assert.is(timedOut.code, 'ECONNABORTED');

    assert.is(fake.quantity('GM-ZDPI-9B4E'), 10, 'no faulted request was applied');
    const patchOutcomes = fake.requests().filter((entry) => entry.operation === 'patchListingsItem').map((entry) => entry.outcome);
    assert.equal(patchOutcomes, [503, 500, 'reset', 'timeout']);
    const after = await request();
    assert.is(after.data.status, 'ACCEPTED');
  });
});

test('a 429 storm for N requests, a fault rate drawn from the random source, latency as a lower bound, and an LWA outage', async () => {
  const draws = [0.9, 0.1, 0.9, 0.1];
  await withFake({ now: Date.now, random: () => draws.shift() ?? 0.9 }, async ({ fake, api, auth }) => {
    seedLuggage(fake, 'GM-ZDPI-9B4E', 10);
    await auth.getAccessToken();
    const get = () => api.getListingsItem({ sellerId: SELLER, sku: 'GM-ZDPI-9B4E', marketplaceIds: [US] });

    fake.injectFault({ kind: 'throttle', times: 2, operations: ['getListingsItem'] });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const throttled = await sdkFailure(get());
      assert.is(throttled.response?.status, 429);
      assert.is(throttled.response?.headers['x-amzn-ratelimit-limit'], '5');
    }
    assert.is((await get()).status, 200);

    const rateRule = fake.injectFault({ kind: 'serverError', rate: 0.5, operations: ['getListingsItem'] });
    const outcomes: Array<number | undefined> = [];
    for (let attempt = 0; attempt < 4; attempt += 1) {
      outcomes.push(await get().then((response) => response.status, (error: unknown) => (error instanceof SellingPartnerApiError ? error.response?.status : -1)));
    }
    assert.equal(outcomes, [200, 503, 200, 503]);
    assert.ok(fake.removeFault(rateRule));

    fake.injectFault({ kind: 'latency', latencyMs: 150 });
    const started = performance.now();
    assert.is((await get()).status, 200);
    assert.ok(performance.now() - started >= 145, 'answered no sooner than the injected latency');

    fake.injectFault({ kind: 'serverError', operations: ['lwaToken'] });
    auth.forget();
    await rejects(auth.getAccessToken(), /LWA answered 503/);
  });
});

// ---------------------------------------------------------------------------------------
// Long runs: SQS batching and capped logs

interface BatchFailure {
  Code: string;
  SenderFault: boolean;
}

interface SqsProxy {
  endpoint: string;
  /** X-Amz-Target of every request, e.g. AmazonSQS.SendMessageBatch. */
  targets: string[];
  /** Entries per SendMessageBatch request, as the fake sent them. */
  batchSizes: number[];
  /** The message bodies of every SendMessageBatch request, in order. */
  batches: string[][];
  close(): Promise<void>;
}

interface BatchEntry {
  Id: string;
  MessageBody: string;
}

function isBatchEntry(value: unknown): value is BatchEntry {
  return isRecord(value) && typeof value['Id'] === 'string' && typeof value['MessageBody'] === 'string';
}

/**
 * A pass-through proxy in front of fauxqs that records what the fake sends. `tamper` can
 * answer an entry of a SendMessageBatch as Failed instead (that entry never reaches the queue).
 */
async function sqsProxy(tamper?: (entry: BatchEntry) => BatchFailure | undefined): Promise<SqsProxy> {
  if (!fauxqs) throw new Error('fauxqs is not running');
  const upstream = `http://127.0.0.1:${fauxqs.port}`;
  const targets: string[] = [];
  const batchSizes: number[] = [];
  const batches: string[][] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      void (async () => {
        const target = String(request.headers['x-amz-target'] ?? '');
        targets.push(target);
        let body = Buffer.concat(chunks).toString('utf8');
        const failed: Array<BatchFailure & { Id: string; Message: string }> = [];
        let forwardedEntries = 1;
        if (target === 'AmazonSQS.SendMessageBatch') {
          const parsed: unknown = JSON.parse(body);
          if (!isRecord(parsed) || !Array.isArray(parsed['Entries'])) throw new Error('SendMessageBatch without Entries');
          const entries = parsed['Entries'].filter(isBatchEntry);
          batchSizes.push(entries.length);
          batches.push(entries.map((entry) => entry.MessageBody));
          const forwarded = entries.filter((entry) => {
            const failure = tamper?.(entry);
            if (failure) failed.push({ Id: entry.Id, ...failure, Message: 'injected by the test proxy' });
            return !failure;
          });
          forwardedEntries = forwarded.length;
          body = JSON.stringify({ ...parsed, Entries: forwarded });
        }
        let status = 200;
        let contentType = 'application/x-amz-json-1.0';
        let answer: Record<string, unknown> = { Successful: [], Failed: [] };
        if (forwardedEntries > 0) {
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(request.headers)) {
            if (typeof value === 'string' && !['host', 'content-length', 'connection', 'transfer-encoding'].includes(name)) headers[name] = value;
          }
          const upstreamResponse = await fetch(`${upstream}${request.url ?? '/'}`, { method: request.method ?? 'POST', headers, body });
          status = upstreamResponse.status;
          contentType = upstreamResponse.headers.get('content-type') ?? contentType;
          const parsedAnswer: unknown = JSON.parse(await upstreamResponse.text());
          if (!isRecord(parsedAnswer)) throw new Error('fauxqs answered a non-object');
          answer = parsedAnswer;
        }
        if (failed.length > 0) answer = { ...answer, Failed: [...(Array.isArray(answer['Failed']) ? answer['Failed'] : []), ...failed] };
        response.writeHead(status, { 'content-type': contentType }).end(JSON.stringify(answer));
      })().catch((error: unknown) => {
        response.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ __type: 'InternalError', message: String(error) }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    targets,
    batchSizes,
    batches,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Receives (and deletes) every message until `count` have arrived, then checks nothing more is waiting. */
async function receiveAll(queueUrl: string, count: number): Promise<ReceivedNotification[]> {
  if (!sqs) throw new Error('fauxqs is not running');
  const received: ReceivedNotification[] = [];
  for (let poll = 0; poll < count / 10 + 20 && received.length < count; poll += 1) {
    const output = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const message of output.Messages ?? []) {
      const body: unknown = JSON.parse(message.Body ?? 'null');
      if (!isRecord(body) || !message.MessageId) throw new Error(`unexpected SQS message ${message.Body}`);
      received.push({ messageId: message.MessageId, body });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  // Every send has settled by now, so a short poll sees anything left over.
  const extra = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
  assert.is(received.length + (extra.Messages?.length ?? 0), count, `received ${received.length + (extra.Messages?.length ?? 0)} messages, expected ${count}`);
  return received;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

test('notifications go out in SendMessageBatch requests of at most 10, and every copy arrives exactly once', async () => {
  const { queueUrl, destination } = await newQueue('batching');
  const proxy = await sqsProxy();
  try {
    await withFake({ sqs: { ...destination, endpoint: proxy.endpoint }, now: Date.now }, async ({ fake }) => {
      seedLuggage(fake, 'BATCH', 10_000);
      const sales = Array.from({ length: 120 }, (_, index) =>
        fake.sellOnAmazon('BATCH', 1, { publish: { duplicates: index % 4 === 0 ? 1 : 0, delayMs: index % 3 === 0 ? (index % 7) * 5 : 0 } }),
      );
      const extras = Array.from({ length: 15 }, (_, index) => fake.publishMfnQuantityChange('BATCH', { duplicates: 2, notificationId: `extra-${index}` }));
      assert.is(fake.quantity('BATCH'), 10_000 - 120, 'every sale decremented at once');
      const results = await Promise.all(sales);
      const published = await Promise.all(extras);
      await fake.idle();

      // 120 ORDER_CHANGE (30 of them twice), 120 quantity changes, 15 extra notifications three times each.
      const expected = new Map<string, number>();
      for (const [index, result] of results.entries()) {
        const [orderChange, quantityChange] = result.notifications;
        if (!orderChange || !quantityChange) throw new Error('a sale publishes two notifications');
        assert.is(orderChange.status, 'sent');
        assert.is(quantityChange.status, 'sent');
        assert.is(orderChange.sqsMessageIds.length, index % 4 === 0 ? 2 : 1);
        expected.set(orderChange.notification.NotificationMetadata.NotificationId, index % 4 === 0 ? 2 : 1);
        expected.set(quantityChange.notification.NotificationMetadata.NotificationId, 1);
      }
      for (const entry of published) {
        assert.is(entry.status, 'sent');
        assert.is(entry.sqsMessageIds.length, 3);
        expected.set(entry.notification.NotificationMetadata.NotificationId, 3);
      }
      const total = [...expected.values()].reduce((sum, copies) => sum + copies, 0);
      assert.is(total, 120 + 30 + 120 + 45);

      const received = await receiveAll(queueUrl, total);
      assert.equal(countBy(received, (message) => String(metadataOf(message.body)['NotificationId'])), expected, 'each notification arrived exactly as many times as it was sent');
      assert.is(new Set(received.map((message) => message.messageId)).size, total, 'every copy is its own SQS message');
      for (const message of received.slice(0, 5)) assertOfficialSchema(message.body);

      assert.not.ok(proxy.targets.includes('AmazonSQS.SendMessage'), 'no single SendMessage');
      assert.ok(proxy.batchSizes.every((size) => size >= 1 && size <= 10), `batch sizes ${proxy.batchSizes.join(',')}`);
      assert.is(proxy.batchSizes.reduce((sum, size) => sum + size, 0), total);
      assert.ok(proxy.batchSizes.length <= total / 3, `${proxy.batchSizes.length} SendMessageBatch requests for ${total} messages`);
      assert.ok(fake.notifications().every((entry) => entry.status === 'sent'));
    });
  } finally {
    await proxy.close();
  }
});

test('a batch entry SQS fails server-side is sent again; a sender fault, or a server fault that persists, rejects that publish alone', async () => {
  const { queueUrl, destination } = await newQueue('batch-failures');
  const seen = new Map<string, number>();
  const proxy = await sqsProxy((entry) => {
    const id = String(metadataOf(JSON.parse(entry.MessageBody) as Record<string, unknown>)['NotificationId']);
    seen.set(id, (seen.get(id) ?? 0) + 1);
    if (id === 'flaky' && seen.get(id) === 1) return { Code: 'InternalError', SenderFault: false };
    if (id === 'sender-fault') return { Code: 'InvalidMessageContents', SenderFault: true };
    if (id === 'always-down') return { Code: 'ServiceUnavailable', SenderFault: false };
    return undefined;
  });
  try {
    await withFake({ sqs: { ...destination, endpoint: proxy.endpoint }, now: Date.now }, async ({ fake }) => {
      seedLuggage(fake, 'FAIL', 10);
      const publish = (notificationId: string) => fake.publishMfnQuantityChange('FAIL', { notificationId });
      const outcomes = await Promise.allSettled(['ok-1', 'flaky', 'sender-fault', 'always-down', 'ok-2'].map(publish));
      assert.equal(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled']);
      assert.is(proxy.batchSizes[0], 5, 'all five went out in one batch');
      assert.is(seen.get('flaky'), 2, 'the failed entry was sent again');
      assert.is(seen.get('sender-fault'), 1, 'a sender fault is not retried');
      assert.is(seen.get('always-down'), 3, 'a server fault is retried up to maxAttempts (3)');

      const statuses = new Map(fake.notifications().map((entry) => [entry.notification.NotificationMetadata.NotificationId, entry]));
      assert.is(statuses.get('flaky')?.status, 'sent');
      assert.is(statuses.get('sender-fault')?.status, 'failed');
      assert.match(statuses.get('sender-fault')?.error ?? '', /InvalidMessageContents/);
      assert.is(statuses.get('always-down')?.status, 'failed');
      assert.match(statuses.get('always-down')?.error ?? '', /after 3 attempt\(s\): ServiceUnavailable/);
      const rejected = outcomes[2];
      assert.ok(rejected?.status === 'rejected' && rejected.reason instanceof Error && /publishing LISTINGS_ITEM_MFN_QUANTITY_CHANGE sender-fault failed/.test(rejected.reason.message));

      const received = await receiveAll(queueUrl, 3);
      assert.equal(received.map((message) => String(metadataOf(message.body)['NotificationId'])).sort(), ['flaky', 'ok-1', 'ok-2']);
    });
  } finally {
    await proxy.close();
  }
});

test('idle() waits for delayed and batched notifications; sqsBatch: false sends one SendMessage per copy', async () => {
  const { queueUrl, destination } = await newQueue('idle-and-unbatched');
  const proxy = await sqsProxy();
  try {
    await withFake({ sqs: { ...destination, endpoint: proxy.endpoint }, now: Date.now }, async ({ fake }) => {
      seedLuggage(fake, 'IDLE', 10);
      const pending = fake.publishMfnQuantityChange('IDLE', { delayMs: 150, duplicates: 1 });
      const sale = fake.sellOnAmazon('IDLE', 1);
      await fake.idle();
      assert.equal(fake.notifications().map((entry) => entry.status), ['sent', 'sent', 'sent']);
      assert.is((await pending).sqsMessageIds.length, 2);
      await sale;
      await receiveAll(queueUrl, 4);
    });
    const batchedRequests = proxy.targets.filter((target) => target === 'AmazonSQS.SendMessageBatch').length;
    assert.ok(batchedRequests >= 1);

    await withFake({ sqs: { ...destination, endpoint: proxy.endpoint }, now: Date.now, sqsBatch: false }, async ({ fake }) => {
      seedLuggage(fake, 'SINGLE', 10);
      const published = await fake.publishMfnQuantityChange('SINGLE', { duplicates: 2 });
      assert.is(published.sqsMessageIds.length, 3);
      await receiveAll(queueUrl, 3);
    });
    assert.is(proxy.targets.filter((target) => target === 'AmazonSQS.SendMessage').length, 3);
    assert.is(proxy.targets.filter((target) => target === 'AmazonSQS.SendMessageBatch').length, batchedRequests, 'no batch once batching is off');
  } finally {
    await proxy.close();
  }
});

test('notificationLogLimit, submissionLogLimit and requestLogLimit keep the newest entries; SKU lookups are per marketplace', async () => {
  await withFake({ notificationLogLimit: 8, submissionLogLimit: 4, requestLogLimit: 4 }, async ({ fake, api, clock }) => {
    seedLuggage(fake, 'LOGS', 1000);
    for (let index = 0; index < 30; index += 1) await fake.sellOnAmazon('LOGS', 1);
    const notifications = fake.notifications();
    assert.ok(notifications.length >= 8 && notifications.length <= 10, `notifications kept: ${notifications.length}`);
    assert.ok(notifications.every((entry) => entry.status === 'not-sent'), 'no SQS destination: built and logged only');
    const last = notifications.at(-1)?.notification;
    assert.ok(last?.NotificationType === 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE' && last.Payload.Sku === 'LOGS' && last.Payload.Quantity === 970, 'the newest is kept');

    for (let quantity = 1; quantity <= 12; quantity += 1) {
      clock.advance(1000);
      const answer = await api.patchListingsItem({ sellerId: SELLER, sku: 'LOGS', marketplaceIds: [US], body: quantityPatch(quantity) });
      assert.is(answer.data.status, 'ACCEPTED');
    }
    const submissions = fake.submissions();
    assert.ok(submissions.length >= 4 && submissions.length <= 5, `submissions kept: ${submissions.length}`);
    assert.equal(
      submissions.map((entry) => entry.patches[0]?.value?.[0]?.['quantity']),
      Array.from({ length: submissions.length }, (_, index) => 13 - submissions.length + index),
    );
    assert.equal(fake.acceptedPatches().map((entry) => entry.submissionId), submissions.map((entry) => entry.submissionId));
    const requests = fake.requests();
    assert.ok(requests.length >= 4 && requests.length <= 5, `requests kept: ${requests.length}`);
    assert.ok(requests.every((entry) => entry.operation === 'patchListingsItem' && entry.outcome === 200));
    assert.is(fake.quantity('LOGS'), 12);

    fake.addListing({ sku: 'TWICE', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 3 });
    fake.addListing({ sku: 'TWICE', marketplaceId: 'A2EUQ1WTGCTBG2', productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 4 });
    assert.throws(() => fake.quantity('TWICE'), /listed in several marketplaces/);
    assert.is(fake.quantity('TWICE', { marketplaceId: 'A2EUQ1WTGCTBG2' }), 4);
    assert.is(fake.quantity('TWICE', { marketplaceId: US }), 3);
    assert.throws(() => fake.quantity('TWICE', { marketplaceId: 'A1F83G8C2ARO7P' }), /no listing for SKU "TWICE" in A1F83G8C2ARO7P/);
    assert.throws(() => fake.quantity('NEVER'), /no listing for SKU "NEVER"/);
  });
  try {
    await startAmazonFake({ ...LWA, sellerId: SELLER, submissionLogLimit: 1.5 });
    assert.unreachable('a fractional limit is refused');
  } catch (error) {
    assert.match(error instanceof Error ? error.message : String(error), /submissionLogLimit must be a whole number >= 0/);
  }
});

test.run();
