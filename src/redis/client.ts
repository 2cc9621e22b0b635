// The Redis client type every module takes, and the daemon's client built from
// configuration: one server or a Cluster. Every
// client gets an 'error' listener (an unhandled one would crash the process) that logs
// and counts. Credentials come from REDIS_URL (`redis://user:password@host:port`, ACL
// user or `default`), TLS from a rediss:// URL and the STOCKGUARD_REDIS_TLS_* files;
// main.ts gives the catalogue's node-redis client the same settings (docs/security.md).
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { StockguardError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** One server or a Cluster; src/redis/topology.ts is where code asks which. */
export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  logger?: Logger;
  onError?: (error: Error) => void;
  /** Connection name shown by CLIENT LIST, e.g. "stockguard-cli". */
  connectionName?: string;
}

/** What both client libraries need to reach and log in to the configured Redis. */
export interface RedisEndpoint {
  host: string;
  port: number;
  username: string | undefined;
  password: string | undefined;
  /** Set for rediss://: CA, client certificate and key read from their files. */
  tls: ConnectionOptions | undefined;
}

export function redisEndpoint(config: Config): RedisEndpoint {
  // loadConfig has checked that the URL parses and its credentials decode.
  const url = new URL(config.redis.url);
  return {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: config.redis.tls ? tlsOptions(config.redis.tls) : undefined,
  };
}

function tlsOptions(files: NonNullable<Config['redis']['tls']>): ConnectionOptions {
  const read = (variable: string, file: string | undefined) => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      throw new StockguardError('STOCKGUARD_E_CONFIG', `${variable} names ${JSON.stringify(file)}, which cannot be read (${error instanceof Error ? error.message : String(error)})`, {
        cause: error,
        details: { variables: [variable] },
      });
    }
  };
  const ca = read('STOCKGUARD_REDIS_TLS_CA_FILE', files.caFile);
  const cert = read('STOCKGUARD_REDIS_TLS_CERT_FILE', files.certFile);
  const key = read('STOCKGUARD_REDIS_TLS_KEY_FILE', files.keyFile);
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/**
 * A Redis error's message for an operator, with the configured credentials taken out.
 * Redis's own replies (WRONGPASS, NOAUTH) never repeat them; this guards the rest.
 */
export function describeRedisError(error: unknown, endpoint: Pick<RedisEndpoint, 'password'>): string {
  let message = error instanceof Error ? error.message : String(error);
  if (endpoint.password) message = message.split(endpoint.password).join('***');
  return message.split('\n')[0]!.trim();
}

export function createRedisClient(config: Config, options: RedisClientOptions = {}): RedisClient {
  const endpoint = redisEndpoint(config);
  const common = {
    connectionName: options.connectionName ?? 'stockguard',
    username: endpoint.username,
    password: endpoint.password,
    tls: endpoint.tls,
    maxRetriesPerRequest: 5,
  };
  const client: RedisClient = config.redis.cluster
    ? new Cluster([{ host: endpoint.host, port: endpoint.port }], { redisOptions: common })
    : new Redis(config.redis.url, common);
  let lastLogged = 0;
  client.on('error', (error: Error) => {
    options.onError?.(error);
    // A Redis outage produces an error per reconnect attempt: log at most once a second.
    if (Date.now() - lastLogged > 1000) {
      lastLogged = Date.now();
      options.logger?.error({ err: { message: describeRedisError(error, endpoint) } }, 'redis client error');
    }
  });
  return client;
}

// What Redis (either client library) answers while a server restarts or a Cluster moves
// slots to a new master: the command may succeed if sent again later, and says nothing
// about the command itself. Redis replies are matched at their start, the clients' own
// errors anywhere in the message.
const UNAVAILABLE_REPLIES = ['CLUSTERDOWN', 'TRYAGAIN', 'LOADING', 'READONLY', 'MASTERDOWN', 'MOVED', 'ASK', 'BUSY'];
const UNAVAILABLE_MESSAGES = [
  'Connection is closed',
  'Too many Cluster redirections',
  'Command timed out',
  'Reached the max retries per request limit',
  "Stream isn't writeable",
  'None of startup nodes is available',
  'Failed to refresh slots cache',
  // node-redis (the catalogue's client): its errors while a Cluster node goes away.
  'The client is closed',
  'The client is offline',
  'Disconnects client',
  'Connection timeout',
  'All the root nodes are unavailable',
  'Socket closed unexpectedly',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
];

/**
 * Whether an error (or one of its causes) says Redis was unreachable or between masters,
 * or could not confirm a write on its replicas in time (STOCKGUARD_E_NOT_REPLICATED),
 * not that the command was wrong: a consumer does not count such a failure against an
 * entry's delivery limit (docs/streams.md, "Delivery limit").
 */
export function isRedisUnavailable(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth += 1) {
    // Written but not confirmed by enough replicas in time: a master without its replica, for now.
    if (current instanceof StockguardError && current.code === 'STOCKGUARD_E_NOT_REPLICATED') return true;
    const { message } = current;
    if (UNAVAILABLE_REPLIES.some((reply) => message.startsWith(`${reply} `) || message === reply)) return true;
    if (UNAVAILABLE_MESSAGES.some((text) => message.includes(text))) return true;
  }
  return false;
}
