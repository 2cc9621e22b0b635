// Gives each test file its own Redis: REDIS_URL when set (with a key prefix of its own,
// never flushed), otherwise a private redis-server on a free port, otherwise a
// testcontainers Redis when a Docker engine answers, otherwise a clear error.
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import { StockguardError } from '../../src/errors.ts';
import { RedisCluster, RedisServer, redisServerAvailable } from '../../src/sim/redisServer.ts';

export interface TestRedis {
  /** Where the tests' Redis is. */
  url: string;
  /** A key prefix of this test file's own. */
  prefix: string;
  /** The private server, when the helper started one (so a test can kill or restart it). */
  server: RedisServer | undefined;
  /** A new client; closed by close(). */
  client(): Redis;
  close(): Promise<void>;
}

export interface TestCluster {
  prefix: string;
  cluster: RedisCluster;
  client(): Cluster;
  close(): Promise<void>;
}

export async function startTestRedis(): Promise<TestRedis> {
  const prefix = `sgtest-${randomUUID().slice(0, 8)}`;
  const external = process.env.REDIS_URL;
  if (external) return wrap(external, prefix, undefined, async () => deleteOwnKeys(external, prefix));
  if (await redisServerAvailable()) {
    const server = await RedisServer.start();
    return wrap(server.url, prefix, server, () => server.stop());
  }
  const container = await startContainer();
  if (container) return wrap(container.url, prefix, undefined, container.stop);
  throw new StockguardError('STOCKGUARD_E_TEST_REDIS', 'REDIS_URL is unset, redis-server is not on PATH and no Docker engine answered');
}

export async function startTestCluster(): Promise<TestCluster> {
  if (!(await redisServerAvailable())) {
    throw new StockguardError('STOCKGUARD_E_TEST_REDIS', 'the Cluster tests start three redis-server processes and redis-server is not on PATH');
  }
  const cluster = await RedisCluster.start();
  const clients: Cluster[] = [];
  return {
    prefix: `sgtest-${randomUUID().slice(0, 8)}`,
    cluster,
    client() {
      const client = new Cluster(cluster.startupNodes, { redisOptions: { maxRetriesPerRequest: 3 } });
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
      await cluster.stop();
    },
  };
}

function wrap(url: string, prefix: string, server: RedisServer | undefined, release: () => Promise<void>): TestRedis {
  const clients: Redis[] = [];
  return {
    url,
    prefix,
    server,
    client() {
      const client = new Redis(url, { maxRetriesPerRequest: 3 });
      // Tests that kill Redis on purpose expect connection errors; they assert on results.
      client.on('error', () => undefined);
      clients.push(client);
      return client;
    },
    async close() {
      await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
      await release();
    },
  };
}

async function deleteOwnKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

async function startContainer(): Promise<{ url: string; stop: () => Promise<void> } | undefined> {
  try {
    const { GenericContainer } = await import('testcontainers');
    const container = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    return {
      url: `redis://${container.getHost()}:${container.getMappedPort(6379)}`,
      stop: async () => void (await container.stop()),
    };
  } catch {
    return undefined;
  }
}
