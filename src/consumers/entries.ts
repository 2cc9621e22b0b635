// Decoders for the stream replies the consumer reads (XREADGROUP, XAUTOCLAIM), and the
// one place that turns an entry's `event` field into a value. Replies arrive as
// `unknown` from ioredis; a reply without the documented shape is a plain Error (a bug or
// an incompatible server, retried like any Redis failure), never a bad event.
import { StockguardError } from '../errors.ts';

/** The field every event entry carries: a JSON document (see docs/streams.md). */
export const EVENT_FIELD = 'event';

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

export type DecodedEvent =
  | { readonly ok: true; readonly event: unknown; readonly payload: string }
  | { readonly ok: false; readonly error: StockguardError; readonly payload: string };

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

/**
 * The entry's event. The payload kept for the dead-letter stream is the raw `event`
 * value, or, when the field is missing, every field as a JSON object.
 */
export function decodeEvent(entry: RawEntry): DecodedEvent {
  const fields = entry.fields ?? {};
  const payload = fields[EVENT_FIELD];
  if (payload === undefined) {
    return {
      ok: false,
      payload: JSON.stringify(fields),
      error: new StockguardError('STOCKGUARD_E_BAD_EVENT', `entry ${entry.id} of ${entry.stream} has no "${EVENT_FIELD}" field`),
    };
  }
  try {
    return { ok: true, event: JSON.parse(payload) as unknown, payload };
  } catch (error) {
    return {
      ok: false,
      payload,
      error: new StockguardError('STOCKGUARD_E_BAD_EVENT', `entry ${entry.id} of ${entry.stream}: ${error instanceof Error ? error.message : String(error)}`, {
        cause: error,
      }),
    };
  }
}
