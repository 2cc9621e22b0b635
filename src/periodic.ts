// A pass run on a timer until stop(), at most one at a time: the event-stream trimmer and
// the journal trimmer share it. Every replica may run one (their passes are idempotent).
import type { Logger } from 'pino';
import { StockguardError } from './errors.ts';

export abstract class PeriodicPass<T> {
  protected readonly logger: Logger;
  private readonly intervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(options: { intervalMs?: number | undefined; logger: Logger }, defaultIntervalMs: number, component: string) {
    this.intervalMs = options.intervalMs ?? defaultIntervalMs;
    if (!Number.isSafeInteger(this.intervalMs) || this.intervalMs < 1) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `intervalMs must be a whole number ≥ 1, got ${String(options.intervalMs)}`);
    }
    this.logger = options.logger.child({ component });
  }

  /** One pass; it logs its own errors and does not throw (the next pass retries). */
  abstract trimOnce(): Promise<T>;

  start(): void {
    if (this.timer || this.stopped) return;
    this.timer = setInterval(() => {
      this.running ??= this.trimOnce()
        .then(() => undefined)
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
