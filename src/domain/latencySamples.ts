// A bounded window of recent latency samples and their percentiles (nearest rank). Used
// for the measured p99 sale-to-ledger latency that sizes the dynamic holdback. Pure: the
// caller passes the time.

export class LatencySamples {
  private readonly values: number[] = [];
  private readonly times: number[] = [];
  private next = 0;

  constructor(
    /** Keep at most this many samples (the newest). */
    private readonly capacity = 2048,
    /** Ignore samples older than this when computing a percentile. */
    private readonly maxAgeMs = 5 * 60_000,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a whole number >= 1, got ${capacity}`);
  }

  record(latencyMs: number, atMs: number): void {
    if (!Number.isFinite(latencyMs)) return;
    const value = Math.max(0, latencyMs);
    if (this.values.length < this.capacity) {
      this.values.push(value);
      this.times.push(atMs);
    } else {
      this.values[this.next] = value;
      this.times[this.next] = atMs;
    }
    this.next = (this.next + 1) % this.capacity;
  }

  /** Samples recorded within maxAgeMs of nowMs. */
  count(nowMs: number): number {
    return this.recent(nowMs).length;
  }

  /** The p-th percentile (0 < p <= 100) of the recent samples; undefined without samples. */
  percentile(p: number, nowMs: number): number | undefined {
    const recent = this.recent(nowMs).sort((a, b) => a - b);
    if (recent.length === 0) return undefined;
    const rank = Math.min(recent.length, Math.max(1, Math.ceil((p / 100) * recent.length)));
    return recent[rank - 1];
  }

  private recent(nowMs: number): number[] {
    const recent: number[] = [];
    for (let index = 0; index < this.values.length; index += 1) {
      if (nowMs - this.times[index]! <= this.maxAgeMs) recent.push(this.values[index]!);
    }
    return recent;
  }
}
