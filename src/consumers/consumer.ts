// One member of a Redis Streams consumer group over one or more event streams
// (partitions). It reads new entries, applies each through the handler, acknowledges
// what the handler applied, dead-letters what can never be applied, leaves transient
// failures pending, and takes over entries of dead consumers with XAUTOCLAIM. On start-up
// it first applies the entries still pending under its own name (a process restarted
// under the same name takes its work back at once), and it removes consumers that died
// under a name that did not come back, once another consumer has claimed their entries.
// Delivery is at least once; the handlers' idempotency makes the effect exactly once
// (invariant I2). docs/streams.md describes the protocol.
import type { Logger } from 'pino';
import { type ErrorCode, StockguardError } from '../errors.ts';
import { isRedisUnavailable, type RedisClient } from '../redis/client.ts';
import { autoClaim, decodeReadReply, type RawEntry, readGroup, readGroupArguments } from '../redis/streams.ts';
import { blockingClientId, duplicateForBlocking, isCluster, type ReplicaWait, streamSetsPerRead, unblockClient } from '../redis/topology.ts';
import { retireDeadConsumers } from './deadConsumers.ts';
import { TOO_MANY_DELIVERIES, writeDeadLetter } from './deadLetters.ts';
import { type DecodedEvent, decodeEvent } from './entries.ts';

/** What the handler receives: one event, already parsed from JSON. */
export interface StreamEntry {
  readonly id: string;
  readonly stream: string;
  readonly event: unknown;
  /**
   * 1 on the first delivery; more after a transient failure or a consumer's death. A
   * delivery that failed only because Redis was unavailable is set back (not counted).
   */
  readonly deliveries: number;
}

/**
 * Applies one event. Resolve: the entry is acknowledged. Throw a permanent error (see
 * `permanentCodes`): it is dead-lettered, then acknowledged. Throw anything else: it
 * stays pending and is retried after `minIdleMs`. It may be called more than once for
 * the same entry, so it must be idempotent.
 */
export type StreamHandler = (entry: StreamEntry) => Promise<void>;

/** Counters, so metrics can be wired without this module knowing prom-client. */
export interface ConsumerMetrics {
  /** The handler resolved. */
  processed?(stream: string): void;
  acked?(stream: string): void;
  deadLettered?(stream: string, reason: string): void;
  /**
   * Entries taken over by XAUTOCLAIM (from a dead consumer, or our own after a failure), or
   * re-read at start-up from this consumer's own pending list.
   */
  reclaimed?(stream: string, count: number): void;
  /** Dead consumers deleted from the group (XGROUP DELCONSUMER), per stream. */
  retired?(stream: string, count: number): void;
  handlerError?(stream: string, kind: 'permanent' | 'transient'): void;
  /** A read, reclaim, ack or dead-letter write failed (usually Redis being unavailable). */
  redisError?(): void;
}

export interface StreamConsumerOptions {
  redis: RedisClient;
  /** Streams (partitions) this consumer reads, e.g. keys.eventStreams('sales', 8). */
  streams: readonly string[];
  group: string;
  /**
   * Unique per live process in the group, and stable across restarts: the pod or host name.
   * On start-up the consumer first applies the entries pending under this name (left by a
   * previous process of the same name that died), so a restart under the same name
   * recovers at once instead of after `minIdleMs`.
   */
  consumer: string;
  handler: StreamHandler;
  /** Where entries that cannot be applied go: keys.deadLetters(). */
  deadLetterStream: string;
  logger: Logger;
  metrics?: ConsumerMetrics;
  /**
   * Ordering key of an event (e.g. its SKU): entries with the same key in one batch are
   * applied one after another in stream order; different keys run in parallel. Without
   * it, or when it returns undefined, entries are independent.
   */
  keyOf?: (event: unknown) => string | undefined;
  /** Entries per XREADGROUP (default 64). */
  batchSize?: number;
  /** XREADGROUP BLOCK in ms (default 5000); also the longest wait before a due reclaim runs. */
  blockMs?: number;
  /** Handlers running at once within one consumer (default 8). */
  concurrency?: number;
  /** An entry pending this long is considered abandoned and reclaimed (default 60000). */
  minIdleMs?: number;
  /**
   * How often to run XAUTOCLAIM over every stream (default 15000). The same pass deletes
   * other consumers that own no pending entry and have been idle for
   * max(minIdleMs, 2 × (reclaimIntervalMs + blockMs)).
   */
  reclaimIntervalMs?: number;
  /** XAUTOCLAIM COUNT (default 100). */
  reclaimCount?: number;
  /** Deliveries allowed before an entry is dead-lettered as `too many deliveries` (default 5). */
  maxDeliveries?: number;
  /** Error codes that mark an event as never applicable (default DEFAULT_PERMANENT_CODES). */
  permanentCodes?: ReadonlySet<ErrorCode>;
  /** Extra test for permanent errors that are not StockguardErrors. */
  isPermanent?: (error: unknown) => boolean;
  /** Time written into dead letters (default Date.now). */
  clock?: () => number;
  /**
   * Set: a dead letter is acknowledged (its original XACKed) only once this many replicas
   * have it. The handler's own writes wait in the handler (the ledger's replicaWait).
   */
  replicaWait?: ReplicaWait;
}

/** Errors that mean the event itself is wrong: retrying cannot help. */
export const DEFAULT_PERMANENT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'STOCKGUARD_E_UNKNOWN_SKU',
  'STOCKGUARD_E_UNMAPPED_ITEM',
  'STOCKGUARD_E_BAD_QUANTITY',
  'STOCKGUARD_E_BAD_ARGUMENT',
  'STOCKGUARD_E_EMPTY_ID',
  'STOCKGUARD_E_BAD_SKU',
  'STOCKGUARD_E_CONFLICT',
  'STOCKGUARD_E_BAD_EVENT',
  // Older than the dedupe horizon with no mark: retrying cannot make it safe to apply.
  'STOCKGUARD_E_STALE_EVENT',
]);

export interface StopOptions {
  /** Resolve after this long even if handlers are still running (default 30000). */
  deadlineMs?: number;
}

export interface StopResult {
  /** True when every entry this consumer had received was finished before the deadline. */
  graceful: boolean;
  /** Entries received but not finished at the deadline; they stay pending for reclaim. */
  unfinished: number;
}

/** An entry ready to apply: decoded, with its delivery count. */
interface Delivery {
  readonly raw: RawEntry;
  readonly deliveries: number;
  /** Parsed once: the ordering key and the handler both need it. */
  readonly decoded: DecodedEvent;
}

/** One blocking reader: its streams and the connection it blocks on. */
interface Reader {
  readonly streams: readonly string[];
  readonly connection: RedisClient;
  clientId: number | undefined;
  reading: Promise<unknown> | undefined;
  loop: Promise<void> | undefined;
}

type State = 'idle' | 'running' | 'stopping' | 'stopped';
type Outcome = 'done' | 'retry';

const UNBLOCK_RETRY_MS = 50;

export class StreamConsumer {
  private readonly redis: RedisClient;
  private readonly streams: readonly string[];
  private readonly group: string;
  private readonly consumer: string;
  private readonly handler: StreamHandler;
  private readonly deadLetterStream: string;
  private readonly logger: Logger;
  private readonly metrics: ConsumerMetrics;
  private readonly keyOf: ((event: unknown) => string | undefined) | undefined;
  private readonly batchSize: number;
  private readonly blockMs: number;
  private readonly concurrency: number;
  private readonly minIdleMs: number;
  private ackBatch: { ids: Map<string, string[]>; written: Promise<void> } | undefined;
  private readonly reclaimIntervalMs: number;
  private readonly reclaimCount: number;
  private readonly maxDeliveries: number;
  private readonly permanentCodes: ReadonlySet<ErrorCode>;
  private readonly isPermanentExtra: ((error: unknown) => boolean) | undefined;
  private readonly clock: () => number;
  private readonly replicaWait: ReplicaWait | undefined;
  /**
   * Deliveries of entries (`<stream> <id>`) that failed only because Redis was unavailable
   * and whose counter could not be set back in Redis then: they do not count against
   * maxDeliveries. Bounded (oldest forgotten first).
   */
  private readonly excused = new Map<string, number>();

  private state: State = 'idle';
  private readers: Reader[] = [];
  /** Entries received and not yet finished (applied, dead-lettered or left for reclaim). */
  private outstanding = 0;
  /** Set when the stop deadline passed: no new handler starts after it. */
  private abandoned = false;
  private readonly wake = new AbortController();
  private stopping: Promise<StopResult> | undefined;

  constructor(options: StreamConsumerOptions) {
    this.redis = options.redis;
    this.streams = [...options.streams];
    this.group = options.group;
    this.consumer = options.consumer;
    this.handler = options.handler;
    this.deadLetterStream = options.deadLetterStream;
    this.logger = options.logger.child({ component: 'stream-consumer', group: options.group, consumer: options.consumer });
    this.metrics = options.metrics ?? {};
    this.keyOf = options.keyOf;
    this.batchSize = wholeNumber('batchSize', options.batchSize ?? 64, 1);
    this.blockMs = wholeNumber('blockMs', options.blockMs ?? 5000, 0);
    this.concurrency = wholeNumber('concurrency', options.concurrency ?? 8, 1);
    this.minIdleMs = wholeNumber('minIdleMs', options.minIdleMs ?? 60_000, 0);
    this.reclaimIntervalMs = wholeNumber('reclaimIntervalMs', options.reclaimIntervalMs ?? 15_000, 1);
    this.reclaimCount = wholeNumber('reclaimCount', options.reclaimCount ?? 100, 1);
    this.maxDeliveries = wholeNumber('maxDeliveries', options.maxDeliveries ?? 5, 1);
    this.permanentCodes = options.permanentCodes ?? DEFAULT_PERMANENT_CODES;
    this.isPermanentExtra = options.isPermanent;
    this.clock = options.clock ?? Date.now;
    this.replicaWait = options.replicaWait;
    if (this.streams.length === 0 || new Set(this.streams).size !== this.streams.length) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', 'streams must be a non-empty list without duplicates');
    }
    for (const [name, value] of [['group', this.group], ['consumer', this.consumer], ['deadLetterStream', this.deadLetterStream]] as const) {
      if (value.length === 0) throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `${name} must not be empty`);
    }
  }

  /** Creates the group on every stream (and the stream if needed), then starts reading. */
  async start(): Promise<void> {
    if (this.state !== 'idle') throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `the consumer cannot start: it is ${this.state}`);
    this.state = 'running';
    try {
      await this.ensureGroups();
      // On Cluster the partitions live in different slots and one XREADGROUP may only
      // name keys of one slot, so each stream gets its own reader there.
      const streamSets = streamSetsPerRead(this.redis, this.streams);
      for (const streams of streamSets) this.readers.push(await this.openReader(streams));
    } catch (error) {
      this.state = 'stopped';
      for (const reader of this.readers) reader.connection.disconnect();
      throw error;
    }
    if (this.state !== 'running') {
      // stop() was called while the readers were being opened.
      for (const reader of this.readers) reader.connection.disconnect();
      return;
    }
    for (const reader of this.readers) reader.loop = this.runReader(reader);
    this.logger.info({ streams: this.streams }, 'stream consumer started');
  }

  /**
   * Stops reading (a blocked XREADGROUP is interrupted), lets the handlers finish and
   * acknowledges their work, then resolves. After `deadlineMs` it resolves anyway;
   * whatever was not finished stays pending for another consumer to reclaim.
   */
  stop(options: StopOptions = {}): Promise<StopResult> {
    if (this.state === 'idle') {
      this.state = 'stopped';
      return Promise.resolve({ graceful: true, unfinished: 0 });
    }
    this.stopping ??= this.shutdown(wholeNumber('deadlineMs', options.deadlineMs ?? 30_000, 0));
    return this.stopping;
  }

  private async shutdown(deadlineMs: number): Promise<StopResult> {
    this.state = 'stopping';
    this.wake.abort();
    const loops = Promise.all(this.readers.map((reader) => reader.loop));
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), deadlineMs);
    });
    void this.interruptReads(deadline);
    const graceful = await Promise.race([loops.then(() => true as const), deadline]);
    clearTimeout(timer);
    if (!graceful) this.abandoned = true;
    const unfinished = this.outstanding;
    for (const reader of this.readers) reader.connection.disconnect();
    this.state = 'stopped';
    if (graceful) this.logger.info('stream consumer stopped');
    else this.logger.warn({ unfinished, deadlineMs }, 'stream consumer stop deadline passed; unfinished entries stay pending for reclaim');
    return { graceful, unfinished };
  }

  private async ensureGroups(): Promise<void> {
    for (const stream of this.streams) {
      try {
        // From id 0, not "$": events appended before the first consumer existed are read too.
        await this.redis.xgroup('CREATE', stream, this.group, '0', 'MKSTREAM');
      } catch (error) {
        if (!(error instanceof Error && error.message.startsWith('BUSYGROUP'))) throw error;
      }
    }
  }

  private async openReader(streams: readonly string[]): Promise<Reader> {
    // Blocking reads get their own connection so they never hold up acks, dead-letter
    // writes and reclaims, and so stop() can interrupt them.
    const connection = duplicateForBlocking(this.redis);
    connection.on('error', (error: Error) => this.logger.debug({ err: { message: error.message } }, 'blocking connection error'));
    const reader: Reader = { streams, connection, clientId: undefined, reading: undefined, loop: undefined };
    if (!isCluster(connection)) {
      const refreshId = async (): Promise<void> => {
        reader.clientId = await blockingClientId(connection);
      };
      // A reconnect gets a new client id; CLIENT UNBLOCK needs the current one.
      connection.on('ready', () => void refreshId().catch(() => undefined));
      await refreshId();
    }
    return reader;
  }

  private async runReader(reader: Reader): Promise<void> {
    let nextReclaimAt = 0;
    let failures = 0;
    let recovered = false;
    while (this.state === 'running') {
      try {
        if (!recovered) {
          // Our own pending entries first: a previous process of this name died with them.
          await this.recoverOwnPending(reader.streams);
          recovered = true;
        }
        if (this.state !== 'running') break;
        if (Date.now() >= nextReclaimAt) {
          await this.reclaim(reader.streams);
          nextReclaimAt = Date.now() + this.reclaimIntervalMs;
        }
        if (this.state !== 'running') break;
        const reading = reader.connection.call(
          'XREADGROUP',
          readGroupArguments({ group: this.group, consumer: this.consumer, count: this.batchSize, blockMs: this.blockMs }, reader.streams, reader.streams.map(() => '>')),
        );
        reader.reading = reading;
        let reply: unknown;
        try {
          reply = await reading;
        } finally {
          reader.reading = undefined;
        }
        // Entries that arrive together with a stop are ours already: apply them.
        const batch = decodeReadReply(reply).map((raw) => ({ raw, deliveries: 1, decoded: decodeEvent(raw) }));
        if (batch.length > 0) await this.applyBatch(batch);
        failures = 0;
      } catch (error) {
        if (this.state !== 'running') break;
        failures += 1;
        this.metrics.redisError?.();
        this.logger.error({ err: errorFields(error), failures }, 'stream read failed; retrying');
        if (error instanceof Error && error.message.startsWith('NOGROUP')) {
          // The stream or the group was deleted under us: recreate both.
          await this.ensureGroups().catch(() => undefined);
        }
        await this.pause(Math.min(100 * 2 ** Math.min(failures, 6), 5000));
      }
    }
  }

  /** CLIENT UNBLOCK the blocked reads (retrying until they return); disconnect where that is not possible. */
  private async interruptReads(deadline: Promise<false>): Promise<void> {
    let passed = false;
    void deadline.then(() => (passed = true));
    for (const reader of this.readers) {
      while (reader.reading && !passed) {
        const reading = reader.reading;
        if (reader.clientId !== undefined && !isCluster(this.redis)) {
          try {
            await unblockClient(this.redis, reader.clientId);
          } catch {
            reader.connection.disconnect();
          }
        } else {
          // Cluster: the blocked connection's node and id are not known here. A reply lost
          // to the disconnect leaves its entries pending for reclaim.
          reader.connection.disconnect();
        }
        // UNBLOCK can arrive before the read is blocked: try again until it returns.
        await Promise.race([reading.then(noop, noop), delay(UNBLOCK_RETRY_MS)]);
      }
    }
  }

  /**
   * Applies the entries pending under our own name, whatever their idle time: a process
   * restarted under the same name (a pod restarted in place, a process on the same host)
   * takes back what its predecessor had received and not acknowledged. XREADGROUP with an
   * id instead of ">" reads the consumer's own pending list and counts a delivery, so an
   * entry that kills the process every time still reaches maxDeliveries.
   */
  private async recoverOwnPending(streams: readonly string[]): Promise<void> {
    for (const stream of streams) {
      let after = '0';
      for (;;) {
        if (this.state !== 'running') return;
        const entries = await readGroup(this.redis, { group: this.group, consumer: this.consumer, count: this.batchSize }, [stream], [after]);
        if (entries.length === 0) break;
        after = entries[entries.length - 1]!.id;
        // Entries deleted from the stream while pending come back without fields.
        for (const entry of entries) if (entry.fields === undefined) await this.ack(entry);
        const live = entries.filter((entry) => entry.fields !== undefined);
        if (live.length === 0) continue;
        this.metrics.reclaimed?.(stream, live.length);
        const counts = await this.deliveryCounts(stream, live);
        this.logger.info({ stream, count: live.length }, 'applying entries left pending under this consumer name');
        const owned = live.flatMap((raw) => {
          const deliveries = counts.get(raw.id);
          return deliveries === undefined ? [] : [{ raw, deliveries, decoded: decodeEvent(raw) }];
        });
        await this.applyBatch(owned);
      }
    }
  }

  /**
   * Takes over entries idle for minIdleMs (from dead consumers, or our own left pending
   * by a transient failure), scanning each stream's pending list once per call, then
   * deletes the consumers left with nothing.
   */
  private async reclaim(streams: readonly string[]): Promise<void> {
    for (const stream of streams) {
      await this.claimIdle(stream);
      if (this.state !== 'running') return;
      await this.retireDead(stream);
    }
  }

  /**
   * Deletes consumers (never ourselves) that own no pending entry and have been idle well
   * beyond what a live consumer reaches: a live one touches every stream at least once per
   * reclaim interval (XAUTOCLAIM), plus a blocked read. The pending check and the delete
   * are atomic (deadConsumers.ts), so an entry is never dropped with its consumer.
   */
  private async retireDead(stream: string): Promise<void> {
    const minIdleMs = Math.max(this.minIdleMs, 2 * (this.reclaimIntervalMs + this.blockMs));
    let retired: string[];
    try {
      retired = await retireDeadConsumers(this.redis, stream, this.group, this.consumer, minIdleMs);
    } catch (error) {
      // Housekeeping only: a failure here must never hold up reading and reclaiming.
      this.metrics.redisError?.();
      this.logger.warn({ stream, err: errorFields(error) }, 'cannot remove dead consumers; retrying at the next reclaim');
      return;
    }
    if (retired.length === 0) return;
    this.metrics.retired?.(stream, retired.length);
    this.logger.info({ stream, consumers: retired }, 'removed dead consumers with no pending entries from the group');
  }

  private async claimIdle(stream: string): Promise<void> {
    let cursor = '0-0';
    do {
      if (this.state !== 'running') return;
      const claim = await autoClaim(this.redis, stream, this.group, this.consumer, this.minIdleMs, cursor, this.reclaimCount);
      cursor = claim.next;
      if (claim.deleted.length > 0) {
        this.logger.warn({ stream, ids: claim.deleted }, 'pending entries were deleted from the stream before they were acknowledged');
      }
      const live = claim.entries.filter((entry) => entry.fields !== undefined);
      // Redis 6.2 returns deleted entries with nil fields instead of listing them apart.
      for (const entry of claim.entries) if (entry.fields === undefined) await this.ack(entry);
      if (live.length === 0) continue;
      this.metrics.reclaimed?.(stream, live.length);
      const counts = await this.deliveryCounts(stream, live);
      this.logger.info({ stream, count: live.length }, 'reclaimed pending entries');
      // An entry missing from our pending list was claimed by someone else meanwhile (only
      // possible with minIdleMs 0): it is theirs now.
      const owned = live.flatMap((raw) => {
        const deliveries = counts.get(raw.id);
        return deliveries === undefined ? [] : [{ raw, deliveries, decoded: decodeEvent(raw) }];
      });
      await this.applyBatch(owned);
    } while (cursor !== '0-0');
  }

  /** Delivery counters of entries we now own, from XPENDING (XAUTOCLAIM does not return them). */
  private async deliveryCounts(stream: string, entries: readonly RawEntry[]): Promise<Map<string, number>> {
    const pipeline = this.redis.pipeline();
    for (const entry of entries) pipeline.xpending(stream, this.group, entry.id, entry.id, 1, this.consumer);
    const replies = (await pipeline.exec()) ?? [];
    const counts = new Map<string, number>();
    for (const [error, reply] of replies) {
      if (error) throw error;
      // [[id, consumer, idle ms, deliveries]]
      const row: unknown = Array.isArray(reply) ? reply[0] : undefined;
      if (Array.isArray(row) && typeof row[0] === 'string') counts.set(row[0], Number(row[3]));
    }
    return counts;
  }

  /**
   * Applies a batch with at most `concurrency` handlers at once. Entries sharing a key
   * form a lane applied in stream order; a lane stops at a transient failure so its
   * later entries do not overtake it in this batch (they stay pending and come back by
   * reclaim, in whatever order their idle times allow).
   */
  private async applyBatch(batch: readonly Delivery[]): Promise<void> {
    this.outstanding += batch.length;
    const lanes: Delivery[][] = [];
    const byKey = new Map<string, Delivery[]>();
    for (const delivery of batch) {
      const key = this.orderingKey(delivery.decoded);
      if (key === undefined) {
        lanes.push([delivery]);
        continue;
      }
      let lane = byKey.get(key);
      if (!lane) {
        lane = [];
        byKey.set(key, lane);
        lanes.push(lane);
      }
      lane.push(delivery);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let lane = lanes[next++]; lane; lane = lanes[next++]) await this.applyLane(lane);
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, lanes.length) }, worker));
  }

  private async applyLane(lane: readonly Delivery[]): Promise<void> {
    for (const [index, delivery] of lane.entries()) {
      // Past the stop deadline: the rest stay pending and count as unfinished.
      if (this.abandoned) return;
      const outcome = await this.apply(delivery);
      this.outstanding -= 1;
      if (outcome === 'retry') {
        // The lane's later entries stay pending too: settled as far as this consumer goes.
        // They were never tried, so this delivery must not count against them either:
        // behind a head that waits out a failover, a SKU's queue of sales would otherwise
        // reach maxDeliveries one reclaim at a time.
        const untried = lane.slice(index + 1);
        this.outstanding -= untried.length;
        await Promise.all(untried.map((later) => this.excuse(later.raw, later.deliveries)));
        return;
      }
    }
  }

  private orderingKey(decoded: DecodedEvent): string | undefined {
    if (!this.keyOf || !decoded.ok) return undefined;
    try {
      return this.keyOf(decoded.event);
    } catch {
      return undefined;
    }
  }

  private async apply(delivery: Delivery): Promise<Outcome> {
    const { raw, deliveries, decoded } = delivery;
    try {
      if (!decoded.ok) {
        await this.deadLetter(raw, decoded.payload, deliveries, decoded.error.code, decoded.error.message);
        return 'done';
      }
      const counted = deliveries - (this.excused.get(excuseKey(raw)) ?? 0);
      if (counted > this.maxDeliveries) {
        await this.deadLetter(raw, decoded.payload, deliveries, TOO_MANY_DELIVERIES, `delivered ${deliveries} times (${counted} counted); the limit is ${this.maxDeliveries}`);
        return 'done';
      }
      try {
        await this.handler({ id: raw.id, stream: raw.stream, event: decoded.event, deliveries });
      } catch (error) {
        if (this.isPermanent(error)) {
          this.metrics.handlerError?.(raw.stream, 'permanent');
          const reason = error instanceof StockguardError ? error.code : error instanceof Error ? error.name : 'Error';
          await this.deadLetter(raw, decoded.payload, deliveries, reason, error instanceof Error ? error.message : String(error));
          return 'done';
        }
        this.metrics.handlerError?.(raw.stream, 'transient');
        this.logger.warn({ stream: raw.stream, id: raw.id, deliveries, err: errorFields(error) }, 'handler failed; the entry stays pending for retry');
        if (isRedisUnavailable(error)) await this.excuse(raw, deliveries);
        return 'retry';
      }
      this.metrics.processed?.(raw.stream);
      await this.ack(raw);
      this.excused.delete(excuseKey(raw));
      return 'done';
    } catch (error) {
      // The ack or the dead-letter write failed: the entry stays pending and comes back.
      this.metrics.redisError?.();
      this.logger.error({ stream: raw.stream, id: raw.id, err: errorFields(error) }, 'cannot settle entry; it stays pending');
      if (isRedisUnavailable(error)) await this.excuse(raw, deliveries);
      return 'retry';
    }
  }

  /**
   * A delivery that failed only because Redis was unavailable (a master between failovers,
   * a restart), or that was never tried (behind a failed entry of its lane), says nothing
   * about the entry, so it must not bring a good sale nearer the
   * dead-letter stream: the entry's delivery counter is set back in Redis (XCLAIM to
   * ourselves with RETRYCOUNT and JUSTID, which counts no delivery), or, when that fails
   * too, remembered here. A poison entry still reaches the limit: it fails by throwing
   * (not excused) or by killing the process (never excused).
   */
  private async excuse(raw: RawEntry, deliveries: number): Promise<void> {
    try {
      await this.redis.xclaim(raw.stream, this.group, this.consumer, 0, raw.id, 'RETRYCOUNT', Math.max(0, deliveries - 1), 'JUSTID');
    } catch {
      const key = excuseKey(raw);
      this.excused.delete(key);
      this.excused.set(key, (this.excused.get(key) ?? 0) + 1);
      if (this.excused.size > MAX_EXCUSED) this.excused.delete(this.excused.keys().next().value!);
    }
  }

  private isPermanent(error: unknown): boolean {
    if (error instanceof StockguardError && this.permanentCodes.has(error.code)) return true;
    // A SyntaxError is a JSON.parse of something inside the event: retrying gives the same.
    if (error instanceof SyntaxError) return true;
    return this.isPermanentExtra?.(error) ?? false;
  }

  /** Dead letter first, ack second: a crash in between duplicates the dead letter, never loses the entry. */
  private async deadLetter(raw: RawEntry, payload: string, deliveries: number, reason: string, message: string): Promise<void> {
    await writeDeadLetter(this.redis, this.deadLetterStream, {
      stream: raw.stream,
      id: raw.id,
      event: payload,
      reason,
      message,
      deliveries,
      group: this.group,
      consumer: this.consumer,
      atMs: this.clock(),
    }, this.replicaWait);
    this.metrics.deadLettered?.(raw.stream, reason);
    this.logger.warn({ stream: raw.stream, id: raw.id, reason, message, deliveries }, 'entry dead-lettered');
    await this.ack(raw);
    this.excused.delete(excuseKey(raw));
  }

  /**
   * Acknowledges after the handler resolved. Acks made in the same turn of the event loop
   * share one XACK per stream (a batch's handlers finish together), which cut a round
   * trip per event; each caller still waits until its own id is acknowledged.
   */
  private ack(raw: RawEntry): Promise<void> {
    if (!this.ackBatch) {
      const ids = new Map<string, string[]>();
      const written = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.ackBatch = undefined;
        await Promise.all(
          [...ids].map(async ([stream, streamIds]) => {
            await this.redis.xack(stream, this.group, ...streamIds);
            for (let i = 0; i < streamIds.length; i += 1) this.metrics.acked?.(stream);
          }),
        );
      });
      this.ackBatch = { ids, written };
    }
    const streamIds = this.ackBatch.ids.get(raw.stream) ?? [];
    streamIds.push(raw.id);
    this.ackBatch.ids.set(raw.stream, streamIds);
    return this.ackBatch.written;
  }

  /** Waits `ms`, or less when stop() is called. */
  private pause(ms: number): Promise<void> {
    return delay(ms, this.wake.signal);
  }
}

function wholeNumber(name: string, value: number, minimum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `${name} must be a whole number ≥ ${minimum}, got ${String(value)}`);
  }
  return value;
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function noop(): void {}

function errorFields(error: unknown): Record<string, unknown> {
  if (error instanceof StockguardError) return { code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { message: String(error) };
}

/** Entries whose excused deliveries a consumer remembers at most (about 100 B each). */
const MAX_EXCUSED = 100_000;

function excuseKey(raw: RawEntry): string {
  return `${raw.stream} ${raw.id}`;
}
