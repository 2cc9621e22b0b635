// `stockguard doctor`: checks what stockguard depends on and prints, for each problem,
// what is wrong and the fix. Redis (version, AOF persistence), each configured channel
// (credentials, the webhook or notification subscriptions `stockguard setup` makes, the
// mapped Shopify locations as the pusher checks them), the WMS stock endpoint, and the
// catalogue against what the channels list (unmapped variants and listings, SKUs mapped to
// items the channel does not have, MFN/FBA disagreements). Reads only: it changes nothing.
// A `fail` makes the command exit 1; a `warn` does not.
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Redis } from 'ioredis';
import type { Catalog } from '../catalog/catalog.ts';
import { readAmazonListings } from '../catalog/discover/amazon.ts';
import { type DiscoveredListing, fulfillmentOf } from '../catalog/discover/match.ts';
import { readVariants } from '../catalog/discover/shopify.ts';
import type { CatalogEntry } from '../catalog/entry.ts';
import type { Config } from '../config.ts';
import { isStockguardError } from '../errors.ts';
import { judgeRetention, queueHorizonsOf, readQueueRetention } from '../ingest/amazon/queueRetention.ts';
import type { RedisClient } from '../redis/client.ts';
import { isCluster, masters } from '../redis/topology.ts';
import { LwaTokenProvider } from '../pushers/lwa.ts';
import { HttpWmsAdapter } from '../reconcile/wms.ts';
import { AMAZON_SETUP_TYPES, NOTIFICATIONS_SCOPE, NotificationsClient, queueArnOf } from '../setup/amazon.ts';
import { checkShopifyLocations, describeLocation, listWebhookSubscriptions, LOCATION_FIX, SHOPIFY_SETUP_TOPICS, shopifyClient, shopifyWebhookAddress } from '../setup/shopify.ts';

export type Severity = 'ok' | 'warn' | 'fail';
export type Area = 'redis' | 'shopify' | 'amazon' | 'wms' | 'catalog';

export interface Finding {
  area: Area;
  /** A stable name for the check, e.g. redis-persistence, shopify-subscription. */
  check: string;
  severity: Severity;
  detail: string;
  fix?: string;
}

export interface DoctorResult {
  findings: Finding[];
  ok: boolean;
}

/** The oldest Redis stockguard is tested on (docs/operations.md: streams lag counters of 7.0). */
export const MIN_REDIS_VERSION = [7, 0] as const;
/** Items named per finding on the terminal; the count says how many there are. */
const NAMED = 10;

export interface DoctorOptions {
  config: Config;
  redis: RedisClient;
  catalog: Catalog;
  print: (line: string) => void;
}

export async function runDoctor(options: DoctorOptions): Promise<DoctorResult> {
  const findings: Finding[] = [];
  const add = (finding: Finding) => {
    findings.push(finding);
    printFinding(finding, options.print);
  };
  const { config } = options;
  await checkRedis(options.redis, add);
  const entries = await loadCatalog(options.catalog);
  add(
    entries.length === 0
      ? { area: 'catalog', check: 'catalog-empty', severity: 'fail', detail: 'the catalogue holds no SKU: nothing is reserved or pushed', fix: 'stockguard catalog discover, review the file, then stockguard catalog import FILE' }
      : { area: 'catalog', check: 'catalog', severity: 'ok', detail: `${entries.length} SKUs` },
  );
  const unsold = entries.filter((entry) => !entry.shopify && !entry.amazon);
  if (unsold.length > 0) {
    add({ area: 'catalog', check: 'catalog-unmapped-sku', severity: 'warn', detail: `${unsold.length} SKUs map no channel item: ${named(unsold.map((entry) => entry.sku))}`, fix: 'add their shopify* or amazon* columns and import again, or leave them if they are sold nowhere yet' });
  }

  if (config.shopify) await guard('shopify', add, () => checkShopify(config, entries, options.catalog, add));
  else add({ area: 'shopify', check: 'shopify-configured', severity: 'ok', detail: 'not configured (SHOPIFY_STORE_DOMAIN unset): skipped' });
  if (config.amazon) await guard('amazon', add, () => checkAmazon(config, entries, add));
  else add({ area: 'amazon', check: 'amazon-configured', severity: 'ok', detail: 'not configured (AMAZON_SELLER_ID unset): skipped' });
  if (config.sqs.queueUrl) await guard('amazon', add, () => checkQueueRetention(config, add));
  await guard('wms', add, () => checkWms(config, add));

  const failed = findings.filter((finding) => finding.severity === 'fail').length;
  const warned = findings.filter((finding) => finding.severity === 'warn').length;
  options.print(failed === 0 ? `doctor: no problems${warned > 0 ? ` (${warned} warnings)` : ''}` : `doctor: ${failed} problem${failed === 1 ? '' : 's'}${warned > 0 ? `, ${warned} warnings` : ''}`);
  return { findings, ok: failed === 0 };
}

function printFinding(finding: Finding, print: (line: string) => void): void {
  const mark = finding.severity === 'ok' ? 'ok  ' : finding.severity === 'warn' ? 'warn' : 'FAIL';
  print(`${mark} ${finding.area.padEnd(7)} ${finding.check}: ${finding.detail}`);
  if (finding.fix && finding.severity !== 'ok') print(`     fix: ${finding.fix}`);
}

function named(items: readonly string[]): string {
  return `${items.slice(0, NAMED).join(', ')}${items.length > NAMED ? `, … (${items.length - NAMED} more)` : ''}`;
}

/** A check that throws is a failure of its area, not of the doctor. */
async function guard(area: Area, add: (finding: Finding) => void, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    // A coded error's message carries its code and fix already.
    const message = error instanceof Error ? error.message : String(error);
    add({ area, check: `${area}-reachable`, severity: 'fail', detail: message, ...(isStockguardError(error) ? {} : { fix: 'check the network and the endpoint settings' }) });
  }
}

async function loadCatalog(catalog: Catalog): Promise<CatalogEntry[]> {
  const skus = await catalog.list();
  const entries: CatalogEntry[] = [];
  for (let start = 0; start < skus.length; start += 200) {
    const batch = await Promise.all(skus.slice(start, start + 200).map((sku) => catalog.get(sku)));
    for (const entry of batch) if (entry) entries.push(entry);
  }
  return entries;
}

// ---- Redis

function infoField(info: string, name: string): string | undefined {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
}

/** Version and persistence of the server, or of every master of a Cluster. */
export async function checkRedis(redis: RedisClient, add: (finding: Finding) => void): Promise<void> {
  const nodes: Array<{ label: string; client: Redis }> = isCluster(redis) ? masters(redis).map((node) => ({ label: `${node.options.host}:${node.options.port}`, client: node })) : [{ label: 'redis', client: redis }];
  for (const { label, client } of nodes) {
    const where = nodes.length > 1 ? `${label}: ` : '';
    const server = await client.info('server');
    const version = infoField(server, 'redis_version') ?? 'unknown';
    const [major = 0, minor = 0] = version.split('.').map(Number);
    const old = major < MIN_REDIS_VERSION[0] || (major === MIN_REDIS_VERSION[0] && minor < MIN_REDIS_VERSION[1]);
    add(
      old
        ? { area: 'redis', check: 'redis-version', severity: 'fail', detail: `${where}Redis ${version} is older than ${MIN_REDIS_VERSION.join('.')}`, fix: `upgrade Redis to ${MIN_REDIS_VERSION.join('.')} or later` }
        : { area: 'redis', check: 'redis-version', severity: 'ok', detail: `${where}Redis ${version}` },
    );
    const persistence = await client.info('persistence');
    const aof = infoField(persistence, 'aof_enabled') === '1';
    // CONFIG may be disabled (managed services): then the fsync policy is not known.
    const fsync = await client.config('GET', 'appendfsync').then(
      (reply) => (Array.isArray(reply) ? String(reply[1] ?? '') : undefined),
      () => undefined,
    );
    if (!aof) {
      add({
        area: 'redis',
        check: 'redis-persistence',
        severity: 'fail',
        detail: `${where}AOF persistence is off (appendonly no): a Redis restart loses every acknowledged event since the last RDB save`,
        fix: 'CONFIG SET appendonly yes and CONFIG SET appendfsync always, then CONFIG REWRITE (or appendonly yes / appendfsync always in redis.conf, or the managed service\'s AOF setting); docs/operations.md, "Redis"',
      });
    } else if (fsync !== undefined && fsync !== 'always') {
      add({ area: 'redis', check: 'redis-persistence', severity: 'warn', detail: `${where}AOF is on with appendfsync ${fsync}: a power loss can drop up to a second of acknowledged events`, fix: 'CONFIG SET appendfsync always where an acknowledged event must survive a crash (docs/operations.md, "Redis")' });
    } else {
      add({ area: 'redis', check: 'redis-persistence', severity: 'ok', detail: `${where}AOF on${fsync ? `, appendfsync ${fsync}` : ''}` });
    }
  }
}

// ---- Shopify

async function checkShopify(config: Config, entries: readonly CatalogEntry[], catalog: Catalog, add: (finding: Finding) => void): Promise<void> {
  const settings = config.shopify!;
  const client = shopifyClient(settings, config.pushers.requestTimeoutMs);
  let subscriptions;
  try {
    subscriptions = await listWebhookSubscriptions(client);
  } catch (error) {
    const refused = error instanceof Error && /HTTP 40[13]/.test(error.message);
    add({
      area: 'shopify',
      check: 'shopify-credentials',
      severity: 'fail',
      detail: `${settings.storeDomain}: ${error instanceof Error ? error.message : String(error)}`,
      fix: refused ? 'check SHOPIFY_ACCESS_TOKEN (an Admin API token of the app, with read_orders, read_products and write_inventory)' : 'check SHOPIFY_STORE_DOMAIN, SHOPIFY_ADMIN_BASE_URL and the network',
    });
    return;
  }
  add({ area: 'shopify', check: 'shopify-credentials', severity: 'ok', detail: `${settings.storeDomain} answered` });

  let address: string | undefined;
  try {
    address = shopifyWebhookAddress(config.publicUrl);
  } catch (error) {
    add({ area: 'shopify', check: 'shopify-subscription', severity: 'fail', detail: error instanceof Error ? error.message : String(error), fix: 'set STOCKGUARD_PUBLIC_URL to the https:// address Shopify reaches this daemon at, then stockguard setup shopify' });
  }
  if (address !== undefined) {
    for (const topic of SHOPIFY_SETUP_TOPICS) {
      const at = subscriptions.filter((subscription) => subscription.topic === topic);
      const mine = at.find((subscription) => subscription.uri === address);
      if (mine && mine.format === 'JSON') add({ area: 'shopify', check: 'shopify-subscription', severity: 'ok', detail: `${topic} → ${address}` });
      else if (mine) add({ area: 'shopify', check: 'shopify-subscription', severity: 'fail', detail: `${topic} is delivered as ${mine.format}: stockguard reads JSON`, fix: 'stockguard setup shopify' });
      else {
        const elsewhere = at.length > 0 ? ` (it goes to ${at.map((subscription) => subscription.uri).join(', ')} only)` : '';
        add({ area: 'shopify', check: 'shopify-subscription', severity: 'fail', detail: `no ${topic} subscription at ${address}${elsewhere}: those ${topic.startsWith('ORDERS') ? 'orders are not reserved' : 'stock changes are not seen'}`, fix: 'stockguard setup shopify' });
      }
    }
  }

  const locationIds = [...new Set(entries.flatMap((entry) => (entry.shopify ? [entry.shopify.locationId] : [])))];
  for (const check of await checkShopifyLocations(settings, locationIds, config.pushers.requestTimeoutMs)) {
    const mapped = entries.filter((entry) => entry.shopify?.locationId === check.locationId).length;
    add(
      check.writable
        ? { area: 'shopify', check: 'shopify-location', severity: 'ok', detail: `${describeLocation(check)} (${mapped} SKUs)` }
        : { area: 'shopify', check: 'shopify-location', severity: 'fail', detail: `${describeLocation(check)}: ${mapped} SKUs mapped there are never pushed`, fix: LOCATION_FIX },
    );
  }

  const { variants } = await readVariants(client);
  const tracked = variants.filter((variant) => variant.tracked);
  const refs = await catalog.resolveRefs(tracked.map((variant) => `shopify:${variant.inventoryItemId}`));
  const unmapped = tracked.filter((_variant, index) => refs[index] === undefined);
  add(
    unmapped.length > 0
      ? {
          area: 'catalog',
          check: 'shopify-unmapped-variant',
          severity: 'fail',
          detail: `${unmapped.length} of ${tracked.length} tracked Shopify variants map to no SKU, so their orders reserve nothing: ${named(unmapped.map((variant) => `${variant.sku?.trim() || '(blank SKU)'} ${variant.variantId}`))}`,
          fix: 'stockguard catalog discover --shopify, review the proposed rows, then stockguard catalog import FILE',
        }
      : { area: 'catalog', check: 'shopify-unmapped-variant', severity: 'ok', detail: `every one of ${tracked.length} tracked variants is mapped` },
  );
  const known = new Set(variants.map((variant) => variant.inventoryItemId));
  const missing = entries.filter((entry) => entry.shopify && !known.has(entry.shopify.inventoryItemId));
  if (missing.length > 0) {
    add({ area: 'catalog', check: 'shopify-unknown-item', severity: 'fail', detail: `${missing.length} SKUs map an inventory item the shop does not have: ${named(missing.map((entry) => `${entry.sku} ${entry.shopify!.inventoryItemId}`))}`, fix: 'correct shopifyInventoryItemId (stockguard catalog discover shows the shop\'s ids) and import again' });
  }
}

// ---- Amazon

async function checkAmazon(config: Config, entries: readonly CatalogEntry[], add: (finding: Finding) => void): Promise<void> {
  const settings = config.amazon!;
  const tokens: Array<[string, LwaTokenProvider]> = [
    ['seller (refresh token)', new LwaTokenProvider(settings.lwa, { timeoutMs: config.pushers.requestTimeoutMs })],
    ['grantless (notifications)', new LwaTokenProvider(settings.lwa, { timeoutMs: config.pushers.requestTimeoutMs, scope: NOTIFICATIONS_SCOPE })],
  ];
  for (const [kind, provider] of tokens) {
    try {
      await provider.getAccessToken();
    } catch (error) {
      add({ area: 'amazon', check: 'amazon-credentials', severity: 'fail', detail: `no ${kind} token: ${error instanceof Error ? error.message : String(error)}`, fix: 'check AMAZON_LWA_CLIENT_ID, AMAZON_LWA_CLIENT_SECRET, AMAZON_LWA_REFRESH_TOKEN and AMAZON_LWA_TOKEN_URL' });
      return;
    }
  }
  add({ area: 'amazon', check: 'amazon-credentials', severity: 'ok', detail: 'LWA issued a seller and a grantless token' });

  const queueArn = queueArnOf(config.sqs);
  if (!queueArn) {
    add({ area: 'amazon', check: 'amazon-destination', severity: 'fail', detail: 'the SQS queue\'s ARN is unknown, so its destination cannot be checked', fix: 'set AMAZON_SQS_QUEUE_ARN (or AMAZON_SQS_QUEUE_URL to an AWS queue URL), then stockguard setup amazon' });
  } else {
    const client = new NotificationsClient(settings, config.pushers.requestTimeoutMs);
    const destination = (await client.destinations()).find((candidate) => candidate.resource.sqs?.arn === queueArn);
    if (!destination) {
      add({ area: 'amazon', check: 'amazon-destination', severity: 'fail', detail: `no Notifications API destination delivers to ${queueArn}`, fix: 'stockguard setup amazon' });
    } else {
      add({ area: 'amazon', check: 'amazon-destination', severity: 'ok', detail: `${destination.destinationId} → ${queueArn}` });
    }
    for (const notificationType of AMAZON_SETUP_TYPES) {
      const subscription = await client.subscription(notificationType);
      if (!subscription) {
        add({ area: 'amazon', check: 'amazon-subscription', severity: 'fail', detail: `no ${notificationType} subscription${notificationType === 'ORDER_CHANGE' ? ': Amazon orders are not reserved' : ''}`, fix: 'stockguard setup amazon' });
      } else if (!destination || subscription.destinationId !== destination.destinationId) {
        add({ area: 'amazon', check: 'amazon-subscription', severity: 'fail', detail: `${notificationType} delivers to destination ${subscription.destinationId}, not to ${queueArn}`, fix: 'stockguard setup amazon (moves it to the queue\'s destination)' });
      } else {
        add({ area: 'amazon', check: 'amazon-subscription', severity: 'ok', detail: `${notificationType} → ${destination.destinationId}` });
      }
    }
  }

  const read = await readAmazonListings({ settings, requestTimeoutMs: config.pushers.requestTimeoutMs });
  const bySellerSku = new Map<string, DiscoveredListing>();
  for (const listing of read.listings) if (!bySellerSku.has(listing.sellerSku)) bySellerSku.set(listing.sellerSku, listing);
  const mapped = new Set(entries.flatMap((entry) => (entry.amazon ? [entry.amazon.sellerSku] : [])));
  const unmapped = read.listings.filter((listing) => !mapped.has(listing.sellerSku));
  const sold = unmapped.filter((listing) => fulfillmentOf(listing) !== 'FBA');
  const fbaOnly = unmapped.filter((listing) => fulfillmentOf(listing) === 'FBA');
  add(
    sold.length > 0
      ? {
          area: 'catalog',
          check: 'amazon-unmapped-listing',
          severity: 'fail',
          detail: `${sold.length} merchant-fulfilled Amazon listings map to no SKU, so their orders reserve nothing and their quantity is never set: ${named(sold.map((listing) => `${listing.sellerSku} (${listing.marketplaceId})`))}`,
          fix: 'stockguard catalog discover --amazon, review the proposed rows, then stockguard catalog import FILE',
        }
      : { area: 'catalog', check: 'amazon-unmapped-listing', severity: 'ok', detail: `every merchant-fulfilled listing is mapped (${read.listings.length - unmapped.length} of ${read.listings.length} listings mapped)` },
  );
  if (fbaOnly.length > 0) {
    add({ area: 'catalog', check: 'amazon-unmapped-fba', severity: 'warn', detail: `${fbaOnly.length} FBA listings map to no SKU (Amazon ships them from its own stock): ${named(fbaOnly.map((listing) => listing.sellerSku))}`, fix: 'map them with amazonFulfillment FBA if their units also count in the WMS' });
  }
  for (const entry of entries) {
    if (!entry.amazon) continue;
    const listing = bySellerSku.get(entry.amazon.sellerSku);
    if (!listing) {
      add({ area: 'catalog', check: 'amazon-unknown-listing', severity: 'fail', detail: `${entry.sku} maps seller SKU ${entry.amazon.sellerSku}, which Amazon does not list in ${settings.marketplaceIds.join(', ')}`, fix: 'correct amazonSellerSku and import again, or create the listing in Seller Central' });
      continue;
    }
    const seen = fulfillmentOf(listing);
    if (entry.amazon.fulfillment === 'MFN' && (seen === 'FBA' || seen === 'both')) {
      add({ area: 'catalog', check: 'amazon-fulfilment', severity: 'fail', detail: `${entry.sku} (${entry.amazon.sellerSku}) is MFN in the catalogue but Amazon shows ${seen === 'FBA' ? 'an FBA offer only' : 'an MFN and an FBA offer'}: stockguard would set a merchant-fulfilled quantity on it`, fix: 'set amazonFulfillment FBA for this SKU and import again (or MFN if the FBA offer is retired)' });
    } else if (entry.amazon.fulfillment === 'FBA' && seen === 'MFN') {
      add({ area: 'catalog', check: 'amazon-fulfilment', severity: 'fail', detail: `${entry.sku} (${entry.amazon.sellerSku}) is FBA in the catalogue but Amazon shows a merchant-fulfilled offer only: stockguard never sets its quantity, so Amazon keeps selling what it shows`, fix: 'set amazonFulfillment MFN (with amazonProductType) for this SKU and import again' });
    }
  }
}

// ---- SQS

/** The queue's MessageRetentionPeriod against the dedupe horizons (src/ingest/amazon/queueRetention.ts). */
async function checkQueueRetention(config: Config, add: (finding: Finding) => void): Promise<void> {
  const client = new SQSClient({ region: config.sqs.region, ...(config.sqs.endpoint ? { endpoint: config.sqs.endpoint } : {}) });
  try {
    let seconds: number;
    try {
      seconds = await readQueueRetention(client, config.sqs.queueUrl!);
    } catch (error) {
      add({ area: 'amazon', check: 'sqs-retention', severity: 'warn', detail: `could not read the queue's MessageRetentionPeriod: ${error instanceof Error ? error.message : String(error)}`, fix: 'grant sqs:GetQueueAttributes on the queue to check it, or compare it by hand with STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS and STOCKGUARD_EVENT_HORIZON_SECONDS' });
      return;
    }
    const verdict = judgeRetention(seconds, queueHorizonsOf(config));
    add(verdict.ok ? { area: 'amazon', check: 'sqs-retention', severity: 'ok', detail: verdict.detail } : { area: 'amazon', check: 'sqs-retention', severity: 'fail', detail: verdict.detail, fix: verdict.fix });
  } finally {
    client.destroy();
  }
}

// ---- WMS

async function checkWms(config: Config, add: (finding: Finding) => void): Promise<void> {
  const { url, token, timeoutMs } = config.wms;
  if (!url || !token) {
    add({ area: 'wms', check: 'wms-endpoint', severity: 'fail', detail: `${url ? 'STOCKGUARD_WMS_TOKEN' : 'STOCKGUARD_WMS_URL'} is unset: reconciliation cannot read the warehouse's stock`, fix: 'set STOCKGUARD_WMS_URL and STOCKGUARD_WMS_TOKEN (docs/wms.md, "Stock snapshots")' });
    return;
  }
  const adapter = new HttpWmsAdapter({ baseUrl: url, token, pageSize: 1, retries: 0, timeoutMs });
  try {
    for await (const page of adapter.snapshot()) {
      add({ area: 'wms', check: 'wms-endpoint', severity: 'ok', detail: `${url} answered GET /v1/stock (snapshot as of ${new Date(page.asOfMs).toISOString()})` });
      break;
    }
  } catch (error) {
    add({ area: 'wms', check: 'wms-endpoint', severity: 'fail', detail: `${url}: ${error instanceof Error ? error.message : String(error)}`, fix: 'check STOCKGUARD_WMS_URL, STOCKGUARD_WMS_TOKEN and that the WMS serves GET /v1/stock (docs/wms.md)' });
  }
}
