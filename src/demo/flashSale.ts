// `npm run demo`: a flash sale against the real daemon and the in-repo fakes.
// A private redis-server (AOF always) unless REDIS_URL is set; the Shopify, Amazon, SQS
// (fauxqs) and WMS fakes; `stockguard serve` (every role) in this process. Shoppers buy on
// the fakes' own storefronts — a sale is a fact on the channel before stockguard hears of
// it through webhooks and SQS — while the WMS picks and ships behind, a cycle count finds
// shrinkage, and a reconciliation closes the day. The same purchase attempts are then
// replayed against the naive baseline (periodic absolute sync every 5 minutes).
// Flags: --quick (≈10 s), --duration S, --rate ORDERS_PER_S, --skus N, --latency-ms MS,
// --faults (throttling and 5xx on the channels), --seed N, --out DIR.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { availableParallelism, cpus } from 'node:os';
import { pino } from 'pino';
import type { CatalogEntry } from '../catalog/entry.ts';
import { loadConfig } from '../config.ts';
import { isQuiet, startDaemon } from '../daemon.ts';
import { simulateNaiveSync, type PurchaseAttempt } from '../domain/naiveBaseline.ts';
import { runReconciliation } from '../reconcile/jobs.ts';
import { startAmazonFake } from '../sim/amazon/index.ts';
import { freePort } from '../sim/ports.ts';
import { RedisServer } from '../sim/redisServer.ts';
import { startLocalSqs } from '../sim/sqs.ts';
import { startShopifyFake } from '../sim/shopify/index.ts';
import { WmsFake } from '../sim/wms/index.ts';
import { channelTargets, FAKE_LOCATION, FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv, waitUntil } from '../sim/world.ts';
import { renderDemoReport, type Series } from './htmlReport.ts';
import { seededRandom } from '../domain/random.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rate: { type: 'string' },
    skus: { type: 'string' },
    'latency-ms': { type: 'string', default: '50' },
    faults: { type: 'boolean', default: false },
    seed: { type: 'string', default: '7' },
    out: { type: 'string', default: 'reports' },
  },
});
const quick = values.quick ?? false;
const durationS = Number(values.duration ?? (quick ? 4 : 60));
// 500 orders/s by default: at 2,000/s the fakes, the SQS emulator, the demo and the daemon
// saturate 2 cores and the run measures the machine, not stockguard (docs/demo.md).
const rate = Number(values.rate ?? (quick ? 300 : 500));
const skuCount = Number(values.skus ?? (quick ? 40 : 200));
const latencyMs = Number(values['latency-ms']);
const random = seededRandom(Number(values.seed));
for (const [name, value] of [['--duration', durationS], ['--rate', rate], ['--skus', skuCount], ['--latency-ms', latencyMs]] as const) {
  if (!Number.isFinite(value) || value < 0 || (name !== '--latency-ms' && value === 0)) {
    console.error(`${name} must be a positive number, got ${String(value)}`);
    process.exit(2);
  }
}

const SECRETS = { shopifyToken: 'shpat_demo_token', appSecret: 'shpss_demo_app_secret_0123', wms: 'wms_demo_shared_secret_0123', api: 'api_demo_token_0123456789', wmsToken: 'wms_demo_read_token_012345' };
const LWA = { clientId: 'amzn1.application-oa2-client.demo', clientSecret: 'demo-lwa-secret', refreshToken: 'Atzr|demo-refresh-token' };
const HOT = Math.max(3, Math.round(skuCount * 0.025));

const log = (line: string) => console.log(line);
const started = Date.now();
const cleanups: (() => Promise<unknown>)[] = [];
let exitCode = 0;
// Every process and server the demo starts (redis-server, the fakes, the SQS emulator, the
// daemon) is stopped on any exit: the end of the run, an error, Ctrl-C or a kill.
let stopping: Promise<void> | undefined;
const stopAll = (): Promise<void> =>
  (stopping ??= (async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup().catch(() => undefined);
  })());
let abortedWith: number | undefined;
const abort = (why: string, code: number) => {
  if (abortedWith !== undefined) return;
  abortedWith = code;
  console.error(`\ndemo: ${why}; stopping everything it started`);
  void stopAll().finally(() => process.exit(code));
};
process.once('SIGINT', () => abort('interrupted', 130));
process.once('SIGTERM', () => abort('terminated', 143));
process.once('SIGHUP', () => abort('hung up', 129));
process.on('uncaughtException', (error) => abort(`crashed: ${error.stack ?? error.message}`, 1));
process.on('unhandledRejection', (error) => abort(`crashed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`, 1));
const reportDir = resolve(values.out, `demo-${new Date(started).toISOString().replace(/[:.]/g, '-')}`);
mkdirSync(reportDir, { recursive: true });
const daemonLog = join(reportDir, 'daemon.log');

try {
  // --- Redis and the fakes -------------------------------------------------------------
  const redis = process.env.REDIS_URL ? undefined : await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  if (redis) cleanups.push(() => redis.stop());
  const redisUrl = process.env.REDIS_URL ?? redis!.url;
  const prefix = redis ? 'sg' : `demo-${randomUUID().slice(0, 8)}`;
  log(redis ? `redis: private redis-server ${redisUrl} (AOF, appendfsync always)` : `redis: ${redisUrl}, key prefix ${prefix}`);

  const localSqs = await startLocalSqs();
  cleanups.push(() => localSqs.stop());
  const { endpoint: sqsEndpoint, queueUrl } = localSqs;

  const port = await freePort();
  const daemonUrl = `http://127.0.0.1:${port}`;
  const shopify = await startShopifyFake({ accessToken: SECRETS.shopifyToken, appSecret: SECRETS.appSecret, shopDomain: 'stockguard-demo.myshopify.com', webhookUrl: `${daemonUrl}/webhooks/shopify`, inventoryLevelWebhooks: true });
  cleanups.push(() => shopify.close());
  const amazon = await startAmazonFake({ ...LWA, sellerId: FAKE_SELLER, sqs: { endpoint: sqsEndpoint, queueUrl, region: 'us-east-1' } });
  cleanups.push(() => amazon.close());
  // A WMS retries a webhook stockguard did not answer (a busy machine, a restart) for a while.
  const wms = await WmsFake.start({ token: SECRETS.wmsToken, webhook: { url: `${daemonUrl}/webhooks/wms`, secret: SECRETS.wms }, webhookAttempts: 40, webhookRetryDelayMs: 250 });
  cleanups.push(() => wms.close());
  if (latencyMs > 0) {
    shopify.addFaultRate({ fault: { kind: 'latency', ms: latencyMs }, probability: 1 });
    amazon.injectFault({ kind: 'latency', latencyMs, rate: 1 });
  }
  if (values.faults) {
    shopify.addFaultRate({ fault: { kind: 'throttled' }, probability: 0.05, only: 'mutation' });
    shopify.addFaultRate({ fault: { kind: 'status', status: 503 }, probability: 0.02 });
    amazon.injectFault({ kind: 'serverError', rate: 0.03 });
    amazon.injectFault({ kind: 'throttle', rate: 0.05 });
  }
  log(`fakes: Shopify ${shopify.url}, Amazon ${amazon.url}, SQS ${sqsEndpoint}, WMS ${wms.url}${latencyMs ? `, ${latencyMs} ms channel latency` : ''}${values.faults ? ', faults on' : ''}`);

  // --- The catalogue: a few hot SKUs with little stock, some FBA on Amazon ---------------
  shopify.addLocation({ id: FAKE_LOCATION, name: 'Main warehouse', isActive: true, fulfillsOnlineOrders: true });
  const entries: CatalogEntry[] = [];
  const onHand: Record<string, number> = {};
  // Shaped like a real catalogue: no channel identifier equals the ledger SKU. Amazon
  // seller SKUs are `SG-…`; Shopify order lines name their variant, and one variant in
  // three has a blank SKU text on Shopify, as many stores leave it.
  for (let index = 0; index < skuCount; index += 1) {
    const sku = index < HOT ? `DROP-HOODIE-${index + 1}` : `TEE-${String(index).padStart(4, '0')}`;
    const fba = index >= HOT && index % 10 === 9;
    const stock = index < HOT ? 30 + Math.floor(random() * 30) : 40 + Math.floor(random() * 200);
    const item = `gid://shopify/InventoryItem/${44_000_000_000_000 + index}`;
    const sellerSku = `SG-${sku}`;
    const { variantId } = shopify.addItem({ id: item, sku: index % 3 === 2 ? null : `SHOP-${sku}` });
    entries.push({
      sku,
      holdback: index < HOT ? 2 : 0,
      skuClass: index < HOT ? 'hot' : 'default',
      shopify: { inventoryItemId: item, locationId: FAKE_LOCATION, variantId },
      amazon: { sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN' },
      policies: {},
    });
    onHand[sku] = stock;
    shopify.stock(item, FAKE_LOCATION, { available: 0 });
    amazon.addListing({ sku: sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN', quantity: fba ? 500 : 0 });
  }
  wms.seed(Object.entries(onHand));

  // --- stockguard serve ----------------------------------------------------------------
  const config = loadConfig({
    REDIS_URL: redisUrl,
    STOCKGUARD_KEY_PREFIX: prefix,
    STOCKGUARD_ROLES: 'http,consumers,sqs,holds,pushers,reconcile',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: String(port),
    STOCKGUARD_CONSUMER_NAME: 'demo-1',
    ...fakeChannelsEnv({ shopify, amazon, sqs: { queueUrl, endpoint: sqsEndpoint }, credentials: { ...SECRETS, lwa: LWA } }),
    STOCKGUARD_WMS_URL: wms.url,
    STOCKGUARD_WMS_TOKEN: SECRETS.wmsToken,
    STOCKGUARD_RECONCILE_SETTLE_MS: '0',
    STOCKGUARD_RECONCILE_REPORT_DIR: resolve(values.out, 'reconcile'),
    STOCKGUARD_LOG_LEVEL: 'info',
  });
  const pushLatenciesMs: number[] = [];
  // The daemon's log goes to a file beside the report; the terminal shows progress.
  const daemon = await startDaemon({
    config,
    logger: pino({ level: 'info' }, pino.destination({ dest: daemonLog, sync: false, mkdir: true })),
    onPush: (event) => {
      if (event.outcome.kind === 'acked' && event.cause !== 'sweep') pushLatenciesMs.push(event.atMs - event.changedAtMs);
    },
  });
  cleanups.unshift(() => daemon.stop());
  const { ledger, catalog } = daemon.runtime;
  for (const entry of entries) {
    await catalog.put(entry);
    await ledger.createSku(entry.sku);
    await ledger.count(entry.sku, { eventId: `opening-count:${entry.sku}`, counted: onHand[entry.sku]! });
    if (entry.holdback > 0) await ledger.setHoldback(entry.sku, entry.holdback, 'demo');
  }
  log(`catalogue: ${skuCount} SKUs (${HOT} hot, ${entries.filter((entry) => entry.amazon?.fulfillment === 'FBA').length} FBA on Amazon); stockguard serve on ${daemonUrl}`);

  // Channels start at 0; the pushers tell them what they may sell.
  // What the pushers aim for: the ledger, the static holdback and the pushers' own dynamic holdback.
  const { inSync } = channelTargets({ redis: daemon.runtime.redis, ledger, catalog, shopify, amazon, entries });
  const syncStarted = Date.now();
  await waitUntil(inSync, 120_000, 'the channels to show the opening stock');
  log(`opening push: every channel shows what it may sell after ${((Date.now() - syncStarted) / 1000).toFixed(1)} s`);

  // --- The flash sale ------------------------------------------------------------------
  const hot = entries[0]!;
  const attempts: PurchaseAttempt[] = [];
  const accepted = { shopify: 0, amazon: 0, amazonFba: 0 };
  const refused = { shopify: 0, amazon: 0 };
  const toShip: { at: number; sku: string; quantity: number; order: { channel: 'shopify' | 'amazon'; orderId: string; lineId: string } }[] = [];
  const sellableSeries: Series[] = [
    { name: 'Shopify available', color: '#5e8e3e', points: [] },
    { name: 'Amazon MFN quantity', color: '#ff9900', points: [] },
    { name: 'ledger available − holdback', color: '#1d2430', points: [] },
  ];
  // Ground truth for the oversold chart: when each sale was accepted on its channel, and
  // when stock left the shelf unseen; not the daemon's counters, which lag the sale.
  const soldLog: { atMs: number; sku: string; quantity: number }[] = [];
  const shrinkLog: { atMs: number; sku: string; quantity: number }[] = [];
  const exposureSamples: { x: number; y: number }[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };
  const pickSku = () => (random() < 0.7 ? entries[Math.floor(random() * HOT)]! : entries[HOT + Math.floor(random() * (skuCount - HOT))]!);
  const saleStart = Date.now();
  const saleEnd = saleStart + durationS * 1000;
  let shrinkDone = false;
  let lostDone = false;
  let nextSample = saleStart;
  let nextProgress = saleStart + 1000;
  let issued = 0;
  log(`flash sale: ${rate} orders/s for ${durationS} s, 70 % of them on the hot SKUs`);
  while (Date.now() < saleEnd) {
    const now = Date.now();
    const due = Math.floor(((now - saleStart) / 1000) * rate) - issued;
    for (let i = 0; i < due; i += 1) {
      issued += 1;
      const entry = pickSku();
      const quantity = random() < 0.9 ? 1 : 2;
      const channel = random() < 0.55 ? 'shopify' : 'amazon';
      const fba = channel === 'amazon' && entry.amazon?.fulfillment === 'FBA';
      if (!fba) attempts.push({ atMs: now, channel, sku: entry.sku, quantity });
      if (channel === 'shopify') {
        track(
          shopify.sellOnStorefront(entry.shopify!.inventoryItemId, FAKE_LOCATION, quantity).then(
            (sale) => {
              accepted.shopify += quantity;
              soldLog.push({ atMs: Date.now(), sku: entry.sku, quantity });
              toShip.push({ at: Date.now(), sku: entry.sku, quantity, order: { channel: 'shopify', orderId: `gid://shopify/Order/${sale.order.id}`, lineId: `gid://shopify/LineItem/${sale.order.lines[0]!.lineItemId}` } });
            },
            () => void (refused.shopify += 1),
          ),
        );
      } else {
        // Amazon's notification reaches SQS a moment after the sale, as it does in life.
        track(
          amazon.sellOnAmazon(entry.amazon!.sellerSku, quantity, { publish: { delayMs: 100 + Math.floor(random() * 400) } }).then(
            (sale) => {
              if (sale.fulfillment === 'FBA') return void (accepted.amazonFba += quantity);
              accepted.amazon += quantity;
              soldLog.push({ atMs: Date.now(), sku: entry.sku, quantity });
              toShip.push({ at: Date.now(), sku: entry.sku, quantity, order: { channel: 'amazon', orderId: sale.amazonOrderId, lineId: sale.orderItemId } });
            },
            () => void (refused.amazon += 1),
          ),
        );
      }
    }
    // The warehouse picks and ships orders about two seconds old.
    while (toShip.length > 0 && toShip[0]!.at < now - 2000) {
      const order = toShip.shift()!;
      if (random() < 0.8) track(wms.ship(order.sku, order.quantity, order.order));
    }
    // Half-way: a cycle count on a hot SKU finds up to 3 units of shrinkage (what is still
    // on the shelf); elsewhere 2 units go missing unseen.
    if (!shrinkDone && now > saleStart + durationS * 500) {
      shrinkDone = true;
      shrinkLog.push({ atMs: now, sku: entries[1]!.sku, quantity: wms.shrink(entries[1]!.sku, 3) });
      track(wms.count(entries[1]!.sku, wms.onHand(entries[1]!.sku)!));
    }
    if (!lostDone && now > saleStart + durationS * 600) {
      lostDone = true;
      shrinkLog.push({ atMs: now, sku: entries[HOT]!.sku, quantity: wms.shrink(entries[HOT]!.sku, 2) });
    }
    if (now >= nextSample) {
      nextSample += 250;
      const x = (now - saleStart) / 1000;
      const ledgerState = (await ledger.inventory(hot.sku))!;
      sellableSeries[0]!.points.push({ x, y: shopify.level(hot.shopify!.inventoryItemId, FAKE_LOCATION)!.available });
      sellableSeries[1]!.points.push({ x, y: amazon.quantity(hot.amazon!.sellerSku) ?? 0 });
      sellableSeries[2]!.points.push({ x, y: Math.max(0, ledgerState.onHand - ledgerState.reserved - ledgerState.holdback) });
      exposureSamples.push({ x, y: await counter(daemon.metrics, 'stockguard_exposure_units') });
    }
    if (now >= nextProgress) {
      nextProgress += 1000;
      const line = `  ${((now - saleStart) / 1000).toFixed(0).padStart(3)} s  orders ${issued}  sold shopify ${accepted.shopify} amazon ${accepted.amazon} (+${accepted.amazonFba} FBA)  refused ${refused.shopify + refused.amazon}  oversold ${await counter(daemon.metrics, 'stockguard_oversold_units_total')}  pushes ${await counter(daemon.metrics, 'stockguard_pushes_total')}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
      else log(line);
    }
    await new Promise((resolveTick) => setTimeout(resolveTick, 5));
  }
  if (process.stdout.isTTY) process.stdout.write('\n');
  await Promise.allSettled([...inFlight]);
  // The rest of the orders ship.
  await Promise.allSettled(toShip.splice(0).map((order) => wms.ship(order.sku, order.quantity, order.order)));
  log(`sale over: ${issued} orders tried; waiting for stockguard and the channels to settle`);
  await amazon.idle();
  await waitUntil(() => isQuiet(daemon.runtime), 120_000, 'the event streams to drain');
  log(`  streams drained ${((Date.now() - saleEnd) / 1000).toFixed(1)} s after the sale`);
  await waitUntil(inSync, 120_000, 'the channels to show what they may sell');
  const convergedAfterS = (Date.now() - saleEnd) / 1000;

  // --- End of day: reconciliation against the WMS ---------------------------------------
  const reconciliationResult = await runReconciliation(daemon.runtime, { metrics: daemon.metrics });
  if (reconciliationResult.outcome !== 'completed') throw new Error(`the reconciliation did not complete: ${JSON.stringify(reconciliationResult)}`);
  const reconciliation = reconciliationResult.report;
  await waitUntil(async () => (await isQuiet(daemon.runtime)) && (await inSync()), 60_000, 'the corrections to reach the channels');

  // --- Results ---------------------------------------------------------------------------
  let oversoldUnits = 0;
  let invariantsHold = true;
  for (const entry of entries) {
    const inventory = (await ledger.inventory(entry.sku))!;
    oversoldUnits += inventory.oversold;
    const open = (await ledger.reservations(entry.sku)).reduce((sum, record) => sum + record.openUnits, 0);
    if (open !== inventory.reserved) invariantsHold = false;
  }
  // WMS events stockguard never acknowledged: the warehouse moved, the ledger did not know.
  const wmsUnacknowledged = wms.deliveries.filter((delivery) => typeof delivery.outcome === 'number' ? delivery.outcome >= 300 : delivery.outcome === 'network-error').length;
  const fbaWrites = amazon.acceptedPatches().filter((patch) => entries.some((entry) => entry.amazon?.sellerSku === patch.sku && entry.amazon?.fulfillment === 'FBA')).length;
  if (fbaWrites > 0) invariantsHold = false;
  const soldBeyondStock = groundTruthOversold(onHand, soldLog, shrinkLog, saleStart);
  const stockguardOversold: Series = { name: 'stockguard (units sold beyond stock)', color: '#3b7dd8', points: soldBeyondStock.points };
  const baseline = simulateNaiveSync({ onHand, channels: ['shopify', 'amazon'], attempts, syncIntervalMs: 300_000, startMs: saleStart });
  const pushes = await counter(daemon.metrics, 'stockguard_pushes_total');
  const sales = accepted.shopify + accepted.amazon;
  const latency = percentiles(pushLatenciesMs);
  const oversoldByChannel = await counterByLabel(daemon.metrics, 'stockguard_oversold_units_total', 'channel');
  const driftUnits = await counter(daemon.metrics, 'stockguard_drift_units_total');
  const driftCorrections = await counter(daemon.metrics, 'stockguard_drift_corrections_total');
  const summary = [
    { label: 'units sold on Shopify', stockguard: String(accepted.shopify), baseline: String(baseline.acceptedByChannel.shopify ?? 0) },
    { label: 'units sold on Amazon (MFN)', stockguard: String(accepted.amazon), baseline: String(baseline.acceptedByChannel.amazon ?? 0) },
    { label: 'units sold beyond stock (ground truth)', stockguard: String(soldBeyondStock.total), baseline: String(baseline.oversoldUnits) },
    { label: 'units oversold (ledger)', stockguard: `${oversoldUnits} (${Object.entries(oversoldByChannel).map(([channel, units]) => `${channel} ${units}`).join(', ') || 'none'})`, baseline: String(baseline.oversoldUnits) },
    { label: 'sale-to-channel propagation p50 / p99', stockguard: `${latency.p50.toFixed(0)} / ${latency.p99.toFixed(0)} ms`, baseline: 'up to 300 000 ms (5-minute sync)' },
    { label: 'pushes sent / units sold', stockguard: `${pushes} / ${sales}`, baseline: `${Math.ceil((durationS * 1000) / 300_000) * skuCount * 2} syncs` },
    { label: 'peak exposure (units)', stockguard: String(Math.max(0, ...exposureSamples.map((sample) => sample.y))), baseline: 'every channel shows all stock' },
    { label: 'drift found / corrective pushes', stockguard: `${driftUnits} units / ${driftCorrections}`, baseline: '—' },
    { label: 'reconciliation: discrepancies found / corrected', stockguard: `${reconciliation.totals.discrepancies} / ${reconciliation.totals.corrected} (units ${reconciliation.totals.unitsCorrected})`, baseline: '—' },
    { label: 'quiet after the sale in', stockguard: `${convergedAfterS.toFixed(1)} s`, baseline: '—' },
    { label: 'writes to FBA quantities', stockguard: String(fbaWrites), baseline: '—' },
    { label: 'WMS backorders (oversold units the shelf could not ship)', stockguard: String(wms.backorders().reduce((sum, line) => sum + line.quantity, 0)), baseline: '—' },
  ];
  console.log('');
  console.table(Object.fromEntries(summary.map((row) => [row.label, { stockguard: row.stockguard, 'naive baseline': row.baseline }])));
  const environment = `Node ${process.version}, ${cpus()[0]?.model.trim() ?? 'CPU'} × ${availableParallelism()}, ${durationS} s at ${rate} orders/s over ${skuCount} SKUs`;
  const baselineSeries: Series = { name: 'naive baseline (5-minute sync)', color: '#d8453b', points: [{ x: 0, y: 0 }, ...baseline.oversoldTimeline.map((point) => ({ x: (point.atMs - saleStart) / 1000, y: point.oversold }))] };
  const report = {
    generatedAt: new Date().toISOString(),
    environment,
    settings: { durationS, rate, skus: skuCount, hotSkus: HOT, latencyMs, faults: values.faults ?? false },
    stockguard: { accepted, refused, oversoldUnits, soldBeyondStock: soldBeyondStock.total, oversoldByChannel, propagationMs: latency, pushes, sales, driftUnits, driftCorrections, convergedAfterS, fbaWrites, reconciliation: { ...reconciliation.totals, discrepancies: reconciliation.discrepancies }, wmsUnacknowledged, invariantsHold, exposure: exposureSamples },
    baseline: { acceptedByChannel: baseline.acceptedByChannel, oversoldUnits: baseline.oversoldUnits, oversoldBySku: baseline.oversoldBySku },
    summary,
  };
  writeFileSync(join(reportDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(
    join(reportDir, 'report.html'),
    renderDemoReport({
      title: 'stockguard flash-sale demo',
      generatedAt: report.generatedAt,
      environment,
      summary,
      hotSku: hot.sku,
      sellableSeries,
      oversoldSeries: [stockguardOversold, baselineSeries],
      latencyMs: pushLatenciesMs,
      notes: [
        'Shoppers bought on the fakes\' own storefronts; stockguard learned of each sale from a webhook or an SQS notification, as in production.',
        'Amazon has no compare-and-set: a sale made there before the push lands is what stockguard can still oversell; the holdback absorbs part of that window.',
        'The naive baseline replays the same purchase attempts against channels that each see the full stock until the next 5-minute sync.',
      ],
    }),
  );
  log(`\nreport: ${join(reportDir, 'report.html')} (and report.json; the daemon's log: ${daemonLog})`);
  log(invariantsHold ? 'invariants: reserved = Σ open reservations on every SKU, no FBA quantity written' : 'INVARIANT VIOLATED: see report.json');
  exitCode = invariantsHold ? 0 : 1;
} catch (error) {
  // After Ctrl-C the run fails as its servers go away: that is not worth a stack trace.
  if (abortedWith === undefined) console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  exitCode = 1;
} finally {
  await stopAll();
}
process.exit(abortedWith ?? exitCode);


async function counter(metrics: Awaited<ReturnType<typeof startDaemon>>['metrics'], name: string): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  return (metric?.values ?? []).reduce((sum, value) => sum + value.value, 0);
}

async function counterByLabel(metrics: Awaited<ReturnType<typeof startDaemon>>['metrics'], name: string, label: string): Promise<Record<string, number>> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((candidate) => candidate.name === name);
  const totals: Record<string, number> = {};
  for (const value of metric?.values ?? []) {
    const key = String((value.labels as Record<string, unknown>)[label]);
    totals[key] = (totals[key] ?? 0) + value.value;
  }
  return totals;
}

/**
 * Units sold beyond what the shelf held, over time: per SKU, max(0, units sold − (opening
 * stock − shrinkage)), summed, from the times the channels accepted each sale.
 */
function groundTruthOversold(
  opening: Record<string, number>,
  sold: readonly { atMs: number; sku: string; quantity: number }[],
  shrunk: readonly { atMs: number; sku: string; quantity: number }[],
  startMs: number,
): { total: number; points: { x: number; y: number }[] } {
  const events = [...sold.map((sale) => ({ ...sale, kind: 'sale' as const })), ...shrunk.map((loss) => ({ ...loss, kind: 'loss' as const }))].sort((a, b) => a.atMs - b.atMs);
  const soldBySku = new Map<string, number>();
  const stockBySku = new Map(Object.entries(opening));
  const beyond = (sku: string) => Math.max(0, (soldBySku.get(sku) ?? 0) - (stockBySku.get(sku) ?? 0));
  let total = 0;
  const points = [{ x: 0, y: 0 }];
  for (const event of events) {
    total -= beyond(event.sku);
    if (event.kind === 'sale') soldBySku.set(event.sku, (soldBySku.get(event.sku) ?? 0) + event.quantity);
    else stockBySku.set(event.sku, (stockBySku.get(event.sku) ?? 0) - event.quantity);
    total += beyond(event.sku);
    const x = Math.max(0, (event.atMs - startMs) / 1000);
    if (points[points.length - 1]!.y !== total) points.push({ x, y: total });
  }
  return { total, points };
}

function percentiles(samples: number[]): { p50: number; p99: number; n: number } {
  if (samples.length === 0) return { p50: Number.NaN, p99: Number.NaN, n: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), n: sorted.length };
}


