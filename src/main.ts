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
import type { ReplicaWait } from './redis/topology.ts';

/** Where a write waits for replicas: the edge's event appends, the ledger's changes. */
export type ReplicaWaitPart = 'edge' | 'ledger';

export interface Runtime {
  config: Config;
  redis: RedisClient;
  ledger: Ledger;
  catalog: Catalog;
  /**
   * The WAIT that follows each write of `part` before it is acknowledged
   * (STOCKGUARD_REDIS_WAIT_REPLICAS, STOCKGUARD_REDIS_WAIT_TIMEOUT_MS); undefined when off.
   * The ledger already has its own.
   */
  replicaWait(part: ReplicaWaitPart): ReplicaWait | undefined;
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
  /** Told of each write fewer replicas than asked confirmed in time (a metric). */
  onReplicaShortfall?: (part: ReplicaWaitPart) => void;
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
  const { waitReplicas, waitTimeoutMs } = config.redis;
  const replicaWait = (part: ReplicaWaitPart): ReplicaWait | undefined =>
    waitReplicas === 0 ? undefined : { replicas: waitReplicas, timeoutMs: waitTimeoutMs, onShortfall: () => options.onReplicaShortfall?.(part) };
  const ledger = new Ledger({ redis, keyPrefix: config.keyPrefix, clock: options.clock, journalRetentionMs: config.journalRetentionMs, dedupeHorizonMs: config.eventHorizonMs, replicaWait: replicaWait('ledger') });
  const catalog = new Catalog({ redis, keyPrefix: config.keyPrefix });
  return {
    config,
    redis,
    ledger,
    catalog,
    replicaWait,
    async close() {
      await redis.quit().catch(() => undefined);
    },
  };
}
