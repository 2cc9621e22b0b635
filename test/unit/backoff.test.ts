import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from '../../src/domain/backoff.ts';
import { isStockguardError } from '../../src/errors.ts';

const POLICY: BackoffPolicy = { baseMs: 100, maxMs: 1_000, factor: 2 };
const LOWEST = () => 0;
const HIGHEST = () => 1 - Number.EPSILON;

test('the ceiling doubles per attempt from baseMs and stops at maxMs', () => {
  const ceilings = [0, 1, 2, 3, 4, 5, 60].map((attempt) => backoffDelayMs(attempt, POLICY, LOWEST) * 2);
  assert.equal(ceilings, [100, 200, 400, 800, 1_000, 1_000, 1_000]);
});

test('jitter keeps every delay in [ceiling / 2, ceiling)', () => {
  for (const attempt of [0, 3, 10]) {
    const ceiling = Math.min(POLICY.maxMs, POLICY.baseMs * 2 ** attempt);
    assert.is(backoffDelayMs(attempt, POLICY, LOWEST), ceiling / 2);
    const highest = backoffDelayMs(attempt, POLICY, HIGHEST);
    assert.ok(highest < ceiling && highest > ceiling * 0.99, `attempt ${attempt}: ${highest}`);
    assert.is(backoffDelayMs(attempt, POLICY, () => 0.5), ceiling * 0.75);
  }
});

test('two daemons that failed together draw different delays', () => {
  assert.is.not(backoffDelayMs(2, POLICY, () => 0.1), backoffDelayMs(2, POLICY, () => 0.9));
});

test('a huge attempt number stays capped instead of overflowing', () => {
  assert.is(backoffDelayMs(100_000, POLICY, LOWEST), POLICY.maxMs / 2);
  assert.is(backoffDelayMs(0, { baseMs: 250, maxMs: 250, factor: 1 }, LOWEST), 125);
  assert.is(backoffDelayMs(40, { baseMs: 250, maxMs: 10_000, factor: 1 }, LOWEST), 125);
});

test('the default policy starts at 0.5 s and never exceeds 30 s', () => {
  assert.is(backoffDelayMs(0, DEFAULT_BACKOFF, LOWEST), 250);
  assert.ok(backoffDelayMs(1_000, DEFAULT_BACKOFF, HIGHEST) < 30_000);
  const drawn = backoffDelayMs(3);
  assert.ok(drawn >= 2_000 && drawn < 4_000, String(drawn));
});

test('nonsense attempts, policies and random sources are refused with a coded error', () => {
  const cases: Array<[number, BackoffPolicy, () => number]> = [
    [-1, POLICY, LOWEST],
    [1.5, POLICY, LOWEST],
    [Number.NaN, POLICY, LOWEST],
    [0, { baseMs: 0, maxMs: 10 }, LOWEST],
    [0, { baseMs: 100, maxMs: 50 }, LOWEST],
    [0, { baseMs: 100, maxMs: Infinity }, LOWEST],
    [0, { baseMs: 100, maxMs: 1_000, factor: 0.5 }, LOWEST],
    [0, POLICY, () => 1],
    [0, POLICY, () => -0.1],
    [0, POLICY, () => Number.NaN],
  ];
  for (const [attempt, policy, random] of cases) {
    try {
      backoffDelayMs(attempt, policy, random);
      assert.unreachable(`accepted ${attempt} ${JSON.stringify(policy)} ${random()}`);
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_BAD_ARGUMENT'), String(error));
    }
  }
});

test.run();
