// Lags the channel fakes can add to what they do later than the caller's request: delivering
// a webhook or an SQS notification (delivery lag), applying an accepted Listings PATCH (apply
// lag). A lag is a fixed number of milliseconds, a uniform range sampled per use (seeded, so
// a run can be replayed), or any sampler. The default everywhere is no lag.
// Defaults the demo uses, and where their numbers come from: docs/sim.md ("Lags").
import { seededRandom } from '../domain/random.ts';

/** Milliseconds; `{minMs, maxMs}` draws uniformly in [minMs, maxMs] (seed: reproducible draws); a function is called per use. */
export type LagSpec = number | { minMs: number; maxMs: number; seed?: number } | (() => number);

/** Returns a function drawing one lag (ms, whole, ≥ 0) per call; undefined when `spec` is. */
export function lagSampler(name: string, spec: LagSpec | undefined): (() => number) | undefined {
  if (spec === undefined) return undefined;
  if (typeof spec === 'number') {
    checkMs(name, spec);
    return () => spec;
  }
  if (typeof spec === 'function') {
    return () => {
      const drawn = spec();
      checkMs(name, drawn);
      return Math.round(drawn);
    };
  }
  const { minMs, maxMs } = spec;
  checkMs(`${name}.minMs`, minMs);
  checkMs(`${name}.maxMs`, maxMs);
  if (maxMs < minMs) throw new Error(`${name}: maxMs (${maxMs}) must be >= minMs (${minMs})`);
  const random = spec.seed === undefined ? Math.random : seededRandom(spec.seed);
  return () => Math.round(minMs + (maxMs - minMs) * random());
}

function checkMs(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number of milliseconds >= 0, got ${value}`);
}
