// One lane per channel: the SKUs waiting to be pushed there, coalesced (one entry per
// SKU, the newest target wins, the oldest change time is kept), and the workers that take
// them in priority order (src/domain/pushOrder.ts) as fast as the channel's rate limit
// lets them. A SKU is never in two requests at once; a newer target that arrives while
// one is in flight waits and goes next. A channel with a bulk path (Amazon's feeds) gets
// the values that may wait in one bulk once enough of them wait; only an urgent value
// overtakes a SKU's bulk in flight, and is sent again once the bulk has taken effect.
import { type BackoffPolicy, backoffDelayMs } from '../domain/backoff.ts';
import { orderPushes } from '../domain/pushOrder.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { BulkPusher, PushRequest, PushResult, Pusher } from './pusher.ts';
import { sleep } from './wait.ts';

interface Waiting {
  request: PushRequest;
  /** When the SKU started waiting (for the linger). */
  firstOfferedAtMs: number;
  /** Not sent before this time (backoff after a failure). */
  notBeforeMs: number;
}

export interface LaneOptions {
  /** Wait this long after a SKU starts waiting before sending it, so a burst coalesces. */
  lingerMs: number;
  clock: Clock;
  backoff: BackoffPolicy;
  random?: () => number;
  /** Called with every batch's results, after the lane has updated what it knows. */
  onResults(results: PushResult[]): Promise<void>;
  /**
   * Called with each batch just before it is sent: answers the requests that may go (the
   * bounded allocation books them as pending here, and drops one that no longer fits).
   * The ones left out are forgotten; `onDropped` hears of them.
   */
  beforeSend?(batch: readonly PushRequest[]): Promise<readonly PushRequest[]>;
  onDropped?(dropped: readonly PushRequest[]): void;
}

/** How often the lane looks whether a bulk should go. */
const BULK_TICK_MS = 250;

export class PushLane {
  private readonly waiting = new Map<string, Waiting>();
  private readonly inFlight = new Map<string, PushRequest>();
  /** SKUs in a bulk (an Amazon feed) not yet processed, with the value it carries. */
  private readonly inBulk = new Map<string, PushRequest>();
  /** SKUs in a bulk that an urgent request overtook: they are sent again once the bulk is done. */
  private readonly overtaken = new Set<string>();
  /** The newest target offered for a SKU while it is in a bulk. */
  private readonly newestWhileBulk = new Map<string, PushRequest>();
  private readonly bulks = new Set<Promise<void>>();
  private bulkWindowFromMs: number | undefined;
  /** When each SKU's last request was acknowledged (ms): a bulk does not carry it before the bulk's patchSettleMs. */
  private readonly ackedByRequestAtMs = new Map<string, number>();
  /** What this process last saw on the channel per SKU: an acknowledged push or a read-back. */
  private readonly seen = new Map<string, { quantity: number; atMs: number }>();
  /** Consecutive unsuccessful tries per SKU (stale, failed), for the backoff. */
  private readonly failures = new Map<string, number>();
  private readonly stopping = new AbortController();
  private readonly sleepers = new Set<() => void>();
  private workers: Promise<void>[] = [];
  private gate: Promise<void> = Promise.resolve();

  constructor(
    readonly pusher: Pusher,
    private readonly options: LaneOptions,
  ) {}

  get channel() {
    return this.pusher.channel;
  }

  start(): void {
    this.workers = Array.from({ length: Math.max(1, this.pusher.concurrency) }, () => this.work());
    const bulk = this.pusher.bulk;
    if (bulk) this.workers.push(this.bulkWork(bulk));
  }

  /** Stops taking work and waits for the batches in flight; returns what was still waiting. */
  async stop(): Promise<PushRequest[]> {
    this.stopping.abort();
    this.wakeAll();
    await Promise.all(this.workers);
    // A bulk in flight ends as failed once the pusher closes; its values join the waiting ones.
    while (this.bulks.size > 0) await Promise.all([...this.bulks]);
    return [...this.waiting.values()].map((entry) => entry.request);
  }

  /** SKUs waiting plus SKUs in flight (by request or in a bulk). */
  size(): { waiting: number; inFlight: number } {
    let both = 0;
    for (const sku of this.inFlight.keys()) if (this.inBulk.has(sku)) both += 1;
    return { waiting: this.waiting.size, inFlight: this.inFlight.size + this.inBulk.size - both };
  }

  /** The change time of the oldest SKU waiting (ms), undefined when none waits. */
  oldestWaitingChangeMs(): number | undefined {
    let oldest: number | undefined;
    for (const entry of this.waiting.values()) if (oldest === undefined || entry.request.changedAtMs < oldest) oldest = entry.request.changedAtMs;
    return oldest;
  }

  /** The freshest value this process saw on the channel, if newer than `atMs`. */
  seenAfter(sku: string, atMs: number): { quantity: number; atMs: number } | undefined {
    const seen = this.seen.get(sku);
    return seen && seen.atMs > atMs ? seen : undefined;
  }

  /**
   * Offers a target. Dropped, unless it corrects drift, when it equals the value in flight,
   * the last acknowledged value, or what the channel was last seen showing (its report
   * after a sale on the channel itself: nothing to write). Otherwise it replaces the SKU's
   * waiting target and keeps the oldest change time (propagation is measured from the
   * first change the channel has not seen).
   */
  offer(request: PushRequest, lastAcked: number | undefined): void {
    const inBulk = this.inBulk.get(request.sku);
    if (inBulk) this.newestWhileBulk.set(request.sku, request);
    const inFlight = this.inFlight.get(request.sku) ?? inBulk;
    const already = inFlight ? inFlight.quantity : (this.seen.get(request.sku)?.quantity ?? lastAcked);
    const shown = inFlight ? undefined : this.withFreshKnowledge(request).known;
    if (!forced(request) && (request.quantity === already || request.quantity === shown) && (already !== undefined || shown !== undefined)) {
      this.waiting.delete(request.sku);
      return;
    }
    const previous = this.waiting.get(request.sku);
    this.waiting.set(request.sku, {
      request: previous ? { ...request, changedAtMs: Math.min(previous.request.changedAtMs, request.changedAtMs) } : request,
      firstOfferedAtMs: previous?.firstOfferedAtMs ?? this.options.clock(),
      notBeforeMs: previous?.notBeforeMs ?? this.retryAtMs(request.sku),
    });
    this.wakeAll();
  }

  /** Forgets nothing durable: used after a read-back found the channel's current value. */
  noteSeen(sku: string, quantity: number, atMs: number): void {
    const previous = this.seen.get(sku);
    if (!previous || previous.atMs <= atMs) this.seen.set(sku, { quantity, atMs });
  }

  /**
   * Puts a request back after a failure, behind a backoff, unless a newer target waits.
   * Also while stopping: stop() hands the waiting requests back for the dirty index.
   */
  retryLater(request: PushRequest): void {
    if (this.waiting.has(request.sku)) return;
    this.waiting.set(request.sku, { request, firstOfferedAtMs: this.options.clock(), notBeforeMs: this.retryAtMs(request.sku) });
    this.wakeAll();
  }

  /** Counts an unsuccessful try of the SKU; the next offer of it waits a backoff. */
  noteFailure(sku: string): void {
    this.failures.set(sku, (this.failures.get(sku) ?? 0) + 1);
  }

  private retryAtMs(sku: string): number {
    const failures = this.failures.get(sku) ?? 0;
    // The first retry after a stale compare-and-set goes at once: the read-back just gave
    // the current value. Later ones back off, so a SKU that keeps losing cannot hog the lane.
    return failures <= 1 ? 0 : this.options.clock() + backoffDelayMs(failures - 2, this.options.backoff, this.options.random);
  }

  private async work(): Promise<void> {
    const signal = this.stopping.signal;
    while (!signal.aborted) {
      const due = this.dueAtMs();
      if (due === undefined) {
        await this.sleepUntilWoken(signal);
        continue;
      }
      const wait = due - this.options.clock();
      if (wait > 0) {
        await this.sleepUntilWoken(signal, wait);
        continue;
      }
      let batch = await this.takeBatch(signal);
      if (batch.length === 0) continue;
      if (this.options.beforeSend) {
        const taken = batch;
        const sending = await this.options.beforeSend(taken).catch(() => [] as readonly PushRequest[]);
        batch = taken.filter((request) => sending.includes(request));
        const dropped = taken.filter((request) => !sending.includes(request));
        for (const request of dropped) this.inFlight.delete(request.sku);
        if (dropped.length > 0) this.options.onDropped?.(dropped);
        if (batch.length === 0) {
          this.pusher.release();
          this.wakeAll();
          continue;
        }
      }
      let results: PushResult[];
      try {
        results = await this.pusher.push(batch);
      } catch (error) {
        results = batch.map((request) => ({ request, outcome: { kind: 'failed' as const, message: error instanceof Error ? error.message : String(error) } }));
      }
      for (const { request, outcome } of results) {
        this.inFlight.delete(request.sku);
        if (outcome.kind === 'acked') {
          this.seen.set(request.sku, { quantity: request.quantity, atMs: outcome.atMs });
          if (this.pusher.bulk) this.ackedByRequestAtMs.set(request.sku, outcome.atMs);
          this.failures.delete(request.sku);
          // A target that waited behind this one and equals it is already there.
          const next = this.waiting.get(request.sku);
          if (next && next.request.quantity === request.quantity && !forced(next.request)) this.waiting.delete(request.sku);
        } else if (outcome.kind === 'stale' || outcome.kind === 'failed') {
          this.noteFailure(request.sku);
          if (outcome.kind === 'stale' && outcome.channelQuantity !== undefined) this.noteSeen(request.sku, outcome.channelQuantity, this.options.clock());
        }
      }
      for (const request of batch) this.inFlight.delete(request.sku);
      await this.options.onResults(results).catch(() => undefined);
      this.wakeAll();
    }
  }

  /** Capacity first, then the choice: a zero that arrived while we waited still goes first. */
  private async takeBatch(signal: AbortSignal): Promise<PushRequest[]> {
    // One worker at a time reserves capacity and picks, so two never pick the same SKUs.
    const previous = this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    await previous;
    try {
      await this.pusher.acquire(signal);
      if (signal.aborted) return [];
      const now = this.options.clock();
      const ready = [...this.waiting.values()]
        .filter((entry) => this.sendable(entry.request) && entry.notBeforeMs <= now)
        .map((entry) => {
          const request = this.withFreshKnowledge(entry.request);
          return { sku: request.sku, target: request.quantity, known: request.known, changedAtMs: request.changedAtMs, request };
        });
      const batch = orderPushes(ready)
        .slice(0, this.pusher.maxBatch)
        .map((candidate) => candidate.request);
      if (batch.length === 0) this.pusher.release();
      // In the same turn as leaving `waiting`, so size() never loses a SKU in between.
      for (const request of batch) {
        this.waiting.delete(request.sku);
        this.inFlight.set(request.sku, request);
        if (this.inBulk.has(request.sku)) this.overtaken.add(request.sku);
      }
      return batch;
    } finally {
      open();
    }
  }

  /** The request with the newest value we know the channel shows (an ack may have landed since it was computed). */
  private withFreshKnowledge(request: PushRequest): PushRequest {
    const seen = this.seen.get(request.sku);
    return seen && seen.atMs > request.knownAtMs ? { ...request, known: seen.quantity, knownAtMs: seen.atMs } : request;
  }

  /** When the next batch may go: the earliest waiting SKU's linger or backoff end; undefined when nothing waits. */
  private dueAtMs(): number | undefined {
    let due: number | undefined;
    for (const entry of this.waiting.values()) {
      if (!this.sendable(entry.request)) continue;
      const at = Math.max(entry.notBeforeMs, entry.firstOfferedAtMs + this.options.lingerMs);
      if (due === undefined || at < due) due = at;
    }
    return due;
  }

  /**
   * Whether a waiting request may go by request now: not while one is in flight, and not
   * while its SKU is in a bulk, unless it is urgent against the value the bulk carries
   * (a zero, a large decrease: waiting minutes for the bulk would oversell).
   */
  private sendable(request: PushRequest): boolean {
    if (this.inFlight.has(request.sku)) return false;
    const inBulk = this.inBulk.get(request.sku);
    if (!inBulk) return true;
    return this.pusher.bulk?.patchOnly({ ...request, known: inBulk.quantity, knownAtMs: this.options.clock() }) ?? true;
  }

  /** Looks every BULK_TICK_MS whether enough values wait to send a bulk (not woken by offers: a sweep offers thousands). */
  private async bulkWork(bulk: BulkPusher): Promise<void> {
    const signal = this.stopping.signal;
    let prunedAtMs = this.options.clock();
    while (!signal.aborted) {
      const now = this.options.clock();
      if (now - prunedAtMs >= 10_000) {
        prunedAtMs = now;
        for (const [sku, ackedAt] of this.ackedByRequestAtMs) if (now - ackedAt >= bulk.patchSettleMs) this.ackedByRequestAtMs.delete(sku);
      }
      try {
        this.maybeSendBulk(bulk);
      } catch {
        // A bad request in the backlog must not stop the bulk path; the PATCH workers still serve it.
      }
      await sleep(BULK_TICK_MS, signal);
    }
  }

  /**
   * Sends a bulk when at least `threshold` values that may wait are ready, once they have
   * collected for `windowMs` (Amazon takes 5 feeds per 5 minutes) or fill a bulk, and the
   * rate limits have room. Values that may not wait stay for the request workers.
   */
  private maybeSendBulk(bulk: BulkPusher): void {
    const now = this.options.clock();
    const candidates: PushRequest[] = [];
    if (this.waiting.size >= bulk.threshold) {
      for (const entry of this.waiting.values()) {
        const sku = entry.request.sku;
        if (this.inFlight.has(sku) || this.inBulk.has(sku) || entry.notBeforeMs > now) continue;
        // A request acknowledged a moment ago may not have taken effect yet, and a bulk could
        // take effect before it (Amazon orders neither against the other): its SKU stays on
        // the request path until the request has had time to settle.
        const ackedAt = this.ackedByRequestAtMs.get(sku);
        if (ackedAt !== undefined) {
          if (now - ackedAt < bulk.patchSettleMs) continue;
          this.ackedByRequestAtMs.delete(sku);
        }
        const request = this.withFreshKnowledge(entry.request);
        if (!bulk.patchOnly(request)) candidates.push(request);
      }
    }
    if (candidates.length < bulk.threshold) {
      this.bulkWindowFromMs = undefined;
      return;
    }
    this.bulkWindowFromMs ??= now;
    if (now - this.bulkWindowFromMs < bulk.windowMs && candidates.length < bulk.maxMessages) return;
    if (!bulk.tryAcquire()) return;
    this.bulkWindowFromMs = undefined;
    const ordered = orderPushes(candidates.map((request) => ({ sku: request.sku, target: request.quantity, known: request.known, changedAtMs: request.changedAtMs, request }))).map((candidate) => candidate.request);
    const group = bulk.groupOf(ordered[0]!);
    const batch = ordered.filter((request) => bulk.groupOf(request) === group).slice(0, bulk.maxMessages);
    for (const request of batch) {
      this.waiting.delete(request.sku);
      this.inBulk.set(request.sku, request);
    }
    const sending: Promise<void> = this.sendBulk(bulk, batch).finally(() => this.bulks.delete(sending));
    this.bulks.add(sending);
  }

  private async sendBulk(bulk: BulkPusher, taken: readonly PushRequest[]): Promise<void> {
    let batch = taken;
    if (this.options.beforeSend) {
      // The bounded allocation books a bulk's values as pending as it books a request's.
      const allowed = new Set(await this.options.beforeSend(taken).catch(() => [] as readonly PushRequest[]));
      batch = taken.filter((request) => allowed.has(request));
      const dropped = taken.filter((request) => !allowed.has(request));
      for (const request of dropped) this.leaveBulk(request.sku);
      if (dropped.length > 0) this.options.onDropped?.(dropped);
    }
    let results: PushResult[] = [];
    if (batch.length > 0) {
      try {
        results = await bulk.push(batch);
      } catch (error) {
        results = batch.map((request) => ({ request, outcome: { kind: 'failed' as const, message: error instanceof Error ? error.message : String(error) } }));
      }
    }
    // A bulk that answers for fewer values than it carried: the others are retried.
    const answered = new Set(results.map((result) => result.request.sku));
    const unanswered = batch.filter((request) => !answered.has(request.sku));
    if (unanswered.length > 0) results = [...results, ...unanswered.map((request) => ({ request, outcome: { kind: 'failed' as const, message: 'the bulk gave no result for this value' } }))];
    const now = this.options.clock();
    for (const { request, outcome } of results) {
      const { newest, overtaken } = this.leaveBulk(request.sku);
      if (outcome.kind === 'acked') {
        // The bulk took effect when the channel processed it, after any request sent
        // meanwhile: the channel now shows the bulk's value.
        this.noteSeen(request.sku, request.quantity, outcome.atMs);
        this.failures.delete(request.sku);
        const next = this.waiting.get(request.sku);
        if (overtaken) {
          // A request overtook this bulk and the bulk then overwrote it: send the newest
          // target again, even if it equals a value sent before (docs/pushers.md, "Amazon backlogs").
          const latest = next?.request ?? newest ?? request;
          this.waiting.set(request.sku, { request: { ...latest, cause: latest.cause === 'allocation' ? 'allocation' : 'resync' }, firstOfferedAtMs: now, notBeforeMs: 0 });
        } else if (next && next.request.quantity === request.quantity && !forced(next.request)) {
          this.waiting.delete(request.sku);
        }
      } else if (outcome.kind === 'failed') {
        this.noteFailure(request.sku);
        // Retried: the newest target offered meanwhile goes, not the bulk's older value.
        if (newest && !this.waiting.has(request.sku)) this.waiting.set(request.sku, { request: newest, firstOfferedAtMs: now, notBeforeMs: this.retryAtMs(request.sku) });
      }
    }
    await this.options.onResults(results).catch(() => undefined);
    this.wakeAll();
  }

  private leaveBulk(sku: string): { newest: PushRequest | undefined; overtaken: boolean } {
    const newest = this.newestWhileBulk.get(sku);
    this.newestWhileBulk.delete(sku);
    this.inBulk.delete(sku);
    return { newest, overtaken: this.overtaken.delete(sku) };
  }

  private wakeAll(): void {
    for (const wake of [...this.sleepers]) wake();
  }

  private sleepUntilWoken(signal: AbortSignal, maxMs?: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.sleepers.delete(done);
        resolve();
      };
      if (signal.aborted) return done();
      this.sleepers.add(done);
      signal.addEventListener('abort', done, { once: true });
      if (maxMs !== undefined) timer = setTimeout(done, maxMs);
    });
  }
}

/**
 * Drift corrections, resyncs and bounded allocations are sent even when the value equals
 * the last one pushed (the allocation decided it against its own account of the channel).
 */
function forced(request: PushRequest): boolean {
  return request.cause === 'drift' || request.cause === 'resync' || request.cause === 'allocation';
}
