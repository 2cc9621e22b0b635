// The dead-letter stream: entries no handler could apply, each with why, where it came
// from and its original payload, so an operator can fix the cause and replay it.
// Writers (the consumer) XADD here *before* they XACK the original, so a crash between
// the two leaves a duplicate, never a loss.
import { StockguardError } from '../errors.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { notReplicated } from '../redis/scripts.ts';
import { decodeRangeReply, type RawEntry } from '../redis/streams.ts';
import { type ReplicaWait, writeThenWait } from '../redis/topology.ts';
import { appendPayload } from './append.ts';
import { compareStreamIds } from './streamId.ts';

/** The `reason` of an entry delivered more often than the consumer's maxDeliveries. */
export const TOO_MANY_DELIVERIES = 'too many deliveries';

export interface DeadLetterRecord {
  /** Stream the entry was read from. */
  readonly stream: string;
  /** Its id there. */
  readonly id: string;
  /** The original payload: the `event` field as written by the producer. */
  readonly event: string;
  /** An error code (e.g. STOCKGUARD_E_UNKNOWN_SKU), an error name, or `too many deliveries`. */
  readonly reason: string;
  readonly message: string;
  /** Times the entry had been delivered when it was dead-lettered. */
  readonly deliveries: number;
  readonly group: string;
  readonly consumer: string;
  readonly atMs: number;
}

export interface DeadLetter extends DeadLetterRecord {
  /** The entry id in the dead-letter stream. */
  readonly dlqId: string;
}

/**
 * Appends a dead letter. With `wait`, it resolves only once that many replicas have it and
 * throws STOCKGUARD_E_NOT_REPLICATED otherwise, so the caller does not acknowledge the
 * original (the dead letter is then its only copy): a second attempt may write it twice.
 */
export async function writeDeadLetter(redis: RedisClient, deadLetterStream: string, record: DeadLetterRecord, wait?: ReplicaWait): Promise<string> {
  const fields = [
    'stream', record.stream,
    'id', record.id,
    'event', record.event,
    'reason', record.reason,
    'message', record.message,
    'deliveries', String(record.deliveries),
    'group', record.group,
    'consumer', record.consumer,
    'at_ms', String(record.atMs),
  ];
  let id: unknown;
  if (wait) {
    const written = await writeThenWait(redis, ['XADD', deadLetterStream, '*', ...fields], wait);
    if (written.error) throw written.error;
    if (written.replicas < wait.replicas) {
      wait.onShortfall?.(written.replicas);
      throw notReplicated('XADD', deadLetterStream, written.replicas, wait);
    }
    id = written.reply;
  } else {
    id = await redis.xadd(deadLetterStream, '*', ...fields);
  }
  if (typeof id !== 'string') throw new Error(`XADD to ${deadLetterStream} returned ${String(id)} instead of an entry id`);
  return id;
}

function toDeadLetter(entry: RawEntry): DeadLetter {
  const fields = entry.fields ?? {};
  return {
    dlqId: entry.id,
    stream: fields.stream ?? '',
    id: fields.id ?? '',
    event: fields.event ?? '',
    reason: fields.reason ?? '',
    message: fields.message ?? '',
    deliveries: Number(fields.deliveries ?? 0),
    group: fields.group ?? '',
    consumer: fields.consumer ?? '',
    atMs: Number(fields.at_ms ?? 0),
  };
}

export interface ListDeadLettersOptions {
  /** At most this many, oldest first (default 100). */
  count?: number;
  /** Only dead letters after this DLQ id (exclusive), for paging. */
  after?: string;
}

export async function listDeadLetters(redis: RedisClient, keys: KeySpace, options: ListDeadLettersOptions = {}): Promise<DeadLetter[]> {
  const count = options.count ?? 100;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `count must be a whole number ≥ 1, got ${String(count)}`);
  }
  const start = options.after === undefined ? '-' : `(${options.after}`;
  const reply: unknown = await redis.xrange(keys.deadLetters(), start, '+', 'COUNT', count);
  return decodeRangeReply(keys.deadLetters(), reply).map(toDeadLetter);
}

export type ReplaySelection = { readonly ids: readonly string[] } | { readonly all: true };

export interface ReplayResult {
  /** Re-appended to their stream and removed from the DLQ; `newId` is the id in the stream. */
  readonly replayed: { dlqId: string; stream: string; newId: string }[];
  /** Requested DLQ ids that were not there. */
  readonly missing: string[];
  /** Left in the DLQ because their stream is not a stockguard event stream. */
  readonly refused: { dlqId: string; stream: string }[];
}

const PAGE = 100;

/**
 * Re-appends each selected dead letter's original payload to its original stream and
 * only then deletes it from the DLQ: a crash in between replays it twice, which the
 * handlers' idempotency (invariant I2) absorbs. `all` covers the dead letters present
 * when the call starts, so entries that fail again during the replay are not looped.
 */
export async function replayDeadLetters(redis: RedisClient, keys: KeySpace, selection: ReplaySelection): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: [], missing: [], refused: [] };
  const dlq = keys.deadLetters();
  const replayOne = async (letter: DeadLetter): Promise<void> => {
    if (!letter.stream.startsWith(keys.eventStreamPrefix())) {
      result.refused.push({ dlqId: letter.dlqId, stream: letter.stream });
      return;
    }
    const newId = await appendPayload(redis, letter.stream, letter.event);
    await redis.xdel(dlq, letter.dlqId);
    result.replayed.push({ dlqId: letter.dlqId, stream: letter.stream, newId });
  };

  if ('ids' in selection) {
    // Checked before any replay, so a typo replays nothing rather than reaching Redis as a bad range.
    const bad = selection.ids.filter((dlqId) => !/^[0-9]+-[0-9]+$/.test(dlqId));
    if (bad.length > 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `${bad.map((dlqId) => JSON.stringify(dlqId)).join(', ')} ${bad.length > 1 ? 'are not dead-letter ids' : 'is not a dead-letter id'}: use the ids "dlq list" prints, like 1733390000000-0`, { details: { ids: bad } });
    }
    for (const dlqId of selection.ids) {
      const reply: unknown = await redis.xrange(dlq, dlqId, dlqId);
      const [letter] = decodeRangeReply(dlq, reply).map(toDeadLetter);
      if (letter) await replayOne(letter);
      else result.missing.push(dlqId);
    }
    return result;
  }

  const newest = decodeRangeReply(dlq, await redis.xrevrange(dlq, '+', '-', 'COUNT', 1))[0]?.id;
  if (newest === undefined) return result;
  let after: string | undefined;
  for (;;) {
    const page = await listDeadLetters(redis, keys, { count: PAGE, ...(after === undefined ? {} : { after }) });
    const due = page.filter((letter) => compareStreamIds(letter.dlqId, newest) <= 0);
    for (const letter of due) await replayOne(letter);
    if (due.length < page.length || page.length < PAGE) return result;
    after = page[page.length - 1]!.dlqId;
  }
}
