// Removing dead consumers from a group. A consumer that died under a name that never comes
// back (a pod replaced under a new name, a process that ran with another name) stays in
// XINFO CONSUMERS for ever unless somebody deletes it. Once another consumer has claimed
// its pending entries it owns nothing, and XGROUP DELCONSUMER is safe. Deleting a consumer
// that still owns pending entries would drop them from the group's pending list (lost, never
// redelivered), so the check and the delete run in one script: nothing can be delivered to
// the consumer between them (src/lua/retireConsumer.lua). docs/streams.md, "Dead consumers".
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';
import { replyFields } from '../redis/streams.ts';

export interface GroupMember {
  name: string;
  pending: number;
  idleMs: number;
}

/** XINFO CONSUMERS of one stream's group; [] when the stream or the group does not exist. */
export async function groupMembers(redis: RedisClient, stream: string, group: string): Promise<GroupMember[]> {
  let reply: unknown;
  try {
    reply = await redis.xinfo('CONSUMERS', stream, group);
  } catch (error) {
    if (error instanceof Error && /^(NOGROUP|ERR no such key)/.test(error.message)) return [];
    throw error;
  }
  if (!Array.isArray(reply)) return [];
  return reply.filter(Array.isArray).map((row: unknown[]) => {
    const fields = replyFields(row);
    return { name: String(fields.get('name')), pending: Number(fields.get('pending') ?? 0), idleMs: Number(fields.get('idle') ?? 0) };
  });
}

/**
 * Deletes `consumer` from the group if, at that moment, it owns no pending entry and has
 * been idle at least `minIdleMs`. True when it was deleted.
 */
export async function retireConsumer(redis: RedisClient, stream: string, group: string, consumer: string, minIdleMs: number): Promise<boolean> {
  return Number(await luaScripts().retireConsumer.run(redis, [stream], [group, consumer, minIdleMs])) === 1;
}

/**
 * Deletes every consumer of the group on `stream`, other than `self`, that owns no pending
 * entry and has been idle at least `minIdleMs`. Returns the names deleted.
 */
export async function retireDeadConsumers(redis: RedisClient, stream: string, group: string, self: string, minIdleMs: number): Promise<string[]> {
  const retired: string[] = [];
  for (const member of await groupMembers(redis, stream, group)) {
    if (member.name === self || member.pending > 0 || member.idleMs < minIdleMs) continue;
    if (await retireConsumer(redis, stream, group, member.name, minIdleMs)) retired.push(member.name);
  }
  return retired;
}
