// The one place that asks whether the client is a single server or a Cluster
// (`instanceof Cluster` appears nowhere else: test/unit/redisPort.test.ts). What differs:
// - a script call or a multi-key command must stay in one slot on Cluster, so batches are
//   sent per key (routed by slot) instead of in one pipeline;
// - SCAN only sees the node it is sent to, so it runs on every master;
// - a pipeline may not span slots, so independent commands on keys of many slots
//   (sendEach) are sent one by one, all in flight at once;
// - one XREADGROUP may only name keys of one slot, so each stream gets its own read;
// - a blocked read on Cluster cannot be interrupted with CLIENT UNBLOCK (its node and
//   client id are not known), only by disconnecting.
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './client.ts';

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The nodes that hold keys: every master of a Cluster, or the one server. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** One command on one key (its first argument after the name), with its arguments. */
export type KeyCommand = readonly [name: string, key: string, ...args: (string | Buffer | number)[]];

/**
 * Independent single-key commands, all in flight at once; replies (binary-safe, as
 * Buffers) or errors in command order. One pipeline on one server; on Cluster each command
 * goes on its own, routed to its key's slot (one pipeline may not span slots).
 */
export async function sendEach(client: RedisClient, commands: readonly KeyCommand[]): Promise<[Error | null, unknown][]> {
  if (commands.length === 0) return [];
  if (isCluster(client)) {
    return Promise.all(
      commands.map(([name, ...args]) =>
        client.callBuffer(name, ...args).then(
          (reply): [Error | null, unknown] => [null, reply],
          (error: unknown): [Error | null, unknown] => [error instanceof Error ? error : new Error(String(error)), null],
        ),
      ),
    );
  }
  const pipeline = client.pipeline();
  for (const [name, ...args] of commands) pipeline.callBuffer(name, ...args);
  return (await pipeline.exec()) ?? [];
}

/**
 * A new connection for blocking reads. On one server it has no command timeout (a
 * blocked XREADGROUP would otherwise time out); a Cluster duplicate keeps its options.
 */
export function duplicateForBlocking(client: RedisClient): RedisClient {
  return isCluster(client) ? client.duplicate() : client.duplicate({ commandTimeout: undefined });
}

/** The stream sets one XREADGROUP each may read: all together on one server, one per stream on Cluster. */
export function streamSetsPerRead(client: RedisClient, streams: readonly string[]): (readonly string[])[] {
  return isCluster(client) ? streams.map((stream) => [stream]) : [streams];
}

/** CLIENT ID of a single-server connection; undefined on Cluster, where a blocked read cannot be unblocked by id. */
export async function blockingClientId(connection: RedisClient): Promise<number | undefined> {
  if (isCluster(connection)) return undefined;
  return Number(await connection.call('CLIENT', ['ID']));
}

/**
 * CLIENT UNBLOCK <id> TIMEOUT sent through `client`: the blocked read returns as if it
 * timed out. Only on one server (false on Cluster: the caller disconnects instead).
 */
export async function unblockClient(client: RedisClient, clientId: number): Promise<boolean> {
  if (isCluster(client)) return false;
  await client.call('CLIENT', ['UNBLOCK', clientId, 'TIMEOUT']);
  return true;
}
