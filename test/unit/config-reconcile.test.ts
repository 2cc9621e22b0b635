// The reconciliation and snapshot settings: defaults, thresholds JSON, the daily schedule
// rule, and the WMS token kept out of `stockguard config`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, redactConfig } from '../../src/config.ts';
import { isStockguardError } from '../../src/errors.ts';

function refused(env: Record<string, string>, variable: string, message: RegExp): void {
  try {
    loadConfig(env);
    assert.unreachable(`${variable} must be refused`);
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFIG'), String(error));
    assert.equal(error.details.variables, [variable]);
    assert.match(error.message, message);
  }
}

test('defaults: daily at 03:30 UTC, every discrepancy corrected, 60 s settle, snapshots off, role on', () => {
  const config = loadConfig({});
  assert.equal(config.reconcile, {
    schedule: '30 3 * * *',
    timezone: 'UTC',
    thresholds: { default: { units: 1, percent: 0 } },
    settleMs: 60_000,
    reportDir: './reports/reconcile',
    lockTtlMs: 600_000,
    pendingMaxMs: 12 * 3_600_000,
  });
  assert.equal(config.snapshots, { schedule: undefined, dir: './snapshots', keep: 7 });
  assert.equal(config.wms, { url: undefined, token: undefined, pageSize: 1000, timeoutMs: 30_000, retries: 5 });
  assert.ok(config.roles.includes('reconcile'));
});

test('thresholds per class come from JSON; the default class is filled in', () => {
  const config = loadConfig({ STOCKGUARD_RECONCILE_THRESHOLDS: '{"hot":{"units":2,"percent":1.5}}' });
  assert.equal(config.reconcile.thresholds, { default: { units: 1, percent: 0 }, hot: { units: 2, percent: 1.5 } });
  refused({ STOCKGUARD_RECONCILE_THRESHOLDS: '{hot: 1}' }, 'STOCKGUARD_RECONCILE_THRESHOLDS', /must be JSON such as/);
  refused({ STOCKGUARD_RECONCILE_THRESHOLDS: '{"hot":{"units":0,"percent":1}}' }, 'STOCKGUARD_RECONCILE_THRESHOLDS.hot.units', /STOCKGUARD_RECONCILE_THRESHOLDS\.hot\.units .*>=1/);
});

test('the reconciliation schedule must be a cron expression that fires every day', () => {
  assert.is(loadConfig({ STOCKGUARD_RECONCILE_SCHEDULE: '0 */6 * * *' }).reconcile.schedule, '0 */6 * * *');
  assert.is(loadConfig({ STOCKGUARD_RECONCILE_SCHEDULE: '0 0 2 * * *' }).reconcile.schedule, '0 0 2 * * *');
  refused({ STOCKGUARD_RECONCILE_SCHEDULE: '0 3 * * 1' }, 'STOCKGUARD_RECONCILE_SCHEDULE', /must run at least once every day/);
  refused({ STOCKGUARD_RECONCILE_SCHEDULE: '0 3 1 * *' }, 'STOCKGUARD_RECONCILE_SCHEDULE', /must run at least once every day/);
  refused({ STOCKGUARD_RECONCILE_SCHEDULE: 'daily' }, 'STOCKGUARD_RECONCILE_SCHEDULE', /must be a cron expression/);
  refused({ STOCKGUARD_SNAPSHOT_SCHEDULE: 'often' }, 'STOCKGUARD_SNAPSHOT_SCHEDULE', /must be a cron expression/);
});

test('the WMS token is redacted from the printed configuration', () => {
  const config = loadConfig({ STOCKGUARD_WMS_URL: 'https://wms.example.com/api', STOCKGUARD_WMS_TOKEN: 'wms-secret-token-0123456789' });
  assert.is(config.wms.token, 'wms-secret-token-0123456789');
  assert.is(redactConfig(config).wms.token, '***');
  assert.not.match(JSON.stringify(redactConfig(config)), /wms-secret-token/);
  refused({ STOCKGUARD_WMS_TOKEN: 'short' }, 'STOCKGUARD_WMS_TOKEN', /at least 16 characters/);
});

test.run();
