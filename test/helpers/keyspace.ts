// Every key under a prefix with its type and full content, for "nothing changed" and
// "reproduced exactly" assertions. Streams compare entries (ids and fields), hashes and
// sets compare as sorted lists, sorted sets with their scores.
import type { Cluster, Redis } from 'ioredis';

export type KeyDump = Record<string, { type: string; value: unknown; ttl: boolean }>;

export async function dumpKeyspace(client: Redis, prefix: string): Promise<KeyDump> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  const dump: KeyDump = {};
  for (const key of keys.sort()) {
    const type = await client.type(key);
    const ttl = (await client.pttl(key)) >= 0;
    let value: unknown;
    if (type === 'hash') value = Object.entries(await client.hgetall(key)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    else if (type === 'stream') value = await client.xrange(key, '-', '+');
    else if (type === 'set') value = (await client.smembers(key)).sort();
    else if (type === 'zset') value = await client.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'string') value = await client.get(key);
    else if (type === 'list') value = await client.lrange(key, 0, -1);
    else value = `<${type}>`;
    dump[key] = { type, value, ttl };
  }
  return dump;
}

/** The dump with every key's prefix swapped, to compare two prefixes' content. */
export function withPrefix(dump: KeyDump, from: string, to: string): KeyDump {
  return Object.fromEntries(Object.entries(dump).map(([key, content]) => [`${to}${key.slice(from.length)}`, content]));
}

/** Deletes every key under `prefix:` (for extra prefixes a test made beside its own, on a shared REDIS_URL). */
export async function deletePrefix(client: Redis | Cluster, prefix: string): Promise<void> {
  await deleteKeys(client, `${globEscape(prefix)}:*`);
}

/**
 * SCAN + UNLINK of every key the SCAN pattern `match` finds and `accept` keeps; on a Cluster,
 * on every master (each master's keys are unlinked on that master, one key per command,
 * since keys of different slots cannot share a command). Returns how many were deleted.
 */
export async function deleteKeys(client: Redis | Cluster, match: string, accept: (key: string) => boolean = () => true): Promise<number> {
  const cluster = client.isCluster;
  const nodes: Redis[] = cluster ? (client as Cluster).nodes('master') : [client as Redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      cursor = next;
      const keys = found.filter(accept);
      if (keys.length === 0) continue;
      if (cluster) {
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.unlink(key);
        const failure = (await pipeline.exec())?.find(([error]) => error)?.[0];
        if (failure) throw failure;
      } else {
        await node.unlink(...keys);
      }
      deleted += keys.length;
    } while (cursor !== '0');
  }
  return deleted;
}

/** `text` with the SCAN glob's special characters escaped. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
