// The measured p99 sale-to-ledger latency that sizes the dynamic holdback. The consumers
// record, for every sale they apply, the time from the edge receiving it to the ledger
// having it; the process publishes the p99 to Redis every few seconds, where the pushers
// (possibly another process) read it.
import { LatencySamples } from '../domain/latencySamples.ts';
import type { Clock } from '../ledger/ledger.ts';
import type { PushStore } from './store.ts';

/** A published measurement older than this is not trusted (the consumers stopped reporting). */
export const SALE_LATENCY_TTL_MS = 60_000;

export class SaleLatencyReporter {
  private readonly samples = new LatencySamples(4096, 5 * 60_000);

  constructor(
    private readonly store: PushStore,
    private readonly clock: Clock = Date.now,
  ) {}

  record(latencyMs: number): void {
    this.samples.record(latencyMs, this.clock());
  }

  /** Publishes the p99 of the last five minutes; nothing when no sale was applied. */
  async publish(): Promise<void> {
    const now = this.clock();
    const p99 = this.samples.percentile(99, now);
    if (p99 === undefined) return;
    await this.store.publishSaleLatency({ p99Ms: p99, samples: this.samples.count(now), atMs: now }, SALE_LATENCY_TTL_MS);
  }
}
