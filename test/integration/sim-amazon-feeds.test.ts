// The fake Feeds API 2021-06-30 (JSON_LISTINGS_FEED) through the client the daemon uses,
// @sp-api-sdk/feeds-api-2021-06-30, plus plain HTTP for the presigned document URLs:
// requests, uploaded documents and the processing report as Amazon's models describe them.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, FeedsApi } from '@sp-api-sdk/feeds-api-2021-06-30';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LwaTokenProvider } from '../../src/pushers/lwa.ts';
import { listingsFeedValidators } from '../../src/sim/amazon/feedSchemas.ts';
import { type AmazonFake, type FeedFakeOptions, type FeedReport, startAmazonFake } from '../../src/sim/amazon/index.ts';
import { eventually } from '../helpers/pushers.ts';

const test = suite('Amazon Feeds API fake');
const LWA = { clientId: 'amzn1.application-oa2-client.feeds', clientSecret: 'lwa-feeds-secret', refreshToken: 'Atzr|feeds-refresh' };
const SELLER = 'A3TH9S8BH6GOGM';
const US = 'ATVPDKIKX0DER';
const CONTENT_TYPE = 'application/json; charset=UTF-8';

async function withFeeds(feeds: FeedFakeOptions, run: (fake: AmazonFake, api: FeedsApi) => Promise<void>, now?: () => number): Promise<void> {
  const fake = await startAmazonFake({ ...LWA, sellerId: SELLER, notifyQuantityChanges: false, feeds, ...(now ? { now } : {}) });
  try {
    const auth = new LwaTokenProvider({ ...LWA, tokenUrl: fake.lwaTokenUrl }, { timeoutMs: 5_000 });
    const { axios } = createAxiosInstance({ auth, region: 'na' }, clientRateLimits);
    await run(fake, new FeedsApi(undefined, fake.url, axios));
    assert.equal(fake.modelViolations(), []);
  } finally {
    await fake.close();
  }
}

const quantityPatch = (quantity: unknown) => [{ op: 'merge', path: '/attributes/fulfillment_availability', value: [{ fulfillment_channel_code: 'DEFAULT', quantity }] }];

/** Uploads `document` as a new feed document and creates the feed; returns the feed id. */
async function submit(api: FeedsApi, document: unknown, marketplaceIds = [US]): Promise<string> {
  const created = await api.createFeedDocument({ body: { contentType: CONTENT_TYPE } });
  const upload = await fetch(created.data.url, { method: 'PUT', headers: { 'content-type': CONTENT_TYPE }, body: JSON.stringify(document) });
  assert.is(upload.status, 200);
  const feed = await api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', marketplaceIds, inputFeedDocumentId: created.data.feedDocumentId } });
  assert.is(feed.status, 202);
  return feed.data.feedId;
}

/** Waits on the fake's own record (polling getFeed every few ms would exceed its 2 requests/s), then reads the feed once. */
async function settled(fake: AmazonFake, api: FeedsApi, feedId: string) {
  await eventually(() => fake.feeds.feeds().find((feed) => feed.feedId === feedId)?.status, (status) => status !== 'IN_QUEUE' && status !== 'IN_PROGRESS', `feed ${feedId} to end`, 10_000);
  return (await api.getFeed({ feedId })).data;
}

async function reportOf(fake: AmazonFake, api: FeedsApi, feedId: string): Promise<FeedReport> {
  const feed = await settled(fake, api, feedId);
  assert.is(feed.processingStatus, 'DONE');
  assert.ok(feed.resultFeedDocumentId, 'a DONE feed names its processing report');
  const document = (await api.getFeedDocument({ feedDocumentId: feed.resultFeedDocumentId })).data;
  assert.is(document.compressionAlgorithm, 'GZIP');
  const raw = Buffer.from(await (await fetch(document.url)).arrayBuffer());
  return JSON.parse(gunzipSync(raw).toString('utf8')) as FeedReport;
}

async function refusal(call: () => Promise<unknown>): Promise<{ status: number | undefined; data: unknown }> {
  try {
    await call();
  } catch (error) {
    if (error instanceof SellingPartnerApiError) return { status: error.response?.status, data: error.response?.data };
    throw error;
  }
  throw new Error('the call succeeded');
}

test('the vendored example document passes the vendored schema (the validator is the official one)', () => {
  // A sanity check of the split validators against Amazon's own example.
  const validators = listingsFeedValidators();
  const example: unknown = JSON.parse(readExample());
  assert.ok(validators.full(example));
  assert.ok(validators.document(example));
});

test('a feed goes IN_QUEUE → IN_PROGRESS → DONE; valid messages change Amazon only when it is processed, refused ones are reported by messageId with their codes', async () => {
  await withFeeds({ processingDelayMs: 600 }, async (fake, api) => {
    for (const sku of ['S-1', 'S-2', 'S-3', 'S-4']) fake.addListing({ sku, marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 1 });
    fake.addListing({ sku: 'S-FBA', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'FBA', quantity: 9 });
    const feedId = await submit(api, {
      header: { sellerId: SELLER, version: '2.0', issueLocale: 'en_US' },
      messages: [
        { messageId: 1, sku: 'S-1', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(11) },
        // The wrong product type for the listing: refused (90000900), nothing applied.
        { messageId: 2, sku: 'S-2', operationType: 'PATCH', productType: 'SHOES', patches: quantityPatch(12) },
        // A negative quantity: refused by the listing rules.
        { messageId: 3, sku: 'S-3', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(-3) },
        // PATCH without patches: outside the message schema (4002008).
        { messageId: 4, sku: 'S-4', operationType: 'PATCH', productType: 'LUGGAGE' },
        // A seller quantity on an FBA offer: refused, the FBA stock untouched.
        { messageId: 5, sku: 'S-FBA', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(4) },
        { messageId: 6, sku: 'S-4', operationType: 'PARTIAL_UPDATE', productType: 'LUGGAGE', attributes: { fulfillment_availability: [{ fulfillment_channel_code: 'DEFAULT', quantity: 14 }] } },
      ],
    });
    assert.is((await api.getFeed({ feedId })).data.processingStatus, 'IN_QUEUE');
    assert.is(fake.quantity('S-1'), 1, 'nothing applied before processing');
    await eventually(() => fake.feeds.feeds()[0]?.status, (status) => status !== 'IN_QUEUE', 'IN_PROGRESS', 5_000);
    const report = await reportOf(fake, api, feedId);
    assert.equal(report.header, { sellerId: SELLER, version: '2.0', feedId });
    assert.equal(report.summary, { errors: 4, warnings: 0, messagesProcessed: 6, messagesAccepted: 2, messagesInvalid: 4 });
    const codes = new Map(report.issues.map((issue) => [issue.messageId, issue.code]));
    assert.is(codes.get(2), '90000900');
    assert.is(codes.get(3), '90000900');
    assert.is(codes.get(4), '4002008');
    assert.is(codes.get(5), '90000900');
    assert.is(codes.has(1) || codes.has(6), false);
    assert.is(fake.quantity('S-1'), 11);
    assert.is(fake.quantity('S-2'), 1);
    assert.is(fake.quantity('S-3'), 1);
    assert.is(fake.quantity('S-4'), 14);
    assert.is(fake.quantity('S-FBA', { fulfillment: 'FBA' }), 9);
    const feed = (await api.getFeed({ feedId })).data;
    assert.ok(feed.processingStartTime && feed.processingEndTime);
  });
});

test('a malformed document is refused whole, as Amazon does: no header (4002005), a wrong version (4002006); nothing is applied', async () => {
  await withFeeds({ processingDelayMs: 50 }, async (fake, api) => {
    fake.addListing({ sku: 'M-1', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 2 });
    const message = { messageId: 1, sku: 'M-1', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(20) };
    const noHeader = await reportOf(fake, api, await submit(api, { messages: [message] }));
    assert.equal(noHeader.issues, [{ code: '4002005', severity: 'ERROR', message: "Attribute 'header' is required, but not present." }]);
    assert.is(noHeader.summary.messagesProcessed, 0);
    const badVersion = await reportOf(fake, api, await submit(api, { header: { sellerId: SELLER, version: '1.0' }, messages: [message] }));
    assert.is(badVersion.issues[0]?.code, '4002006');
    assert.is(badVersion.summary.messagesProcessed, 0);
    assert.is(fake.quantity('M-1'), 2);
    // A document that is not JSON cannot be processed at all.
    const created = await api.createFeedDocument({ body: { contentType: CONTENT_TYPE } });
    await fetch(created.data.url, { method: 'PUT', headers: { 'content-type': CONTENT_TYPE }, body: '{"header": ' });
    const feedId = (await api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', marketplaceIds: [US], inputFeedDocumentId: created.data.feedDocumentId } })).data.feedId;
    const fatal = await settled(fake, api, feedId);
    assert.is(fatal.processingStatus, 'FATAL');
    assert.is(fatal.resultFeedDocumentId, undefined);
  });
});

test('requests the model rejects get 400 InvalidInput; the presigned URL refuses another content type and a missing signature', async () => {
  await withFeeds({ processingDelayMs: 50 }, async (_fake, api) => {
    const noMarketplaces = await refusal(() => api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', inputFeedDocumentId: 'x' } as never }));
    assert.is(noMarketplaces.status, 400);
    assert.match(JSON.stringify(noMarketplaces.data), /InvalidInput.*marketplaceIds/);
    const noContentType = await refusal(() => api.createFeedDocument({ body: {} as never }));
    assert.is(noContentType.status, 400);
    const unknownDocument = await refusal(() => api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', marketplaceIds: [US], inputFeedDocumentId: 'amzn1.tortuga.4.na.nope' } }));
    assert.is(unknownDocument.status, 400);
    const missing = await refusal(() => api.getFeed({ feedId: '123' }));
    assert.is(missing.status, 404);
    const created = await api.createFeedDocument({ body: { contentType: CONTENT_TYPE } });
    const wrongType = await fetch(created.data.url, { method: 'PUT', headers: { 'content-type': 'text/plain' }, body: '{}' });
    assert.is(wrongType.status, 403);
    assert.match(await wrongType.text(), /SignatureDoesNotMatch/);
    const unsigned = await fetch(created.data.url.replace(/X-Amz-Signature=[^&]+/, 'X-Amz-Signature=0'), { method: 'PUT', headers: { 'content-type': CONTENT_TYPE }, body: '{}' });
    assert.is(unsigned.status, 403);
  });
});

test('usage plans: JSON_LISTINGS_FEED takes 5 feeds per 5 minutes, createFeedDocument a burst of 15, then 429 QuotaExceeded', async () => {
  let nowMs = Date.parse('2026-12-01T00:00:00Z');
  await withFeeds(
    { processingDelayMs: 60_000 },
    async (fake, api) => {
      fake.addListing({ sku: 'R-1', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 0 });
      const document = { header: { sellerId: SELLER, version: '2.0' }, messages: [{ messageId: 1, sku: 'R-1', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(1) }] };
      for (let feed = 0; feed < 5; feed += 1) await submit(api, document);
      const created = await api.createFeedDocument({ body: { contentType: CONTENT_TYPE } });
      await fetch(created.data.url, { method: 'PUT', headers: { 'content-type': CONTENT_TYPE }, body: JSON.stringify(document) });
      const sixth = await refusal(() => api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', marketplaceIds: [US], inputFeedDocumentId: created.data.feedDocumentId } }));
      assert.is(sixth.status, 429);
      // 6 documents so far; 9 more fill the burst of 15, the next is over.
      for (let document = 0; document < 9; document += 1) await api.createFeedDocument({ body: { contentType: CONTENT_TYPE } });
      assert.is((await refusal(() => api.createFeedDocument({ body: { contentType: CONTENT_TYPE } }))).status, 429);
      nowMs += 60_000;
      assert.is((await api.createFeed({ body: { feedType: 'JSON_LISTINGS_FEED', marketplaceIds: [US], inputFeedDocumentId: created.data.feedDocumentId } })).status, 202, 'one more feed a minute later');
      assert.is(fake.requests().filter((request) => request.outcome === 429).length, 2);
    },
    () => nowMs,
  );
});

test('failNextFeeds ends a feed FATAL with nothing applied', async () => {
  await withFeeds({ processingDelayMs: 50 }, async (fake, api) => {
    fake.addListing({ sku: 'F-1', marketplaceId: US, productType: 'LUGGAGE', fulfillment: 'MFN', quantity: 3 });
    fake.feeds.failNextFeeds(1);
    const feedId = await submit(api, { header: { sellerId: SELLER, version: '2.0' }, messages: [{ messageId: 1, sku: 'F-1', operationType: 'PATCH', productType: 'LUGGAGE', patches: quantityPatch(30) }] });
    const feed = await settled(fake, api, feedId);
    assert.is(feed.processingStatus, 'FATAL');
    assert.is(feed.resultFeedDocumentId, undefined);
    assert.is(fake.quantity('F-1'), 3);
  });
});

function readExample(): string {
  return readFileSync(new URL('../../src/sim/amazon/schemas/listings-feed-schema-v2.example.json', import.meta.url), 'utf8');
}

test.run();
