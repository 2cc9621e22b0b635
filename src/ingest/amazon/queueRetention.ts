// The SQS queue's own redelivery limit against stockguard's horizons (docs/operations.md,
// "Dedupe horizons"). A message whose delete failed comes back until the queue's
// `MessageRetentionPeriod` ends (4 days unless the queue was given another, at most 14). The
// edge remembers a notification id for STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS and the ledger
// its marks and closed records for STOCKGUARD_EVENT_HORIZON_SECONDS; a redelivery later than
// either is refused as stale (a dead letter), never applied twice, but it is a sale that
// needs an operator. So a retention longer than a horizon is a warning with its fix, read
// by the `sqs` role at start-up and by `stockguard doctor`.
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../../config.ts';
import { StockguardError } from '../../errors.ts';

export interface QueueHorizons {
  sqsDedupeWindowSeconds: number;
  eventHorizonSeconds: number;
}

/** The two horizons a queue's retention must fit in, from the config. */
export function queueHorizonsOf(config: Pick<Config, 'webhooks' | 'eventHorizonMs'>): QueueHorizons {
  return { sqsDedupeWindowSeconds: config.webhooks.sqsDedupeWindowSeconds, eventHorizonSeconds: config.eventHorizonMs / 1000 };
}

export type RetentionVerdict =
  | { ok: true; retentionSeconds: number; detail: string }
  | { ok: false; retentionSeconds: number; detail: string; fix: string };

/** The queue's MessageRetentionPeriod in seconds (needs sqs:GetQueueAttributes on the queue). */
export async function readQueueRetention(client: SQSClient, queueUrl: string, signal?: AbortSignal): Promise<number> {
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['MessageRetentionPeriod'] }), signal ? { abortSignal: signal } : {});
  const raw = Attributes?.MessageRetentionPeriod;
  const seconds = Number(raw);
  if (raw === undefined || !Number.isInteger(seconds) || seconds <= 0) {
    throw new StockguardError('STOCKGUARD_E_BAD_PAYLOAD', `SQS answered GetQueueAttributes for ${queueUrl} without a MessageRetentionPeriod in seconds (got ${JSON.stringify(raw)})`);
  }
  return seconds;
}

function days(seconds: number): string {
  const value = seconds / 86_400;
  return `${Number.isInteger(value) ? value : value.toFixed(2)} day${value === 1 ? '' : 's'}`;
}

/** Whether both horizons cover a message the queue can still redeliver, with the fix when not. */
export function judgeRetention(retentionSeconds: number, horizons: QueueHorizons): RetentionVerdict {
  const short = [
    ...(horizons.sqsDedupeWindowSeconds < retentionSeconds ? [`STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS (${horizons.sqsDedupeWindowSeconds} s, ${days(horizons.sqsDedupeWindowSeconds)})`] : []),
    ...(horizons.eventHorizonSeconds < retentionSeconds ? [`STOCKGUARD_EVENT_HORIZON_SECONDS (${horizons.eventHorizonSeconds} s, ${days(horizons.eventHorizonSeconds)})`] : []),
  ];
  if (short.length === 0) {
    return { ok: true, retentionSeconds, detail: `the queue keeps an undeleted message ${retentionSeconds} s (${days(retentionSeconds)}), within the SQS dedupe window and the event horizon` };
  }
  const wanted = retentionSeconds + 86_400;
  return {
    ok: false,
    retentionSeconds,
    detail: `the queue keeps an undeleted message ${retentionSeconds} s (${days(retentionSeconds)}, MessageRetentionPeriod), longer than ${short.join(' and ')}: a notification redelivered after that is refused as stale and dead-lettered (never applied twice), and its sale needs an operator`,
    fix: `raise STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS and STOCKGUARD_EVENT_HORIZON_SECONDS to at least ${wanted} (the retention plus a day) on every role, or lower the queue's MessageRetentionPeriod`,
  };
}
