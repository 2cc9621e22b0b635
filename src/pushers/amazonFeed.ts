// Amazon's bulk path: JSON_LISTINGS_FEED through the Feeds API 2021-06-30, for backlogs
// that patchListingsItem at 5 requests/s would take tens of minutes to clear (the opening
// push of a catalogue, a restore, an import, a long outage). One feed carries up to
// 25,000 `PATCH` messages, each the same `merge` of /attributes/fulfillment_availability
// the PATCH path sends. Flow (amazon-notes.md §1.4): createFeedDocument → PUT the document
// to the presigned URL → createFeed → poll getFeed → getFeedDocument → read the processing
// report, and map each message's issues back to its push: accepted (acked, as a PATCH's
// ACCEPTED), invalid (refused with Amazon's code; the coordinator dead-letters it), or, when
// the feed ends FATAL or CANCELLED or cannot be followed, failed (the lane retries it).
// The lane decides what goes by feed and keeps a feed from overwriting a newer PATCH
// (lane.ts, docs/pushers.md "Amazon backlogs: feeds").
import { gunzipSync } from 'node:zlib';
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, type Feed, FeedsApi } from '@sp-api-sdk/feeds-api-2021-06-30';
import type { AmazonFeedSettings, AmazonSettings } from '../config.ts';
import { TokenBucket } from '../domain/rateLimit.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { LwaTokenProvider } from './lwa.ts';
import type { BulkPusher, PushOutcome, PushRequest, PushResult } from './pusher.ts';
import { sleep } from './wait.ts';

/** The content type given to createFeedDocument and sent with the upload (the URL is signed for it). */
export const FEED_CONTENT_TYPE = 'application/json; charset=UTF-8';
export const FEED_TYPE = 'JSON_LISTINGS_FEED';

/** Share of each usage plan we use, and one token of each burst kept in reserve, as on the PATCH path (amazon.ts). */
const RATE_SAFETY = 0.95;

/** The documented usage plans (feeds_2021-06-30.json) and JSON_LISTINGS_FEED's own throttle: 5 feeds per 5 minutes (amazon-notes.md §1.4). */
const PLANS = {
  createFeedDocument: { rate: 0.5, burst: 15 },
  createFeed: { rate: 0.0083, burst: 15 },
  jsonListingsFeed: { rate: 5 / 300, burst: 5 },
  getFeed: { rate: 2, burst: 15 },
  getFeedDocument: { rate: 0.0222, burst: 10 },
} as const;

type PlanName = keyof typeof PLANS;

/** One JSON_LISTINGS_FEED processing-report issue. */
interface ReportIssue {
  messageId?: number;
  code: string;
  severity: string;
  message: string;
}

export interface ProcessingReport {
  issues: ReportIssue[];
  summary: { messagesProcessed: number } | undefined;
}

export interface AmazonFeedSenderOptions {
  settings: AmazonSettings;
  feeds: AmazonFeedSettings;
  auth: LwaTokenProvider;
  metrics: Metrics;
  logger: Logger;
  clock: Clock;
  requestTimeoutMs: number;
  /** Aborts when the pusher closes: polling stops and the feed's values go back to the queue. */
  closing: AbortSignal;
}

/**
 * Whether a value must go by patchListingsItem rather than wait for a feed (see
 * AmazonFeedSender.patchOnly). A value a bounded allocation mode decided (cause
 * `allocation`: strict, budget:N, auto) always does: the allocator counts an Amazon write in
 * full until Amazon reports it and writes it off after the apply-lag bound it was given for
 * a PATCH; a feed applied minutes later would erase the sales made meanwhile with no bound
 * (invariant I8).
 */
export function patchOnly(request: PushRequest, feeds: Pick<AmazonFeedSettings, 'urgentDecreaseUnits' | 'urgentDecreasePercent'>): boolean {
  const listing = request.entry.amazon;
  if (!listing || listing.fulfillment !== 'MFN' || !listing.productType) return true;
  if (request.quantity === 0 || request.cause === 'drift' || request.cause === 'resync' || request.cause === 'allocation') return true;
  if (request.known === undefined) return false;
  const overPromise = request.known - request.quantity;
  if (overPromise <= 0) return false;
  return overPromise >= feeds.urgentDecreaseUnits || overPromise * 100 >= request.known * feeds.urgentDecreasePercent;
}

export class AmazonFeedSender implements BulkPusher {
  readonly threshold: number;
  readonly maxMessages: number;
  readonly windowMs: number;
  readonly patchSettleMs: number;
  private readonly api: FeedsApi;
  private readonly buckets: Record<PlanName, TokenBucket>;
  private pausedUntilMs = 0;

  constructor(private readonly options: AmazonFeedSenderOptions) {
    const { feeds } = options;
    this.threshold = feeds.threshold;
    this.maxMessages = Math.min(25_000, feeds.maxMessages);
    this.windowMs = feeds.windowMs;
    this.patchSettleMs = feeds.patchSettleMs;
    const bucket = (name: PlanName) => new TokenBucket(PLANS[name].rate * RATE_SAFETY, Math.max(1, PLANS[name].burst - 1), options.clock);
    this.buckets = {
      createFeedDocument: bucket('createFeedDocument'),
      createFeed: bucket('createFeed'),
      jsonListingsFeed: bucket('jsonListingsFeed'),
      getFeed: bucket('getFeed'),
      getFeedDocument: bucket('getFeedDocument'),
    };
    const { axios } = createAxiosInstance({ auth: options.auth, region: 'na' }, clientRateLimits);
    axios.defaults.timeout = options.requestTimeoutMs;
    this.api = new FeedsApi(undefined, options.settings.endpoint.replace(/\/+$/, ''), axios);
  }

  /**
   * Zeros, large decreases and corrections go by PATCH: a feed takes effect minutes later,
   * and every order Amazon takes meanwhile against a value above the target is an oversell.
   * A value we know nothing about (the opening push) may wait. Entries the PATCH path
   * refuses itself (FBA, no product type) stay there so they are refused the same way.
   */
  patchOnly(request: PushRequest): boolean {
    return patchOnly(request, this.options.feeds);
  }

  groupOf(request: PushRequest): string {
    return request.entry.amazon?.marketplaceId ?? '';
  }

  tryAcquire(): boolean {
    if (this.pausedUntilMs > this.options.clock()) return false;
    const needed: PlanName[] = ['createFeedDocument', 'createFeed', 'jsonListingsFeed'];
    // The report must be readable when the feed is done: keep a getFeedDocument token for it.
    if (this.buckets.getFeedDocument.waitMs() > 0) return false;
    const taken: PlanName[] = [];
    for (const name of needed) {
      if (!this.buckets[name].tryTake()) {
        for (const back of taken) this.buckets[back].refund();
        return false;
      }
      taken.push(name);
    }
    return true;
  }

  async push(batch: readonly PushRequest[]): Promise<PushResult[]> {
    try {
      return await this.send(batch);
    } catch (error) {
      return failAll(batch, `feed: ${describe(error)}`);
    }
  }

  private async send(batch: readonly PushRequest[]): Promise<PushResult[]> {
    const { settings, logger } = this.options;
    const marketplaceId = batch[0]?.entry.amazon?.marketplaceId;
    if (!marketplaceId) return [];
    const messages = batch.map((request, index) => {
      const listing = request.entry.amazon;
      return {
        messageId: index + 1,
        sku: listing?.sellerSku ?? request.sku,
        operationType: 'PATCH',
        productType: listing?.productType ?? '',
        // The same merge as the PATCH path: it keeps the record's other fields (amazon-notes.md §1.1).
        patches: [{ op: 'merge', path: '/attributes/fulfillment_availability', value: [{ fulfillment_channel_code: 'DEFAULT', quantity: request.quantity }] }],
      };
    });
    const document = JSON.stringify({ header: { sellerId: settings.sellerId, version: '2.0', issueLocale: 'en_US' }, messages });

    // The tokens for these three were taken by tryAcquire().
    let feedId: string;
    const started = this.options.clock();
    try {
      const created = await this.api.createFeedDocument({ body: { contentType: FEED_CONTENT_TYPE } });
      // A plain PUT to the presigned URL, with the content type it was signed for; no SP-API token.
      const upload = await fetch(created.data.url, { method: 'PUT', headers: { 'content-type': FEED_CONTENT_TYPE }, body: document, signal: AbortSignal.timeout(this.options.requestTimeoutMs) });
      if (!upload.ok) throw new Error(`uploading the feed document answered HTTP ${upload.status}: ${(await upload.text()).slice(0, 200)}`);
      const feed = await this.api.createFeed({ body: { feedType: FEED_TYPE, marketplaceIds: [marketplaceId], inputFeedDocumentId: created.data.feedDocumentId } });
      feedId = feed.data.feedId;
    } catch (error) {
      this.noteThrottle(error);
      logger.warn({ err: error, messages: batch.length }, 'submitting an Amazon feed failed; its values go back to the queue');
      return failAll(batch, `feed submission failed: ${describe(error)}`);
    }
    this.options.metrics.pushRequestSeconds.observe({ channel: 'amazon' }, Math.max(0, this.options.clock() - started) / 1000);
    logger.info({ feedId, messages: batch.length, marketplaceId }, 'Amazon feed submitted');

    const feed = await this.follow(feedId);
    if (!feed) return failAll(batch, `feed ${feedId} was not followed to its end (closing, or not processed within ${this.options.feeds.timeoutMs} ms); its values go back to the queue`);
    const doneAtMs = this.options.clock();
    if (feed.processingStatus !== 'DONE' || !feed.resultFeedDocumentId) {
      logger.warn({ feedId, status: feed.processingStatus }, 'an Amazon feed ended without being processed; its values go back to the queue');
      return failAll(batch, `feed ${feedId} ended ${feed.processingStatus}`);
    }
    const report = await this.readReport(feed.resultFeedDocumentId);
    if (!report) return failAll(batch, `feed ${feedId} is DONE but its processing report could not be read`);
    const results = mapReport(batch, report, feedId, doneAtMs);
    const invalid = results.filter((result) => result.outcome.kind === 'invalid').length;
    logger.info({ feedId, messages: batch.length, accepted: batch.length - invalid, invalid }, 'Amazon feed processed');
    return results;
  }

  /** Polls getFeed until the feed ends; undefined when closing or past the timeout. */
  private async follow(feedId: string): Promise<Feed | undefined> {
    const { closing, clock, feeds } = this.options;
    const deadline = clock() + feeds.timeoutMs;
    while (!closing.aborted && clock() < deadline) {
      await sleep(Math.max(feeds.pollMs, this.pausedUntilMs - clock()), closing);
      if (!(await this.take('getFeed'))) return undefined;
      try {
        const feed = (await this.api.getFeed({ feedId })).data;
        if (feed.processingStatus === 'DONE' || feed.processingStatus === 'FATAL' || feed.processingStatus === 'CANCELLED') return feed;
      } catch (error) {
        // The feed is submitted: keep following it (a 429 pauses, a 5xx or a timeout waits a poll).
        this.noteThrottle(error);
        this.options.logger.warn({ err: error, feedId }, 'polling an Amazon feed failed; polling again');
      }
    }
    return undefined;
  }

  private async readReport(resultFeedDocumentId: string): Promise<ProcessingReport | undefined> {
    for (let attempt = 0; attempt < 3 && !this.options.closing.aborted; attempt += 1) {
      if (!(await this.take('getFeedDocument'))) return undefined;
      try {
        const document = (await this.api.getFeedDocument({ feedDocumentId: resultFeedDocumentId })).data;
        const response = await fetch(document.url, { signal: AbortSignal.timeout(this.options.requestTimeoutMs) });
        if (!response.ok) throw new Error(`downloading the processing report answered HTTP ${response.status}`);
        const raw = Buffer.from(await response.arrayBuffer());
        const text = (document.compressionAlgorithm === 'GZIP' ? gunzipSync(raw) : raw).toString('utf8');
        return parseReport(JSON.parse(text));
      } catch (error) {
        this.noteThrottle(error);
        this.options.logger.warn({ err: error, resultFeedDocumentId }, 'reading an Amazon feed processing report failed');
        await sleep(this.options.feeds.pollMs, this.options.closing);
      }
    }
    return undefined;
  }

  /** Waits for a token of `name`; false when closing. */
  private async take(name: PlanName): Promise<boolean> {
    const { closing, clock } = this.options;
    while (!closing.aborted) {
      const paused = this.pausedUntilMs - clock();
      if (paused > 0) await sleep(paused, closing);
      else if (this.buckets[name].tryTake()) return true;
      else await sleep(this.buckets[name].waitMs(), closing);
    }
    return false;
  }

  private noteThrottle(error: unknown): void {
    if (error instanceof SellingPartnerApiError && error.response?.status === 429) {
      this.options.metrics.channelThrottled.inc({ channel: 'amazon' });
      // Our buckets should have prevented it; Amazon's count wins: wait a while.
      this.pausedUntilMs = Math.max(this.pausedUntilMs, this.options.clock() + 5_000);
    }
  }
}

function parseReport(value: unknown): ProcessingReport {
  if (typeof value !== 'object' || value === null || !('issues' in value) || !Array.isArray(value.issues)) throw new Error('the processing report has no issues list');
  const issues = value.issues.filter(
    (issue: unknown): issue is ReportIssue => typeof issue === 'object' && issue !== null && 'code' in issue && typeof issue.code === 'string' && 'severity' in issue && typeof issue.severity === 'string',
  );
  const summary = 'summary' in value && typeof value.summary === 'object' && value.summary !== null && 'messagesProcessed' in value.summary && typeof value.summary.messagesProcessed === 'number'
    ? { messagesProcessed: value.summary.messagesProcessed }
    : undefined;
  return { issues, summary };
}

/** Each message's outcome from the report: an ERROR issue makes it invalid, otherwise it was accepted. */
export function mapReport(batch: readonly PushRequest[], report: ProcessingReport, feedId: string, doneAtMs: number): PushResult[] {
  // Issues without a messageId concern the whole document (a missing header: 4002005):
  // when nothing was processed, every message carries them.
  const documentErrors = report.issues.filter((issue) => issue.messageId === undefined && issue.severity === 'ERROR');
  const byMessage = new Map<number, ReportIssue[]>();
  for (const issue of report.issues) {
    if (issue.messageId === undefined) continue;
    const list = byMessage.get(issue.messageId);
    if (list) list.push(issue);
    else byMessage.set(issue.messageId, [issue]);
  }
  const nothingProcessed = documentErrors.length > 0 && (report.summary?.messagesProcessed ?? 0) === 0;
  return batch.map((request, index): PushResult => {
    const messageId = index + 1;
    const errors = nothingProcessed ? documentErrors : (byMessage.get(messageId) ?? []).filter((issue) => issue.severity === 'ERROR');
    if (errors.length === 0) return { request, outcome: { kind: 'acked', atMs: doneAtMs } };
    const outcome: PushOutcome = {
      kind: 'invalid',
      code: errors[0]?.code ?? 'INVALID',
      message: errors.map((issue) => `${issue.code}: ${issue.message}`).join('; '),
      issues: errors,
      feed: { feedId, messageId },
    };
    return { request, outcome };
  });
}

function failAll(batch: readonly PushRequest[], message: string): PushResult[] {
  return batch.map((request) => ({ request, outcome: { kind: 'failed', message } }));
}

function describe(error: unknown): string {
  if (error instanceof SellingPartnerApiError) return error.response?.status ? `HTTP ${error.response.status}` : `no response (${error.innerMessage})`;
  return error instanceof Error ? error.message : String(error);
}
