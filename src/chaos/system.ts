// The system a chaos run hits (issue 7, docs/reliability.md): a private redis-server with
// AOF `appendfsync always` behind a TCP fault proxy, the Shopify, Amazon (SP-API + SQS
// through fauxqs) and WMS fakes, and three `stockguard serve` child processes — one edge
// (http, sqs, holds, pushers) and two consumers in one consumer group — that reach Redis
// only through the proxy. The harness keeps its own connection straight to Redis for
// setting up and checking, so network faults never slow the checker.
//
// With `redis: 'cluster'` (issue 13 §5) Redis is a local Cluster of 3 masters and 3
// replicas (AOF `appendfsync always` on every node) instead, reached directly in Cluster
// mode by every process (a proxy cannot stand in front of a Cluster: the nodes announce
// their own addresses), so that masters can be failed over and killed under load.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { CatalogEntry } from '../catalog/entry.ts';
import { loadConfig } from '../config.ts';
import { seededRandom } from '../domain/random.ts';
import { sellable } from '../domain/sellable.ts';
import { openRuntime, type Runtime } from '../main.ts';
import { type AmazonFake, startAmazonFake } from '../sim/amazon/index.ts';
import { freePort } from '../sim/ports.ts';
import { RedisCluster, RedisServer } from '../sim/redisServer.ts';
import { type ShopifyFake, startShopifyFake } from '../sim/shopify/index.ts';
import { startChildService } from '../sim/childService.ts';
import { type LocalSqs, startLocalSqs } from '../sim/sqs.ts';
import { startTcpProxy, type TcpProxy } from '../sim/tcpProxy.ts';
import { WmsFake } from '../sim/wms/index.ts';
import { channelTargets, FAKE_LOCATION, FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv, waitUntil } from '../sim/world.ts';

const SECRETS = { shopifyToken: 'shpat_chaos_token', appSecret: 'shpss_chaos_app_secret_0123', wms: 'wms_chaos_shared_secret_0123', api: 'api_chaos_token_0123456789', wmsToken: 'wms_chaos_read_token_012345' };
const LWA = { clientId: 'amzn1.application-oa2-client.chaos', clientSecret: 'chaos-lwa-secret', refreshToken: 'Atzr|chaos-refresh-token' };
const PREFIX = 'sg';
const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** One `stockguard serve` child process that the faults kill and restart. */
export class StockguardProcess {
  private child: ChildProcess | undefined;
  private killing = false;
  private closed = false;
  /** Exits nobody asked for, with the log to read (exit code 3 excepted). */
  readonly crashes: string[] = [];
  /** Exits with code 3 (Redis unreachable at start-up), each followed by a restart. */
  restartsRedisDown = 0;

  constructor(
    readonly name: string,
    private readonly env: Record<string, string>,
    private readonly logFile: string,
    private readonly readyUrl?: string,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    // A fault that was killing and restarting this process when the run ended must not
    // start it again after close(): the child would outlive the run, keep the harness's
    // process alive and hold the test file open (seen in CI: a consumer restarted after the
    // Cluster was stopped).
    if (this.closed) return;
    // Started already: a process that exited by itself is restarted by its exit handler one
    // second later, and a kill fault that found it dead starts it too; the second start would
    // leave the first child running unowned, a second consumer under the same name (seen in a
    // 1M-operation Cluster run: two chaos-consumer-0 processes for 30 minutes).
    if (this.running) return;
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/stockguard.ts', 'serve'], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.once('error', (error) => this.crashes.push(`${this.name} could not start: ${error.message}`));
    child.once('exit', (code, signal) => {
      if (this.killing || this.closed) return;
      // Like a supervisor (Kubernetes) the harness starts it again. Exit code 3 is stockguard
      // refusing to start while Redis is down (docs/cli.md): expected during a Redis kill.
      if (code === 3) this.restartsRedisDown += 1;
      else this.crashes.push(`${this.name} exited by itself (code ${code}, signal ${signal}); see ${this.logFile}`);
      setTimeout(() => {
        if (!this.closed && !this.running) this.start();
      }, 1000);
    });
    this.child = child;
  }

  /** SIGKILL: no shutdown, no acknowledgements, as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    this.killing = true;
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    child.kill('SIGKILL');
    await exited;
    this.killing = false;
  }

  /** Kills it for good (end of the run). */
  async close(): Promise<void> {
    this.closed = true;
    await this.kill();
  }

  /** Waits for `/readyz` to answer 200 (edge only). */
  async ready(timeoutMs = 60_000): Promise<void> {
    if (!this.readyUrl) return;
    const url = this.readyUrl;
    await waitUntil(async () => (await fetch(url, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.status === 200, timeoutMs, `${this.name} to answer /readyz`);
  }
}

export interface ChaosSystem {
  /** The single server (not on a Cluster run). */
  redisServer: RedisServer | undefined;
  /** Every stockguard process reaches the single server through it (delay, resets). */
  proxy: TcpProxy | undefined;
  /** The Cluster of 3 masters and 3 replicas (a Cluster run). */
  redisCluster: RedisCluster | undefined;
  /** Masters SIGKILLed so far: when, and the slots they served (the checker's input). */
  masterKills: { killedAtMs: number; slots: [number, number][] }[];
  sqs: LocalSqs;
  shopify: ShopifyFake;
  amazon: AmazonFake;
  wms: WmsFake;
  entries: readonly CatalogEntry[];
  fbaSkus: ReadonlySet<string>;
  /** The FBA listings' seller SKUs (Amazon's name for them, not the ledger's). */
  fbaSellerSkus: ReadonlySet<string>;
  /** The harness's own connection, straight to Redis (not through the proxy). */
  runtime: Runtime;
  daemonUrl: string;
  edge: StockguardProcess;
  consumers: readonly StockguardProcess[];
  logDir: string;
  /** sellable(c) as the pushers compute it (the ledger, holdbacks, the channel policy). */
  expected(entry: CatalogEntry, channel: 'shopify' | 'amazon'): Promise<number>;
  /** Every channel shows sellable(c). */
  inSync(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * What a Kubernetes Service in front of a Redis Cluster's pods does for a client's first
 * contact (src/chaos/clusterService.ts, in its own process): resolves with its port.
 */
async function startClusterService(cluster: RedisCluster, logFile: string): Promise<{ port: number; close(): Promise<void> }> {
  const service = await startChildService('src/chaos/clusterService.ts', cluster.nodes.map((node) => String(node.port)), { what: 'the Cluster service', stderr: openSync(logFile, 'a'), seeWhere: logFile });
  return { port: Number(service.ready), close: () => service.stop() };
}

export async function startChaosSystem(options: { seed: number; skus: number; redis?: 'server' | 'cluster'; log: (line: string) => void }): Promise<ChaosSystem> {
  const random = seededRandom(options.seed);
  const cleanups: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  };
  try {
    const logDir = mkdtempSync(join(tmpdir(), `stockguard-chaos-${options.seed}-`));
    const durable = ['--appendonly', 'yes', '--appendfsync', 'always'];
    let redisServer: RedisServer | undefined;
    let proxy: TcpProxy | undefined;
    let redisCluster: RedisCluster | undefined;
    // What the harness dials, and what the stockguard processes dial.
    let direct: Record<string, string>;
    let forDaemons: Record<string, string>;
    if (options.redis === 'cluster') {
      // cluster-node-timeout 3 s: a killed master's replica is elected a few seconds after the
      // kill (5 s, the helper's default, makes each kill an outage of about 7 s here).
      // repl-diskless-sync-delay 0: a killed master that comes back resyncs from its new
      // master at once (Redis waits 5 s by default for more replicas to share the transfer).
      const cluster = await RedisCluster.start({ replicas: 1, clusterNodeTimeoutMs: 3000, args: [...durable, '--repl-diskless-sync-delay', '0'] });
      redisCluster = cluster;
      cleanups.push(() => cluster.stop());
      // REDIS_URL names one address from which the clients learn the others. Naming one node
      // would keep a daemon that starts while that node is down from starting (seen: an edge
      // restarted during a master kill waited 19 s for the killed node); in Kubernetes it is a
      // Service in front of every node (docs/operations.md, Cluster), here the same thing.
      const service = await startClusterService(cluster, join(logDir, 'cluster-service.log'));
      cleanups.unshift(() => service.close());
      direct = { REDIS_URL: `redis://127.0.0.1:${service.port}`, STOCKGUARD_REDIS_CLUSTER: 'true' };
      forDaemons = direct;
    } else {
      const server = await RedisServer.start({ args: durable });
      redisServer = server;
      cleanups.push(() => server.stop());
      const serverProxy = await startTcpProxy({ target: { host: '127.0.0.1', port: server.port } });
      proxy = serverProxy;
      cleanups.unshift(() => serverProxy.close());
      direct = { REDIS_URL: server.url };
      forDaemons = { REDIS_URL: `redis://127.0.0.1:${serverProxy.port}` };
    }
    // In its own process: SQS has its own capacity, and this process's event loop is busy
    // with the load and the fakes (the edge's poller got ~60 messages/s from an in-process one).
    const sqs = await startLocalSqs(undefined, { ownProcess: true });
    cleanups.push(() => sqs.stop());

    const port = await freePort();
    const daemonUrl = `http://127.0.0.1:${port}`;
    const shopify = await startShopifyFake({
      accessToken: SECRETS.shopifyToken,
      appSecret: SECRETS.appSecret,
      shopDomain: 'stockguard-chaos.myshopify.com',
      webhookUrl: `${daemonUrl}/webhooks/shopify`,
      // Echoes of our own writes; storefront changes are announced by the load generator.
      inventoryLevelWebhooks: true,
      faults: { seed: options.seed },
      // A long run keeps only recent deliveries (retries are of recent ones).
      webhookLogLimit: 20_000,
    });
    cleanups.unshift(() => shopify.close());
    const amazon = await startAmazonFake({ ...LWA, sellerId: FAKE_SELLER, sqs: { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: sqs.region }, random: seededRandom(options.seed ^ 0xa3a2) });
    cleanups.unshift(() => amazon.close());
    // A WMS retries a failed delivery for ~30 s (an edge restart takes a few seconds).
    const wms = await WmsFake.start({ token: SECRETS.wmsToken, webhook: { url: `${daemonUrl}/webhooks/wms`, secret: SECRETS.wms }, webhookAttempts: 120, webhookRetryDelayMs: 250 });
    cleanups.unshift(() => wms.close());

    shopify.addLocation({ id: FAKE_LOCATION, name: 'Main warehouse', isActive: true, fulfillsOnlineOrders: true });
    const entries: CatalogEntry[] = [];
    const openingStock: [string, number][] = [];
    for (let index = 0; index < options.skus; index += 1) {
      const sku = `CHAOS-${String(index).padStart(3, '0')}`;
      const fba = index % 10 === 9;
      const item = `gid://shopify/InventoryItem/${45_000_000_000_000 + index}`;
      // The identifiers merchants have: the channels do not name the SKU as the ledger does.
      // Shopify's SKU is the shop's own, or blank (every fourth item); Amazon's seller SKU is
      // the seller's. Order lines name the variant and the seller SKU: the catalogue maps
      // both (invariant I9).
      const sellerSku = `amz-${sku.toLowerCase()}-${fba ? 'fba' : 'mfn'}`;
      const { variantId } = shopify.addItem({ id: item, sku: index % 4 === 3 ? null : `SHOP-${index}` });
      entries.push({
        sku,
        holdback: 0,
        skuClass: 'default',
        shopify: { inventoryItemId: item, locationId: FAKE_LOCATION, variantId },
        amazon: { sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN' },
        policies: {},
      });
      openingStock.push([sku, 20 + Math.floor(random() * 80)]);
      shopify.stock(item, FAKE_LOCATION, { available: 0 });
      amazon.addListing({ sku: sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN', quantity: fba ? 500 : 0 });
    }
    wms.seed(openingStock);
    const fbaSkus = new Set(entries.filter((entry) => entry.amazon?.fulfillment === 'FBA').map((entry) => entry.sku));
    const fbaSellerSkus = new Set(entries.filter((entry) => entry.amazon?.fulfillment === 'FBA').map((entry) => entry.amazon!.sellerSku));

    // --- The harness's connection: catalogue and opening stock before any daemon starts ---
    const common: Record<string, string> = { STOCKGUARD_KEY_PREFIX: PREFIX, STOCKGUARD_LOG_LEVEL: process.env.CHAOS_CHILD_LOG_LEVEL ?? 'error' };
    const runtime = await openRuntime(
      loadConfig({
        ...common,
        ...direct,
        STOCKGUARD_WMS_URL: wms.url,
        STOCKGUARD_WMS_TOKEN: SECRETS.wmsToken,
        STOCKGUARD_RECONCILE_REPORT_DIR: join(logDir, 'reconcile'),
        // A WMS event reaches the ledger within seconds here (the default 60 s suits production).
        STOCKGUARD_RECONCILE_SETTLE_MS: '5000',
      }),
      { connectionName: 'chaos-checker' },
    );
    cleanups.unshift(() => runtime.close());
    for (const entry of entries) await runtime.catalog.put(entry);
    for (const [sku, onHand] of openingStock) {
      await runtime.ledger.createSku(sku);
      await runtime.ledger.count(sku, { eventId: `opening-count:${sku}`, counted: onHand });
    }

    // --- stockguard: one edge process and two consumer processes (through the proxy, or to the Cluster) ---
    const daemonEnv: Record<string, string> = {
      ...common,
      ...forDaemons,
      STOCKGUARD_CONSUMER_BATCH: '64',
      STOCKGUARD_CLAIM_IDLE_MS: '500',
      STOCKGUARD_RECLAIM_INTERVAL_MS: '250',
      STOCKGUARD_PUSH_REQUEST_TIMEOUT_MS: '2000',
    };
    const edge = new StockguardProcess(
      'chaos-edge',
      {
        ...daemonEnv,
        STOCKGUARD_ROLES: 'http,sqs,holds,pushers',
        STOCKGUARD_HTTP_HOST: '127.0.0.1',
        STOCKGUARD_HTTP_PORT: String(port),
        STOCKGUARD_CONSUMER_NAME: 'chaos-edge',
        ...fakeChannelsEnv({ shopify, amazon, sqs, credentials: { ...SECRETS, lwa: LWA } }),
        AWS_REGION: sqs.region,
        AWS_ACCESS_KEY_ID: 'local',
        AWS_SECRET_ACCESS_KEY: 'local',
        STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS: '3',
        // One edge shares two cores with six Redis nodes, two consumers and the harness: each
        // receive round trip waits on a busy event loop, so throughput is loops × 10 messages
        // per round trip, and 4 loops fell behind the Amazon notifications (~140/s) in a
        // 170k-operation run (docs/operations.md, "SQS throughput").
        STOCKGUARD_SQS_RECEIVE_LOOPS: '16',
        STOCKGUARD_PUSH_SWEEP_CRON: '*/10 * * * * *',
        STOCKGUARD_DRIFT_SETTLE_SECONDS: '5',
      },
      join(logDir, 'chaos-edge.log'),
      `${daemonUrl}/readyz`,
    );
    const consumers = [0, 1].map((index) => new StockguardProcess(`chaos-consumer-${index}`, { ...daemonEnv, STOCKGUARD_ROLES: 'consumers', STOCKGUARD_CONSUMER_NAME: `chaos-consumer-${index}` }, join(logDir, `chaos-consumer-${index}.log`)));
    cleanups.unshift(async () => {
      for (const child of [edge, ...consumers]) await child.close();
    });
    edge.start();
    for (const consumer of consumers) consumer.start();
    await edge.ready();

    const { expected, inSync } = channelTargets({ redis: runtime.redis, ledger: runtime.ledger, catalog: runtime.catalog, shopify, amazon, entries });
    await waitUntil(() => inSync().catch(() => false), 60_000, 'the opening stock on every channel');
    const reached = redisCluster ? `Redis Cluster ${redisCluster.nodes.map((node) => node.port).join(',')} (3 masters, 3 replicas; first contact through ${direct.REDIS_URL})` : `Redis via proxy :${proxy!.port}`;
    options.log(`opening stock on every channel; ${options.skus} SKUs (${fbaSkus.size} FBA on Amazon); edge ${daemonUrl}, consumers chaos-consumer-0/1, ${reached}; child logs in ${logDir}`);
    return { redisServer, proxy, redisCluster, masterKills: [], sqs, shopify, amazon, wms, entries, fbaSkus, fbaSellerSkus, runtime, daemonUrl, edge, consumers, logDir, expected, inSync, close };
  } catch (error) {
    await close();
    throw error;
  }
}
