// docs/metrics.md and the registry list the same metrics, with the same types and labels,
// and every name follows the Prometheus conventions.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMetrics } from '../../src/metrics/metrics.ts';

const doc = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\| `(stockguard_[a-z_]+)` \| (\w+) \| ([^|]+) \|/gm)].map((match) => ({
  name: match[1]!,
  type: match[2]!,
  labels: match[3]!.trim() === '—' ? [] : match[3]!.split(',').map((label) => label.trim()).sort(),
}));

test('every registered metric is documented with its type and labels, and nothing else is', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  const registered = (await metrics.registry.getMetricsAsJSON()).map((metric) => {
    const labels = new Set<string>();
    // prom-client keeps label names on the metric object; read them from the registry entry.
    const instance = metrics.registry.getSingleMetric(metric.name) as unknown as { labelNames?: string[] };
    for (const label of instance.labelNames ?? []) labels.add(label);
    return { name: metric.name, type: String(metric.type), labels: [...labels].sort() };
  });
  assert.equal(
    documented.sort((a, b) => a.name.localeCompare(b.name)),
    registered.sort((a, b) => a.name.localeCompare(b.name)),
  );
});

test('names follow Prometheus conventions: counters end in _total, durations in _seconds, no SKU labels but the top-N gauge', async () => {
  const metrics = createMetrics({ defaultMetrics: false });
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    assert.ok(metric.name.startsWith('stockguard_'), metric.name);
    if (String(metric.type) === 'counter') assert.ok(metric.name.endsWith('_total'), `${metric.name} is a counter`);
    if (metric.name.includes('second')) assert.ok(metric.name.endsWith('_seconds'), metric.name);
    // The one exception the design allows: a bounded top-N exposure gauge.
    if (!metric.name.includes('_top_')) assert.not.ok(instanceLabels(metrics, metric.name).includes('sku'), `${metric.name} must not carry a sku label`);
  }
});

function instanceLabels(metrics: ReturnType<typeof createMetrics>, name: string): string[] {
  return (metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[] }).labelNames ?? [];
}

test.run();
