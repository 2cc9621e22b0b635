// The producer side of the event streams: one field `event` holding a JSON document.
// Used by the HTTP webhook receiver, the SQS poller and the DLQ replay.
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../redis/client.ts';
import { EVENT_FIELD } from './entries.ts';

export interface AppendOptions {
  /**
   * Back-pressure cap: when the stream already holds this many entries the event is
   * refused with STOCKGUARD_E_STREAM_FULL (HTTP 503, so the sender retries) instead of
   * being appended. It never trims: XADD MAXLEN would drop entries no consumer has
   * acknowledged. The check and the append are two commands, so concurrent producers
   * can overshoot the cap by their number.
   */
  maxLen?: number;
}

/** Appends `event` as JSON to `stream` and returns the new entry id. */
export async function appendEvent(redis: RedisClient, stream: string, event: unknown, options: AppendOptions = {}): Promise<string> {
  const payload = JSON.stringify(event) as string | undefined;
  if (payload === undefined) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `an event must be a JSON value, got ${typeof event}`);
  }
  return appendPayload(redis, stream, payload, options);
}

/** Appends an already serialised event (the DLQ replay re-appends the original bytes). */
export async function appendPayload(redis: RedisClient, stream: string, payload: string, options: AppendOptions = {}): Promise<string> {
  const { maxLen } = options;
  if (maxLen !== undefined) {
    if (!Number.isSafeInteger(maxLen) || maxLen < 1) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `maxLen must be a whole number ≥ 1, got ${String(maxLen)}`);
    }
    const length = await redis.xlen(stream);
    if (length >= maxLen) {
      throw new StockguardError('STOCKGUARD_E_STREAM_FULL', `${stream} holds ${length} entries, cap ${maxLen}`, {
        details: { stream, length, maxLen },
      });
    }
  }
  const id = await redis.xadd(stream, '*', EVENT_FIELD, payload);
  if (typeof id !== 'string') throw new Error(`XADD to ${stream} returned ${String(id)} instead of an entry id`);
  return id;
}
