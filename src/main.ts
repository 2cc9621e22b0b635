// The composition root: the one place that turns configuration into connected parts.
// The CLI, the demo and (later) `stockguard serve` all start here.
import { Catalog } from './catalog/catalog.ts';
import type { Config } from './config.ts';
import { StockguardError } from './errors.ts';
import { type Clock, Ledger } from './ledger/ledger.ts';
import type { RedisClient } from './redis/client.ts';
import type { Logger } from './logger.ts';
import { createRedisClient, describeRedisError, redisEndpoint } from './redis/client.ts';
import { KeySpace } from './redis/keys.ts';
import { ensureLayout } from './redis/layout.ts';

export interface Runtime {
  config: Config;
  redis: RedisClient;
  ledger: Ledger;
  catalog: Catalog;
  close(): Promise<void>;
}

export interface OpenRuntimeOptions {
  logger?: Logger;
  clock?: Clock;
  connectionName?: string;
  /**
   * Check the key layout marker (src/redis/layout.ts) before anything else reads or writes:
   * an older layout is refused with STOCKGUARD_E_LAYOUT_OUTDATED, a Redis without one is
   * marked. Off only for `stockguard migrate layout`, which is what moves the old layout.
   */
  checkLayout?: boolean;
}

export async function openRuntime(config: Config, options: OpenRuntimeOptions = {}): Promise<Runtime> {
  const redis = createRedisClient(config, { logger: options.logger, connectionName: options.connectionName });
  const endpoint = redisEndpoint(config);
  // A refused connection or a rejected certificate arrives as an 'error' event while the
  // PING itself only reports that its retries ran out: keep the event to say why.
  let connectionError: unknown;
  const recordConnectionError = (error: unknown) => (connectionError = error);
  redis.on('error', recordConnectionError);
  try {
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    // The reason (WRONGPASS, NOAUTH, a TLS or connection error) tells the operator what to fix.
    const reason = [error, ...(connectionError !== undefined && connectionError !== error ? [connectionError] : [])].map((cause) => describeRedisError(cause, endpoint)).join('; last connection error: ');
    throw new StockguardError('STOCKGUARD_E_REDIS_UNAVAILABLE', `PING to ${new URL(config.redis.url).host} failed: ${reason}`, { cause: error });
  } finally {
    redis.off('error', recordConnectionError);
  }
  if (options.checkLayout ?? true) {
    try {
      await ensureLayout(redis, new KeySpace(config.keyPrefix));
    } catch (error) {
      redis.disconnect();
      throw error;
    }
  }
  const ledger = new Ledger({ redis, keyPrefix: config.keyPrefix, clock: options.clock, journalRetentionMs: config.journalRetentionMs, dedupeHorizonMs: config.eventHorizonMs });
  const catalog = new Catalog({ redis, keyPrefix: config.keyPrefix });
  return {
    config,
    redis,
    ledger,
    catalog,
    async close() {
      await redis.quit().catch(() => undefined);
    },
  };
}
