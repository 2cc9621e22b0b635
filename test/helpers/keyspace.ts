// Every key under a prefix with its type and full content, for "nothing changed" and
// "reproduced exactly" assertions. Streams compare entries (ids and fields), hashes and
// sets compare as sorted lists, sorted sets with their scores.
import type { Redis } from 'ioredis';

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
export async function deletePrefix(client: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.unlink(...keys);
  } while (cursor !== '0');
}
