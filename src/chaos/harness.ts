// Issue 7: fault-injection runs with an invariant checker. The whole system runs — a
// private redis-server with AOF `appendfsync always`, two `stockguard serve` child
// processes (role consumers) in one consumer group, an in-process daemon with the http,
// sqs, holds and pushers roles, and the Shopify, Amazon, SQS (fauxqs) and WMS fakes —
// while a seeded schedule of faults hits it. A load generator keeps a ground-truth log of
// every fact the outside world saw (channel sales accepted, cancels, WMS events answered
// 2xx); once the system is quiet the checker compares Redis with that log. A seed
// reproduces the schedule and every random choice; the interleaving with the OS scheduler
// does not repeat exactly (docs/reliability.md).
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { pino } from 'pino';
import type { CatalogEntry } from '../catalog/entry.ts';
import { loadConfig } from '../config.ts';
import { type Daemon, isQuiet, startDaemon } from '../daemon.ts';
import { sellable } from '../domain/sellable.ts';
import { reservationId } from '../ledger/reservationId.ts';
import { startAmazonFake } from '../sim/amazon/index.ts';
import { freePort } from '../sim/ports.ts';
import { RedisServer } from '../sim/redisServer.ts';
import { startLocalSqs } from '../sim/sqs.ts';
import { startShopifyFake } from '../sim/shopify/index.ts';
import type { WebhookDelivery } from '../sim/shopify/webhooks.ts';
import { WmsFake } from '../sim/wms/index.ts';
import { seededRandom } from '../domain/random.ts';

export interface ChaosOptions {
  seed: number;
  /** Operations the load generator sends: sales, cancels, shipments, receipts. */
  events: number;
  /** Seconds the load and the faults last. */
  durationS: number;
  skus?: number;
  /** Upper bound on the wait, after the last fault, for the ledger to go quiet. */
  convergenceTimeoutMs?: number;
  /** Then, how long the channels get to show sellable(c). Default 30 s. */
  channelTimeoutMs?: number;
  /** Only these fault kinds (default: all of them). */
  faultKinds?: readonly FaultKind[];
  log?: (line: string) => void;
}

export type FaultKind = 'consumer-kill' | 'redis-kill' | 'latency-spike' | 'throttle-storm' | 'server-errors';

export interface ChaosFigures {
  seed: number;
  events: number;
  durationS: number;
  skus: number;
  sent: { shopifySales: number; amazonSales: number; cancels: number; shipments: number; receipts: number; refusedByChannel: number };
  duplicates: { shopifyWebhookCopies: number; shopifyRedeliveries: number; sqsCopies: number };
  faults: Record<FaultKind, number>;
  wmsUnacknowledged: number;
  lost: number;
  doubled: number;
  wrongQuantity: number;
  unexpectedReservations: number;
  raceOversoldUnits: number;
  i3Violations: number;
  i4Violations: number;
  onHandMismatches: number;
  fbaWrites: number;
  deadLetters: number;
  /** First-delivery failures of Shopify webhooks by status (or error), each retried until 2xx. */
  webhookFailures: Record<string, number>;
  /** Streams drained, nothing pending, every accepted channel order reserved. */
  ledgerQuiet: boolean;
  ledgerQuietAfterLastFaultS: number;
  /** ledgerQuiet, and every channel shows sellable(c). */
  converged: boolean;
  channelMismatches: { sku: string; shopify: number | undefined; shopifySellable: number | undefined; amazon: number | undefined; amazonSellable: number | undefined }[];
  /** How long after the last operation the last webhook retry and WMS delivery finished. */
  webhooksAcknowledgedAfterLoadS: number;
  convergenceAfterLastFaultS: number;
  problems: string[];
}

const SECRETS = { shopifyToken: 'shpat_chaos_token', appSecret: 'shpss_chaos_app_secret_0123', wms: 'wms_chaos_shared_secret_0123', api: 'api_chaos_token_0123456789', wmsToken: 'wms_chaos_read_token_012345' };
const LWA = { clientId: 'amzn1.application-oa2-client.chaos', clientSecret: 'chaos-lwa-secret', refreshToken: 'Atzr|chaos-refresh-token' };
const SELLER = 'A3TH9S8BH6GOGM';
const MARKETPLACE = 'ATVPDKIKX0DER';
const LOCATION = 'gid://shopify/Location/76543210987';
const PREFIX = 'sg';
const REPO_ROOT = resolve(import.meta.dirname, '../..');

interface ChannelOrder {
  channel: 'shopify' | 'amazon';
  orderId: string;
  lineId: string;
  shopifyOrderId: bigint | undefined;
  sku: string;
  quantity: number;
  acceptedAtMs: number;
  cancelled: boolean;
  shipped: boolean;
}

interface ScheduledFault {
  atMs: number;
  kind: FaultKind;
  target: number;
  lengthMs: number;
}


/** The fault schedule is drawn up front from the seed, so it is the same on every run. */
export const FAULT_KINDS: readonly FaultKind[] = ['consumer-kill', 'redis-kill', 'latency-spike', 'throttle-storm', 'server-errors'];

export function faultSchedule(seed: number, durationMs: number, kinds: readonly FaultKind[] = FAULT_KINDS): ScheduledFault[] {
  const random = seededRandom(seed ^ 0x5eed);
  if (kinds.length === 0) return [];
  const schedule: ScheduledFault[] = [];
  // The last 15 % of the load runs without new faults, so the system recovers while loaded.
  const window = durationMs * 0.85;
  const count = Math.max(kinds.length, Math.round(durationMs / 4000));
  for (let index = 0; index < count; index += 1) {
    const kind = index < kinds.length ? kinds[index]! : kinds[Math.floor(random() * kinds.length)]!;
    schedule.push({ atMs: Math.floor(durationMs * 0.05 + random() * (window - durationMs * 0.05)), kind, target: Math.floor(random() * 2), lengthMs: 300 + Math.floor(random() * 1200) });
  }
  return schedule.sort((a, b) => a.atMs - b.atMs);
}

export async function runChaos(options: ChaosOptions): Promise<ChaosFigures> {
  const log = options.log ?? (() => undefined);
  const random = seededRandom(options.seed);
  const skuCount = options.skus ?? 40;
  const durationMs = options.durationS * 1000;
  const cleanups: (() => Promise<unknown>)[] = [];
  const figures: ChaosFigures = {
    seed: options.seed,
    events: options.events,
    durationS: options.durationS,
    skus: skuCount,
    sent: { shopifySales: 0, amazonSales: 0, cancels: 0, shipments: 0, receipts: 0, refusedByChannel: 0 },
    duplicates: { shopifyWebhookCopies: 0, shopifyRedeliveries: 0, sqsCopies: 0 },
    faults: { 'consumer-kill': 0, 'redis-kill': 0, 'latency-spike': 0, 'throttle-storm': 0, 'server-errors': 0 },
    wmsUnacknowledged: 0,
    lost: 0,
    doubled: 0,
    wrongQuantity: 0,
    unexpectedReservations: 0,
    raceOversoldUnits: 0,
    i3Violations: 0,
    i4Violations: 0,
    onHandMismatches: 0,
    fbaWrites: 0,
    deadLetters: 0,
    webhookFailures: {},
    ledgerQuiet: false,
    ledgerQuietAfterLastFaultS: Number.NaN,
    converged: false,
    channelMismatches: [],
    webhooksAcknowledgedAfterLoadS: Number.NaN,
    convergenceAfterLastFaultS: Number.NaN,
    problems: [],
  };
  try {
    // --- Redis, the fakes ------------------------------------------------------------------
    const redisServer = await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    cleanups.push(() => redisServer.stop());
    const localSqs = await startLocalSqs();
    cleanups.push(() => localSqs.stop());
    const { endpoint: sqsEndpoint, queueUrl } = localSqs;

    const port = await freePort();
    const daemonUrl = `http://127.0.0.1:${port}`;
    const shopify = await startShopifyFake({
      accessToken: SECRETS.shopifyToken,
      appSecret: SECRETS.appSecret,
      shopDomain: 'stockguard-chaos.myshopify.com',
      webhookUrl: `${daemonUrl}/webhooks/shopify`,
      // Echoes of our own writes; storefront changes are announced by the generator below.
      inventoryLevelWebhooks: true,
      faults: { seed: options.seed },
    });
    cleanups.push(() => shopify.close());
    const amazon = await startAmazonFake({ ...LWA, sellerId: SELLER, sqs: { endpoint: sqsEndpoint, queueUrl, region: 'us-east-1' }, random: seededRandom(options.seed ^ 0xa3a2) });
    cleanups.push(() => amazon.close());
    const wms = await WmsFake.start({ token: SECRETS.wmsToken, webhook: { url: `${daemonUrl}/webhooks/wms`, secret: SECRETS.wms } });
    cleanups.push(() => wms.close());

    shopify.addLocation({ id: LOCATION, name: 'Main warehouse', isActive: true, fulfillsOnlineOrders: true });
    const entries: CatalogEntry[] = [];
    const openingStock: [string, number][] = [];
    for (let index = 0; index < skuCount; index += 1) {
      const sku = `CHAOS-${String(index).padStart(3, '0')}`;
      const fba = index % 10 === 9;
      const item = `gid://shopify/InventoryItem/${45_000_000_000_000 + index}`;
      entries.push({
        sku,
        holdback: 0,
        skuClass: 'default',
        shopify: { inventoryItemId: item, locationId: LOCATION },
        amazon: { sellerSku: sku, marketplaceId: MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN' },
        policies: {},
      });
      openingStock.push([sku, 20 + Math.floor(random() * 80)]);
      shopify.addItem({ id: item, sku });
      shopify.stock(item, LOCATION, { available: 0 });
      amazon.addListing({ sku, marketplaceId: MARKETPLACE, productType: 'SHIRT', fulfillment: fba ? 'FBA' : 'MFN', quantity: fba ? 500 : 0 });
    }
    wms.seed(openingStock);
    const fbaSkus = new Set(entries.filter((entry) => entry.amazon?.fulfillment === 'FBA').map((entry) => entry.sku));

    // --- stockguard: one in-process daemon (edge roles) and two consumer processes ---------
    const baseEnv: Record<string, string> = {
      REDIS_URL: redisServer.url,
      STOCKGUARD_KEY_PREFIX: PREFIX,
      STOCKGUARD_CONSUMER_BATCH: '64',
      STOCKGUARD_CLAIM_IDLE_MS: '500',
      STOCKGUARD_RECLAIM_INTERVAL_MS: '250',
      STOCKGUARD_LOG_LEVEL: 'error',
    };
    const config = loadConfig({
      ...baseEnv,
      STOCKGUARD_ROLES: 'http,sqs,holds,pushers',
      STOCKGUARD_HTTP_HOST: '127.0.0.1',
      STOCKGUARD_HTTP_PORT: String(port),
      STOCKGUARD_CONSUMER_NAME: 'chaos-edge',
      SHOPIFY_APP_SECRET: SECRETS.appSecret,
      STOCKGUARD_WMS_WEBHOOK_SECRET: SECRETS.wms,
      STOCKGUARD_API_TOKEN: SECRETS.api,
      AMAZON_SQS_QUEUE_URL: queueUrl,
      AMAZON_SQS_ENDPOINT: sqsEndpoint,
      STOCKGUARD_SQS_WAIT_SECONDS: '1',
      STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS: '3',
      SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
      SHOPIFY_ACCESS_TOKEN: SECRETS.shopifyToken,
      SHOPIFY_ADMIN_BASE_URL: shopify.url,
      AMAZON_SELLER_ID: SELLER,
      AMAZON_MARKETPLACE_IDS: MARKETPLACE,
      AMAZON_LWA_CLIENT_ID: LWA.clientId,
      AMAZON_LWA_CLIENT_SECRET: LWA.clientSecret,
      AMAZON_LWA_REFRESH_TOKEN: LWA.refreshToken,
      AMAZON_LWA_TOKEN_URL: amazon.lwaTokenUrl,
      AMAZON_SP_API_ENDPOINT: amazon.url,
      STOCKGUARD_PUSH_SWEEP_CRON: '*/10 * * * * *',
      STOCKGUARD_DRIFT_SETTLE_SECONDS: '5',
    });
    const daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
    cleanups.unshift(() => daemon.stop());
    const { ledger, catalog } = daemon.runtime;
    for (const entry of entries) await catalog.put(entry);
    for (const [sku, onHand] of openingStock) {
      await ledger.createSku(sku);
      await ledger.count(sku, { eventId: `opening-count:${sku}`, counted: onHand });
    }

    const consumers: (ChildProcess | undefined)[] = [undefined, undefined];
    const startConsumer = (index: number) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/bin/stockguard.ts', 'serve'], {
        cwd: REPO_ROOT,
        env: { ...process.env, ...baseEnv, STOCKGUARD_ROLES: 'consumers', STOCKGUARD_CONSUMER_NAME: `chaos-consumer-${index}` },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      consumers[index] = child;
    };
    const killConsumer = async (index: number) => {
      const child = consumers[index];
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
      child.kill('SIGKILL');
      await exited;
    };
    startConsumer(0);
    startConsumer(1);
    cleanups.unshift(async () => {
      await killConsumer(0);
      await killConsumer(1);
    });

    // sellable(c) counts the dynamic holdback the pushers keep beside the ledger (store.ts).
    const expected = async (entry: CatalogEntry, channel: 'shopify' | 'amazon') => {
      const inventory = (await ledger.inventory(entry.sku))!;
      const dynamic = Number((await daemon.runtime.redis.hget(`${PREFIX}:pushstate:{${entry.sku}}`, 'dynamic_holdback')) ?? 0);
      return sellable({ ...inventory, holdback: inventory.holdback + dynamic }, catalog.policyFor(entry, channel));
    };
    const inSync = async () => {
      for (const entry of entries) {
        if (shopify.level(entry.shopify!.inventoryItemId, LOCATION)?.available !== (await expected(entry, 'shopify'))) return false;
        if (entry.amazon?.fulfillment === 'MFN' && amazon.quantity(entry.sku) !== (await expected(entry, 'amazon'))) return false;
      }
      return true;
    };
    await waitUntil(inSync, 60_000);
    log(`opening stock on every channel; ${skuCount} SKUs (${fbaSkus.size} FBA on Amazon), consumers chaos-consumer-0/1, edge daemon ${daemonUrl}`);

    // --- Load and faults ---------------------------------------------------------------------
    const orders: ChannelOrder[] = [];
    const wmsAcked: { eventId: string; type: 'shipment' | 'receipt'; sku: string; quantity: number }[] = [];
    const inFlight = new Set<Promise<unknown>>();
    const track = (promise: Promise<unknown>) => {
      inFlight.add(promise);
      void promise.finally(() => inFlight.delete(promise));
    };
    // Shopify retries a webhook that got no 2xx (up to 48 h); the generator plays that part.
    const untilAcknowledged = async (deliveries: readonly WebhookDelivery[]) => {
      if (deliveries.some((delivery) => isOk(delivery.status))) return;
      const first = deliveries[0];
      if (!first) return;
      const why = String(first.status ?? first.error);
      figures.webhookFailures[why] = (figures.webhookFailures[why] ?? 0) + 1;
      for (let attempt = 0; attempt < 240; attempt += 1) {
        await sleep(250);
        figures.duplicates.shopifyRedeliveries += 1;
        if (isOk((await shopify.redeliverWebhook(first.webhookId)).status)) return;
      }
      figures.problems.push(`Shopify webhook ${first.eventId} never acknowledged`);
    };
    const shopifyOrderWebhook = (topic: 'orders/create' | 'orders/cancelled', orderId: bigint) => {
      // ≥ 20 % of deliveries twice (same event id), and a random delay that reorders them.
      const duplicate = random() < 0.25;
      if (duplicate) figures.duplicates.shopifyWebhookCopies += 1;
      const payload = topic === 'orders/create' ? shopify.orderCreatePayload(orderId) : shopify.orderCancelledPayload(orderId);
      const order = shopify.orders().find((candidate) => candidate.id === orderId)!;
      const levels = order.lines.map((line) => shopify.inventoryLevelUpdatePayload(line.inventoryItemId, line.locationId));
      return shopify.emitWebhook(topic, payload, { duplicate, delayMs: Math.floor(random() * 300) }).then(async (deliveries) => {
        await untilAcknowledged(deliveries);
        // What Shopify believes after the checkout (drift detection's input), sent once.
        for (const level of levels) await shopify.emitWebhook('inventory_levels/update', level).catch(() => undefined);
      });
    };

    const schedule = faultSchedule(options.seed, durationMs, options.faultKinds);
    let lastFaultEndMs = 0;
    const faultRuns: Promise<void>[] = [];
    const actOut = async (fault: ScheduledFault) => {
      figures.faults[fault.kind] += 1;
      log(`  fault at ${(fault.atMs / 1000).toFixed(1)} s: ${fault.kind}${fault.kind === 'consumer-kill' ? ` chaos-consumer-${fault.target}` : ''} for ${fault.lengthMs} ms`);
      switch (fault.kind) {
        case 'consumer-kill':
          await killConsumer(fault.target);
          await sleep(fault.lengthMs);
          startConsumer(fault.target);
          break;
        case 'redis-kill':
          await redisServer.kill();
          await sleep(fault.lengthMs);
          await redisServer.restart();
          break;
        case 'latency-spike': {
          shopify.injectFault({ kind: 'latency', ms: 800 }, { times: 40 });
          const id = amazon.injectFault({ kind: 'latency', latencyMs: 800, rate: 1 });
          await sleep(fault.lengthMs);
          amazon.removeFault(id);
          break;
        }
        case 'throttle-storm': {
          shopify.injectFault({ kind: 'throttled' }, { times: 30, only: 'mutation' });
          const id = amazon.injectFault({ kind: 'throttle', rate: 1 });
          await sleep(fault.lengthMs);
          amazon.removeFault(id);
          break;
        }
        case 'server-errors': {
          shopify.injectFault({ kind: 'status', status: 503 }, { times: 20 });
          const id = amazon.injectFault({ kind: 'serverError', rate: 0.7 });
          await sleep(fault.lengthMs);
          amazon.removeFault(id);
          break;
        }
      }
      lastFaultEndMs = Math.max(lastFaultEndMs, Date.now());
    };

    const loadStart = Date.now();
    let sent = 0;
    let nextFault = 0;
    while (sent < options.events) {
      const elapsed = Date.now() - loadStart;
      while (nextFault < schedule.length && schedule[nextFault]!.atMs <= elapsed) faultRuns.push(actOut(schedule[nextFault++]!));
      const due = Math.min(options.events, Math.floor((elapsed / durationMs) * options.events)) - sent;
      for (let i = 0; i < due; i += 1) {
        sent += 1;
        const roll = random();
        const entry = entries[Math.floor(random() * entries.length)]!;
        const quantity = random() < 0.85 ? 1 : 2;
        const now = Date.now();
        const shippable = orders.find((order) => !order.cancelled && !order.shipped && order.acceptedAtMs < now - 1500);
        if (roll < 0.15 && shippable) {
          shippable.shipped = true;
          figures.sent.shipments += 1;
          track(
            wms.ship(shippable.sku, shippable.quantity, { channel: shippable.channel, orderId: shippable.orderId, lineId: shippable.lineId }).then((delivery) => {
              if (typeof delivery.outcome === 'number' && isOk(delivery.outcome)) wmsAcked.push({ eventId: delivery.eventId, type: 'shipment', sku: shippable.sku, quantity: shippable.quantity });
              else figures.wmsUnacknowledged += 1;
            }),
          );
        } else if (roll < 0.2) {
          const receiptQuantity = 1 + Math.floor(random() * 10);
          figures.sent.receipts += 1;
          track(
            wms.receive(entry.sku, receiptQuantity).then((delivery) => {
              if (typeof delivery.outcome === 'number' && isOk(delivery.outcome)) wmsAcked.push({ eventId: delivery.eventId, type: 'receipt', sku: entry.sku, quantity: receiptQuantity });
              else figures.wmsUnacknowledged += 1;
            }),
          );
        } else if (roll < 0.25) {
          const candidates = orders.filter((order) => order.channel === 'shopify' && !order.cancelled && !order.shipped);
          const victim = candidates[Math.floor(random() * candidates.length)];
          if (!victim || victim.shopifyOrderId === undefined) continue;
          victim.cancelled = true;
          figures.sent.cancels += 1;
          const orderId = victim.shopifyOrderId;
          track(shopify.cancelStorefrontOrder(orderId, { webhooks: false }).then(() => shopifyOrderWebhook('orders/cancelled', orderId)));
        } else if (roll < 0.62) {
          let sale;
          try {
            sale = await shopify.sellOnStorefront(entry.shopify!.inventoryItemId, LOCATION, quantity, { webhooks: false });
          } catch {
            figures.sent.refusedByChannel += 1;
            continue;
          }
          figures.sent.shopifySales += 1;
          const order = sale.order;
          orders.push({ channel: 'shopify', orderId: `gid://shopify/Order/${order.id}`, lineId: `gid://shopify/LineItem/${order.lines[0]!.lineItemId}`, shopifyOrderId: order.id, sku: entry.sku, quantity, acceptedAtMs: Date.now(), cancelled: false, shipped: false });
          track(shopifyOrderWebhook('orders/create', order.id));
        } else {
          const copies = random() < 0.25 ? 1 : 0;
          const delayMs = 50 + Math.floor(random() * 400);
          // Decrements synchronously; a refusal rejects.
          const saleRun = amazon.sellOnAmazon(entry.sku, quantity, { publish: { duplicates: copies, delayMs } });
          track(
            saleRun.then(
              (sale) => {
                if (sale.fulfillment === 'FBA') return;
                figures.sent.amazonSales += 1;
                figures.duplicates.sqsCopies += copies;
                orders.push({ channel: 'amazon', orderId: sale.amazonOrderId, lineId: sale.orderItemId, shopifyOrderId: undefined, sku: entry.sku, quantity, acceptedAtMs: Date.now(), cancelled: false, shipped: false });
              },
              () => void (figures.sent.refusedByChannel += 1),
            ),
          );
        }
      }
      await sleep(5);
    }
    const loadEnd = Date.now();
    await Promise.all(faultRuns);
    while (nextFault < schedule.length) await actOut(schedule[nextFault++]!);
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    await amazon.idle();
    await shopify.settleWebhooks();
    figures.webhooksAcknowledgedAfterLoadS = (Date.now() - loadEnd) / 1000;
    log(`load done after ${((Date.now() - loadStart) / 1000).toFixed(1)} s: ${sent} operations; waiting for quiet and convergence`);

    // --- Quiet and convergence ----------------------------------------------------------------
    const quietBy = lastFaultEndMs + (options.convergenceTimeoutMs ?? 120_000);
    let nextReport = Date.now() + 5000;
    let channelsBy = quietBy;
    while (Date.now() < (figures.ledgerQuiet ? channelsBy : quietBy)) {
      const state = { drained: await isQuiet(daemon.runtime).catch(() => false), seen: await reservationsSeen(orders, ledger).catch(() => false), inSync: await inSync().catch(() => false) };
      if (!figures.ledgerQuiet && state.drained && state.seen) {
        figures.ledgerQuiet = true;
        figures.ledgerQuietAfterLastFaultS = (Date.now() - lastFaultEndMs) / 1000;
        channelsBy = Date.now() + (options.channelTimeoutMs ?? 30_000);
      }
      if (state.drained && state.seen && state.inSync) {
        figures.converged = true;
        break;
      }
      if (Date.now() > nextReport) {
        nextReport += 5000;
        log(`  ${((Date.now() - lastFaultEndMs) / 1000).toFixed(0)} s after the last fault: streams drained ${state.drained}, every order in the ledger ${state.seen}, channels = sellable ${state.inSync}`);
      }
      await sleep(200);
    }
    figures.convergenceAfterLastFaultS = figures.converged ? (Date.now() - lastFaultEndMs) / 1000 : Number.NaN;
    if (!figures.converged) {
      for (const entry of entries) {
        const shown = { shopify: shopify.level(entry.shopify!.inventoryItemId, LOCATION)?.available, amazon: entry.amazon?.fulfillment === 'MFN' ? amazon.quantity(entry.sku) : undefined };
        const want = { shopify: await expected(entry, 'shopify'), amazon: entry.amazon?.fulfillment === 'MFN' ? await expected(entry, 'amazon') : undefined };
        if (shown.shopify !== want.shopify || shown.amazon !== want.amazon) {
          figures.channelMismatches.push({ sku: entry.sku, shopify: shown.shopify, shopifySellable: want.shopify, amazon: shown.amazon, amazonSellable: want.amazon });
          if (figures.channelMismatches.length > 5) continue;
          const patches = amazon.submissions().filter((patch) => patch.sku === entry.sku).slice(-4).map((patch) => `${JSON.stringify(patch.patches.map((operation) => operation.value))} ${patch.status} received ${patch.receivedAtMs - lastFaultEndMs} applied ${patch.appliedAtMs === undefined ? '-' : patch.appliedAtMs - lastFaultEndMs}`);
          const pushed = await daemon.runtime.redis.hgetall(`${PREFIX}:pushed:{${entry.sku}}`);
          figures.problems.push(`not converged ${entry.sku}: Shopify shows ${shown.shopify} (sellable ${want.shopify}), Amazon shows ${shown.amazon} (sellable ${want.amazon}); ledger ${JSON.stringify(await ledger.inventory(entry.sku))}; last pushed ${JSON.stringify(pushed)}; last Amazon patches (ms after the last fault) ${patches.join(' | ')}`);
        }
      }
    }

    // --- Checker ------------------------------------------------------------------------------
    await checkLedger(figures, { orders, wmsAcked, entries, wms, ledger, redis: daemon.runtime.redis });
    figures.fbaWrites = amazon.acceptedPatches().filter((patch) => fbaSkus.has(patch.sku)).length;
    figures.deadLetters = await daemon.runtime.redis.xlen(ledger.keys.deadLetters());
    return figures;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
  }
}

type Ledger = Daemon['runtime']['ledger'];

async function reservationsSeen(orders: readonly ChannelOrder[], ledger: Ledger): Promise<boolean> {
  const bySku = new Map<string, Set<string>>();
  for (const order of orders) {
    const records = bySku.get(order.sku) ?? new Set((await ledger.reservations(order.sku)).filter((record) => record.reserveSeen).map((record) => record.reservationId));
    bySku.set(order.sku, records);
    if (!records.has(reservationId(order.channel, order.orderId, order.lineId))) return false;
  }
  return true;
}

async function checkLedger(
  figures: ChaosFigures,
  truth: { orders: readonly ChannelOrder[]; wmsAcked: readonly { eventId: string; type: 'shipment' | 'receipt'; sku: string; quantity: number }[]; entries: readonly CatalogEntry[]; wms: WmsFake; ledger: Ledger; redis: Daemon['runtime']['redis'] },
): Promise<void> {
  const { orders, wmsAcked, entries, wms, ledger } = truth;
  const problem = (text: string) => {
    if (figures.problems.length < 40) figures.problems.push(text);
  };
  const expectedIds = new Map<string, ChannelOrder>();
  for (const order of orders) expectedIds.set(reservationId(order.channel, order.orderId, order.lineId), order);
  for (const entry of entries) {
    const inventory = (await ledger.inventory(entry.sku))!;
    const records = await ledger.reservations(entry.sku);
    const journal = await ledger.journal(entry.sku);
    figures.raceOversoldUnits += inventory.oversold;
    // I3: reserved = Σ open reservation quantities.
    const open = records.reduce((sum, record) => sum + record.openUnits, 0);
    if (open !== inventory.reserved) {
      figures.i3Violations += 1;
      problem(`I3 ${entry.sku}: reserved ${inventory.reserved} ≠ Σ open ${open}`);
    }
    if (inventory.reserved > inventory.onHand && inventory.oversold === 0) problem(`I1 ${entry.sku}: reserved ${inventory.reserved} > on_hand ${inventory.onHand} with nothing recorded oversold`);
    // I4: the journal replays to the ledger (sums of deltas; a repair sets reserved absolutely).
    let onHand = 0;
    let reserved = 0;
    let oversold = 0;
    for (const line of journal) {
      onHand += line.dOnHand;
      reserved = line.cause === 'repair' ? line.reserved : reserved + line.dReserved;
      oversold += line.dOversold;
    }
    if (onHand !== inventory.onHand || reserved !== inventory.reserved || oversold !== inventory.oversold) {
      figures.i4Violations += 1;
      problem(`I4 ${entry.sku}: journal replays to on_hand ${onHand} reserved ${reserved} oversold ${oversold}, ledger has ${inventory.onHand}/${inventory.reserved}/${inventory.oversold}`);
    }
    // Conservation against the warehouse: every WMS event here was answered, or counted unacknowledged.
    if (figures.wmsUnacknowledged === 0 && wms.onHand(entry.sku) !== inventory.onHand) {
      figures.onHandMismatches += 1;
      problem(`on_hand ${entry.sku}: ledger ${inventory.onHand}, warehouse ${wms.onHand(entry.sku)}`);
    }
    // Exactly once for channel orders: one record with the quantity, one reserve entry.
    const reserveEntries = new Map<string, number>();
    for (const line of journal) if (line.cause === 'reserve') reserveEntries.set(line.ref, (reserveEntries.get(line.ref) ?? 0) + 1);
    const byId = new Map(records.map((record) => [record.reservationId, record]));
    for (const record of records) if (!expectedIds.has(record.reservationId)) {
      figures.unexpectedReservations += 1;
      problem(`unexpected reservation ${record.reservationId} on ${entry.sku}`);
    }
    for (const [id, order] of expectedIds) {
      if (order.sku !== entry.sku) continue;
      const record = byId.get(id);
      if (!record || !record.reserveSeen) {
        figures.lost += 1;
        problem(`lost: ${order.channel} order ${order.orderId} (${order.quantity} × ${order.sku})`);
        continue;
      }
      if ((reserveEntries.get(id) ?? 0) > 1) {
        figures.doubled += 1;
        problem(`doubled: ${id} has ${reserveEntries.get(id)} reserve entries`);
      }
      if (record.quantity !== order.quantity) {
        figures.wrongQuantity += 1;
        problem(`quantity: ${id} recorded ${record.quantity}, sold ${order.quantity}`);
      }
      if (order.cancelled !== record.cancelled) problem(`cancel: ${id} cancelled on the channel ${order.cancelled}, in the ledger ${record.cancelled}`);
    }
    // Exactly once for acknowledged WMS events: one journal entry each.
    const byEvent = new Map<string, number>();
    for (const line of journal) if (line.cause === 'ship' || line.cause === 'receipt') byEvent.set(line.event, (byEvent.get(line.event) ?? 0) + 1);
    for (const event of wmsAcked) {
      if (event.sku !== entry.sku) continue;
      const seen = byEvent.get(event.eventId) ?? 0;
      if (seen === 0) {
        figures.lost += 1;
        problem(`lost: WMS ${event.type} ${event.eventId} (${event.quantity} × ${event.sku})`);
      } else if (seen > 1) {
        figures.doubled += 1;
        problem(`doubled: WMS ${event.type} ${event.eventId} journaled ${seen} times`);
      }
    }
  }
}


function isOk(status: number | undefined): boolean {
  return status !== undefined && status >= 200 && status < 300;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for the opening stock on the channels`);
    await sleep(100);
  }
}

