// `npm run bench -- ingest`: how fast events get from the edge into the ledger.
//   consumers-1 / consumers-2: a producer appends order.placed events (one line, 1,000 SKUs)
//     to the partitioned streams as fast as it can while 1 or 2 `stockguard serve`
//     processes (role consumers) apply and acknowledge them. Throughput is events / (time
//     the last one was acknowledged − time the first was appended); latency is each
//     event's journal time minus the time the producer stamped on it (append → applied).
//   webhook-http: a `stockguard serve` process (role http only) receives signed Shopify
//     orders/create deliveries from keep-alive connections; requests/s and p50/p99 as
//     the client sees them, each 200 meaning the event is on its stream.
//   sqs-loops-4 / sqs-loops-16: a `stockguard serve` process (role sqs only, 4 or 16 receive
//     loops) drains a local SQS (fauxqs, in its own process) that the Amazon fake filled with
//     the notifications of MFN sales: ORDER_CHANGE, the quantity change each sale causes,
//     and a duplicate of every fourth ORDER_CHANGE. Messages/s from the first message taken
//     to the queue being empty (received, appended, deleted); no latency is measured.
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Catalog } from '../src/catalog/catalog.ts';
import { loadConfig } from '../src/config.ts';
import { seededRandom } from '../src/domain/random.ts';
import { startAmazonFake } from '../src/sim/amazon/index.ts';
import { startLocalSqs } from '../src/sim/sqs.ts';
import { FAKE_MARKETPLACE, FAKE_SELLER } from '../src/sim/world.ts';
import { RedisEventSink } from '../src/ingest/redisSink.ts';
import { signShopify } from '../src/ingest/http/signatures.ts';
import { Ledger } from '../src/ledger/ledger.ts';
import { type BenchEnv, benchEnv, describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { connect, deleteKeys, disconnect } from './lib/redis.ts';
import { round, summarizeLatencies } from './lib/stats.ts';

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');

export interface IngestVariantResult {
  name: string;
  workload: string;
  ops_per_sec: number;
  /** Not measured for the SQS variants. */
  p50_ms?: number;
  p99_ms?: number;
  oversold: number;
  events: number;
  seconds: number;
}

export interface IngestResult {
  scenario: 'ingest';
  date: string;
  env: BenchEnv;
  variants: IngestVariantResult[];
  targets: { consumers2EventsPerSec: number; webhookRequestsPerSec: number };
}

export interface IngestOptions {
  redisUrl: string;
  events?: number;
  skus?: number;
  webhookSeconds?: number;
  webhookConnections?: number;
  /** MFN sales whose notifications fill the queue for the SQS variants. Default 3,000. */
  sqsSales?: number;
  log?: (line: string) => void;
}

const APP_SECRET = 'bench-app-secret-0123456789';

export async function runIngestScenario(options: IngestOptions): Promise<IngestResult> {
  const log = options.log ?? (() => undefined);
  const [admin] = await connect(options.redisUrl, 1);
  const env = await benchEnv(admin!);
  const variants: IngestVariantResult[] = [];
  try {
    for (const processes of [1, 2]) {
      log(`consumers-${processes}: ${options.events ?? 100_000} events over ${options.skus ?? 1000} SKUs`);
      variants.push(await consumersVariant(options, processes, log));
    }
    log(`webhook-http: ${options.webhookSeconds ?? 8} s over ${options.webhookConnections ?? 64} keep-alive connections`);
    variants.push(await webhookVariant(options, log));
    for (const loops of [4, 16]) {
      log(`sqs-loops-${loops}: the notifications of ${options.sqsSales ?? 3000} Amazon MFN sales`);
      variants.push(await sqsVariant(options, loops, log));
    }
  } finally {
    await disconnect([admin!]);
  }
  return { scenario: 'ingest', date: new Date().toISOString(), env, variants, targets: { consumers2EventsPerSec: 50_000, webhookRequestsPerSec: 10_000 } };
}

async function consumersVariant(options: IngestOptions, processes: number, log: (line: string) => void): Promise<IngestVariantResult> {
  const events = options.events ?? 100_000;
  const skuCount = options.skus ?? 1000;
  const prefix = `bench-ingest-${randomUUID().slice(0, 8)}`;
  const [redis, ...producers] = await connect(options.redisUrl, 9);
  const config = loadConfig({ REDIS_URL: options.redisUrl, STOCKGUARD_KEY_PREFIX: prefix });
  const ledger = new Ledger({ redis: redis!, keyPrefix: prefix });
  const skus = Array.from({ length: skuCount }, (_, index) => `BENCH-${index}`);
  const children: ChildProcess[] = [];
  try {
    for (const sku of skus) {
      await ledger.createSku(sku);
      await ledger.adjust(sku, { eventId: `stock-${sku}`, delta: 1_000_000, cause: 'receipt' });
    }
    for (let index = 0; index < processes; index += 1) {
      children.push(startServe({ REDIS_URL: options.redisUrl, STOCKGUARD_KEY_PREFIX: prefix, STOCKGUARD_ROLES: 'consumers', STOCKGUARD_CONSUMER_NAME: `bench-${index}`, STOCKGUARD_CONSUMER_BATCH: '256', STOCKGUARD_CONSUMER_CONCURRENCY: '64' }));
    }
    const streams = ledger.keys.eventStreams('sales', config.streams.partitions);
    // A consumer shows in XINFO CONSUMERS only once it has read an entry: wait for the
    // group, then give the processes a moment to block on their first read.
    await waitFor(async () => Number.isFinite((await groupState(redis!, streams, config.streams.group)).lag), 60_000, 'the consumer group');
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const sinks = producers.map((producer) => new RedisEventSink({ redis: producer, keys: ledger.keys, partitions: config.streams.partitions, dedupeWindowSeconds: 3600 }));
    const appendedAt = new Float64Array(events);
    const started = Date.now();
    let next = 0;
    await Promise.all(
      sinks.flatMap((sink) =>
        Array.from({ length: 32 }, async () => {
          for (let index = next++; index < events; index = next++) {
            appendedAt[index] = Date.now();
            await sink.publish({ eventId: `e-${index}`, source: 'reservation-api', receivedAtMs: appendedAt[index]!, type: 'order.placed', channel: 'api', orderId: `o${index}`, lines: [{ lineId: '1', sku: skus[index % skuCount]!, quantity: 1 }] });
          }
        }),
      ),
    );
    log(`  appended ${events} in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for the consumers`);
    await waitFor(async () => {
      const state = await groupState(redis!, streams, config.streams.group);
      return state.lag === 0 && state.pending === 0;
    }, 600_000, 'the consumers to apply every event');

    // Latency and the finish time from the journals: at_ms of each reserve entry.
    const latencies = new Float64Array(events);
    let finished = 0;
    let seen = 0;
    let reserved = 0;
    for (const sku of skus) {
      for (const entry of await ledger.journal(sku)) {
        if (entry.cause !== 'reserve') continue;
        const index = Number(/^api:o(\d+):1$/.exec(entry.ref)?.[1]);
        latencies[seen++] = entry.atMs - appendedAt[index]!;
        finished = Math.max(finished, entry.atMs);
        reserved += entry.dReserved;
      }
    }
    if (seen !== events || reserved !== events) throw new Error(`consumers-${processes}: ${seen} reserve entries and ${reserved} units for ${events} events`);
    const seconds = (finished - started) / 1000;
    const { p50Ms, p99Ms } = summarizeLatencies(latencies);
    return { name: `consumers-${processes}`, workload: 'append→applied+acked', ops_per_sec: Math.round(events / seconds), p50_ms: round(p50Ms, 2), p99_ms: round(p99Ms, 2), oversold: 0, events, seconds: round(seconds, 2) };
  } finally {
    await Promise.all(children.map(stopServe));
    await deleteKeys(redis!, prefix);
    await disconnect([redis!, ...producers]);
  }
}

async function webhookVariant(options: IngestOptions, log: (line: string) => void): Promise<IngestVariantResult> {
  const seconds = options.webhookSeconds ?? 8;
  const connections = options.webhookConnections ?? 64;
  const prefix = `bench-webhook-${randomUUID().slice(0, 8)}`;
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = startServe({ REDIS_URL: options.redisUrl, STOCKGUARD_KEY_PREFIX: prefix, STOCKGUARD_ROLES: 'http', STOCKGUARD_HTTP_HOST: '127.0.0.1', STOCKGUARD_HTTP_PORT: String(port), SHOPIFY_APP_SECRET: APP_SECRET });
  const [redis] = await connect(options.redisUrl, 1);
  try {
    await waitFor(() => fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.ok, () => false), 60_000, 'the HTTP receiver');
    const body = JSON.stringify({ id: 820982911946154500, admin_graphql_api_id: 'gid://shopify/Order/820982911946154500', line_items: [{ id: 466157049, admin_graphql_api_id: 'gid://shopify/LineItem/466157049', sku: 'TEE-BLK-M', quantity: 1 }] });
    const hmac = signShopify(body, APP_SECRET);
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    const latencies: number[] = [];
    let failures = 0;
    let sequence = 0;
    const send = () =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          { agent, host: '127.0.0.1', port, method: 'POST', path: '/webhooks/shopify', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-shopify-topic': 'orders/create', 'x-shopify-hmac-sha256': hmac, 'x-shopify-event-id': `bench-${sequence++}` } },
          (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    // Warm-up, then the measured window.
    const warmUntil = Date.now() + 1000;
    await Promise.all(Array.from({ length: connections }, async () => { while (Date.now() < warmUntil) await send(); }));
    const started = performance.now();
    const endAt = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: connections }, async () => {
        while (performance.now() < endAt) {
          const sent = performance.now();
          const status = await send().catch(() => 0);
          if (status === 200) latencies.push(performance.now() - sent);
          else failures += 1;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    agent.destroy();
    if (failures > 0) log(`  ${failures} requests failed`);
    const { p50Ms, p99Ms } = summarizeLatencies(Float64Array.from(latencies));
    return { name: 'webhook-http', workload: 'shopify orders/create → stream', ops_per_sec: Math.round(latencies.length / elapsed), p50_ms: round(p50Ms, 2), p99_ms: round(p99Ms, 2), oversold: 0, events: latencies.length, seconds: round(elapsed, 2) };
  } finally {
    await stopServe(child);
    await deleteKeys(redis!, prefix);
    await disconnect([redis!]);
  }
}

async function sqsVariant(options: IngestOptions, loops: number, log: (line: string) => void): Promise<IngestVariantResult> {
  const sales = options.sqsSales ?? 3000;
  const prefix = `bench-sqs-${randomUUID().slice(0, 8)}`;
  const [redis] = await connect(options.redisUrl, 1);
  const sqs = await startLocalSqs(prefix, { ownProcess: true });
  const amazon = await startAmazonFake({ clientId: 'bench', clientSecret: 'bench', refreshToken: 'bench', sellerId: FAKE_SELLER, sqs: { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: sqs.region }, random: seededRandom(3) });
  let child: ChildProcess | undefined;
  try {
    // A catalogue whose seller SKUs are not the ledger's (the daemon maps them, I9).
    const catalog = new Catalog({ redis: redis!, keyPrefix: prefix });
    for (let index = 0; index < 40; index += 1) {
      const sellerSku = `amz-bench-${index}-mfn`;
      await catalog.put({ sku: `BENCH-${index}`, holdback: 0, skuClass: 'default', amazon: { sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN' }, policies: {} });
      amazon.addListing({ sku: sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: 'MFN', quantity: 1_000_000 });
    }
    for (let index = 0; index < sales; index += 1) await amazon.sellOnAmazon(`amz-bench-${index % 40}-mfn`, 1, { publish: { duplicates: index % 4 === 0 ? 1 : 0 } });
    await amazon.idle();
    const depth = async () => {
      const { visible, handedOut } = await sqs.depth();
      return visible + handedOut;
    };
    const queued = await depth();
    child = startServe({ REDIS_URL: options.redisUrl, STOCKGUARD_KEY_PREFIX: prefix, STOCKGUARD_ROLES: 'sqs', AMAZON_SQS_QUEUE_URL: sqs.queueUrl, AMAZON_SQS_ENDPOINT: sqs.endpoint, AWS_REGION: sqs.region, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', STOCKGUARD_SQS_WAIT_SECONDS: '1', STOCKGUARD_SQS_RECEIVE_LOOPS: String(loops) });
    // From the first message taken (the process has started) to an empty queue.
    let started = 0;
    await waitFor(async () => {
      const left = await depth();
      if (started === 0 && left < queued) started = performance.now();
      return started > 0 && left === 0;
    }, 600_000, 'the SQS poller to drain the queue');
    const seconds = (performance.now() - started) / 1000;
    const config = loadConfig({ REDIS_URL: options.redisUrl, STOCKGUARD_KEY_PREFIX: prefix });
    const ledger = new Ledger({ redis: redis!, keyPrefix: prefix });
    let orders = 0;
    for (const stream of ledger.keys.eventStreams('sales', config.streams.partitions)) orders += await redis!.xlen(stream);
    if (orders !== sales) throw new Error(`sqs-loops-${loops}: ${orders} order events on the streams for ${sales} sales`);
    log(`  ${queued} messages drained in ${seconds.toFixed(2)} s`);
    return { name: `sqs-loops-${loops}`, workload: 'SP-API notifications → stream', ops_per_sec: Math.round(queued / seconds), oversold: 0, events: queued, seconds: round(seconds, 2) };
  } finally {
    if (child) await stopServe(child);
    await amazon.close();
    await sqs.stop();
    await deleteKeys(redis!, prefix);
    await disconnect([redis!]);
  }
}

function startServe(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/bin/stockguard.ts'), 'serve'], {
    cwd: root,
    env: { ...process.env, STOCKGUARD_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

async function groupState(redis: import('ioredis').Redis, streams: readonly string[], group: string) {
  let lag = 0;
  let pending = 0;
  for (const stream of streams) {
    const groups = (await redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
    const mine = groups.map((fields) => new Map(chunk(fields))).find((fields) => fields.get('name') === group);
    if (!mine) return { lag: Number.POSITIVE_INFINITY, pending: 0 };
    lag += Number(mine.get('lag') ?? 0);
    pending += Number(mine.get('pending') ?? 0);
  }
  return { lag, pending };
}

function chunk(fields: unknown[]): [string, unknown][] {
  const pairs: [string, unknown][] = [];
  for (let index = 0; index + 1 < fields.length; index += 2) pairs.push([String(fields[index]), fields[index + 1]]);
  return pairs;
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const HEADER = ['variant', 'workload', 'ops/s', 'p50 ms', 'p99 ms', 'events', 'seconds'];
const rowsOf = (result: IngestResult) =>
  result.variants.map((variant) => [variant.name, variant.workload, String(variant.ops_per_sec), String(variant.p50_ms ?? '–'), String(variant.p99_ms ?? '–'), String(variant.events), String(variant.seconds)]);

export function ingestTextReport(result: IngestResult): string {
  return `${describeEnv(result.env)}\n${textTable(HEADER, rowsOf(result))}`;
}

export function ingestMarkdown(result: IngestResult): string {
  const byName = new Map(result.variants.map((variant) => [variant.name, variant]));
  const two = byName.get('consumers-2')?.ops_per_sec ?? 0;
  const one = byName.get('consumers-1')?.ops_per_sec ?? 0;
  const http = byName.get('webhook-http')?.ops_per_sec ?? 0;
  const sqs4 = byName.get('sqs-loops-4')?.ops_per_sec ?? 0;
  const sqs16 = byName.get('sqs-loops-16')?.ops_per_sec ?? 0;
  return [
    '## Ingest (`npm run bench -- ingest`)',
    '',
    `Measured ${result.date.slice(0, 10)} on ${describeEnv(result.env)}; the load generator, the daemon processes and Redis share the machine.`,
    '',
    markdownTable(HEADER, rowsOf(result)),
    '',
    `- consumers-2 / consumers-1: ${one ? round(two / one, 2) : 'n/a'}× — target ≥ ${result.targets.consumers2EventsPerSec} events/s with 2 consumers: ${two >= result.targets.consumers2EventsPerSec ? 'met' : `**missed** (${two})`}.`,
    `- webhook-http: target ≥ ${result.targets.webhookRequestsPerSec} requests/s: ${http >= result.targets.webhookRequestsPerSec ? 'met' : `**missed** (${http})`}.`,
    '- Latency for the consumer variants is append → applied (journal time − producer stamp), so it includes the queueing of a producer that appends faster than the consumers apply.',
    ...(sqs4 && sqs16 ? [`- sqs-loops-16 / sqs-loops-4: ${round(sqs16 / sqs4, 2)}× — one daemon's SQS path (receive, parse, append with its delivery mark, delete) with fauxqs in its own process; here the daemon has the machine to itself, unlike the chaos edge (docs/operations.md, "SQS throughput").`] : []),
  ].join('\n');
}
