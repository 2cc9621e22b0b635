// `stockguard setup shopify`: makes sure the shop sends stockguard the webhooks it reads
// (src/domain/shopifyWebhooks.ts) at <STOCKGUARD_PUBLIC_URL>/webhooks/shopify, through the
// Admin GraphQL API (`webhookSubscriptions`, `webhookSubscriptionCreate`, `…Update`), and
// checks every location the catalogue maps as the pusher does before it writes (I6).
// Idempotent: a subscription already at the address is left alone, so a second run changes
// nothing and says so. Subscriptions of the app at other addresses are listed, not touched
// (an old deployment's, or another environment's: only a human knows).
import type { Config, ShopifySettings } from '../config.ts';
import { StockguardError } from '../errors.ts';
import { createLogger } from '../logger.ts';
import { createMetrics } from '../metrics/metrics.ts';
import { type LocationCheck, ShopifyPusher } from '../pushers/shopify.ts';
import { ShopifyReader } from '../catalog/discover/shopify.ts';

/** The topics stockguard maps to events, as GraphQL enum values. inventory_items/update carries no quantity and is not needed. */
export const SHOPIFY_SETUP_TOPICS = ['ORDERS_CREATE', 'ORDERS_UPDATED', 'ORDERS_CANCELLED', 'INVENTORY_LEVELS_UPDATE'] as const;
export type ShopifySetupTopic = (typeof SHOPIFY_SETUP_TOPICS)[number];

/** Where the daemon's HTTP receiver takes Shopify webhooks (src/ingest/http/webhooks.ts). */
export const SHOPIFY_WEBHOOK_PATH = '/webhooks/shopify';

export const LIST_WEBHOOK_SUBSCRIPTIONS = /* GraphQL */ `
  query StockguardWebhookSubscriptions($first: Int!, $after: String, $topics: [WebhookSubscriptionTopic!]) {
    webhookSubscriptions(first: $first, after: $after, topics: $topics) {
      nodes {
        id
        topic
        uri
        format
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

export const CREATE_WEBHOOK_SUBSCRIPTION = /* GraphQL */ `
  mutation StockguardWebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
    webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
      webhookSubscription {
        id
        topic
        uri
        format
      }
      userErrors {
        field
        message
      }
    }
  }
`;

export const UPDATE_WEBHOOK_SUBSCRIPTION = /* GraphQL */ `
  mutation StockguardWebhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) {
    webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) {
      webhookSubscription {
        id
        topic
        uri
        format
      }
      userErrors {
        field
        message
      }
    }
  }
`;

/** Every document setup and doctor send to Shopify (the fake validates each against the vendored schema). */
export const SETUP_SHOPIFY_DOCUMENTS = { LIST_WEBHOOK_SUBSCRIPTIONS, CREATE_WEBHOOK_SUBSCRIPTION, UPDATE_WEBHOOK_SUBSCRIPTION } as const;

export interface WebhookSubscriptionView {
  id: string;
  topic: string;
  uri: string;
  format: string;
}

interface ListData {
  webhookSubscriptions: { nodes: WebhookSubscriptionView[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

interface MutationPayload {
  webhookSubscription: WebhookSubscriptionView | null;
  userErrors: Array<{ field: string[] | null; message: string }>;
}

export type SubscriptionAction = 'created' | 'present' | 'format-fixed';

export interface ShopifySetupResult {
  address: string;
  subscriptions: Array<{ topic: ShopifySetupTopic; id: string; action: SubscriptionAction }>;
  /** The app's subscriptions to these topics at other addresses (left alone). */
  elsewhere: WebhookSubscriptionView[];
  locations: LocationCheck[];
  /** True when this run created or changed anything. */
  changed: boolean;
  /** True when every mapped location is writable. */
  ok: boolean;
}

export function setupError(detail: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_SETUP', detail);
}

/** The address subscriptions must point at, from STOCKGUARD_PUBLIC_URL. */
export function shopifyWebhookAddress(publicUrl: string | undefined): string {
  if (publicUrl === undefined) throw new StockguardError('STOCKGUARD_E_CONFIG', 'STOCKGUARD_PUBLIC_URL is unset: set it to where Shopify reaches this daemon (https://…), then run setup again');
  const address = `${publicUrl.replace(/\/+$/, '')}${SHOPIFY_WEBHOOK_PATH}`;
  if (!address.startsWith('https://')) throw new StockguardError('STOCKGUARD_E_CONFIG', `STOCKGUARD_PUBLIC_URL must be https:// (Shopify delivers webhooks over HTTPS only), got ${JSON.stringify(publicUrl)}`);
  return address;
}

export function shopifyClient(settings: ShopifySettings, requestTimeoutMs: number): ShopifyReader {
  return new ShopifyReader({ settings, requestTimeoutMs }, (detail) => setupError(`Shopify: ${detail}`));
}

/** The app's subscriptions to stockguard's topics, every page. */
export async function listWebhookSubscriptions(client: ShopifyReader): Promise<WebhookSubscriptionView[]> {
  const found: WebhookSubscriptionView[] = [];
  let after: string | null = null;
  for (;;) {
    const data: ListData = await client.query<ListData>(LIST_WEBHOOK_SUBSCRIPTIONS, { first: 100, after, topics: [...SHOPIFY_SETUP_TOPICS] }, 2 + 100);
    found.push(...data.webhookSubscriptions.nodes);
    const { hasNextPage, endCursor } = data.webhookSubscriptions.pageInfo;
    if (!hasNextPage || endCursor === null) return found;
    after = endCursor;
  }
}

/** Checks each location as the pusher does before writing (exists, active, fulfils online orders). */
export async function checkShopifyLocations(settings: ShopifySettings, locationIds: readonly string[], requestTimeoutMs: number): Promise<LocationCheck[]> {
  if (locationIds.length === 0) return [];
  const pusher = new ShopifyPusher({ settings, metrics: createMetrics(), logger: createLogger({ level: 'silent' }), maxAttempts: 3, requestTimeoutMs });
  return pusher.checkLocations([...new Set(locationIds)].sort());
}

export function describeLocation(check: LocationCheck): string {
  const name = check.name ? ` (${check.name})` : '';
  if (check.writable) return `${check.locationId}${name} is active and fulfils online orders`;
  const why = check.problem === 'unknown' ? 'is unknown to the shop' : check.problem === 'inactive' ? 'is inactive' : 'does not fulfil online orders';
  return `${check.locationId}${name} ${why}`;
}

export const LOCATION_FIX = 'activate the location and tick "Fulfill online orders from this location" in Shopify, or map its SKUs to another location (catalog import); stockguard never writes to it until then';

export async function setupShopify(options: {
  config: Pick<Config, 'shopify' | 'publicUrl' | 'pushers'>;
  /** The locations the catalogue maps (Shopify pushes go there). */
  locationIds: readonly string[];
  print: (line: string) => void;
}): Promise<ShopifySetupResult> {
  const { config, print } = options;
  if (!config.shopify) throw new StockguardError('STOCKGUARD_E_CONFIG', 'setup shopify needs SHOPIFY_STORE_DOMAIN and SHOPIFY_ACCESS_TOKEN (a token with the read_orders and read_inventory scopes)');
  const address = shopifyWebhookAddress(config.publicUrl);
  const client = shopifyClient(config.shopify, config.pushers.requestTimeoutMs);
  const existing = await listWebhookSubscriptions(client);

  const result: ShopifySetupResult = { address, subscriptions: [], elsewhere: [], locations: [], changed: false, ok: true };
  for (const topic of SHOPIFY_SETUP_TOPICS) {
    const mine = existing.filter((subscription) => subscription.topic === topic && subscription.uri === address);
    result.elsewhere.push(...existing.filter((subscription) => subscription.topic === topic && subscription.uri !== address));
    const [present] = mine;
    if (present && present.format === 'JSON') {
      result.subscriptions.push({ topic, id: present.id, action: 'present' });
      print(`  ${topic}: present (${present.id})`);
      continue;
    }
    if (present) {
      // stockguard parses JSON bodies only.
      const updated = await mutate(client, 'webhookSubscriptionUpdate', UPDATE_WEBHOOK_SUBSCRIPTION, { id: present.id, webhookSubscription: { format: 'JSON' } });
      result.subscriptions.push({ topic, id: updated.id, action: 'format-fixed' });
      result.changed = true;
      print(`  ${topic}: format ${present.format} changed to JSON (${updated.id})`);
      continue;
    }
    const created = await mutate(client, 'webhookSubscriptionCreate', CREATE_WEBHOOK_SUBSCRIPTION, { topic, webhookSubscription: { uri: address, format: 'JSON' } });
    result.subscriptions.push({ topic, id: created.id, action: 'created' });
    result.changed = true;
    print(`  ${topic}: created (${created.id})`);
  }
  for (const other of result.elsewhere) {
    print(`  note: ${other.topic} also goes to ${other.uri} (${other.id}); left alone — delete it if that address is no longer yours`);
  }

  result.locations = await checkShopifyLocations(config.shopify, options.locationIds, config.pushers.requestTimeoutMs);
  if (options.locationIds.length === 0) print('  locations: the catalogue maps none yet (run stockguard catalog discover and catalog import, then setup again)');
  for (const check of result.locations) {
    print(`  location ${describeLocation(check)}${check.writable ? '' : `\n    fix: ${LOCATION_FIX}`}`);
    if (!check.writable) result.ok = false;
  }
  print(result.changed ? `shopify: webhook subscriptions at ${address} set up` : `shopify: nothing to change — every subscription was already at ${address}`);
  return result;
}

async function mutate(client: ShopifyReader, field: 'webhookSubscriptionCreate' | 'webhookSubscriptionUpdate', document: string, variables: Record<string, unknown>): Promise<WebhookSubscriptionView> {
  const data = await client.query<Record<string, MutationPayload | null>>(document, variables, 10);
  const payload = data[field];
  const problems = payload?.userErrors ?? [];
  if (!payload?.webhookSubscription || problems.length > 0) {
    throw setupError(`Shopify ${field} refused: ${problems.map((error) => `${(error.field ?? []).join('.')}: ${error.message}`).join('; ') || 'no subscription returned'}`);
  }
  return payload.webhookSubscription;
}
