// pino JSON logs, pretty on a TTY, with every field that can carry a secret redacted.
// Code should log redactConfig(config), never the config itself, and never a request's
// headers; these paths are the second line of defence (test/security/secrets.test.ts).
import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'redis.url',
  'config.redis.url',
  'config.secrets.shopifyAppSecrets',
  'config.secrets.wmsWebhook',
  'config.secrets.apiToken',
  'config.shopify.accessToken',
  'config.wms.token',
  'config.amazon.lwa.clientSecret',
  'config.amazon.lwa.refreshToken',
  'secrets.shopifyAppSecrets',
  'secrets.wmsWebhook',
  'secrets.apiToken',
  '*.password',
  '*.accessToken',
  '*.appSecret',
  '*.refreshToken',
  '*.clientSecret',
  '*.secretAccessKey',
  '*.sessionToken',
  'credentials.secretAccessKey',
  'credentials.sessionToken',
  '*.credentials.secretAccessKey',
  '*.credentials.sessionToken',
  '*.token',
  'headers.authorization',
  'headers["x-shopify-access-token"]',
  'headers["x-amz-access-token"]',
  'headers["x-shopify-hmac-sha256"]',
  'headers["x-stockguard-signature"]',
  '*.headers.authorization',
  '*.headers["x-shopify-access-token"]',
  '*.headers["x-amz-access-token"]',
];

/**
 * Redis clients attach the failed command to their errors, arguments included: an AUTH that
 * failed after a password change carries the password (ioredis `ReplyError.command.args`).
 * Errors are serialized as pino does, then every `command.args` in them, causes included,
 * is replaced by its length.
 */
function withoutCommandArgs(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object' || depth > 4) return value;
  if (Array.isArray(value)) return value.map((item) => withoutCommandArgs(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (key === 'command' && field !== null && typeof field === 'object' && 'args' in field) {
      const { args, ...rest } = field as { args: unknown };
      out[key] = { ...rest, args: Array.isArray(args) ? `*** (${args.length} arguments)` : '***' };
    } else {
      out[key] = withoutCommandArgs(field, depth + 1);
    }
  }
  return out;
}

export function serializeError(error: unknown): unknown {
  return withoutCommandArgs(error instanceof Error ? pino.stdSerializers.err(error) : error);
}

export function createLogger(options: { level: string; name?: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  const pretty = options.destination === undefined && (options.pretty ?? Boolean(process.stdout.isTTY));
  const settings = {
    name: options.name ?? 'stockguard',
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '***' },
    serializers: { err: serializeError, error: serializeError },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return options.destination === undefined ? pino(settings) : pino(settings, options.destination);
}
