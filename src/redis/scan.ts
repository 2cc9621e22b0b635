// SCAN over every key matching a pattern: on one server, or on every master of a Cluster
// (SCAN only sees the node it is sent to).
import type { RedisClient } from './client.ts';
import { masters } from './topology.ts';

export async function* scanKeys(redis: RedisClient, match: string, count = 1000): AsyncIterable<string[]> {
  for (const node of masters(redis)) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      if (keys.length > 0) yield keys;
    } while (cursor !== '0');
  }
}

/** Escapes the glob characters of a literal part of a SCAN pattern (prefixes may contain none of them, SKUs may). */
export function globEscape(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}
