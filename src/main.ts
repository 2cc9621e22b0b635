// The composition root: the one place that turns configuration into connected parts.
// The CLI, the demo and (later) `stockguard serve` all start here.
import { createClient, createCluster } from 'redis';
import type { RedisConnection } from 'redis-om';
import { Catalog } from './catalog/catalog.ts';
import type { Config } from './config.ts';
import { StockguardError } from './errors.ts';
import { type Clock, Ledger } from './ledger/ledger.ts';
import type { RedisClient } from './ledger/scripts.ts';
import type { Logger } from './logger.ts';
import { createRedisClient } from './redis.ts';

export interface Runtime {
  config: Config;
  redis: RedisClient;
  ledger: Ledger;
  catalog: Catalog;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, options: { logger?: Logger; clock?: Clock; connectionName?: string } = {}): Promise<Runtime> {
  const redis = createRedisClient(config, { logger: options.logger, connectionName: options.connectionName });
  try {
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new StockguardError('STOCKGUARD_E_REDIS_UNAVAILABLE', `PING to ${new URL(config.redis.url).host} failed`, { cause: error });
  }
  const catalogRedis = await connectCatalogClient(config, options.logger);
  const ledger = new Ledger({ redis, keyPrefix: config.keyPrefix, clock: options.clock, journalRetentionMs: config.journalRetentionMs });
  const catalog = new Catalog({ redis: catalogRedis, keyPrefix: config.keyPrefix });
  return {
    config,
    redis,
    ledger,
    catalog,
    async close() {
      await Promise.allSettled([redis.quit(), catalogRedis.quit()]);
    },
  };
}

// redis-om speaks node-redis only: the catalogue gets its own connection (docs/decisions.md).
async function connectCatalogClient(config: Config, logger: Logger | undefined): Promise<RedisConnection & { quit(): Promise<unknown> }> {
  const client = config.redis.cluster ? createCluster({ rootNodes: [{ url: config.redis.url }] }) : createClient({ url: config.redis.url });
  client.on('error', (error: Error) => logger?.error({ err: { message: error.message } }, 'catalogue redis client error'));
  try {
    await client.connect();
  } catch (error) {
    throw new StockguardError('STOCKGUARD_E_REDIS_UNAVAILABLE', `the catalogue connection to ${new URL(config.redis.url).host} failed`, { cause: error });
  }
  return client as unknown as RedisConnection & { quit(): Promise<unknown> };
}
