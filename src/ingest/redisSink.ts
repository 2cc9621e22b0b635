// The EventSink that appends to the Redis event streams, partitioned by SKU.
import { partitionFor } from '../consumers/partition.ts';
import { partitionSkuOf, type StockguardEvent, streamKindOf } from '../domain/events.ts';
import { replyArray, replyStatus } from '../ledger/decode.ts';
import type { KeySpace } from '../redis/keys.ts';
import type { RedisClient } from '../redis/client.ts';
import { luaScripts } from '../redis/scripts.ts';
import type { ReplicaWait } from '../redis/topology.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { StockguardError } from '../errors.ts';
import type { EventSink, PublishResult } from './sink.ts';

export interface RedisSinkOptions {
  redis: RedisClient;
  keys: KeySpace;
  partitions: number;
  /** How long a delivery id is remembered (seconds); longer than the senders' retry horizon. */
  dedupeWindowSeconds: number;
  /**
   * Per source, instead of `dedupeWindowSeconds` (docs/operations.md, "Dedupe horizons"):
   * e.g. SQS ids for the queue's retention (4 days by default), Shopify ids for its retry window.
   */
  dedupeWindowsBySource?: Partial<Record<StockguardEvent['source'], number>>;
  /**
   * With it, `publish` resolves only once this many replicas have the append (WAIT on the
   * connection that wrote it), and rejects with STOCKGUARD_E_NOT_REPLICATED otherwise: the
   * edge then answers 5xx / leaves the SQS message, and the delivery mark makes the resend
   * a duplicate if the append survived (STOCKGUARD_REDIS_WAIT_REPLICAS).
   */
  replicaWait?: ReplicaWait;
}

export function decodeAppendEvent(raw: unknown): PublishResult {
  const reply = replyArray('appendEvent', raw, 2);
  const status = replyStatus('appendEvent', reply[0], [LedgerStatus.APPENDED, LedgerStatus.DUPLICATE, LedgerStatus.BAD_ARGUMENT]);
  if (status === LedgerStatus.BAD_ARGUMENT) throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', 'appendEvent refused its arguments');
  return status === LedgerStatus.APPENDED ? { entryId: String(reply[1]), duplicate: false } : { entryId: undefined, duplicate: true };
}

export class RedisEventSink implements EventSink {
  constructor(private readonly options: RedisSinkOptions) {}

  streamFor(event: StockguardEvent): string {
    const partition = partitionFor(partitionSkuOf(event), this.options.partitions);
    return this.options.keys.eventStream(streamKindOf(event), partition);
  }

  /** How long the delivery id of this event is remembered (seconds). */
  dedupeWindowFor(event: StockguardEvent): number {
    return this.options.dedupeWindowsBySource?.[event.source] ?? this.options.dedupeWindowSeconds;
  }

  async publish(event: StockguardEvent, options: { deliveryId?: string } = {}): Promise<PublishResult> {
    const stream = this.streamFor(event);
    const mark = options.deliveryId ? this.options.keys.deliveryMark(stream, options.deliveryId) : `${stream}:no-mark`;
    const raw = await luaScripts().appendEvent.run(
      this.options.redis,
      [stream, mark],
      [JSON.stringify(event), options.deliveryId ? this.dedupeWindowFor(event) : 0],
      this.options.replicaWait,
    );
    return decodeAppendEvent(raw);
  }
}
