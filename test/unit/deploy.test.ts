// The deployment files agree with the code: the Kubernetes manifests with the
// configuration defaults and key names, the Dockerfile with how the daemon runs.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { KeySpace } from '../../src/ledger/keys.ts';

// The parts of the manifests the checks read.
interface Probe { httpGet: { path: string; port: string } }
interface Container {
  ports: { name: string; containerPort: number }[];
  readinessProbe: Probe;
  livenessProbe: Probe;
  env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  envFrom: Record<string, unknown>[];
}
interface Labels { [label: string]: string }
interface Manifest {
  metadata: { name: string };
  data: Record<string, string>;
  stringData: Record<string, string>;
  spec: {
    selector: Labels & { matchLabels: Labels };
    minAvailable: number;
    ports: { targetPort: string }[];
    scaleTargetRef: { name: string };
    minReplicaCount: number;
    triggers: { type: string; metadata: { stream: string; consumerGroup: string; lagCount: string; addressFromEnv: string } }[];
    template: { metadata: { labels: Labels; annotations: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
  };
}
const load = (name: string): Manifest => parse(readFileSync(new URL(`../../deploy/k8s/${name}`, import.meta.url), 'utf8')) as Manifest;
const configMap = load('configmap.yaml');
const deployment = load('deployment.yaml');
const container = deployment.spec.template.spec.containers[0]!;
const config = loadConfig(configMap.data);
const defaults = loadConfig({});

test('the ConfigMap is a valid configuration and keeps the defaults the rest relies on', () => {
  assert.is(config.http.port, defaults.http.port);
  assert.is(config.streams.group, defaults.streams.group);
  assert.is(config.streams.partitions, defaults.streams.partitions);
  assert.is(config.keyPrefix, defaults.keyPrefix);
  const redisUrl = new URL(configMap.data.REDIS_URL ?? "");
  assert.is(configMap.data.REDIS_ADDRESS, `${redisUrl.hostname}:${redisUrl.port}`, 'KEDA reaches the same Redis');
});

test('the Deployment: port, probes, consumer name from the pod, drain time, config and secrets', () => {
  const port = container.ports.find((candidate) => candidate.name === 'http')!;
  assert.is(port.containerPort, config.http.port);
  assert.equal([container.readinessProbe.httpGet.path, container.readinessProbe.httpGet.port], ['/readyz', 'http']);
  assert.equal([container.livenessProbe.httpGet.path, container.livenessProbe.httpGet.port], ['/healthz', 'http']);
  const consumerName = container.env.find((entry) => entry.name === 'STOCKGUARD_CONSUMER_NAME');
  assert.is(consumerName?.valueFrom?.fieldRef?.fieldPath, 'metadata.name');
  assert.ok(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000 > config.shutdownDeadlineMs + 5000, 'SIGTERM has time to drain');
  assert.equal(container.envFrom.map((source) => Object.keys(source)[0]), ['configMapRef', 'secretRef']);
  assert.is(deployment.spec.template.metadata.annotations['prometheus.io/port'], String(config.http.port));
  const secretKeys = Object.keys(load('secret.example.yaml').stringData).sort();
  assert.equal(secretKeys, ['AMAZON_SQS_QUEUE_URL', 'SHOPIFY_APP_SECRET', 'STOCKGUARD_API_TOKEN', 'STOCKGUARD_WMS_WEBHOOK_SECRET']);
  loadConfig({ ...configMap.data, ...load('secret.example.yaml').stringData });
});

test('KEDA scales on the lag of every sales partition of the configured group', () => {
  const scaled = load('keda-scaledobject.yaml');
  assert.is(scaled.spec.scaleTargetRef.name, deployment.metadata.name);
  const keys = new KeySpace(config.keyPrefix);
  const expected = keys.eventStreams('sales', config.streams.partitions);
  const triggers = scaled.spec.triggers;
  assert.equal(triggers.map((trigger) => trigger.metadata.stream), expected);
  for (const trigger of triggers) {
    assert.is(trigger.type, 'redis-streams');
    assert.is(trigger.metadata.consumerGroup, config.streams.group);
    assert.ok(Number(trigger.metadata.lagCount) > 0);
    assert.is(trigger.metadata.addressFromEnv, 'REDIS_ADDRESS');
  }
  assert.ok(scaled.spec.minReplicaCount >= load('pdb.yaml').spec.minAvailable);
});

test('the Service and the PodDisruptionBudget select the Deployment\'s pods', () => {
  const labels = deployment.spec.template.metadata.labels;
  assert.equal(load('service.yaml').spec.selector, labels);
  assert.equal(load('pdb.yaml').spec.selector.matchLabels, labels);
  assert.is(load('service.yaml').spec.ports[0]?.targetPort, 'http');
});

test('the Dockerfile: multi-stage, production dependencies only, non-root, HEALTHCHECK, serve', () => {
  const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
  assert.is((dockerfile.match(/^FROM /gm) ?? []).length, 2);
  assert.match(dockerfile, /npm prune --omit=dev/);
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, /^HEALTHCHECK .*\n.*\/healthz/m);
  assert.match(dockerfile, /^ENTRYPOINT \["node", "dist\/src\/bin\/stockguard\.js"\]$/m);
  assert.match(dockerfile, /^CMD \["serve"\]$/m);
  const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { bin: Record<string, string> };
  assert.is(packageJson.bin.stockguard, 'dist/src/bin/stockguard.js');
});

test.run();
