// One schema for every setting. Values come from environment variables; each has a
// documented default (docs/configuration.md). A bad value stops start-up with an error
// that names the variable and the fix.
import { hostname } from 'node:os';
import { z } from 'zod';
import { StockguardError } from './errors.ts';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const secret = z.string().min(16, 'must be at least 16 characters').optional();

export const ROLES = ['http', 'consumers', 'sqs', 'holds'] as const;
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
    .default('redis://127.0.0.1:6379'),
  STOCKGUARD_REDIS_CLUSTER: flag(false),
  STOCKGUARD_KEY_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "." or "-" only')
    .default('sg'),
  STOCKGUARD_JOURNAL_RETENTION_DAYS: positiveInt(35),
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
  STOCKGUARD_DEDUPE_WINDOW_SECONDS: positiveInt(7 * 86_400),
  STOCKGUARD_STREAM_PARTITIONS: z.coerce.number().int().min(1).max(256).default(4),
  STOCKGUARD_CONSUMER_GROUP: z.string().min(1).max(64).default('stockguard'),
  STOCKGUARD_CONSUMER_NAME: z.string().min(1).max(128).optional(),
  STOCKGUARD_CONSUMER_BATCH: z.coerce.number().int().min(1).max(1000).default(64),
  STOCKGUARD_CONSUMER_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  STOCKGUARD_CLAIM_IDLE_MS: positiveInt(60_000),
  STOCKGUARD_RECLAIM_INTERVAL_MS: positiveInt(15_000),
  STOCKGUARD_MAX_DELIVERIES: z.coerce.number().int().min(1).max(100).default(5),
  STOCKGUARD_SHUTDOWN_DEADLINE_MS: positiveInt(25_000),
  STOCKGUARD_HOLD_REAP_INTERVAL_MS: positiveInt(1_000),
  AMAZON_SQS_QUEUE_URL: z.string().url().optional(),
  AMAZON_SQS_ENDPOINT: z.string().url().optional(),
  AWS_REGION: z.string().min(1).default('us-east-1'),
  STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(43_200).default(60),
  STOCKGUARD_SQS_WAIT_SECONDS: z.coerce.number().int().min(0).max(20).default(20),
});

export interface Config {
  redis: { url: string; cluster: boolean };
  keyPrefix: string;
  journalRetentionMs: number;
  logLevel: z.infer<typeof CONFIG_SCHEMA>['STOCKGUARD_LOG_LEVEL'];
  catalogFile: string | undefined;
  roles: Role[];
  http: { host: string; port: number; bodyLimitBytes: number };
  secrets: { shopifyAppSecrets: string[]; wmsWebhook: string | undefined; apiToken: string | undefined };
  webhooks: { shopifyMaxAgeSeconds: number; wmsMaxAgeSeconds: number; dedupeWindowSeconds: number };
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
  sqs: { queueUrl: string | undefined; endpoint: string | undefined; region: string; visibilityTimeoutSeconds: number; waitTimeSeconds: number };
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
  return {
    redis: { url: values.REDIS_URL, cluster: values.STOCKGUARD_REDIS_CLUSTER },
    keyPrefix: values.STOCKGUARD_KEY_PREFIX,
    journalRetentionMs: values.STOCKGUARD_JOURNAL_RETENTION_DAYS * 86_400_000,
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
    },
    streams: {
      partitions: values.STOCKGUARD_STREAM_PARTITIONS,
      group: values.STOCKGUARD_CONSUMER_GROUP,
      // Kubernetes sets HOSTNAME to the pod name: one consumer per pod in the group.
      consumerName: values.STOCKGUARD_CONSUMER_NAME ?? env.HOSTNAME ?? `${hostname()}-${process.pid}`,
      batchSize: values.STOCKGUARD_CONSUMER_BATCH,
      concurrency: values.STOCKGUARD_CONSUMER_CONCURRENCY,
      claimIdleMs: values.STOCKGUARD_CLAIM_IDLE_MS,
      reclaimIntervalMs: values.STOCKGUARD_RECLAIM_INTERVAL_MS,
      maxDeliveries: values.STOCKGUARD_MAX_DELIVERIES,
    },
    shutdownDeadlineMs: values.STOCKGUARD_SHUTDOWN_DEADLINE_MS,
    holdReapIntervalMs: values.STOCKGUARD_HOLD_REAP_INTERVAL_MS,
    sqs: {
      queueUrl: values.AMAZON_SQS_QUEUE_URL,
      endpoint: values.AMAZON_SQS_ENDPOINT,
      region: values.AWS_REGION,
      visibilityTimeoutSeconds: values.STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS,
      waitTimeSeconds: values.STOCKGUARD_SQS_WAIT_SECONDS,
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
  };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_match, credentials: string) => {
    const user = credentials.includes(':') ? credentials.slice(0, credentials.indexOf(':')) : '';
    return `//${user}${user ? ':' : ''}***@`;
  });
}
