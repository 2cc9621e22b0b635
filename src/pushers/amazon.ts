// The Amazon pusher: Listings Items API 2021-08-01 `patchListingsItem` with a merge of
// /attributes/fulfillment_availability [{fulfillment_channel_code: "DEFAULT", quantity}],
// through @sp-api-sdk/listings-items-api-2021-08-01 pointed at the configured endpoint,
// with our own LWA token cache (lwa.ts). Merchant-fulfilled (MFN) SKUs only: FBA
// quantities are Amazon's and never written (I6). A client-side token bucket keeps us
// inside the usage plan (5 requests/s, burst 5), so 429s do not happen in steady state;
// a 429 anyway pauses every request with backoff (src/domain/backoff.ts), a bounded number
// of times. A 200 can carry status INVALID: it is surfaced with its issues.
// Facts and sources: amazon-notes.md §0–§2, §4. How it fits together: docs/pushers.md.
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, type ListingsItemPatchRequest, ListingsItemsApi } from '@sp-api-sdk/listings-items-api-2021-08-01';
import type { CatalogEntry } from '../catalog/entry.ts';
import type { AmazonSettings } from '../config.ts';
import { type BackoffPolicy, backoffDelayMs } from '../domain/backoff.ts';
import { TokenBucket } from '../domain/rateLimit.ts';
import { isStockguardError } from '../errors.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { Logger } from '../logger.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { AmazonFeedSender } from './amazonFeed.ts';
import { LwaTokenProvider } from './lwa.ts';
import type { Eligibility, PushOutcome, PushRequest, PushResult, Pusher } from './pusher.ts';
import { sleep } from './wait.ts';

/** Share of the usage plan's rate we use (see the constructor). */
export const RATE_SAFETY = 0.95;
/** How often a request waiting for an earlier one's answer looks again (takeSendToken). */
const UNANSWERED_POLL_MS = 10;

export interface AmazonPusherOptions {
  settings: AmazonSettings;
  metrics: Metrics;
  logger: Logger;
  clock?: Clock;
  /** Attempts per push (the first try included). */
  maxAttempts: number;
  requestTimeoutMs: number;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** The LWA token cache; built from settings.lwa when left out. */
  auth?: LwaTokenProvider;
}

export class AmazonPusher implements Pusher {
  readonly channel = 'amazon' as const;
  /** patchListingsItem writes one SKU per request. */
  readonly maxBatch = 1;
  readonly concurrency: number;
  readonly auth: LwaTokenProvider;
  /** JSON_LISTINGS_FEED for backlogs (amazonFeed.ts); undefined when settings.feeds is off. */
  readonly bulk: AmazonFeedSender | undefined;
  private readonly api: ListingsItemsApi;
  /** Paces the choice of what to send next (acquire()). */
  private readonly bucket: TokenBucket;
  /** Paces the requests themselves, taken right before one goes on the wire. */
  private readonly sendBucket: TokenBucket;
  private readonly clock: Clock;
  private readonly backoff: BackoffPolicy;
  private readonly random: () => number;
  private readonly marketplaces: ReadonlySet<string>;
  /** After a 429 nothing is sent before this time, whatever the local bucket says. */
  private pausedUntilMs = 0;
  /** Requests sent whose answer has not come back (takeSendToken). */
  private unanswered = 0;
  private readonly closing = new AbortController();

  constructor(private readonly options: AmazonPusherOptions) {
    const { settings } = options;
    this.clock = options.clock ?? Date.now;
    this.backoff = options.backoff ?? { baseMs: 1_000, maxMs: 30_000 };
    this.random = options.random ?? Math.random;
    this.marketplaces = new Set(settings.marketplaceIds);
    this.concurrency = settings.burst;
    // Requests leave on our clock but Amazon counts them on arrival, and the time between
    // the two varies (connection set-up, a busy event loop). So one token of the plan's burst
    // stays in reserve at Amazon's end, and we refill 5 % slower: a request that overtakes
    // the one before it on the wire still finds a token (measured: without the reserve a
    // burst of 15 drew a 429 in one run of three).
    this.bucket = new TokenBucket(settings.ratePerSecond * RATE_SAFETY, Math.max(1, settings.burst - 1), this.clock);
    // A second, identical bucket at send time: after an event-loop stall, requests chosen
    // before it would otherwise leave together with the ones the refilled bucket lets
    // through, more than the burst at once.
    this.sendBucket = new TokenBucket(settings.ratePerSecond * RATE_SAFETY, Math.max(1, settings.burst - 1), this.clock);
    this.auth = options.auth ?? new LwaTokenProvider(settings.lwa, { clock: this.clock, timeoutMs: options.requestTimeoutMs });
    // Retries are ours (bounded, counted, paced by the bucket); the SDK's would hide them.
    const { axios } = createAxiosInstance({ auth: this.auth, region: 'na' }, clientRateLimits);
    axios.defaults.timeout = options.requestTimeoutMs;
    // The generated class takes (configuration, basePath, axios): the endpoint comes from configuration.
    this.api = new ListingsItemsApi(undefined, settings.endpoint.replace(/\/+$/, ''), axios);
    this.bulk =
      settings.feeds && settings.feeds.threshold > 0
        ? new AmazonFeedSender({ settings, feeds: settings.feeds, auth: this.auth, metrics: options.metrics, logger: options.logger, clock: this.clock, requestTimeoutMs: options.requestTimeoutMs, closing: this.closing.signal })
        : undefined;
  }

  eligibility(entry: CatalogEntry): Eligibility {
    if (!entry.amazon) return { push: false, reason: 'unmapped' };
    if (entry.amazon.fulfillment === 'FBA') return { push: false, reason: 'fba' };
    if (!this.marketplaces.has(entry.amazon.marketplaceId)) return { push: false, reason: 'marketplace' };
    return { push: true };
  }

  async prepare(): Promise<void> {
    // Fetch (or keep) the access token now, so the first pushes do not wait for LWA together.
    await this.auth.getAccessToken().catch((error: unknown) => this.options.logger.error({ err: error }, 'Login with Amazon failed; pushes retry it'));
  }

  async acquire(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const paused = this.pausedUntilMs - this.clock();
      if (paused > 0) {
        await sleep(paused, signal);
        continue;
      }
      if (this.bucket.tryTake()) return;
      await sleep(this.bucket.waitMs(), signal);
    }
  }

  release(): void {
    this.bucket.refund();
  }

  async push(batch: readonly PushRequest[]): Promise<PushResult[]> {
    return Promise.all(batch.map(async (request) => ({ request, outcome: await this.pushOne(request) })));
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  /** The request's first token was taken by acquire(); every retry takes its own. */
  private async pushOne(request: PushRequest): Promise<PushOutcome> {
    const listing = request.entry.amazon;
    // The coordinator never offers these; checked again here because writing one is the
    // one mistake that cannot be undone (an FBA offer switched to merchant-fulfilled).
    if (!listing || listing.fulfillment !== 'MFN') return { kind: 'blocked', reason: 'not a merchant-fulfilled Amazon listing' };
    if (!listing.productType) return { kind: 'rejected', code: 'MISSING_PRODUCT_TYPE', message: 'the catalogue entry has no amazonProductType' };
    const body: ListingsItemPatchRequest = {
      productType: listing.productType,
      patches: [
        {
          // merge keeps the record's other fields (lead_time_to_ship_max_days…), amazon-notes.md §1.1.
          op: 'merge',
          path: '/attributes/fulfillment_availability',
          value: [{ fulfillment_channel_code: 'DEFAULT', quantity: request.quantity }],
        },
      ],
    };
    let lastProblem = 'no attempt made';
    let refusedTokens = 0;
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt += 1) {
      if (attempt > 0) await this.acquire(this.closing.signal);
      const taken = await this.takeSendToken();
      if (this.closing.signal.aborted) {
        if (taken) this.answered();
        return { kind: 'failed', message: 'the pusher is closing' };
      }
      const started = this.clock();
      try {
        const response = await this.api
          .patchListingsItem({
            sellerId: this.options.settings.sellerId,
            sku: listing.sellerSku,
            marketplaceIds: [listing.marketplaceId],
            body,
            includedData: ['issues'],
          })
          .finally(() => this.answered());
        this.observe(started);
        const submission = response.data;
        if (submission.status === 'ACCEPTED') return { kind: 'acked', atMs: this.clock() };
        const issues = submission.issues ?? [];
        this.options.logger.warn({ sku: request.sku, sellerSku: listing.sellerSku, quantity: request.quantity, status: submission.status, issues }, 'Amazon refused a quantity (INVALID)');
        return { kind: 'invalid', code: issues[0]?.code ?? submission.status, message: issues.map((issue) => `${issue.code}: ${issue.message}`).join('; ') || submission.status, issues };
      } catch (error) {
        this.observe(started);
        if (error instanceof SellingPartnerApiError) {
          const status = error.response?.status;
          if (status === 429) {
            this.options.metrics.channelThrottled.inc({ channel: 'amazon' });
            this.pauseFor(backoffDelayMs(attempt, this.backoff, this.random));
            lastProblem = 'HTTP 429 QuotaExceeded';
            continue;
          }
          if (status === 403 && refusedTokens === 0) {
            // The token expired or was revoked early: one fresh token, then give up.
            refusedTokens += 1;
            this.auth.invalidate();
            lastProblem = 'HTTP 403 Unauthorized';
            continue;
          }
          if (status !== undefined && status < 500) {
            const first = errorList(error.response?.data)[0];
            return { kind: 'rejected', code: first?.code ?? `HTTP_${status}`, message: first?.message ?? error.message };
          }
          lastProblem = status === undefined ? `no response (${error.innerMessage})` : `HTTP ${status}`;
        } else if (isStockguardError(error, 'STOCKGUARD_E_AMAZON_AUTH')) {
          lastProblem = error.message;
        } else {
          lastProblem = error instanceof Error ? error.message : String(error);
        }
        await sleep(backoffDelayMs(attempt, this.backoff, this.random), this.closing.signal);
      }
    }
    return { kind: 'failed', message: `${lastProblem} after ${this.options.maxAttempts} attempts` };
  }

  /**
   * Takes a send token; the request must be sent right after (it counts as unanswered until
   * its answer). Amazon counts a request when it arrives, and requests held up on the way (a
   * busy event loop, connection set-up) arrive together: if our bucket had refilled in the
   * meantime, what it let through next would land on top of them. So tokens plus unanswered
   * requests never exceed our burst: the bucket refills only into the room the unanswered
   * requests leave (capped at every send and every answer; between the two the cap is
   * constant, so capping then is the same as capping all along).
   */
  private async takeSendToken(): Promise<boolean> {
    while (!this.closing.signal.aborted) {
      const room = this.sendBucket.burst - this.unanswered;
      if (room >= 1) {
        this.capSendBucket(room);
        if (this.sendBucket.tryTake()) {
          this.unanswered += 1;
          return true;
        }
      }
      await sleep(room >= 1 ? this.sendBucket.waitMs() : UNANSWERED_POLL_MS, this.closing.signal);
    }
    return false;
  }

  /** A request's answer came back (or it was never sent): first the cap it was under, then its room back. */
  private answered(): void {
    this.capSendBucket(Math.max(0, this.sendBucket.burst - this.unanswered));
    this.unanswered -= 1;
  }

  /** Leaves at most `room` whole tokens in the send bucket (drains, then gives back up to `room`). */
  private capSendBucket(room: number): void {
    let taken = 0;
    while (this.sendBucket.tryTake()) taken += 1;
    for (let index = 0; index < Math.min(taken, room); index += 1) this.sendBucket.refund();
  }

  private pauseFor(ms: number): void {
    this.pausedUntilMs = Math.max(this.pausedUntilMs, this.clock() + ms);
  }

  private observe(startedMs: number): void {
    this.options.metrics.pushRequestSeconds.observe({ channel: 'amazon' }, Math.max(0, this.clock() - startedMs) / 1000);
  }
}

function errorList(data: unknown): Array<{ code?: string; message?: string }> {
  if (typeof data !== 'object' || data === null || !('errors' in data) || !Array.isArray(data.errors)) return [];
  return data.errors.filter((entry: unknown): entry is { code?: string; message?: string } => typeof entry === 'object' && entry !== null);
}
