import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, redactConfig } from '../../src/config.ts';
import { isStockguardError } from '../../src/errors.ts';

test('defaults apply when nothing is set', () => {
  const config = loadConfig({});
  assert.is(config.redis.url, 'redis://127.0.0.1:6379');
  assert.is(config.redis.cluster, false);
  assert.is(config.keyPrefix, 'sg');
  assert.is(config.journalRetentionMs, 3 * 86_400_000);
  assert.is(config.journalAuditDir, './journal-audit');
  assert.is(loadConfig({ STOCKGUARD_JOURNAL_AUDIT_DIR: 'off' }).journalAuditDir, undefined, 'off: trimmed without an audit trail');
});

test('a bad setting stops start-up with an error naming the variable', () => {
  try {
    loadConfig({ REDIS_URL: 'localhost:6379', STOCKGUARD_KEY_PREFIX: 'has space' });
    assert.unreachable('bad configuration must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'));
    assert.match(error.message, /REDIS_URL must start with redis:\/\//);
    assert.match(error.message, /STOCKGUARD_KEY_PREFIX/);
    assert.match(error.message, /Fix: Set the named environment variable/);
    assert.equal(error.details.variables, ['REDIS_URL', 'STOCKGUARD_KEY_PREFIX']);
  }
});

test('a flag accepts true/false/1/0/yes/no and nothing else', () => {
  assert.is(loadConfig({ STOCKGUARD_REDIS_CLUSTER: 'yes' }).redis.cluster, true);
  assert.is(loadConfig({ STOCKGUARD_REDIS_CLUSTER: '0' }).redis.cluster, false);
  assert.throws(() => loadConfig({ STOCKGUARD_REDIS_CLUSTER: 'maybe' }), /STOCKGUARD_REDIS_CLUSTER/);
});

test('the printed configuration hides the Redis password', () => {
  const config = loadConfig({ REDIS_URL: 'redis://stockguard:s3cret@redis.internal:6379/0' });
  assert.is(redactConfig(config).redis.url, 'redis://stockguard:***@redis.internal:6379/0');
  assert.not.match(JSON.stringify(redactConfig(config)), /s3cret/);
});

test('WAIT for replicas: 1 by default on Cluster, off on one server, settable, and refused out of range', () => {
  assert.equal([loadConfig({}).redis.waitReplicas, loadConfig({}).redis.waitTimeoutMs], [0, 200]);
  assert.is(loadConfig({ STOCKGUARD_REDIS_CLUSTER: 'true' }).redis.waitReplicas, 1);
  assert.is(loadConfig({ STOCKGUARD_REDIS_CLUSTER: 'true', STOCKGUARD_REDIS_WAIT_REPLICAS: '0' }).redis.waitReplicas, 0);
  assert.equal(loadConfig({ STOCKGUARD_REDIS_WAIT_REPLICAS: '2', STOCKGUARD_REDIS_WAIT_TIMEOUT_MS: '50' }).redis, { ...loadConfig({}).redis, waitReplicas: 2, waitTimeoutMs: 50 });
  for (const [name, value] of [['STOCKGUARD_REDIS_WAIT_REPLICAS', '-1'], ['STOCKGUARD_REDIS_WAIT_REPLICAS', 'one'], ['STOCKGUARD_REDIS_WAIT_TIMEOUT_MS', '0']] as const) {
    try {
      loadConfig({ [name]: value });
      assert.unreachable(`${name}=${value} was accepted`);
    } catch (error) {
      assert.ok(isStockguardError(error) && error.code === 'STOCKGUARD_E_CONFIG', String(error));
      assert.match((error as Error).message, name);
    }
  }
});

test.run();
