// Client-side rate limiting, pure (time is injected): a token bucket for Amazon's usage
// plans (patchListingsItem: 5 requests/s, burst 5) and a model of Shopify's cost bucket
// built from the throttleStatus every GraphQL response carries. Waiting is the caller's.

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number,
  ) {
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`a token bucket needs a rate > 0, got ${rate}`);
    if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`a token bucket needs a whole burst >= 1, got ${burst}`);
    this.tokens = burst;
    this.refilledAtMs = now();
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + (Math.max(0, now - this.refilledAtMs) / 1000) * this.rate);
    this.refilledAtMs = now;
  }

  /** Takes a token when one is there. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is). */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate) * 1000);
  }

  /** Gives back a token taken for a request that was never sent. */
  refund(): void {
    this.refill();
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }
}

/** Shopify's `extensions.cost.throttleStatus`, stamped with when we read it. */
export interface ThrottleSnapshot {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
  atMs: number;
}

/** Points the bucket should hold at nowMs: what it held then, plus what restored since. */
export function predictedPoints(snapshot: ThrottleSnapshot, nowMs: number): number {
  const restored = (Math.max(0, nowMs - snapshot.atMs) / 1000) * snapshot.restoreRate;
  return Math.min(snapshot.maximumAvailable, snapshot.currentlyAvailable + restored);
}

/**
 * How long to wait before a request of `cost` points fits, by the last throttleStatus seen.
 * 0 when nothing has been seen yet (the first response tells us), or when it fits now.
 * A cost above the bucket's size can never fit: wait for a full bucket, the server decides.
 */
export function waitForPointsMs(snapshot: ThrottleSnapshot | undefined, cost: number, nowMs: number): number {
  if (!snapshot || !(snapshot.restoreRate > 0)) return 0;
  const wanted = Math.min(cost, snapshot.maximumAvailable);
  const missing = wanted - predictedPoints(snapshot, nowMs);
  return missing <= 0 ? 0 : Math.ceil((missing / snapshot.restoreRate) * 1000);
}
