// Gives each test file its own Redis: REDIS_URL when set (with a key prefix of its own,
// never flushed), otherwise a private redis-server on a free port, otherwise a
// testcontainers Redis when a Docker engine answers, otherwise a clear error.
//
// On REDIS_URL every prefix handed out is registered, and its keys are deleted (SCAN +
// UNLINK, on every master of a Cluster) by close(), which the files call in their `after`
// hook (uvu runs it even when tests fail). A prefix whose close() never ran (a hook that
// threw first, a handle opened inside a test) is cleaned when the process runs out of work
// ('beforeExit'), or, when it exits early (process.exit, an uncaught error), by a
// synchronous child process from the 'exit' hook. The keys deleted are `<prefix>:…` and
// the derived prefixes tests make beside their own, `<prefix>-<anything>:…`.
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { StockguardError } from '../../src/errors.ts';
import { RedisCluster, RedisServer, redisServerAvailable } from '../../src/sim/redisServer.ts';
import { deleteKeys, globEscape } from './keyspace.ts';

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
  if (external) {
    handedOut.set(prefix, external);
    return wrap(external, prefix, undefined, () => cleanPrefix(prefix));
  }
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
      try {
        await Promise.all(clients.map((client) => client.quit().catch(() => client.disconnect())));
      } finally {
        await release();
      }
    },
  };
}

/** Prefixes handed out on REDIS_URL whose keys are not deleted yet: prefix → url. */
const handedOut = new Map<string, string>();

async function cleanPrefix(prefix: string): Promise<void> {
  const url = handedOut.get(prefix);
  if (url === undefined) return;
  await deleteTestKeys(url, prefix);
  handedOut.delete(prefix);
}

/** True for `<prefix>:…` and `<prefix>-…` (the derived prefixes), not for another prefix that merely starts alike. */
function ownedBy(prefix: string): (key: string) => boolean {
  return (key) => key.startsWith(prefix) && (key[prefix.length] === ':' || key[prefix.length] === '-');
}

/**
 * Deletes every key of a test prefix on the Redis at `url`: `<prefix>:…` and
 * `<prefix>-…`. On a Cluster (`cluster_enabled:1`) it scans every master. Returns the count.
 */
export async function deleteTestKeys(url: string, prefix: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout: 5_000, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const match = `${globEscape(prefix)}*`;
    if (!/^cluster_enabled:1/m.test(await client.info('cluster'))) return await deleteKeys(client, match, ownedBy(prefix));
    const { host, port, username, password, tls } = client.options;
    const cluster = new Cluster([{ host, port }], { redisOptions: { username, password, tls }, clusterRetryStrategy: () => null });
    cluster.on('error', () => undefined);
    try {
      await cluster.ping();
      return await deleteKeys(cluster, match, ownedBy(prefix));
    } finally {
      cluster.disconnect();
    }
  } finally {
    client.disconnect();
  }
}

// The safety nets for prefixes whose close() never ran. 'beforeExit' may do async work;
// it fires again once that work is done, hence the flag.
let finalSweep = false;
process.on('beforeExit', () => {
  if (finalSweep || handedOut.size === 0) return;
  finalSweep = true;
  void Promise.allSettled([...handedOut.keys()].map((prefix) => cleanPrefix(prefix)));
});
// 'exit' cannot wait for a promise: a child process deletes the keys, synchronously.
process.on('exit', () => {
  if (handedOut.size === 0) return;
  const cleaner = fileURLToPath(new URL('./cleanup.ts', import.meta.url));
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const targets = [...handedOut].map(([prefix, url]) => `${url} ${prefix}`);
  spawnSync(process.execPath, ['--import', 'tsx', cleaner, ...targets], { cwd: root, stdio: 'inherit', timeout: 20_000 });
});

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
