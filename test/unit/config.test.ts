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

test.run();
