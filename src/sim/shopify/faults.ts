// Fault injection for the fake Admin API: one-shot faults for the next matching requests,
// and faults that hit a share of requests (seeded, so a failing run can be repeated).

/**
 * phase (where it applies):
 * - 'before' (default): the request is not processed at all.
 * - 'after': the request is processed (a mutation is applied and its idempotency result
 *   stored), then the response is lost/replaced: the case where a client retry must not
 *   apply a write twice.
 * - 'during' (latency only): a mutation holds its idempotency key in flight for `ms` before
 *   applying, so a concurrent request with the same key gets IDEMPOTENCY_CONCURRENT_REQUEST.
 */
export type Fault =
  | { readonly kind: 'latency'; readonly ms: number; readonly phase?: 'before' | 'during' | 'after' }
  /** Shopify's THROTTLED body, whatever the bucket holds. */
  | { readonly kind: 'throttled' }
  /** An HTTP error status with an HTML body, as Shopify's edge returns. */
  | { readonly kind: 'status'; readonly status: 500 | 502 | 503 | 504; readonly phase?: 'before' | 'after' }
  /** Hold the connection without answering (until the client gives up or the fake closes). */
  | { readonly kind: 'timeout'; readonly phase?: 'before' | 'after' }
  /** Destroy the socket: the client sees a connection reset / "fetch failed". */
  | { readonly kind: 'reset'; readonly phase?: 'before' | 'after' };

export type OperationKind = 'query' | 'mutation';

export interface FaultTarget {
  /** Only requests of this kind (by the operation the document selects); both when omitted. */
  only?: OperationKind;
}

interface QueuedFault extends FaultTarget {
  id: number;
  fault: Fault;
  remaining: number;
}

export interface FaultRate extends FaultTarget {
  fault: Fault;
  /** Share of matching requests hit, 0..1. */
  probability: number;
}

export interface FaultOptions {
  /** Seed for the rate faults' random choice; same seed, same requests hit. */
  seed?: number;
  rates?: readonly FaultRate[];
}

/** mulberry32: small, fast and good enough to pick which requests fail. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

export class FaultPlan {
  private readonly queue: QueuedFault[] = [];
  private rates: FaultRate[];
  private readonly random: () => number;
  private nextId = 1;

  constructor(options: FaultOptions = {}) {
    this.random = seededRandom(options.seed ?? 1);
    this.rates = [...(options.rates ?? [])];
    for (const rate of this.rates) checkProbability(rate.probability);
  }

  /**
   * The next `times` matching requests (default 1) get `fault`. Queued faults apply in order.
   * Returns an id for `remove`.
   */
  inject(fault: Fault, options: FaultTarget & { times?: number } = {}): number {
    const times = options.times ?? 1;
    if (!Number.isInteger(times) || times < 1) throw new Error(`times must be a positive integer, got ${times}`);
    const id = this.nextId++;
    this.queue.push({ id, fault, remaining: times, ...(options.only ? { only: options.only } : {}) });
    return id;
  }

  /** Drops what is left of an injected fault (no request took it yet, or not all `times`); how many were left. */
  remove(id: number): number {
    const index = this.queue.findIndex((entry) => entry.id === id);
    if (index < 0) return 0;
    const [entry] = this.queue.splice(index, 1);
    return entry!.remaining;
  }

  /** A share of matching requests get `fault` from now on. */
  addRate(rate: FaultRate): void {
    checkProbability(rate.probability);
    this.rates.push(rate);
  }

  clear(): void {
    this.queue.length = 0;
    this.rates = [];
  }

  /** The fault for one request, if any: queued faults first, then rates in the order added. */
  pick(kind: OperationKind): Fault | undefined {
    const queued = this.queue.find((entry) => !entry.only || entry.only === kind);
    if (queued) {
      queued.remaining -= 1;
      if (queued.remaining === 0) this.queue.splice(this.queue.indexOf(queued), 1);
      return queued.fault;
    }
    for (const rate of this.rates) {
      if (rate.only && rate.only !== kind) continue;
      if (this.random() < rate.probability) return rate.fault;
    }
    return undefined;
  }
}

function checkProbability(probability: number): void {
  if (!(probability >= 0 && probability <= 1)) throw new Error(`probability must be within 0..1, got ${probability}`);
}
