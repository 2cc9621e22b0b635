// pino JSON logs, pretty on a TTY, with every field that can carry a secret redacted.
import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'redis.url',
  '*.password',
  '*.accessToken',
  '*.appSecret',
  '*.refreshToken',
  '*.clientSecret',
  '*.secretAccessKey',
  '*.token',
  'headers.authorization',
  'headers["x-shopify-access-token"]',
  'headers["x-amz-access-token"]',
];

export function createLogger(options: { level: string; name?: string; pretty?: boolean }): Logger {
  const pretty = options.pretty ?? Boolean(process.stdout.isTTY);
  return pino({
    name: options.name ?? 'stockguard',
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '***' },
    ...(pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
