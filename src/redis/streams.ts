// Stream commands whose replies ioredis leaves untyped (XREADGROUP, XAUTOCLAIM, XTRIM), and
// the decoders of every stream reply stockguard reads: XREADGROUP / XREAD, XAUTOCLAIM,
// XRANGE, XINFO (flat field lists), XINFO GROUPS and the XPENDING summary. Replies arrive
// as `unknown`; a reply without the documented shape is a plain Error (a bug or an
// incompatible server, retried like any Redis failure), never a bad event.
import type { RedisClient } from './client.ts';

/** One entry as Redis delivered it. `fields` is undefined when the entry was deleted while pending. */
export interface RawEntry {
  readonly stream: string;
  readonly id: string;
  readonly fields: Readonly<Record<string, string>> | undefined;
}

export interface AutoClaimReply {
  /** Cursor for the next XAUTOCLAIM call; "0-0" once the whole pending list was scanned. */
  readonly next: string;
  readonly entries: RawEntry[];
  /** Pending ids whose entries no longer exist (Redis 7 removes them from the pending list). */
  readonly deleted: string[];
}

/** One consumer group as XINFO GROUPS lists it. */
export interface GroupState {
  readonly name: string;
  readonly pending: number;
  readonly lastDeliveredId: string;
}

function malformed(what: string, reply: unknown): Error {
  return new Error(`unexpected ${what} reply from Redis: ${String(JSON.stringify(reply)).slice(0, 200)}`);
}

function asString(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  throw malformed(what, value);
}

function decodeFields(value: unknown, what: string): Record<string, string> | undefined {
  if (value === null) return undefined;
  if (!Array.isArray(value) || value.length % 2 !== 0) throw malformed(what, value);
  const fields: Record<string, string> = {};
  for (let i = 0; i < value.length; i += 2) fields[asString(value[i], what)] = asString(value[i + 1], what);
  return fields;
}

function decodeEntries(stream: string, value: unknown, what: string): RawEntry[] {
  if (!Array.isArray(value)) throw malformed(what, value);
  return value.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 2) throw malformed(what, item);
    return { stream, id: asString(item[0], what), fields: decodeFields(item[1], what) };
  });
}

/** XREADGROUP / XREAD: null on timeout, else [[stream, [[id, fields], …]], …]. */
export function decodeReadReply(reply: unknown): RawEntry[] {
  if (reply === null) return [];
  if (!Array.isArray(reply)) throw malformed('XREADGROUP', reply);
  return reply.flatMap((streamReply: unknown) => {
    if (!Array.isArray(streamReply) || streamReply.length !== 2) throw malformed('XREADGROUP', streamReply);
    return decodeEntries(asString(streamReply[0], 'XREADGROUP'), streamReply[1], 'XREADGROUP');
  });
}

/** XAUTOCLAIM: [next, [[id, fields], …]] on Redis 6.2, plus [deleted ids] from Redis 7. */
export function decodeAutoClaimReply(stream: string, reply: unknown): AutoClaimReply {
  if (!Array.isArray(reply) || reply.length < 2) throw malformed('XAUTOCLAIM', reply);
  const deleted = reply[2] === undefined ? [] : reply[2];
  if (!Array.isArray(deleted)) throw malformed('XAUTOCLAIM', reply);
  return {
    next: asString(reply[0], 'XAUTOCLAIM'),
    entries: decodeEntries(stream, reply[1], 'XAUTOCLAIM'),
    deleted: deleted.map((id: unknown) => asString(id, 'XAUTOCLAIM')),
  };
}

/** XRANGE: [[id, fields], …]. */
export function decodeRangeReply(stream: string, reply: unknown): RawEntry[] {
  return decodeEntries(stream, reply, 'XRANGE');
}

/** A flat Redis reply `[field, value, field, value, …]` (XINFO GROUPS rows, XINFO STREAM) as a map. */
export function replyFields(flat: readonly unknown[]): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(String(flat[i]), flat[i + 1]);
  return fields;
}

/** XINFO GROUPS: one flat [field, value, …] list per group. */
export function decodeGroupsReply(reply: unknown): GroupState[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected XINFO GROUPS reply: ${String(JSON.stringify(reply)).slice(0, 200)}`);
  return reply.map((row: unknown) => {
    if (!Array.isArray(row)) throw new Error(`unexpected XINFO GROUPS row: ${String(JSON.stringify(row)).slice(0, 200)}`);
    const fields = replyFields(row);
    const name = fields.get('name');
    const lastDeliveredId = fields.get('last-delivered-id');
    if (typeof name !== 'string' || typeof lastDeliveredId !== 'string') {
      throw new Error(`XINFO GROUPS row without name or last-delivered-id: ${JSON.stringify(row)}`);
    }
    return { name, lastDeliveredId, pending: Number(fields.get('pending') ?? 0) };
  });
}

/** XPENDING summary: [count, oldest id, newest id, consumers]; ids are nil when nothing is pending. */
export function decodePendingSummary(reply: unknown): string | undefined {
  if (!Array.isArray(reply)) throw new Error(`unexpected XPENDING reply: ${String(JSON.stringify(reply)).slice(0, 200)}`);
  const oldest: unknown = reply[1];
  return typeof oldest === 'string' ? oldest : undefined;
}

export interface ReadGroupOptions {
  readonly group: string;
  readonly consumer: string;
  readonly count: number;
  /** BLOCK ms; omitted: the read does not block. */
  readonly blockMs?: number;
}

/**
 * XREADGROUP over `streams`, each from its id in `ids` (">" for new entries; an id reads
 * the consumer's own pending list after it). All streams must share a slot on Cluster.
 */
export async function readGroup(client: RedisClient, options: ReadGroupOptions, streams: readonly string[], ids: readonly string[]): Promise<RawEntry[]> {
  return decodeReadReply(await client.call('XREADGROUP', readGroupArguments(options, streams, ids)));
}

/** The arguments of XREADGROUP, for a caller that keeps the pending call (to interrupt it). */
export function readGroupArguments(options: ReadGroupOptions, streams: readonly string[], ids: readonly string[]): (string | number)[] {
  return [
    'GROUP', options.group, options.consumer,
    'COUNT', options.count,
    ...(options.blockMs === undefined ? [] : ['BLOCK', options.blockMs]),
    'STREAMS', ...streams, ...ids,
  ];
}

/** XAUTOCLAIM of entries idle at least `minIdleMs`, from `cursor`, at most `count`. */
export async function autoClaim(client: RedisClient, stream: string, group: string, consumer: string, minIdleMs: number, cursor: string, count: number): Promise<AutoClaimReply> {
  return decodeAutoClaimReply(stream, await client.call('XAUTOCLAIM', [stream, group, consumer, minIdleMs, cursor, 'COUNT', count]));
}

/** XTRIM stream MINID (~ or =) id; the number of entries removed. */
export async function trimToMinId(client: RedisClient, stream: string, minId: string, approximate: boolean): Promise<number> {
  return Number(await client.call('XTRIM', [stream, 'MINID', approximate ? '~' : '=', minId]));
}
