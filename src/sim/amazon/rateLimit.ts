// SP-API usage plans are token buckets per operation (spec notes §1.1): a bucket holds up
// to `burst` requests and refills at `rate` per second; a request finding it empty gets 429.

export interface UsagePlan {
  /** Requests per second the bucket refills by; also the `x-amzn-RateLimit-Limit` header value. */
  rate: number;
  /** Bucket size. */
  burst: number;
}

export class TokenBucket {
  private tokens: number;
  private refilledAtMs: number;

  constructor(
    readonly plan: UsagePlan,
    private readonly now: () => number,
  ) {
    if (!(plan.rate > 0) || !Number.isInteger(plan.burst) || plan.burst < 1) {
      throw new Error(`a usage plan needs rate > 0 and a whole burst >= 1, got rate ${plan.rate}, burst ${plan.burst}`);
    }
    this.tokens = plan.burst;
    this.refilledAtMs = now();
  }

  /** Takes one request's worth from the bucket; false when the caller is over the limit. */
  tryTake(): boolean {
    const now = this.now();
    const elapsedSeconds = Math.max(0, now - this.refilledAtMs) / 1000;
    this.tokens = Math.min(this.plan.burst, this.tokens + elapsedSeconds * this.plan.rate);
    this.refilledAtMs = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
