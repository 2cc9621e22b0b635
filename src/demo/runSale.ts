// One live run of the flash sale for one allocation mode: a fresh redis-server (AOF always,
// unless REDIS_URL is set: then a key prefix of its own), fresh Shopify, Amazon, SQS and WMS
// fakes with the plan's lags, and `stockguard serve` (every role) in this process, with
// `allocationMode` written on every catalogue entry. Replays the plan's purchase attempts on
// the fakes' own storefronts, lets the WMS ship behind, waits until stockguard is quiet,
// reconciles, and returns the figures. Everything it started is stopped before it returns.
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pino } from 'pino';
import type { CatalogEntry } from '../catalog/entry.ts';
import { loadConfig } from '../config.ts';
import { isQuiet, startDaemon } from '../daemon.ts';
import { parseAllocationMode } from '../domain/allocation.ts';
import { EVENT_KINDS } from '../redis/keys.ts';
import { runReconciliation } from '../reconcile/jobs.ts';
import { startAmazonFake } from '../sim/amazon/index.ts';
import { freePort } from '../sim/ports.ts';
import { RedisServer } from '../sim/redisServer.ts';
import { startLocalSqs } from '../sim/sqs.ts';
import { startShopifyFake } from '../sim/shopify/index.ts';
import { WmsFake } from '../sim/wms/index.ts';
import { channelTargets, FAKE_LOCATION, FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv, waitUntil } from '../sim/world.ts';
import {
  counter,
  counterByLabel,
  groundTruthOversold,
  histogramDelta,
  histogramQuantile,
  histogramSnapshot,
  type Movement,
  percentiles,
  sellThrough,
  strandedUnits,
} from './figures.ts';
import type { Series } from './htmlReport.ts';
import { type DemoChannel, lagSpec, type SalePlan } from './plan.ts';

const SECRETS = { shopifyToken: 'shpat_demo_token', appSecret: 'shpss_demo_app_secret_0123', wms: 'wms_demo_shared_secret_0123', api: 'api_demo_token_0123456789', wmsToken: 'wms_demo_read_token_012345' };
const LWA = { clientId: 'amzn1.application-oa2-client.demo', clientSecret: 'demo-lwa-secret', refreshToken: 'Atzr|demo-refresh-token' };
const SAMPLE_MS = 250;

export interface RunOptions {
  /** Cleanups the signal handlers run on Ctrl-C; the run adds its own and removes them when it has stopped them. */
  cleanups: (() => Promise<unknown>)[];
  log: (line: string) => void;
  daemonLog: string;
  out: string;
  latencyMs: number;
  faults: boolean;
}

export interface RunFigures {
  mode: string;
  accepted: { shopify: number; amazon: number; amazonFba: number };
  refused: { shopify: number; amazon: number };
  oversoldUnits: number;
  soldBeyondStock: number;
  oversoldByChannel: Record<string, number>;
  sellThrough: number;
  sellThroughHot: number;
  stranded: ReturnType<typeof strandedUnits>;
  /** Peak over the sale of Σ_c shown_c − units left, over the hot SKUs (ground truth): what the channels together offered beyond the shelf. */
  peakOvercommitUnits: number;
  quietAfterS: number;
  drainedAfterS: number;
  openingPushS: number;
  propagationMs: ReturnType<typeof percentiles>;
  pushLatenciesMs: number[];
  pushes: number;
  driftUnits: number;
  driftCorrections: number;
  fbaWrites: number;
  reconciliation: { totals: Record<string, number>; discrepancies: unknown[] };
  wmsUnacknowledged: number;
  backorderedUnits: number;
  invariantsHold: boolean;
  /** stockguard's own lag during the sale, from its metrics and its streams. */
  eventLag: {
    edgeToLedgerP50S: number;
    edgeToLedgerP99S: number;
    /** Largest backlog of the event streams (entries not yet delivered or not yet acknowledged) sampled during the sale. */
    peakBacklogEntries: number;
    /** The channels' delivery lags as stockguard measured them (p99, seconds, bucket bounds). */
    deliveryLagP99S: Record<string, number>;
  };
  /** Whether the machine, not stockguard, limited the run. */
  harness: {
    issued: number;
    targetRate: number;
    issuedRate: number;
    issueLatenessP99Ms: number;
    eventLoopDelayP99Ms: number;
    eventLoopDelayMaxMs: number;
  };
  series: {
    hotSku: string;
    sellable: Series[];
    oversold: Series;
    backlog: { x: number; y: number }[];
    edgeToLedgerMeanMs: { x: number; y: number }[];
    exposure: { x: number; y: number }[];
  };
}

export async function runSale(mode: string, plan: SalePlan, options: RunOptions): Promise<RunFigures> {
  const { log } = options;
  const own: (() => Promise<unknown>)[] = [];
  const register = (cleanup: () => Promise<unknown>, first = false) => {
    if (first) {
      own.unshift(cleanup);
      options.cleanups.unshift(cleanup);
    } else {
      own.push(cleanup);
      options.cleanups.push(cleanup);
    }
  };
  try {
    return await run(mode, plan, options, register);
  } finally {
    for (const cleanup of own) {
      const index = options.cleanups.indexOf(cleanup);
      if (index < 0) continue; // already run by a signal handler
      options.cleanups.splice(index, 1);
      await cleanup().catch(() => undefined);
    }
  }
}

async function run(mode: string, plan: SalePlan, options: RunOptions, register: (cleanup: () => Promise<unknown>, first?: boolean) => void): Promise<RunFigures> {
  const { log, latencyMs } = options;
  // --- Redis and the fakes -------------------------------------------------------------
  const redis = process.env.REDIS_URL ? undefined : await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  if (redis) register(() => redis.stop());
  const redisUrl = process.env.REDIS_URL ?? redis!.url;
  const prefix = redis ? 'sg' : `demo-${randomUUID().slice(0, 8)}`;
  log(redis ? `redis: private redis-server ${redisUrl} (AOF, appendfsync always)` : `redis: ${redisUrl}, key prefix ${prefix}`);

  const localSqs = await startLocalSqs();
  register(() => localSqs.stop());
  const { endpoint: sqsEndpoint, queueUrl } = localSqs;

  const { lags, seed } = plan;
  const port = await freePort();
  const daemonUrl = `http://127.0.0.1:${port}`;
  const shopifyLag = lagSpec(lags.shopifyOrderWebhook, seed + 101);
  const shopify = await startShopifyFake({
    accessToken: SECRETS.shopifyToken,
    appSecret: SECRETS.appSecret,
    shopDomain: 'stockguard-demo.myshopify.com',
    webhookUrl: `${daemonUrl}/webhooks/shopify`,
    inventoryLevelWebhooks: true,
    ...(shopifyLag ? { deliveryLag: { 'orders/create': shopifyLag, 'orders/cancelled': shopifyLag } } : {}),
  });
  register(() => shopify.close());
  const orderChangeLag = lagSpec(lags.amazonOrderChange, seed + 202);
  const applyLag = lagSpec(lags.amazonApply, seed + 303);
  const amazon = await startAmazonFake({
    ...LWA,
    sellerId: FAKE_SELLER,
    sqs: { endpoint: sqsEndpoint, queueUrl, region: 'us-east-1' },
    ...(applyLag ? { applyLag } : {}),
    ...(orderChangeLag ? { deliveryLag: { ORDER_CHANGE: orderChangeLag } } : {}),
  });
  register(() => amazon.close());
  // A WMS retries a webhook stockguard did not answer (a busy machine, a restart) for a while.
  const wms = await WmsFake.start({ token: SECRETS.wmsToken, webhook: { url: `${daemonUrl}/webhooks/wms`, secret: SECRETS.wms }, webhookAttempts: 40, webhookRetryDelayMs: 250 });
  register(() => wms.close());
  if (latencyMs > 0) {
    shopify.addFaultRate({ fault: { kind: 'latency', ms: latencyMs }, probability: 1 });
    amazon.injectFault({ kind: 'latency', latencyMs, rate: 1 });
  }
  if (options.faults) {
    shopify.addFaultRate({ fault: { kind: 'throttled' }, probability: 0.05, only: 'mutation' });
    shopify.addFaultRate({ fault: { kind: 'status', status: 503 }, probability: 0.02 });
    amazon.injectFault({ kind: 'serverError', rate: 0.03 });
    amazon.injectFault({ kind: 'throttle', rate: 0.05 });
  }

  // --- The catalogue: the plan's SKUs, every entry in this run's allocation mode -----------
  shopify.addLocation({ id: FAKE_LOCATION, name: 'Main warehouse', isActive: true, fulfillsOnlineOrders: true });
  const entries: CatalogEntry[] = [];
  const onHand: Record<string, number> = {};
  // Shaped like a real catalogue: no channel identifier equals the ledger SKU. Amazon
  // seller SKUs are `SG-…`; Shopify order lines name their variant, and one variant in
  // three has a blank SKU text on Shopify, as many stores leave it.
  for (const planned of plan.skus) {
    const item = `gid://shopify/InventoryItem/${44_000_000_000_000 + planned.index}`;
    const sellerSku = `SG-${planned.sku}`;
    const { variantId } = shopify.addItem({ id: item, sku: planned.index % 3 === 2 ? null : `SHOP-${planned.sku}` });
    entries.push({
      sku: planned.sku,
      holdback: planned.holdback,
      skuClass: planned.hot ? 'hot' : 'default',
      allocationMode: mode,
      shopify: { inventoryItemId: item, locationId: FAKE_LOCATION, variantId },
      amazon: { sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: planned.fba ? 'FBA' : 'MFN' },
      policies: {},
    });
    onHand[planned.sku] = planned.stock;
    shopify.stock(item, FAKE_LOCATION, { available: 0 });
    amazon.addListing({ sku: sellerSku, marketplaceId: FAKE_MARKETPLACE, productType: 'SHIRT', fulfillment: planned.fba ? 'FBA' : 'MFN', quantity: planned.fba ? 500 : 0 });
  }
  wms.seed(Object.entries(onHand));
  const bySku = new Map(entries.map((entry) => [entry.sku, entry]));

  // --- stockguard serve ----------------------------------------------------------------
  // The lag bounds stockguard is configured with are the fakes' maximum lags (I8's bound).
  const boundS = (range: { maxMs: number } | undefined, fallback: number) => String(range ? Math.max(1, Math.ceil(range.maxMs / 1000)) : fallback);
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
    STOCKGUARD_RECONCILE_REPORT_DIR: resolve(options.out, 'reconcile'),
    STOCKGUARD_LOG_LEVEL: 'info',
    STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS: boundS(lags.shopifyOrderWebhook, 60),
    STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS: boundS(lags.amazonOrderChange, 300),
    STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS: boundS(lags.amazonApply, 1800),
  });
  const pushLatenciesMs: number[] = [];
  // The daemon's log goes to a file beside the report (every mode's run, each line tagged
  // with its mode); the terminal shows progress.
  const destination = pino.destination({ dest: options.daemonLog, sync: false, mkdir: true, append: true });
  const daemon = await startDaemon({
    config,
    logger: pino({ level: 'info', base: { demoMode: mode } }, destination),
    onPush: (event) => {
      if (event.outcome.kind === 'acked' && event.cause !== 'sweep') pushLatenciesMs.push(event.atMs - event.changedAtMs);
    },
  });
  register(async () => {
    await daemon.stop();
    await new Promise<void>((resolveFlush) => {
      try {
        destination.flush(() => resolveFlush());
      } catch {
        resolveFlush();
      }
    });
  }, true);
  const { ledger, catalog } = daemon.runtime;
  for (const entry of entries) {
    await catalog.put(entry);
    await ledger.createSku(entry.sku);
    await ledger.count(entry.sku, { eventId: `opening-count:${entry.sku}`, counted: onHand[entry.sku]! });
    if (entry.holdback > 0) await ledger.setHoldback(entry.sku, entry.holdback, 'demo');
  }
  log(`catalogue: ${entries.length} SKUs (${plan.hotCount} hot, ${plan.skus.filter((sku) => sku.fba).length} FBA on Amazon), allocationMode ${mode} on every entry; stockguard serve on ${daemonUrl}`);

  const shown = (entry: CatalogEntry, channel: DemoChannel): number =>
    channel === 'shopify' ? (shopify.level(entry.shopify!.inventoryItemId, FAKE_LOCATION)?.available ?? 0) : (amazon.quantity(entry.amazon!.sellerSku) ?? 0);
  // Channels start at 0; the pushers tell them what they may sell. In shared mode every
  // channel must show sellable(c); a bounded mode splits the stock its own way, so there the
  // channels must show what the pushers last wrote (Amazon: once applied), nothing pending.
  const targets = channelTargets({ redis: daemon.runtime.redis, ledger, catalog, shopify, amazon, entries });
  // Settled: the streams drained, no SKU waiting for the pushers, no Amazon patch waiting for
  // its apply lag, and (shared) every channel showing sellable(c); held for 1.5 s (an Amazon
  // report of an applied patch takes up to an SQS poll to arrive), timed from its start.
  const channelsOf = (entry: CatalogEntry): DemoChannel[] => (entry.amazon?.fulfillment === 'MFN' ? ['shopify', 'amazon'] : ['shopify']);
  const shared = parseAllocationMode(mode).kind === 'shared';
  const noPatchPending = () => amazon.acceptedPatches().every((patch) => patch.appliedAtMs !== undefined);
  const calm = async () => noPatchPending() && (await isQuiet(daemon.runtime)) && (!shared || (await targets.inSync()));
  const waitSettled = async (what: string, timeoutMs: number, also: () => boolean = () => true): Promise<number> => {
    const deadline = Date.now() + timeoutMs;
    let since: number | undefined;
    for (;;) {
      const now = Date.now();
      if (also() && (await calm())) {
        since ??= now;
        if (now - since >= 1500) return since;
      } else since = undefined;
      if (now > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
  };
  const offersStock = () => entries.every((entry) => channelsOf(entry).some((channel) => shown(entry, channel) > 0));
  const syncStarted = Date.now();
  // The opening needs no timing: the first moment everything is calm will do.
  await waitUntil(async () => offersStock() && (await calm()), 180_000, 'the channels to show the opening stock');
  const openingPushS = (Date.now() - syncStarted) / 1000;
  log(`opening push: every channel shows what it may sell after ${openingPushS.toFixed(1)} s`);

  // --- The flash sale ------------------------------------------------------------------
  const hotEntries = entries.slice(0, plan.hotCount);
  const hot = hotEntries[0]!;
  const accepted = { shopify: 0, amazon: 0, amazonFba: 0 };
  const refused = { shopify: 0, amazon: 0 };
  const refusedUnits: Record<string, Partial<Record<DemoChannel, number>>> = {};
  const soldBySku: Record<string, number> = {};
  const toShip: { at: number; sku: string; quantity: number; order: { channel: DemoChannel; orderId: string; lineId: string } }[] = [];
  const shipLater: typeof toShip = [];
  const sellable: Series[] = [
    { name: 'Shopify available', color: '#5e8e3e', points: [] },
    { name: 'Amazon MFN quantity', color: '#ff9900', points: [] },
    { name: 'ledger available − holdback', color: '#1d2430', points: [] },
  ];
  const soldLog: Movement[] = [];
  const shrinkLog: Movement[] = [];
  const exposure: { x: number; y: number }[] = [];
  const backlog: { x: number; y: number }[] = [];
  const edgeToLedgerMeanMs: { x: number; y: number }[] = [];
  const lateness: number[] = [];
  let peakOvercommitUnits = 0;
  const inFlight = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };
  const refuse = (channel: DemoChannel, sku: string, quantity: number) => {
    refused[channel] += 1;
    const units = (refusedUnits[sku] ??= {});
    units[channel] = (units[channel] ?? 0) + quantity;
  };
  const sold = (channel: DemoChannel, sku: string, quantity: number, order: { orderId: string; lineId: string }, shipsSoon: boolean) => {
    const now = Date.now();
    accepted[channel] += quantity;
    soldBySku[sku] = (soldBySku[sku] ?? 0) + quantity;
    soldLog.push({ atMs: now, sku, quantity });
    (shipsSoon ? toShip : shipLater).push({ at: now, sku, quantity, order: { channel, ...order } });
  };
  const leftNow = (sku: string) => {
    const shrunk = shrinkLog.filter((loss) => loss.sku === sku).reduce((sum, loss) => sum + loss.quantity, 0);
    return onHand[sku]! - shrunk - (soldBySku[sku] ?? 0);
  };
  const toLedgerBefore = await histogramSnapshot(daemon.metrics, 'stockguard_event_to_ledger_seconds');
  let lastToLedger = toLedgerBefore;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const saleStart = Date.now();
  const saleEnd = saleStart + plan.durationS * 1000;
  let shrinkDone = false;
  let lostDone = false;
  let nextSample = saleStart;
  let nextProgress = saleStart + 1000;
  let issued = 0;
  log(`flash sale: ${plan.rate} orders/s for ${plan.durationS} s, 70 % of them on the hot SKUs (${mode})`);
  while (Date.now() < saleEnd || issued < plan.attempts.length) {
    const now = Date.now();
    const elapsed = now - saleStart;
    while (issued < plan.attempts.length && plan.attempts[issued]!.atMs <= elapsed) {
      const attempt = plan.attempts[issued]!;
      issued += 1;
      lateness.push(elapsed - attempt.atMs);
      const entry = bySku.get(attempt.sku)!;
      const { quantity, shipsSoon } = attempt;
      if (attempt.channel === 'shopify') {
        track(
          shopify.sellOnStorefront(entry.shopify!.inventoryItemId, FAKE_LOCATION, quantity).then(
            (sale) => sold('shopify', entry.sku, quantity, { orderId: `gid://shopify/Order/${sale.order.id}`, lineId: `gid://shopify/LineItem/${sale.order.lines[0]!.lineItemId}` }, shipsSoon),
            () => refuse('shopify', entry.sku, quantity),
          ),
        );
      } else {
        // Amazon's notification reaches SQS after its delivery lag (the fake draws it), as in life.
        const publish = orderChangeLag ? undefined : { delayMs: 100 + (issued % 5) * 100 };
        track(
          amazon.sellOnAmazon(entry.amazon!.sellerSku, quantity, publish ? { publish } : {}).then(
            (sale) => {
              if (sale.fulfillment === 'FBA') return void (accepted.amazonFba += quantity);
              sold('amazon', entry.sku, quantity, { orderId: sale.amazonOrderId, lineId: sale.orderItemId }, shipsSoon);
            },
            () => refuse('amazon', entry.sku, quantity),
          ),
        );
      }
    }
    // The warehouse picks and ships most orders about two seconds old; the rest at the end.
    while (toShip.length > 0 && toShip[0]!.at < now - 2000) {
      const order = toShip.shift()!;
      track(wms.ship(order.sku, order.quantity, order.order));
    }
    // Half-way: a cycle count on a hot SKU finds up to 3 units of shrinkage (what is still
    // on the shelf); later 2 units go missing unseen.
    if (!shrinkDone && elapsed >= plan.countedShrink.atMs) {
      shrinkDone = true;
      const { sku, units } = plan.countedShrink;
      shrinkLog.push({ atMs: now, sku, quantity: wms.shrink(sku, units) });
      track(wms.count(sku, wms.onHand(sku)!));
    }
    if (!lostDone && elapsed >= plan.unseenShrink.atMs) {
      lostDone = true;
      const { sku, units } = plan.unseenShrink;
      shrinkLog.push({ atMs: now, sku, quantity: wms.shrink(sku, units) });
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_MS;
      const x = elapsed / 1000;
      const ledgerState = (await ledger.inventory(hot.sku))!;
      sellable[0]!.points.push({ x, y: shown(hot, 'shopify') });
      sellable[1]!.points.push({ x, y: shown(hot, 'amazon') });
      sellable[2]!.points.push({ x, y: Math.max(0, ledgerState.onHand - ledgerState.reserved - ledgerState.holdback) });
      for (const entry of hotEntries) peakOvercommitUnits = Math.max(peakOvercommitUnits, shown(entry, 'shopify') + shown(entry, 'amazon') - Math.max(0, leftNow(entry.sku)));
      exposure.push({ x, y: await counter(daemon.metrics, 'stockguard_exposure_units') });
      backlog.push({ x, y: await streamBacklog(daemon.runtime, config.streams.partitions) });
    }
    if (now >= nextProgress) {
      nextProgress += 1000;
      const toLedger = await histogramSnapshot(daemon.metrics, 'stockguard_event_to_ledger_seconds');
      const delta = histogramDelta(toLedger, lastToLedger);
      lastToLedger = toLedger;
      edgeToLedgerMeanMs.push({ x: elapsed / 1000, y: delta.count > 0 ? (delta.sum / delta.count) * 1000 : 0 });
      const line = `  ${(elapsed / 1000).toFixed(0).padStart(3)} s  orders ${issued}  sold shopify ${accepted.shopify} amazon ${accepted.amazon} (+${accepted.amazonFba} FBA)  refused ${refused.shopify + refused.amazon}  backlog ${backlog[backlog.length - 1]?.y ?? 0}  pushes ${await counter(daemon.metrics, 'stockguard_pushes_total')}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
      else log(line);
    }
    if (issued >= plan.attempts.length && Date.now() >= saleEnd) break;
    await new Promise((resolveTick) => setTimeout(resolveTick, 5));
  }
  const issuedOverS = Math.max(plan.durationS, (Date.now() - saleStart) / 1000);
  loopDelay.disable();
  if (process.stdout.isTTY) process.stdout.write('\n');
  await Promise.allSettled([...inFlight]);
  // Ground truth at the end of the sale: what each channel shows, what is left on the shelf.
  const endShown = new Map(entries.map((entry) => [entry.sku, { shopify: shown(entry, 'shopify'), amazon: entry.amazon?.fulfillment === 'MFN' ? shown(entry, 'amazon') : 0 }]));
  const left = Object.fromEntries(entries.map((entry) => [entry.sku, leftNow(entry.sku)]));
  const toLedgerSale = histogramDelta(await histogramSnapshot(daemon.metrics, 'stockguard_event_to_ledger_seconds'), toLedgerBefore);
  // The rest of the orders ship.
  await Promise.allSettled([...toShip.splice(0), ...shipLater.splice(0)].map((order) => wms.ship(order.sku, order.quantity, order.order)));
  log(`sale over: ${issued} orders tried; waiting for stockguard and the channels to settle`);
  await shopify.settleWebhooks();
  await amazon.idle();
  await waitUntil(() => isQuiet(daemon.runtime), 180_000, 'the event streams to drain');
  const drainedAfterS = (Date.now() - saleEnd) / 1000;
  log(`  streams drained ${drainedAfterS.toFixed(1)} s after the sale`);
  const quietAfterS = ((await waitSettled('the channels to show what they may sell', 300_000)) - saleEnd) / 1000;

  // --- End of day: reconciliation against the WMS ---------------------------------------
  const reconciliationResult = await runReconciliation(daemon.runtime, { metrics: daemon.metrics });
  if (reconciliationResult.outcome !== 'completed') throw new Error(`the reconciliation did not complete: ${JSON.stringify(reconciliationResult)}`);
  const reconciliation = reconciliationResult.report;
  await waitSettled('the corrections to reach the channels', 300_000);

  // --- Figures ---------------------------------------------------------------------------
  let oversoldUnits = 0;
  let invariantsHold = true;
  for (const entry of entries) {
    const inventory = (await ledger.inventory(entry.sku))!;
    oversoldUnits += inventory.oversold;
    const open = (await ledger.reservations(entry.sku)).reduce((sum, record) => sum + record.openUnits, 0);
    if (open !== inventory.reserved) invariantsHold = false;
  }
  // WMS events stockguard never acknowledged: the warehouse moved, the ledger did not know.
  const wmsUnacknowledged = wms.deliveries.filter((delivery) => (typeof delivery.outcome === 'number' ? delivery.outcome >= 300 : delivery.outcome === 'network-error')).length;
  const fbaWrites = amazon.acceptedPatches().filter((patch) => entries.some((entry) => entry.amazon?.sellerSku === patch.sku && entry.amazon?.fulfillment === 'FBA')).length;
  if (fbaWrites > 0) invariantsHold = false;
  const soldBeyondStock = groundTruthOversold(onHand, soldLog, shrinkLog, saleStart);
  const shelf = Object.fromEntries(entries.map((entry) => [entry.sku, onHand[entry.sku]! - shrinkLog.filter((loss) => loss.sku === entry.sku).reduce((sum, loss) => sum + loss.quantity, 0)]));
  const hotSkus = new Set(hotEntries.map((entry) => entry.sku));
  const stranded = strandedUnits({
    skus: entries.map((entry) => ({ sku: entry.sku, channels: entry.amazon?.fulfillment === 'MFN' ? ['shopify', 'amazon'] : ['shopify'] })),
    left,
    shownAtEnd: (sku, channel) => endShown.get(sku)![channel],
    refusedUnits,
  });
  const deliveryLag = await histogramByChannel(daemon.metrics, 'stockguard_channel_delivery_lag_seconds');
  const loopP99 = loopDelay.percentile(99) / 1e6;
  return {
    mode,
    accepted,
    refused,
    oversoldUnits,
    soldBeyondStock: soldBeyondStock.total,
    oversoldByChannel: await counterByLabel(daemon.metrics, 'stockguard_oversold_units_total', 'channel'),
    sellThrough: sellThrough(shelf, soldBySku),
    sellThroughHot: sellThrough(shelf, soldBySku, (sku) => hotSkus.has(sku)),
    stranded,
    peakOvercommitUnits,
    quietAfterS,
    drainedAfterS,
    openingPushS,
    propagationMs: percentiles(pushLatenciesMs),
    pushLatenciesMs,
    pushes: await counter(daemon.metrics, 'stockguard_pushes_total'),
    driftUnits: await counter(daemon.metrics, 'stockguard_drift_units_total'),
    driftCorrections: await counter(daemon.metrics, 'stockguard_drift_corrections_total'),
    fbaWrites,
    reconciliation: { totals: { ...reconciliation.totals }, discrepancies: reconciliation.discrepancies },
    wmsUnacknowledged,
    backorderedUnits: wms.backorders().reduce((sum, line) => sum + line.quantity, 0),
    invariantsHold,
    eventLag: {
      edgeToLedgerP50S: histogramQuantile(toLedgerSale, 0.5),
      edgeToLedgerP99S: histogramQuantile(toLedgerSale, 0.99),
      peakBacklogEntries: Math.max(0, ...backlog.map((sample) => sample.y)),
      deliveryLagP99S: deliveryLag,
    },
    harness: {
      issued,
      targetRate: plan.rate,
      issuedRate: issued / issuedOverS,
      issueLatenessP99Ms: percentiles(lateness).p99,
      eventLoopDelayP99Ms: loopP99,
      eventLoopDelayMaxMs: loopDelay.max / 1e6,
    },
    series: {
      hotSku: hot.sku,
      sellable,
      oversold: { name: mode, color: '', points: soldBeyondStock.points },
      backlog,
      edgeToLedgerMeanMs,
      exposure,
    },
  };
}

/** Entries of the event streams not yet delivered to, or not yet acknowledged by, their consumer groups. */
async function streamBacklog(runtime: Awaited<ReturnType<typeof startDaemon>>['runtime'], partitions: number): Promise<number> {
  let total = 0;
  for (const kind of EVENT_KINDS) {
    for (const stream of runtime.ledger.keys.eventStreams(kind, partitions)) {
      const groups = (await runtime.redis.xinfo('GROUPS', stream).catch(() => [])) as unknown[];
      for (const group of groups) {
        if (!Array.isArray(group)) continue;
        const fields = new Map<string, unknown>();
        for (let i = 0; i + 1 < group.length; i += 2) fields.set(String(group[i]), group[i + 1]);
        total += (Number(fields.get('lag')) || 0) + (Number(fields.get('pending')) || 0);
      }
    }
  }
  return total;
}

async function histogramByChannel(metrics: Awaited<ReturnType<typeof startDaemon>>['metrics'], name: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  for (const channel of ['shopify', 'amazon']) {
    const snapshot = await histogramSnapshot(metrics, name, (labels) => labels.channel === channel);
    if (snapshot.count > 0) result[channel] = histogramQuantile(snapshot, 0.99);
  }
  return result;
}
