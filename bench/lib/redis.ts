// The benchmarks' Redis: BENCH_REDIS_URL when set (the benchmarks then only touch keys
// under their own prefixes and delete them afterwards), otherwise a private redis-server
// started for the run. Never the shared Redis on 6379 by accident.
import { Redis, type RedisOptions } from 'ioredis';
import { RedisServer } from '../../src/sim/redisServer.ts';

export interface BenchRedis {
  url: string;
  /** True when the run started its own redis-server. */
  private: boolean;
  close(): Promise<void>;
}

export async function openBenchRedis(url = process.env.BENCH_REDIS_URL): Promise<BenchRedis> {
  if (url) return { url, private: false, close: async () => undefined };
  const server = await RedisServer.start();
  return { url: server.url, private: true, close: () => server.stop() };
}

/** `count` connections, each with an error listener (an unhandled 'error' event crashes Node). */
export async function connect(url: string, count: number, options: RedisOptions = {}): Promise<Redis[]> {
  const connections = Array.from({ length: count }, () => {
    const connection = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true, ...options });
    connection.on('error', (error: Error) => console.error(`bench redis client: ${error.message}`));
    return connection;
  });
  await Promise.all(connections.map((connection) => connection.connect()));
  return connections;
}

export async function disconnect(connections: readonly Redis[]): Promise<void> {
  await Promise.all(connections.map((connection) => connection.quit().catch(() => connection.disconnect())));
}

/** Deletes every key under `prefix:` (SCAN + UNLINK), so a shared server is left as found. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/**
 * A pipeline's replies, in order; throws the first error among them (ioredis reports a
 * failed command in its reply pair, not by rejecting) and when the pipeline was aborted.
 */
export async function execPipeline(pending: Promise<[error: Error | null, result: unknown][] | null>): Promise<unknown[]> {
  const replies = await pending;
  if (replies === null) throw new Error('pipeline aborted');
  return replies.map(([error, result]) => {
    if (error) throw error;
    return result;
  });
}

/** INFO memory used_memory, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? Number.NaN);
}
