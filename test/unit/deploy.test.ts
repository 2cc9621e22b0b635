// The deployment files agree with the code: the Kubernetes manifests with the
// configuration defaults and key names, the Dockerfile with how the daemon runs. The
// Cluster variant (deploy/k8s/cluster/: ConfigMap and KEDA redis-cluster-streams
// ScaledObject) replaces the two single-Redis files and is checked the same way.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config.ts';
import { KeySpace } from '../../src/redis/keys.ts';

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
    triggers: { type: string; metadata: { stream: string; consumerGroup: string; lagCount: string; addressFromEnv?: string; addressesFromEnv?: string } & Record<string, string> }[];
    maxReplicaCount: number;
    cooldownPeriod: number;
    template: { metadata: { labels: Labels; annotations: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
  };
}
/**
 * The trigger metadata KEDA documents for each scaler (keda.sh/docs/2.16/scalers/redis-streams,
 * .../redis-cluster-streams): a misspelt or wrong-scaler field (`addressFromEnv` on a
 * Cluster trigger) would be ignored by KEDA, not refused.
 */
const KEDA_FIELDS: Record<string, readonly string[]> = {
  'redis-streams': ['address', 'host', 'port', 'addressFromEnv', 'hostFromEnv', 'portFromEnv', 'usernameFromEnv', 'passwordFromEnv', 'stream', 'consumerGroup', 'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'enableTLS', 'unsafeSsl', 'databaseIndex'],
  'redis-cluster-streams': ['addresses', 'hosts', 'ports', 'addressesFromEnv', 'hostsFromEnv', 'portsFromEnv', 'usernameFromEnv', 'passwordFromEnv', 'stream', 'consumerGroup', 'pendingEntriesCount', 'streamLength', 'lagCount', 'activationLagCount', 'enableTLS', 'unsafeSsl', 'databaseIndex'],
};
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
    for (const field of Object.keys(trigger.metadata)) assert.ok(KEDA_FIELDS['redis-streams']!.includes(field), `redis-streams documents ${field}`);
    assert.is(trigger.metadata.consumerGroup, config.streams.group);
    assert.ok(Number(trigger.metadata.lagCount) > 0);
    assert.is(trigger.metadata.addressFromEnv, 'REDIS_ADDRESS');
  }
  assert.ok(scaled.spec.minReplicaCount >= load('pdb.yaml').spec.minAvailable);
});

test('the Cluster ConfigMap: the same settings as the single-Redis one, Cluster mode, every node for KEDA', () => {
  const clusterMap = load('cluster/configmap.yaml');
  assert.is(clusterMap.metadata.name, configMap.metadata.name, 'it replaces the single-Redis ConfigMap');
  const clusterConfig = loadConfig(clusterMap.data);
  assert.ok(clusterConfig.redis.cluster, 'STOCKGUARD_REDIS_CLUSTER');
  const redisKeys = new Set(['REDIS_URL', 'REDIS_ADDRESS', 'REDIS_ADDRESSES', 'STOCKGUARD_REDIS_CLUSTER']);
  const rest = (data: Record<string, string>) => Object.fromEntries(Object.entries(data).filter(([key]) => !redisKeys.has(key)));
  assert.equal(rest(clusterMap.data), rest(configMap.data), 'only how Redis is reached differs');
  assert.is(clusterMap.data.REDIS_ADDRESS, undefined, 'no single-server address left for a scaler to use');
  const nodes = (clusterMap.data.REDIS_ADDRESSES ?? '').split(',').map((node) => node.trim());
  assert.ok(nodes.length >= 3, 'at least the three masters');
  for (const node of nodes) assert.match(node, /^[a-z0-9.-]+:\d+$/, 'host:port');
  assert.is(new Set(nodes).size, nodes.length);
});

test('KEDA on a Cluster: redis-cluster-streams on every sales partition, as the single-Redis redis-streams triggers', () => {
  const single = load('keda-scaledobject.yaml');
  const scaled = load('cluster/keda-scaledobject.yaml');
  const clusterMap = load('cluster/configmap.yaml');
  const clusterConfig = loadConfig(clusterMap.data);
  assert.is(scaled.metadata.name, single.metadata.name, 'it replaces the single-Redis ScaledObject');
  assert.is(scaled.spec.scaleTargetRef.name, deployment.metadata.name);
  assert.equal([scaled.spec.minReplicaCount, scaled.spec.maxReplicaCount, scaled.spec.cooldownPeriod], [single.spec.minReplicaCount, single.spec.maxReplicaCount, single.spec.cooldownPeriod]);
  const keys = new KeySpace(clusterConfig.keyPrefix);
  const expected = keys.eventStreams('sales', clusterConfig.streams.partitions);
  assert.equal(scaled.spec.triggers.map((trigger) => trigger.metadata.stream), expected);
  // Each partition its own hash tag, so the streams can sit on different masters.
  const tags = expected.map((stream) => /\{([^}]*)\}/.exec(stream)?.[1]);
  assert.ok(tags.every(Boolean) && new Set(tags).size === tags.length, `hash tags ${tags.join(', ')}`);
  for (const [index, trigger] of scaled.spec.triggers.entries()) {
    assert.is(trigger.type, 'redis-cluster-streams');
    for (const field of Object.keys(trigger.metadata)) assert.ok(KEDA_FIELDS['redis-cluster-streams']!.includes(field), `redis-cluster-streams documents ${field}`);
    assert.is(trigger.metadata.consumerGroup, clusterConfig.streams.group);
    assert.is(trigger.metadata.lagCount, single.spec.triggers[index]?.metadata.lagCount, 'the same lag target as on one Redis');
    // KEDA reads the variable from the scale target's container: the Deployment takes it from this ConfigMap.
    assert.is(trigger.metadata.addressesFromEnv, 'REDIS_ADDRESSES');
    assert.ok(clusterMap.data.REDIS_ADDRESSES, 'the ConfigMap sets REDIS_ADDRESSES');
  }
  assert.ok(container.envFrom.some((source) => (source.configMapRef as { name?: string } | undefined)?.name === clusterMap.metadata.name), 'the Deployment reads the ConfigMap');
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
