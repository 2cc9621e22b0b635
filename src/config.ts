// One schema for every setting. Values come from environment variables; each has a
// documented default (docs/configuration.md). A bad value stops start-up with an error
// that names the variable and the fix.
import { z } from 'zod';
import { StockguardError } from './errors.ts';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
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
});

export interface Config {
  redis: { url: string; cluster: boolean };
  keyPrefix: string;
  journalRetentionMs: number;
  logLevel: z.infer<typeof CONFIG_SCHEMA>['STOCKGUARD_LOG_LEVEL'];
  catalogFile: string | undefined;
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

/** The effective configuration with secrets (the password in REDIS_URL) redacted. */
export function redactConfig(config: Config): Config {
  return { ...config, redis: { ...config.redis, url: redactUrl(config.redis.url) } };
}

export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_match, credentials: string) => {
    const user = credentials.includes(':') ? credentials.slice(0, credentials.indexOf(':')) : '';
    return `//${user}${user ? ':' : ''}***@`;
  });
}
