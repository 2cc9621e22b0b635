// The typed wrappers of the pushers' writes to a SKU's packed channel state (its field of
// the `chan` layout bucket, src/domain/channelState.ts): recordPushed.lua and
// confirmApplied.lua. Each is one read-modify-write of that one field in one script, because
// the ledger's recordObservation.lua and the other channel's lane write the same field.
import { replyArray, replyInteger, replyStatus } from '../ledger/decode.ts';
import { LedgerStatus } from '../ledger/status.ts';
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';

export type RecordPushedReply = { status: LedgerStatus.APPLIED | LedgerStatus.BAD_ARGUMENT };

export function decodeRecordPushed(raw: unknown): RecordPushedReply {
  const reply = replyArray('recordPushed', raw, 1);
  return { status: replyStatus('recordPushed', reply[0], [LedgerStatus.APPLIED, LedgerStatus.BAD_ARGUMENT]) };
}

export async function recordPushed(redis: RedisClient, bucketKey: string, sku: string, channel: string, level: { quantity: number; atMs: number; version: number }): Promise<RecordPushedReply> {
  return decodeRecordPushed(await luaScripts().recordPushed.run(redis, [bucketKey], [sku, channel, level.quantity, level.atMs, level.version]));
}

export type ConfirmAppliedReply = { status: LedgerStatus.APPLIED; lagMs: number } | { status: LedgerStatus.UNCHANGED | LedgerStatus.BAD_ARGUMENT };

export function decodeConfirmApplied(raw: unknown): ConfirmAppliedReply {
  const reply = replyArray('confirmApplied', raw, 1);
  const status = replyStatus('confirmApplied', reply[0], [LedgerStatus.APPLIED, LedgerStatus.UNCHANGED, LedgerStatus.BAD_ARGUMENT]);
  return status === LedgerStatus.APPLIED ? { status, lagMs: replyInteger('confirmApplied', reply[1]) } : { status };
}

export async function confirmApplied(redis: RedisClient, bucketKey: string, sku: string, channel: string, report: { quantity: number; observedAtMs: number }, slackMs: number): Promise<ConfirmAppliedReply> {
  return decodeConfirmApplied(await luaScripts().confirmApplied.run(redis, [bucketKey], [sku, channel, report.quantity, report.observedAtMs, slackMs]));
}
