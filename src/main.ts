// The composition root: the one place that turns configuration into connected parts.
// The CLI, the demo and (later) `stockguard serve` all start here.
import { createClient, createCluster } from 'redis';
import type { RedisConnection } from 'redis-om';
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
  let catalogRedis: CatalogConnection;
  try {
    catalogRedis = await connectCatalogClient(config, options.logger);
  } catch (error) {
    redis.disconnect();
    throw error;
  }
  const ledger = new Ledger({ redis, keyPrefix: config.keyPrefix, clock: options.clock, journalRetentionMs: config.journalRetentionMs, dedupeHorizonMs: config.eventHorizonMs });
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

type CatalogConnection = RedisConnection & { quit(): Promise<unknown> };

// redis-om speaks node-redis only: the catalogue gets its own connection (docs/decisions.md),
// with the same credentials and TLS settings as the ioredis client.
async function connectCatalogClient(config: Config, logger: Logger | undefined): Promise<CatalogConnection> {
  const endpoint = redisEndpoint(config);
  // node-redis retries a failing first connection forever, so connect() would never settle
  // (a certificate it rejects, a Redis that is down): give up after a few tries at start-up
  // only; once connected, it reconnects for as long as it takes, like ioredis.
  let connected = false;
  // The delay is node-redis's own default.
  const reconnectStrategy = (retries: number, cause: Error): number | Error => (!connected && retries >= 5 ? cause : Math.min(retries * 50, 500));
  // node-redis reads user, password and rediss:// from the URL itself; the TLS files are added here.
  const socket = { reconnectStrategy, ...(endpoint.tls ? { tls: true as const, ...endpoint.tls } : {}) };
  const client = config.redis.cluster
    ? createCluster({
        rootNodes: [{ url: config.redis.url }],
        // The nodes the Cluster reports are dialled with these, not with the root node's URL.
        defaults: { username: endpoint.username, password: endpoint.password, socket },
      })
    : createClient({ url: config.redis.url, socket });
  client.on('error', (error: Error) => logger?.error({ err: { message: describeRedisError(error, endpoint) } }, 'catalogue redis client error'));
  try {
    await client.connect();
    connected = true;
  } catch (error) {
    await client.disconnect().catch(() => undefined);
    throw new StockguardError('STOCKGUARD_E_REDIS_UNAVAILABLE', `the catalogue connection to ${new URL(config.redis.url).host} failed: ${describeRedisError(error, endpoint)}`, { cause: error });
  }
  return client as unknown as CatalogConnection;
}
