// One schema for every setting. Values come from environment variables; each has a
// documented default (docs/configuration.md). A bad value stops start-up with an error
// that names the variable and the fix.
import { hostname } from 'node:os';
import { parse as parseCron, validate as validCron } from 'node-cron';
import { z } from 'zod';
import { StockguardError } from './errors.ts';
import { ThresholdsSchema, type ThresholdsByClass } from './domain/reconcile.ts';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const lagBound = (fallback: number) => z.coerce.number().positive().max(86_400).default(fallback);
const secret = z.string().min(16, 'must be at least 16 characters').optional();

export const ROLES = ['http', 'consumers', 'sqs', 'holds', 'pushers', 'reconcile'] as const;
export type Role = (typeof ROLES)[number];
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** Environment variable name → schema. The variable names are the public contract. */
export const CONFIG_SCHEMA = z.object({
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must start with redis:// or rediss://')
    // The message never repeats the value: it may hold the password.
    .refine((value) => !/^rediss?:\/\//.test(value) || parsableRedisUrl(value), 'must be a URL such as redis://user:password@host:6379; percent-encode "@", ":", "/", "#" and "%" in the user name and password')
    .default('redis://127.0.0.1:6379'),
  STOCKGUARD_REDIS_CLUSTER: flag(false),
  STOCKGUARD_REDIS_WAIT_REPLICAS: z.coerce.number().int().min(0).max(16).optional(),
  STOCKGUARD_REDIS_WAIT_TIMEOUT_MS: z.coerce.number().int().min(1).max(60_000).default(200),
  STOCKGUARD_REDIS_TLS_CA_FILE: z.string().min(1).optional(),
  STOCKGUARD_REDIS_TLS_CERT_FILE: z.string().min(1).optional(),
  STOCKGUARD_REDIS_TLS_KEY_FILE: z.string().min(1).optional(),
  STOCKGUARD_KEY_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-" only')
    .default('sg'),
  STOCKGUARD_JOURNAL_RETENTION_DAYS: positiveInt(3),
  STOCKGUARD_JOURNAL_AUDIT_DIR: z.string().min(1).default('./journal-audit'),
  STOCKGUARD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  STOCKGUARD_CATALOG_FILE: z.string().min(1).optional(),
  STOCKGUARD_ROLES: z
    .string()
    .default(ROLES.join(','))
    .transform((value) => value.split(',').map((role) => role.trim()).filter(Boolean))
    .pipe(z.array(z.enum(ROLES)).min(1, 'name at least one role')),
  STOCKGUARD_HTTP_HOST: z.string().min(1).default('0.0.0.0'),
  STOCKGUARD_HTTP_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  STOCKGUARD_HTTP_BODY_LIMIT_BYTES: positiveInt(1_048_576),
  SHOPIFY_APP_SECRET: secret,
  SHOPIFY_APP_SECRET_PREVIOUS: secret,
  STOCKGUARD_WMS_WEBHOOK_SECRET: secret,
  STOCKGUARD_API_TOKEN: secret,
  STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS: positiveInt(6 * 3600),
  STOCKGUARD_WMS_MAX_AGE_SECONDS: positiveInt(300),
  STOCKGUARD_DEDUPE_WINDOW_SECONDS: positiveInt(86_400),
  // Dedupe horizons (docs/operations.md, "Dedupe horizons"): each at least the longest redelivery of its source.
  // The defaults follow SQS's default retention (4 days) and our WMS contract (4 days), plus a day;
  // the sqs role checks the queue's own retention at start-up (src/ingest/amazon/queueRetention.ts).
  STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS: positiveInt(5 * 86_400).describe('How long an Amazon SQS notification id is remembered at the edge, so a redelivered message appends nothing twice. At least the queue\'s message retention (`MessageRetentionPeriod`: 4 days unless the queue was given another, at most 14): a message whose delete failed comes back until then. The `sqs` role reads the retention at start-up and logs a warning (`stockguard doctor` fails the check) when it is longer than this or than `STOCKGUARD_EVENT_HORIZON_SECONDS`; a redelivery past the window is refused by the ledger (dead letter), never applied twice.'),
  STOCKGUARD_WMS_DEDUPE_WINDOW_SECONDS: positiveInt(5 * 86_400).describe('How long a WMS event id is remembered at the edge, so a retried webhook appends nothing twice. The WMS contract (docs/wms.md, "Retries") allows retries for 4 days after the event.'),
  STOCKGUARD_EVENT_HORIZON_SECONDS: positiveInt(5 * 86_400).describe('The ledger\'s dedupe horizon: how long a WMS event or shipment mark, and a closed reservation record (cancelled, or fully shipped), is kept; swept in bounded space per SKU. An event the ledger has no mark of whose own time (order creation, WMS `occurredAt`, else receipt) is older than this is refused with STOCKGUARD_E_STALE_EVENT and dead-lettered, so an expired mark can never let it apply twice. At least the longest redelivery of any source (the SQS queue\'s retention, 4 days by default; the WMS contract, 4 days; Shopify, 6 hours) and the time within which dead letters are replayed. Memory per active SKU grows with it (docs/operations.md, "Dedupe horizons").'),
  STOCKGUARD_STREAM_PARTITIONS: z.coerce.number().int().min(1).max(256).default(4),
  STOCKGUARD_CONSUMER_GROUP: z.string().min(1).max(64).default('stockguard'),
  STOCKGUARD_CONSUMER_NAME: z.string().min(1).max(128).optional().describe('This replica\'s name in the consumer group; unset: HOSTNAME (the pod name in Kubernetes), else the host name. Keep it stable across restarts, so a restarted replica applies the entries its predecessor left pending at once; unique among live replicas (set it when several run on one host).'),
  STOCKGUARD_CONSUMER_BATCH: z.coerce.number().int().min(1).max(1000).default(64),
  STOCKGUARD_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  STOCKGUARD_CLAIM_IDLE_MS: positiveInt(60_000),
  STOCKGUARD_RECLAIM_INTERVAL_MS: positiveInt(15_000),
  STOCKGUARD_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100).default(5),
  STOCKGUARD_SHUTDOWN_DEADLINE_MS: positiveInt(25_000),
  STOCKGUARD_HOLD_REAP_INTERVAL_MS: positiveInt(1_000),
  // Reconciliation and snapshots (docs/reconcile.md).
  STOCKGUARD_WMS_URL: z.string().url().optional(),
  STOCKGUARD_WMS_TOKEN: secret,
  STOCKGUARD_WMS_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(1000),
  STOCKGUARD_WMS_TIMEOUT_MS: positiveInt(30_000),
  STOCKGUARD_WMS_RETRIES: z.coerce.number().int().min(0).max(20).default(5),
  STOCKGUARD_RECONCILE_SCHEDULE: z
    .string()
    .refine((value) => validCron(value), 'must be a cron expression (node-cron: 5 fields, or 6 with seconds)')
    .refine(runsEveryDay, 'must run at least once every day (leave day of month, month and day of week as *), e.g. "30 3 * * *"')
    .default('30 3 * * *'),
  STOCKGUARD_RECONCILE_TIMEZONE: z.string().min(1).default('UTC'),
  STOCKGUARD_RECONCILE_THRESHOLDS: z
    .string()
    .default('{"default":{"units":1,"percent":0}}')
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON such as {"default":{"units":1,"percent":0},"hot":{"units":5,"percent":2}}' });
        return z.NEVER;
      }
    })
    .pipe(ThresholdsSchema),
  STOCKGUARD_RECONCILE_SETTLE_MS: z.coerce.number().int().min(0).max(3_600_000).default(60_000),
  STOCKGUARD_RECONCILE_REPORT_DIR: z.string().min(1).default('./reports/reconcile'),
  STOCKGUARD_RECONCILE_LOCK_TTL_MS: z.coerce.number().int().min(1_000).default(600_000),
  STOCKGUARD_RECONCILE_PENDING_MAX_MS: z.coerce.number().int().min(1_000).max(30 * 86_400_000).default(12 * 3_600_000).describe('With a WMS watermark (docs/reconcile.md, "Pending and lost movements"): how long a WMS movement the snapshot includes may stay missing from the ledger (pending) before reconciliation takes it as lost and corrects the SKU over it. Keep it above the WMS\'s usual retry time.'),
  STOCKGUARD_SNAPSHOT_SCHEDULE: z.string().refine((value) => validCron(value), 'must be a cron expression (node-cron: 5 fields, or 6 with seconds)').optional(),
  STOCKGUARD_SNAPSHOT_DIR: z.string().min(1).default('./snapshots'),
  STOCKGUARD_SNAPSHOT_KEEP: z.coerce.number().int().min(1).max(10_000).default(7),
  AMAZON_SQS_QUEUE_URL: z.string().url().optional(),
  AMAZON_SQS_ENDPOINT: z.string().url().optional(),
  AMAZON_SQS_QUEUE_ARN: z
    .string()
    .regex(/^arn:aws:sqs:\S+:\S+:\S+$/, 'must be an SQS queue ARN such as arn:aws:sqs:us-east-1:123456789012:stockguard')
    .optional()
    .describe('The queue\'s ARN, for `stockguard setup amazon` (the Notifications API destination). Unset: derived from AMAZON_SQS_QUEUE_URL when that is an AWS queue URL (https://sqs.<region>.amazonaws.com/<account>/<name>).'),
  STOCKGUARD_PUBLIC_URL: z
    .string()
    .url()
    .optional()
    .describe('Where the channels reach this daemon\'s HTTP receiver from the internet, e.g. https://stockguard.example.com: `stockguard setup shopify` subscribes <this>/webhooks/shopify, and `stockguard doctor` checks the subscriptions point there. Shopify delivers only to https.'),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(43_200).default(60),
  STOCKGUARD_SQS_WAIT_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
  STOCKGUARD_SQS_RECEIVE_LOOPS: z.coerce
    .number()
    .int()
    .min(1)
    .max(32)
    .default(4)
    .describe('Concurrent SQS receive loops per daemon with the `sqs` role; each handles its batch of up to 10 messages at once. One loop publishing one message at a time fell minutes behind a flash sale on Redis Cluster during failovers (docs/reliability.md).'),
  // Channel pushers (docs/pushers.md). A channel is pushed to when its credentials are set.
  SHOPIFY_STORE_DOMAIN: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be a host name such as my-shop.myshopify.com').optional(),
  SHOPIFY_ACCESS_TOKEN: z.string().min(1).optional(),
  SHOPIFY_API_VERSION: z.string().regex(/^\d{4}-\d{2}$/, 'must look like 2026-10').default('2026-10'),
  SHOPIFY_ADMIN_BASE_URL: z.string().url().optional(),
  STOCKGUARD_SHOPIFY_BATCH_SIZE: z.coerce.number().int().min(1).max(250).default(250),
  AMAZON_SELLER_ID: z.string().min(1).optional(),
  AMAZON_MARKETPLACE_IDS: z
    .string()
    .transform((value) => value.split(',').map((id) => id.trim()).filter(Boolean))
    .pipe(z.array(z.string().regex(/^[A-Z0-9]{8,20}$/, 'must be Amazon marketplace ids such as ATVPDKIKX0DER')).min(1))
    .optional(),
  AMAZON_LWA_CLIENT_ID: z.string().min(1).optional(),
  AMAZON_LWA_CLIENT_SECRET: z.string().min(1).optional(),
  AMAZON_LWA_REFRESH_TOKEN: z.string().min(1).optional(),
  AMAZON_LWA_TOKEN_URL: z.string().url().default('https://api.amazon.com/auth/o2/token'),
  AMAZON_SP_API_ENDPOINT: z.string().url().default('https://sellingpartnerapi-na.amazon.com'),
  STOCKGUARD_AMAZON_RATE_PER_SECOND: z.coerce.number().positive().max(1000).default(5),
  STOCKGUARD_AMAZON_BURST: z.coerce.number().int().min(1).max(1000).default(5),
  // The JSON_LISTINGS_FEED path for backlogs (docs/pushers.md, "Amazon backlogs: feeds").
  STOCKGUARD_AMAZON_FEED_THRESHOLD: z.coerce.number().int().min(0).max(1_000_000).default(300),
  STOCKGUARD_AMAZON_FEED_MAX_MESSAGES: z.coerce.number().int().min(1).max(25_000).default(25_000),
  STOCKGUARD_AMAZON_FEED_WINDOW_MS: z.coerce.number().int().min(0).max(600_000).default(5_000),
  STOCKGUARD_AMAZON_FEED_POLL_SECONDS: z.coerce.number().min(1).max(600).default(10),
  STOCKGUARD_AMAZON_FEED_TIMEOUT_SECONDS: z.coerce.number().int().min(60).max(86_400).default(3_600),
  STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_UNITS: z.coerce.number().int().min(1).max(1_000_000).default(5),
  STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_PERCENT: z.coerce.number().min(0).max(100).default(20),
  STOCKGUARD_AMAZON_FEED_PATCH_SETTLE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(300),
  STOCKGUARD_PUSH_SWEEP_CRON: z.string().refine((value) => validCron(value), 'must be a cron expression (node-cron: 5 fields, or 6 with seconds)').default('* * * * *'),
  STOCKGUARD_PUSH_LINGER_MS: z.coerce.number().int().min(0).max(10_000).default(50),
  STOCKGUARD_PUSH_POLL_MS: z.coerce.number().int().min(1).max(10_000).default(50),
  STOCKGUARD_PUSH_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(5),
  STOCKGUARD_PUSH_REQUEST_TIMEOUT_MS: positiveInt(10_000),
  STOCKGUARD_DYNAMIC_HOLDBACK_WINDOW_SECONDS: z.coerce.number().int().min(1).max(3600).default(60),
  STOCKGUARD_DYNAMIC_HOLDBACK_MAX_UNITS: z.coerce.number().int().min(0).max(1_000_000).default(10),
  STOCKGUARD_DYNAMIC_HOLDBACK_DEFAULT_LATENCY_MS: z.coerce.number().int().min(0).max(600_000).default(1_000),
  STOCKGUARD_DRIFT_SETTLE_SECONDS: z.coerce.number().int().min(0).max(86_400).default(30),
  STOCKGUARD_PUSH_TOP_EXPOSURE_SKUS: z.coerce.number().int().min(0).max(100).default(10),
  STOCKGUARD_ALLOCATION_CHANNEL_MIX: z
    .string()
    .transform((text, context) => {
      const mix = parseChannelMix(text);
      if (typeof mix === 'string') {
        context.addIssue({ code: 'custom', message: mix });
        return z.NEVER;
      }
      return mix;
    })
    .optional(),
  // Channel lag bounds (docs/operations.md, StockguardChannelLagOverBound).
  STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS: lagBound(60),
  STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS: lagBound(300),
  STOCKGUARD_SHOPIFY_APPLY_LAG_BOUND_SECONDS: lagBound(30),
  STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS: lagBound(1800),
});

export interface Config {
  /** tls is set for a rediss:// URL: the files are PEM paths, undefined = the system's CAs and no client certificate. */
  /**
   * waitReplicas: replicas that must confirm a write before it is acknowledged (0: no WAIT);
   * waitTimeoutMs: how long WAIT may block.
   */
  redis: { url: string; cluster: boolean; tls: RedisTlsFiles | undefined; waitReplicas: number; waitTimeoutMs: number };
  keyPrefix: string;
  journalRetentionMs: number;
  /** Directory of the journal's audit files; undefined when STOCKGUARD_JOURNAL_AUDIT_DIR is `off`. */
  journalAuditDir: string | undefined;
  logLevel: z.infer<typeof CONFIG_SCHEMA>['STOCKGUARD_LOG_LEVEL'];
  catalogFile: string | undefined;
  roles: Role[];
  http: { host: string; port: number; bodyLimitBytes: number };
  secrets: { shopifyAppSecrets: string[]; wmsWebhook: string | undefined; apiToken: string | undefined };
  /** Delivery-mark lifetimes per source (seconds): Shopify (`dedupeWindowSeconds`), SQS, WMS. */
  webhooks: { shopifyMaxAgeSeconds: number; wmsMaxAgeSeconds: number; dedupeWindowSeconds: number; sqsDedupeWindowSeconds: number; wmsDedupeWindowSeconds: number };
  /** The ledger's dedupe horizon (docs/operations.md, "Dedupe horizons"). */
  eventHorizonMs: number;
  streams: {
    partitions: number;
    group: string;
    consumerName: string;
    batchSize: number;
    concurrency: number;
    claimIdleMs: number;
    reclaimIntervalMs: number;
    maxDeliveries: number;
  };
  shutdownDeadlineMs: number;
  holdReapIntervalMs: number;
  /** The WMS stock API reconciliation pulls; url undefined = reconciliation cannot run. */
  wms: { url: string | undefined; token: string | undefined; pageSize: number; timeoutMs: number; retries: number };
  /** pendingMaxMs: with a watermark, how long movements may stay pending before they count as lost. */
  reconcile: { schedule: string; timezone: string; thresholds: ThresholdsByClass; settleMs: number; reportDir: string; lockTtlMs: number; pendingMaxMs: number };
  /** schedule undefined = no scheduled snapshots. */
  snapshots: { schedule: string | undefined; dir: string; keep: number };
  sqs: { queueUrl: string | undefined; queueArn: string | undefined; endpoint: string | undefined; region: string; visibilityTimeoutSeconds: number; waitTimeSeconds: number; receiveLoops: number };
  /** The daemon's public base URL (webhook subscriptions point under it); undefined = `setup shopify` cannot run. */
  publicUrl: string | undefined;
  pushers: PusherSettings;
  /** Set when SHOPIFY_STORE_DOMAIN and SHOPIFY_ACCESS_TOKEN are. */
  shopify: ShopifySettings | undefined;
  /** Set when AMAZON_SELLER_ID is (the LWA credentials and marketplaces are then required). */
  amazon: AmazonSettings | undefined;
  /** Per channel, the lags the p99 should stay under (seconds): exported as stockguard_channel_lag_bound_seconds for the alert. */
  lagBounds: Record<'shopify' | 'amazon', { deliverySeconds: number; applySeconds: number }>;
}

export interface RedisTlsFiles {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

export interface PusherSettings {
  sweepCron: string;
  lingerMs: number;
  pollMs: number;
  maxAttempts: number;
  requestTimeoutMs: number;
  dynamicHoldback: { windowMs: number; maxUnits: number; defaultLatencyMs: number };
  driftSettleMs: number;
  topExposureSkus: number;
  /**
   * The merchant's usual share of sales per channel (weights), the bounded allocation's
   * prior before a SKU's own velocity is known (docs/allocation.md); unset: equal shares.
   */
  channelMix?: Partial<Record<'shopify' | 'amazon', number>>;
}

/**
 * `shopify=60,amazon=40`: each channel's usual share of sales, as weights (any scale, at
 * least one above 0). Returns the weights, or what is wrong.
 */
export function parseChannelMix(text: string): Partial<Record<'shopify' | 'amazon', number>> | string {
  const mix: Partial<Record<'shopify' | 'amazon', number>> = {};
  for (const part of text.split(',').map((piece) => piece.trim()).filter((piece) => piece !== '')) {
    const match = /^(shopify|amazon)\s*=\s*(\d+(?:\.\d+)?)$/.exec(part);
    if (!match) return `must be channel=weight pairs such as "shopify=60,amazon=40" (channels: shopify, amazon), got ${JSON.stringify(part)}`;
    const channel = match[1] as 'shopify' | 'amazon';
    if (mix[channel] !== undefined) return `names ${channel} twice`;
    mix[channel] = Number(match[2]);
  }
  if (!Object.values(mix).some((weight) => weight > 0)) return 'needs at least one channel with a weight above 0, e.g. "shopify=60,amazon=40"';
  return mix;
}

export interface ShopifySettings {
  storeDomain: string;
  accessToken: string;
  apiVersion: string;
  /** Sends requests here instead of https://<storeDomain> (the in-repo fake, a proxy). */
  baseUrl: string | undefined;
  batchSize: number;
}

export interface AmazonSettings {
  sellerId: string;
  marketplaceIds: string[];
  endpoint: string;
  lwa: { clientId: string; clientSecret: string; refreshToken: string; tokenUrl: string };
  ratePerSecond: number;
  burst: number;
  /** The JSON_LISTINGS_FEED path for backlogs; left out or threshold 0 = PATCH only. */
  feeds?: AmazonFeedSettings;
}

/** When values go to Amazon by JSON_LISTINGS_FEED instead of patchListingsItem (src/pushers/amazonFeed.ts). */
export interface AmazonFeedSettings {
  /** Values that may go by feed, waiting at once, from which a feed is sent; 0 = never. */
  threshold: number;
  maxMessages: number;
  windowMs: number;
  pollMs: number;
  timeoutMs: number;
  /** A decrease of at least this many units, or this percent of what Amazon shows, is urgent: it goes by PATCH. */
  urgentDecreaseUnits: number;
  urgentDecreasePercent: number;
  /** A SKU PATCHed less than this long ago (ms) is not put in a feed: Amazon orders neither against the other. */
  patchSettleMs: number;
}

/** Reads the configuration; throws STOCKGUARD_E_CONFIG naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = CONFIG_SCHEMA.safeParse(pickKnown(env));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
    throw new StockguardError('STOCKGUARD_E_CONFIG', problems.join('; '), {
      details: { variables: parsed.error.issues.map((issue) => issue.path.join('.')) },
    });
  }
  const values = parsed.data;
  if (values.STOCKGUARD_DEDUPE_WINDOW_SECONDS < values.STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS) {
    // A Shopify retry younger than the max age must still find the first delivery's mark.
    throw new StockguardError('STOCKGUARD_E_CONFIG', `STOCKGUARD_DEDUPE_WINDOW_SECONDS (${values.STOCKGUARD_DEDUPE_WINDOW_SECONDS}) must be at least STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS (${values.STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS}): raise it, or lower the max age`, {
      details: { variables: ['STOCKGUARD_DEDUPE_WINDOW_SECONDS'] },
    });
  }
  const missing: string[] = [];
  if ((values.SHOPIFY_STORE_DOMAIN === undefined) !== (values.SHOPIFY_ACCESS_TOKEN === undefined)) {
    missing.push(values.SHOPIFY_STORE_DOMAIN === undefined ? 'SHOPIFY_STORE_DOMAIN' : 'SHOPIFY_ACCESS_TOKEN');
  }
  if (values.AMAZON_SELLER_ID !== undefined) {
    for (const name of ['AMAZON_MARKETPLACE_IDS', 'AMAZON_LWA_CLIENT_ID', 'AMAZON_LWA_CLIENT_SECRET', 'AMAZON_LWA_REFRESH_TOKEN'] as const) {
      if (values[name] === undefined) missing.push(name);
    }
  }
  if (missing.length > 0) {
    throw new StockguardError('STOCKGUARD_E_CONFIG', `${missing.join(', ')} must be set too: a channel is pushed to only with its complete credentials`, {
      details: { variables: missing },
    });
  }
  const tlsFiles = { caFile: values.STOCKGUARD_REDIS_TLS_CA_FILE, certFile: values.STOCKGUARD_REDIS_TLS_CERT_FILE, keyFile: values.STOCKGUARD_REDIS_TLS_KEY_FILE };
  const tlsVariables = (['STOCKGUARD_REDIS_TLS_CA_FILE', 'STOCKGUARD_REDIS_TLS_CERT_FILE', 'STOCKGUARD_REDIS_TLS_KEY_FILE'] as const).filter((name) => values[name] !== undefined);
  const tls = values.REDIS_URL.startsWith('rediss://');
  if (!tls && tlsVariables.length > 0) {
    throw new StockguardError('STOCKGUARD_E_CONFIG', `${tlsVariables.join(', ')} only apply to a TLS connection: REDIS_URL must start with rediss://`, { details: { variables: ['REDIS_URL', ...tlsVariables] } });
  }
  if ((tlsFiles.certFile === undefined) !== (tlsFiles.keyFile === undefined)) {
    const unset = tlsFiles.certFile === undefined ? 'STOCKGUARD_REDIS_TLS_CERT_FILE' : 'STOCKGUARD_REDIS_TLS_KEY_FILE';
    throw new StockguardError('STOCKGUARD_E_CONFIG', `${unset} must be set too: a client certificate needs its key`, { details: { variables: [unset] } });
  }
  return {
    redis: {
      url: values.REDIS_URL,
      cluster: values.STOCKGUARD_REDIS_CLUSTER,
      tls: tls ? tlsFiles : undefined,
      // A Cluster has replicas by design (docs/operations.md, "Redis Cluster"); one server may have none.
      waitReplicas: values.STOCKGUARD_REDIS_WAIT_REPLICAS ?? (values.STOCKGUARD_REDIS_CLUSTER ? 1 : 0),
      waitTimeoutMs: values.STOCKGUARD_REDIS_WAIT_TIMEOUT_MS,
    },
    keyPrefix: values.STOCKGUARD_KEY_PREFIX,
    journalRetentionMs: values.STOCKGUARD_JOURNAL_RETENTION_DAYS * 86_400_000,
    journalAuditDir: values.STOCKGUARD_JOURNAL_AUDIT_DIR === 'off' ? undefined : values.STOCKGUARD_JOURNAL_AUDIT_DIR,
    logLevel: values.STOCKGUARD_LOG_LEVEL,
    catalogFile: values.STOCKGUARD_CATALOG_FILE,
    roles: values.STOCKGUARD_ROLES,
    http: { host: values.STOCKGUARD_HTTP_HOST, port: values.STOCKGUARD_HTTP_PORT, bodyLimitBytes: values.STOCKGUARD_HTTP_BODY_LIMIT_BYTES },
    secrets: {
      shopifyAppSecrets: [values.SHOPIFY_APP_SECRET, values.SHOPIFY_APP_SECRET_PREVIOUS].filter((value): value is string => value !== undefined),
      wmsWebhook: values.STOCKGUARD_WMS_WEBHOOK_SECRET,
      apiToken: values.STOCKGUARD_API_TOKEN,
    },
    webhooks: {
      shopifyMaxAgeSeconds: values.STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS,
      wmsMaxAgeSeconds: values.STOCKGUARD_WMS_MAX_AGE_SECONDS,
      dedupeWindowSeconds: values.STOCKGUARD_DEDUPE_WINDOW_SECONDS,
      sqsDedupeWindowSeconds: values.STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS,
      wmsDedupeWindowSeconds: values.STOCKGUARD_WMS_DEDUPE_WINDOW_SECONDS,
    },
    eventHorizonMs: values.STOCKGUARD_EVENT_HORIZON_SECONDS * 1000,
    streams: {
      partitions: values.STOCKGUARD_STREAM_PARTITIONS,
      group: values.STOCKGUARD_CONSUMER_GROUP,
      // Kubernetes sets HOSTNAME to the pod name: one consumer per pod in the group. Stable
      // across restarts (no pid), so a restarted replica takes back its own pending entries.
      consumerName: values.STOCKGUARD_CONSUMER_NAME ?? (env.HOSTNAME || hostname()),
      batchSize: values.STOCKGUARD_CONSUMER_BATCH,
      concurrency: values.STOCKGUARD_CONSUMER_CONCURRENCY,
      claimIdleMs: values.STOCKGUARD_CLAIM_IDLE_MS,
      reclaimIntervalMs: values.STOCKGUARD_RECLAIM_INTERVAL_MS,
      maxDeliveries: values.STOCKGUARD_MAX_DELIVERIES,
    },
    shutdownDeadlineMs: values.STOCKGUARD_SHUTDOWN_DEADLINE_MS,
    holdReapIntervalMs: values.STOCKGUARD_HOLD_REAP_INTERVAL_MS,
    wms: {
      url: values.STOCKGUARD_WMS_URL,
      token: values.STOCKGUARD_WMS_TOKEN,
      pageSize: values.STOCKGUARD_WMS_PAGE_SIZE,
      timeoutMs: values.STOCKGUARD_WMS_TIMEOUT_MS,
      retries: values.STOCKGUARD_WMS_RETRIES,
    },
    reconcile: {
      schedule: values.STOCKGUARD_RECONCILE_SCHEDULE,
      timezone: values.STOCKGUARD_RECONCILE_TIMEZONE,
      thresholds: values.STOCKGUARD_RECONCILE_THRESHOLDS,
      settleMs: values.STOCKGUARD_RECONCILE_SETTLE_MS,
      reportDir: values.STOCKGUARD_RECONCILE_REPORT_DIR,
      lockTtlMs: values.STOCKGUARD_RECONCILE_LOCK_TTL_MS,
      pendingMaxMs: values.STOCKGUARD_RECONCILE_PENDING_MAX_MS,
    },
    snapshots: { schedule: values.STOCKGUARD_SNAPSHOT_SCHEDULE, dir: values.STOCKGUARD_SNAPSHOT_DIR, keep: values.STOCKGUARD_SNAPSHOT_KEEP },
    sqs: {
      queueUrl: values.AMAZON_SQS_QUEUE_URL,
      queueArn: values.AMAZON_SQS_QUEUE_ARN,
      endpoint: values.AMAZON_SQS_ENDPOINT,
      region: values.AWS_REGION,
      visibilityTimeoutSeconds: values.STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS,
      waitTimeSeconds: values.STOCKGUARD_SQS_WAIT_SECONDS,
      receiveLoops: values.STOCKGUARD_SQS_RECEIVE_LOOPS,
    },
    publicUrl: values.STOCKGUARD_PUBLIC_URL,
    pushers: {
      sweepCron: values.STOCKGUARD_PUSH_SWEEP_CRON,
      lingerMs: values.STOCKGUARD_PUSH_LINGER_MS,
      pollMs: values.STOCKGUARD_PUSH_POLL_MS,
      maxAttempts: values.STOCKGUARD_PUSH_MAX_ATTEMPTS,
      requestTimeoutMs: values.STOCKGUARD_PUSH_REQUEST_TIMEOUT_MS,
      dynamicHoldback: {
        windowMs: values.STOCKGUARD_DYNAMIC_HOLDBACK_WINDOW_SECONDS * 1000,
        maxUnits: values.STOCKGUARD_DYNAMIC_HOLDBACK_MAX_UNITS,
        defaultLatencyMs: values.STOCKGUARD_DYNAMIC_HOLDBACK_DEFAULT_LATENCY_MS,
      },
      driftSettleMs: values.STOCKGUARD_DRIFT_SETTLE_SECONDS * 1000,
      topExposureSkus: values.STOCKGUARD_PUSH_TOP_EXPOSURE_SKUS,
      ...(values.STOCKGUARD_ALLOCATION_CHANNEL_MIX ? { channelMix: values.STOCKGUARD_ALLOCATION_CHANNEL_MIX } : {}),
    },
    shopify:
      values.SHOPIFY_STORE_DOMAIN !== undefined && values.SHOPIFY_ACCESS_TOKEN !== undefined
        ? {
            storeDomain: values.SHOPIFY_STORE_DOMAIN,
            accessToken: values.SHOPIFY_ACCESS_TOKEN,
            apiVersion: values.SHOPIFY_API_VERSION,
            baseUrl: values.SHOPIFY_ADMIN_BASE_URL,
            batchSize: values.STOCKGUARD_SHOPIFY_BATCH_SIZE,
          }
        : undefined,
    amazon:
      values.AMAZON_SELLER_ID !== undefined &&
      values.AMAZON_MARKETPLACE_IDS !== undefined &&
      values.AMAZON_LWA_CLIENT_ID !== undefined &&
      values.AMAZON_LWA_CLIENT_SECRET !== undefined &&
      values.AMAZON_LWA_REFRESH_TOKEN !== undefined
        ? {
            sellerId: values.AMAZON_SELLER_ID,
            marketplaceIds: values.AMAZON_MARKETPLACE_IDS,
            endpoint: values.AMAZON_SP_API_ENDPOINT,
            lwa: {
              clientId: values.AMAZON_LWA_CLIENT_ID,
              clientSecret: values.AMAZON_LWA_CLIENT_SECRET,
              refreshToken: values.AMAZON_LWA_REFRESH_TOKEN,
              tokenUrl: values.AMAZON_LWA_TOKEN_URL,
            },
            ratePerSecond: values.STOCKGUARD_AMAZON_RATE_PER_SECOND,
            burst: values.STOCKGUARD_AMAZON_BURST,
            feeds: {
              threshold: values.STOCKGUARD_AMAZON_FEED_THRESHOLD,
              maxMessages: values.STOCKGUARD_AMAZON_FEED_MAX_MESSAGES,
              windowMs: values.STOCKGUARD_AMAZON_FEED_WINDOW_MS,
              pollMs: Math.round(values.STOCKGUARD_AMAZON_FEED_POLL_SECONDS * 1000),
              timeoutMs: values.STOCKGUARD_AMAZON_FEED_TIMEOUT_SECONDS * 1000,
              urgentDecreaseUnits: values.STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_UNITS,
              urgentDecreasePercent: values.STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_PERCENT,
              patchSettleMs: values.STOCKGUARD_AMAZON_FEED_PATCH_SETTLE_SECONDS * 1000,
            },
          }
        : undefined,
    lagBounds: {
      shopify: { deliverySeconds: values.STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS, applySeconds: values.STOCKGUARD_SHOPIFY_APPLY_LAG_BOUND_SECONDS },
      amazon: { deliverySeconds: values.STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS, applySeconds: values.STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS },
    },
  };
}

function pickKnown(env: Record<string, string | undefined>): Record<string, string> {
  const known: Record<string, string> = {};
  for (const name of Object.keys(CONFIG_SCHEMA.shape)) {
    const value = env[name];
    // An empty variable means "use the default", as in most twelve-factor daemons.
    if (value !== undefined && value !== '') known[name] = value;
  }
  return known;
}

/** The effective configuration with secrets (the password in REDIS_URL, tokens, webhook secrets) redacted. */
export function redactConfig(config: Config): Config {
  const hide = (value: string | undefined) => (value === undefined ? undefined : '***');
  return {
    ...config,
    redis: { ...config.redis, url: redactUrl(config.redis.url) },
    secrets: {
      shopifyAppSecrets: config.secrets.shopifyAppSecrets.map(() => '***'),
      wmsWebhook: hide(config.secrets.wmsWebhook),
      apiToken: hide(config.secrets.apiToken),
    },
    // Every other URL may carry credentials too (http://user:password@host).
    shopify: config.shopify ? { ...config.shopify, accessToken: '***', baseUrl: optionalUrl(config.shopify.baseUrl) } : undefined,
    wms: { ...config.wms, url: optionalUrl(config.wms.url), token: hide(config.wms.token) },
    sqs: { ...config.sqs, queueUrl: optionalUrl(config.sqs.queueUrl), endpoint: optionalUrl(config.sqs.endpoint) },
    publicUrl: optionalUrl(config.publicUrl),
    amazon: config.amazon
      ? { ...config.amazon, endpoint: redactUrl(config.amazon.endpoint), lwa: { ...config.amazon.lwa, clientSecret: '***', refreshToken: '***', tokenUrl: redactUrl(config.amazon.lwa.tokenUrl) } }
      : undefined,
  };
}

function optionalUrl(url: string | undefined): string | undefined {
  return url === undefined ? undefined : redactUrl(url);
}

/**
 * The URL with its password (and a password query parameter) replaced by ***. The
 * credentials run to the last "@", so an unencoded "@" or "/" in a password is hidden
 * too; the user name stays, to tell ACL users apart.
 */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i, (_match, scheme: string, credentials: string) => {
      const colon = credentials.indexOf(':');
      const user = colon === -1 ? '' : credentials.slice(0, colon);
      return `${scheme}${user}${user ? ':' : ''}***@`;
    })
    .replace(/([?&]password=)[^&#]*/gi, '$1***');
}

function parsableRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
    return url.hostname !== '';
  } catch {
    return false;
  }
}

/** A reconciliation schedule must fire every day (design flow 6: at least daily). */
function runsEveryDay(expression: string): boolean {
  if (!validCron(expression)) return true;
  const fields = parseCron(expression);
  return fields.dayOfMonth.length >= 31 && fields.month.length === 12 && new Set(fields.dayOfWeek.map((day) => Number(day) % 7)).size === 7;
}
