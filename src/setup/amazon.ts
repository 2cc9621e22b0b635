// `stockguard setup amazon`: makes sure Amazon sends stockguard the notifications it reads
// (ORDER_CHANGE, LISTINGS_ITEM_MFN_QUANTITY_CHANGE, FBA_INVENTORY_AVAILABILITY_CHANGES, the
// three src/ingest/amazon handles) to its SQS queue, through the Notifications API v1
// (@sp-api-sdk/notifications-api-v1). Destinations are grantless operations: they take a
// client_credentials token with scope sellingpartnerapi::notifications; subscriptions act
// for the seller and take the seller's token (amazon-notes.md §3.3).
// Idempotent: the destination for the queue and each subscription to it are found first
// and reused, so a second run changes nothing and says so. A subscription of one of these
// types that delivers to another destination is moved to ours (Amazon allows one
// subscription per type and payload version per application, so it cannot be added beside).
import { createAxiosInstance, SellingPartnerApiError } from '@sp-api-sdk/common';
import { clientRateLimits, type Destination, NotificationsApi, type Subscription } from '@sp-api-sdk/notifications-api-v1';
import type { AxiosResponse } from 'axios';
import type { AmazonSettings, Config } from '../config.ts';
import { TokenBucket } from '../domain/rateLimit.ts';
import { isStockguardError, StockguardError } from '../errors.ts';
import { LwaTokenProvider } from '../pushers/lwa.ts';
import { sleep } from '../pushers/wait.ts';
import { setupError } from './shopify.ts';

export const AMAZON_SETUP_TYPES = ['ORDER_CHANGE', 'LISTINGS_ITEM_MFN_QUANTITY_CHANGE', 'FBA_INVENTORY_AVAILABILITY_CHANGES'] as const;
export type AmazonSetupType = (typeof AMAZON_SETUP_TYPES)[number];
/** The payload version stockguard parses for each (src/ingest/amazon/schemas). */
export const PAYLOAD_VERSION = '1.0';
export const DESTINATION_NAME = 'stockguard';
export const NOTIFICATIONS_SCOPE = 'sellingpartnerapi::notifications';
/** Every Notifications operation's documented usage plan: 1 request/s, burst 5. */
const USAGE_PLAN = { rate: 1, burst: 5 } as const;

/** The queue's ARN: AMAZON_SQS_QUEUE_ARN, else read from an AWS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>). */
export function queueArnOf(sqs: Pick<Config['sqs'], 'queueArn' | 'queueUrl'>): string | undefined {
  if (sqs.queueArn) return sqs.queueArn;
  if (!sqs.queueUrl) return undefined;
  const match = /^https:\/\/sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(\d{12})\/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)\/?$/.exec(sqs.queueUrl);
  return match ? `arn:aws:sqs:${match[1]}:${match[2]}:${match[3]}` : undefined;
}

/**
 * The Notifications API with both tokens, each operation paced under its usage plan (one
 * token of the burst kept in reserve, as the pushers do) and a 429 waited out.
 */
export class NotificationsClient {
  readonly seller: NotificationsApi;
  readonly grantless: NotificationsApi;
  private readonly buckets = new Map<string, TokenBucket>();
  requests = 0;
  throttled = 0;

  constructor(settings: AmazonSettings, requestTimeoutMs: number) {
    const endpoint = settings.endpoint.replace(/\/+$/, '');
    const sellerAuth = new LwaTokenProvider(settings.lwa, { timeoutMs: requestTimeoutMs });
    const grantlessAuth = new LwaTokenProvider(settings.lwa, { timeoutMs: requestTimeoutMs, scope: NOTIFICATIONS_SCOPE });
    this.seller = new NotificationsApi(undefined, endpoint, createAxiosInstance({ auth: sellerAuth, region: 'na' }, clientRateLimits).axios);
    this.grantless = new NotificationsApi(undefined, endpoint, createAxiosInstance({ auth: grantlessAuth, region: 'na' }, clientRateLimits).axios);
  }

  /** One call; undefined on 404. Retries 429 and 5xx a few times; anything else is STOCKGUARD_E_SETUP. */
  async call<T>(operation: string, send: () => Promise<AxiosResponse<T>>): Promise<T | undefined> {
    let bucket = this.buckets.get(operation);
    if (!bucket) {
      bucket = new TokenBucket(USAGE_PLAN.rate * 0.95, USAGE_PLAN.burst - 1, Date.now);
      this.buckets.set(operation, bucket);
    }
    let problem = '';
    for (let attempt = 0; attempt < 5; attempt += 1) {
      while (!bucket.tryTake()) await sleep(bucket.waitMs());
      this.requests += 1;
      try {
        return (await send()).data;
      } catch (error) {
        if (isStockguardError(error, 'STOCKGUARD_E_AMAZON_AUTH')) throw error;
        if (!(error instanceof SellingPartnerApiError)) throw setupError(`Amazon ${operation}: ${error instanceof Error ? error.message : String(error)}`);
        const status = error.response?.status;
        if (status === 404) return undefined;
        const first = errorList(error.response?.data)[0];
        problem = `HTTP ${status ?? 'no response'} ${first?.code ?? ''}: ${first?.message ?? error.message}${first?.details ? ` (${first.details})` : ''}`;
        if (status === 429) this.throttled += 1;
        if (status !== undefined && status !== 429 && status < 500) throw setupError(`Amazon ${operation} answered ${problem}`);
        // 429: Amazon's bucket for this operation is empty (another run, another app of ours
        // used it); one token comes back in 1/rate s. Otherwise back off.
        await sleep(status === 429 ? Math.ceil(1_000 / USAGE_PLAN.rate) + 100 : 1_000 * 2 ** attempt);
      }
    }
    throw setupError(`Amazon ${operation}: ${problem} after 5 attempts`);
  }

  async destinations(): Promise<Destination[]> {
    return (await this.call('getDestinations', () => this.grantless.getDestinations()))?.payload ?? [];
  }

  async subscription(notificationType: AmazonSetupType): Promise<Subscription | undefined> {
    return (await this.call('getSubscription', () => this.seller.getSubscription({ notificationType, payloadVersion: PAYLOAD_VERSION })))?.payload;
  }
}

function errorList(data: unknown): Array<{ code?: string; message?: string; details?: string }> {
  if (typeof data !== 'object' || data === null || !('errors' in data) || !Array.isArray(data.errors)) return [];
  return data.errors.filter((entry: unknown): entry is { code?: string; message?: string; details?: string } => typeof entry === 'object' && entry !== null);
}

export type AmazonAction = 'created' | 'present' | 'moved';

export interface AmazonSetupResult {
  queueArn: string;
  destination: { destinationId: string; action: 'created' | 'present' };
  subscriptions: Array<{ notificationType: AmazonSetupType; subscriptionId: string; action: AmazonAction; previousDestinationId?: string }>;
  changed: boolean;
}

export async function setupAmazon(options: { config: Pick<Config, 'amazon' | 'sqs' | 'pushers'>; print: (line: string) => void }): Promise<AmazonSetupResult> {
  const { config, print } = options;
  if (!config.amazon) throw new StockguardError('STOCKGUARD_E_CONFIG', 'setup amazon needs AMAZON_SELLER_ID, AMAZON_MARKETPLACE_IDS and the AMAZON_LWA_* credentials');
  const queueArn = queueArnOf(config.sqs);
  if (!queueArn) {
    throw new StockguardError('STOCKGUARD_E_CONFIG', 'setup amazon needs the SQS queue\'s ARN: set AMAZON_SQS_QUEUE_ARN (arn:aws:sqs:<region>:<account>:<name>), or AMAZON_SQS_QUEUE_URL to an AWS queue URL');
  }
  const client = new NotificationsClient(config.amazon, config.pushers.requestTimeoutMs);
  let changed = false;

  let destination = (await client.destinations()).find((candidate) => candidate.resource.sqs?.arn === queueArn);
  let destinationAction: 'created' | 'present' = 'present';
  if (destination) {
    print(`  destination: present (${destination.destinationId}, ${queueArn})`);
  } else {
    const created = await client.call('createDestination', () => client.grantless.createDestination({ body: { name: DESTINATION_NAME, resourceSpecification: { sqs: { arn: queueArn } } } }));
    if (!created?.payload) throw setupError('Amazon createDestination returned no destination');
    destination = created.payload;
    destinationAction = 'created';
    changed = true;
    print(`  destination: created (${destination.destinationId}, ${queueArn})`);
  }
  const destinationId = destination.destinationId;

  const subscriptions: AmazonSetupResult['subscriptions'] = [];
  for (const notificationType of AMAZON_SETUP_TYPES) {
    const existing = await client.subscription(notificationType);
    if (existing && existing.destinationId === destinationId) {
      subscriptions.push({ notificationType, subscriptionId: existing.subscriptionId, action: 'present' });
      print(`  ${notificationType}: present (${existing.subscriptionId})`);
      continue;
    }
    if (existing) {
      await client.call('deleteSubscriptionById', () => client.grantless.deleteSubscriptionById({ notificationType, subscriptionId: existing.subscriptionId }));
    }
    const created = await client.call('createSubscription', () => client.seller.createSubscription({ notificationType, body: { payloadVersion: PAYLOAD_VERSION, destinationId } }));
    if (!created?.payload) throw setupError(`Amazon createSubscription ${notificationType} returned no subscription`);
    changed = true;
    subscriptions.push({ notificationType, subscriptionId: created.payload.subscriptionId, action: existing ? 'moved' : 'created', ...(existing ? { previousDestinationId: existing.destinationId } : {}) });
    print(existing ? `  ${notificationType}: moved from destination ${existing.destinationId} (${created.payload.subscriptionId})` : `  ${notificationType}: created (${created.payload.subscriptionId})`);
  }
  print(changed ? `amazon: notifications to ${queueArn} set up` : `amazon: nothing to change — the destination and every subscription were already in place for ${queueArn}`);
  return { queueArn, destination: { destinationId, action: destinationAction }, subscriptions, changed };
}
