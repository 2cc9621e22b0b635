// How a command's error becomes its exit code (src/cli.ts, exitFor; docs/cli.md, "Exit
// codes"): a supervisor restarts on 3 (Redis away) and alerts on 4 (a bug), so an error that
// only says Redis was unreachable or between masters must be 3 wherever it was thrown.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, exitFor } from '../../src/cli.ts';
import { StockguardError } from '../../src/errors.ts';

test('ioredis errors of a Cluster between masters or a server away are exit 3, with a line that says so', () => {
  // The one a consumer restarted during a master's election died of (test/e2e/chaos.test.ts, Cluster).
  for (const message of ['Too many Cluster redirections. Last error: Error: Connection is closed.', 'Connection is closed.', 'CLUSTERDOWN The cluster is down', 'connect ECONNREFUSED 127.0.0.1:6379']) {
    const { code, message: line } = exitFor(new Error(message));
    assert.is(code, EXIT.redisUnavailable, message);
    assert.match(line, /STOCKGUARD_E_REDIS_UNAVAILABLE/);
    assert.match(line, /start stockguard again/);
  }
  assert.is(exitFor(new StockguardError('STOCKGUARD_E_REDIS_UNAVAILABLE', 'PING failed')).code, EXIT.redisUnavailable);
  assert.is(exitFor(new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', 'reading partition 3 failed', { cause: new Error('Connection is closed.') })).code, EXIT.redisUnavailable);
});

test('refusals are exit 1, a reconciliation already running 5, anything else 4 with its stack', () => {
  assert.is(exitFor(new StockguardError('STOCKGUARD_E_UNKNOWN_SKU', '"X"')).code, EXIT.refused);
  assert.is(exitFor(new StockguardError('STOCKGUARD_E_RECONCILE_RUNNING', 'another replica')).code, EXIT.busy);
  const bug = exitFor(new TypeError("Cannot read properties of undefined (reading 'sku')"));
  assert.is(bug.code, EXIT.unexpected);
  assert.match(bug.message, /^unexpected failure: TypeError/);
  assert.is(exitFor('a string').code, EXIT.unexpected);
});

test.run();
