// How long to wait before retrying something that keeps failing (an SQS receive, a
// channel call). Pure: the random source is injected, so tests pin the jitter.
import { StockguardError } from '../errors.ts';

export interface BackoffPolicy {
  /** The ceiling of the first retry, in ms. */
  readonly baseMs: number;
  /** No delay exceeds this, however many attempts failed. */
  readonly maxMs: number;
  /** Growth of the ceiling per failed attempt. Default 2. */
  readonly factor?: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, maxMs: 30_000, factor: 2 };

/**
 * The delay before retry number `attempt` (0 for the first retry after one failure).
 *
 * Exponential with "equal jitter" (AWS Architecture Blog, "Exponential Backoff And
 * Jitter"): ceiling = min(maxMs, baseMs * factor^attempt), delay uniform in
 * [ceiling / 2, ceiling). The jitter spreads daemons that failed together (a Redis or
 * network outage) so they do not retry in lockstep; the lower half is kept so a lone
 * poller never spins on a dead endpoint, which full jitter (uniform from 0) allows.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const factor = policy.factor ?? 2;
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `attempt must be a whole number ≥ 0, got ${attempt}`);
  }
  if (!Number.isFinite(policy.baseMs) || policy.baseMs <= 0) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `backoff baseMs must be a number > 0, got ${policy.baseMs}`);
  }
  if (!Number.isFinite(policy.maxMs) || policy.maxMs < policy.baseMs) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `backoff maxMs must be a number ≥ baseMs (${policy.baseMs}), got ${policy.maxMs}`);
  }
  if (!Number.isFinite(factor) || factor < 1) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `backoff factor must be a number ≥ 1, got ${factor}`);
  }
  const draw = random();
  if (!(draw >= 0 && draw < 1)) {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `random() must return a number in [0, 1), got ${draw}`);
  }
  // factor ** attempt overflows to Infinity after enough failures; min() then caps it.
  const ceiling = Math.min(policy.maxMs, policy.baseMs * factor ** attempt);
  return ceiling / 2 + draw * (ceiling / 2);
}
