import { replyArray, replyStatus } from '../decode.ts';
import type { RedisClient } from '../../redis/client.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';

export interface Observation {
  /** O: a channel's sellable level; F: an Amazon marketplace's FBA stock. */
  kind: 'O' | 'F';
  /** The channel, or the marketplace id. */
  field: string;
  observedAtMs: number;
  quantity: number;
}

export type ObservationReply = { status: LedgerStatus.APPLIED | LedgerStatus.STALE | LedgerStatus.BAD_ARGUMENT };

export function decodeRecordObservation(raw: unknown): ObservationReply {
  const reply = replyArray('recordObservation', raw, 1);
  return { status: replyStatus('recordObservation', reply[0], [LedgerStatus.APPLIED, LedgerStatus.STALE, LedgerStatus.BAD_ARGUMENT]) };
}

/** `bucketKey`: the SKU's `chan` layout bucket (KeySpace.skuBucket('chan', sku)). */
export async function recordObservation(redis: RedisClient, bucketKey: string, sku: string, observation: Observation): Promise<ObservationReply> {
  const raw = await luaScripts().recordObservation.run(redis, [bucketKey], [sku, observation.kind, observation.field, observation.observedAtMs, observation.quantity]);
  return decodeRecordObservation(raw);
}
