// Trims event streams without ever dropping an entry some group still needs. For each
// stream the safe point is the smallest of, over every consumer group:
//   - the oldest id in the group's pending list (delivered, not acknowledged), and
//   - the id just after the group's last-delivered-id (entries not delivered yet);
// then `XTRIM stream MINID <safe>` removes only entries strictly below it. Both inputs
// only move forward while consumers run, so a safe point read a moment ago is still safe
// when XTRIM runs. A stream without any group is left alone: nobody has read it yet.
import type { Logger } from 'pino';
import { StockguardError } from '../errors.ts';
import { PeriodicPass } from '../periodic.ts';
import type { RedisClient } from '../redis/client.ts';
import { decodeGroupsReply, decodePendingSummary, type GroupState, trimToMinId } from '../redis/streams.ts';
import { minStreamId, nextStreamId } from './streamId.ts';

export interface TrimOptions {
  /**
   * MINID "~" (default true): Redis trims whole internal nodes only, which is cheaper and
   * removes at most what exact trimming would. false trims exactly to the safe point.
   */
  approximate?: boolean;
  /** Also keep acknowledged entries younger than this, for inspection (default 0). */
  retainMs?: number;
  /** Clock for retainMs (default Date.now). */
  clock?: () => number;
}

export interface TrimResult {
  readonly stream: string;
  /** Entries below this id were eligible; undefined when the stream was left alone. */
  readonly safeId: string | undefined;
  readonly trimmed: number;
}

/** The lowest id every group can do without, or undefined when the stream has no group. */
export async function safeTrimId(redis: RedisClient, stream: string): Promise<string | undefined> {
  let groups: GroupState[];
  try {
    groups = decodeGroupsReply(await redis.xinfo('GROUPS', stream));
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  if (groups.length === 0) return undefined;
  const bounds: string[] = [];
  for (const group of groups) {
    bounds.push(nextStreamId(group.lastDeliveredId));
    if (group.pending > 0) {
      const oldestPending = decodePendingSummary(await redis.xpending(stream, group.name));
      if (oldestPending !== undefined) bounds.push(oldestPending);
    }
  }
  return minStreamId(bounds);
}

export async function trimStream(redis: RedisClient, stream: string, options: TrimOptions = {}): Promise<TrimResult> {
  let safeId = await safeTrimId(redis, stream);
  if (safeId === undefined) return { stream, safeId, trimmed: 0 };
  const retainMs = options.retainMs ?? 0;
  if (!Number.isSafeInteger(retainMs) || retainMs < 0) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `retainMs must be a whole number ≥ 0, got ${String(retainMs)}`);
  }
  if (retainMs > 0) {
    const cutoff = `${Math.max(0, (options.clock ?? Date.now)() - retainMs)}-0`;
    safeId = minStreamId([safeId, cutoff])!;
  }
  const trimmed = await trimToMinId(redis, stream, safeId, options.approximate !== false);
  return { stream, safeId, trimmed };
}

export async function trimStreams(redis: RedisClient, streams: readonly string[], options: TrimOptions = {}): Promise<TrimResult[]> {
  const results: TrimResult[] = [];
  for (const stream of streams) results.push(await trimStream(redis, stream, options));
  return results;
}

export interface StreamTrimmerOptions extends TrimOptions {
  redis: RedisClient;
  streams: readonly string[];
  logger: Logger;
  /** Time between trims (default 60000). Every replica may run one: trims are idempotent. */
  intervalMs?: number;
}

/** Runs trimStreams on a schedule until stop(). */
export class StreamTrimmer extends PeriodicPass<TrimResult[]> {
  constructor(private readonly options: StreamTrimmerOptions) {
    super(options, 60_000, 'stream-trimmer');
  }

  async trimOnce(): Promise<TrimResult[]> {
    try {
      const results = await trimStreams(this.options.redis, this.options.streams, this.options);
      const trimmed = results.reduce((sum, result) => sum + result.trimmed, 0);
      if (trimmed > 0) this.logger.debug({ trimmed }, 'trimmed event streams');
      return results;
    } catch (error) {
      this.logger.error({ err: { message: error instanceof Error ? error.message : String(error) } }, 'stream trim failed');
      return [];
    }
  }
}
