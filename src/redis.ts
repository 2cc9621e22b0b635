// Builds the daemon's Redis client from configuration: one server or a Cluster. Every
// client gets an 'error' listener (an unhandled one would crash the process) that logs
// and counts.
import { Cluster, Redis } from 'ioredis';
import type { Config } from './config.ts';
import type { RedisClient } from './ledger/scripts.ts';
import type { Logger } from './logger.ts';

export interface RedisClientOptions {
  logger?: Logger;
  onError?: (error: Error) => void;
  /** Connection name shown by CLIENT LIST, e.g. "stockguard-cli". */
  connectionName?: string;
}

export function createRedisClient(config: Config, options: RedisClientOptions = {}): RedisClient {
  const url = new URL(config.redis.url);
  const common = {
    connectionName: options.connectionName ?? 'stockguard',
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: 5,
  };
  const client: RedisClient = config.redis.cluster
    ? new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], { redisOptions: common })
    : new Redis(config.redis.url, common);
  let lastLogged = 0;
  client.on('error', (error: Error) => {
    options.onError?.(error);
    // A Redis outage produces an error per reconnect attempt: log at most once a second.
    if (Date.now() - lastLogged > 1000) {
      lastLogged = Date.now();
      options.logger?.error({ err: { message: error.message } }, 'redis client error');
    }
  });
  return client;
}
