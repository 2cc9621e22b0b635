// The one place that turns a stream entry's `event` field into a value. The replies the
// entries come in are decoded in src/redis/streams.ts.
import { StockguardError } from '../errors.ts';
import type { RawEntry } from '../redis/streams.ts';

/** The field every event entry carries: a JSON document (see docs/streams.md). */
export const EVENT_FIELD = 'event';

export type DecodedEvent =
  | { readonly ok: true; readonly event: unknown; readonly payload: string }
  | { readonly ok: false; readonly error: StockguardError; readonly payload: string };

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
