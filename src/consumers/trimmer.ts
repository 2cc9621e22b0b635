// Trims event streams without ever dropping an entry some group still needs. For each
// stream the safe point is the smallest of, over every consumer group:
//   - the oldest id in the group's pending list (delivered, not acknowledged), and
//   - the id just after the group's last-delivered-id (entries not delivered yet);
// then `XTRIM stream MINID <safe>` removes only entries strictly below it. Both inputs
// only move forward while consumers run, so a safe point read a moment ago is still safe
// when XTRIM runs. A stream without any group is left alone: nobody has read it yet.
import type { Logger } from 'pino';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../ledger/scripts.ts';
import { minStreamId, nextStreamId, replyFields } from './streamId.ts';

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

interface GroupState {
  readonly name: string;
  readonly pending: number;
  readonly lastDeliveredId: string;
}

/** The lowest id every group can do without, or undefined when the stream has no group. */
export async function safeTrimId(redis: RedisClient, stream: string): Promise<string | undefined> {
  let groups: GroupState[];
  try {
    groups = decodeGroups(await redis.xinfo('GROUPS', stream));
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
  const trimmed = await redis.call('XTRIM', [stream, 'MINID', options.approximate === false ? '=' : '~', safeId]);
  return { stream, safeId, trimmed: Number(trimmed) };
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
export class StreamTrimmer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly logger: Logger;

  constructor(private readonly options: StreamTrimmerOptions) {
    this.intervalMs = options.intervalMs ?? 60_000;
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `intervalMs must be a whole number ≥ 1, got ${String(options.intervalMs)}`);
    }
    this.logger = options.logger.child({ component: 'stream-trimmer' });
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.running ??= this.trimOnce()
        .then(() => undefined)
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass over every stream; errors are logged, not thrown (the next pass retries). */
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

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}

/** XINFO GROUPS: one flat [field, value, …] list per group. */
function decodeGroups(reply: unknown): GroupState[] {
  if (!Array.isArray(reply)) throw new Error(`unexpected XINFO GROUPS reply: ${String(JSON.stringify(reply)).slice(0, 200)}`);
  return reply.map((row: unknown) => {
    if (!Array.isArray(row)) throw new Error(`unexpected XINFO GROUPS row: ${String(JSON.stringify(row)).slice(0, 200)}`);
    const fields = replyFields(row);
    const name = fields.get('name');
    const lastDeliveredId = fields.get('last-delivered-id');
    if (typeof name !== 'string' || typeof lastDeliveredId !== 'string') {
      throw new Error(`XINFO GROUPS row without name or last-delivered-id: ${JSON.stringify(row)}`);
    }
    return { name, lastDeliveredId, pending: Number(fields.get('pending') ?? 0) };
  });
}

/** XPENDING summary: [count, oldest id, newest id, consumers]; ids are nil when nothing is pending. */
function decodePendingSummary(reply: unknown): string | undefined {
  if (!Array.isArray(reply)) throw new Error(`unexpected XPENDING reply: ${String(JSON.stringify(reply)).slice(0, 200)}`);
  const oldest: unknown = reply[1];
  return typeof oldest === 'string' ? oldest : undefined;
}
