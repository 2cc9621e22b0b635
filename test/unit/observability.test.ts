// The Grafana dashboard and the alert rules only query metrics the daemon exports, and
// the alert rules pass promtool's checks and their own unit tests.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMetrics } from '../../src/metrics/metrics.ts';

const run = promisify(execFile);
const dashboard = JSON.parse(readFileSync(new URL('../../deploy/grafana/stockguard.json', import.meta.url), 'utf8')) as {
  panels: { type: string; title: string; targets?: { expr: string }[] }[];
};
const alerts = readFileSync(new URL('../../deploy/prometheus/alerts.yml', import.meta.url), 'utf8');

async function exported(): Promise<Set<string>> {
  const metrics = await createMetrics({ defaultMetrics: false }).registry.getMetricsAsJSON();
  const names = new Set<string>();
  for (const metric of metrics) {
    names.add(metric.name);
    if (String(metric.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

const queried = (text: string) => [...new Set([...text.matchAll(/\bstockguard_[a-z_]+/g)].map((match) => match[0]))];

test('every metric the dashboard queries is exported', async () => {
  const names = await exported();
  const expressions = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
  assert.ok(expressions.length >= 20, 'the dashboard has its panels');
  for (const metric of queried(expressions.join('\n'))) assert.ok(names.has(metric), `the dashboard queries ${metric}, which the registry does not export`);
});

test('the dashboard covers oversell risk, flow, channels and reconciliation', () => {
  const rows = dashboard.panels.filter((panel) => panel.type === 'row').map((panel) => panel.title);
  assert.equal(rows, ['Oversell risk', 'Flow', 'Channels', 'Reconciliation']);
});

test('every metric the alert rules use is exported', async () => {
  const names = await exported();
  for (const metric of queried(alerts)) assert.ok(names.has(metric), `an alert uses ${metric}, which the registry does not export`);
});

test('promtool check rules and promtool test rules pass', async () => {
  try {
    await run('promtool', ['--version']);
  } catch {
    assert.unreachable('promtool is missing: install Debian\'s prometheus package (apt-get install prometheus); .ci/run does this');
  }
  const checked = await run('promtool', ['check', 'rules', 'deploy/prometheus/alerts.yml']);
  assert.match(checked.stdout, /SUCCESS: 8 rules found/);
  const tested = await run('promtool', ['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
  assert.match(tested.stdout, /SUCCESS/);
});

test.run();
