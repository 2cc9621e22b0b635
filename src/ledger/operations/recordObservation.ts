import { replyArray, replyStatus } from '../decode.ts';
import type { RedisClient } from '../../redis/client.ts';
import { luaScripts } from '../../redis/scripts.ts';
import { LedgerStatus } from '../status.ts';

export interface Observation {
  field: string;
  observedAtMs: number;
  quantity: number;
  eventId: string;
}

export type ObservationReply = { status: LedgerStatus.APPLIED | LedgerStatus.STALE | LedgerStatus.BAD_ARGUMENT };

export function decodeRecordObservation(raw: unknown): ObservationReply {
  const reply = replyArray('recordObservation', raw, 1);
  return { status: replyStatus('recordObservation', reply[0], [LedgerStatus.APPLIED, LedgerStatus.STALE, LedgerStatus.BAD_ARGUMENT]) };
}

export async function recordObservation(redis: RedisClient, observationsKey: string, observation: Observation): Promise<ObservationReply> {
  const raw = await luaScripts().recordObservation.run(redis, [observationsKey], [
    observation.field,
    observation.observedAtMs,
    observation.quantity,
    observation.eventId,
  ]);
  return decodeRecordObservation(raw);
}
