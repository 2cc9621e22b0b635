// What the demo and the chaos harness both need around the fakes: the environment that
// points `stockguard serve` at them, what each channel should show (sellable(c) as the
// pushers compute it), and a bounded wait. Development code: the daemon never imports it.
import type { Catalog } from '../catalog/catalog.ts';
import type { CatalogEntry } from '../catalog/entry.ts';
import { sellable } from '../domain/sellable.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { RedisClient } from '../redis/client.ts';
import { PushStore } from '../pushers/index.ts';
import type { AmazonFake } from './amazon/index.ts';
import type { ShopifyFake } from './shopify/index.ts';

export const FAKE_SELLER = 'A3TH9S8BH6GOGM';
export const FAKE_MARKETPLACE = 'ATVPDKIKX0DER';
export const FAKE_LOCATION = 'gid://shopify/Location/76543210987';

export interface FakeCredentials {
  shopifyToken: string;
  appSecret: string;
  wms: string;
  api: string;
  lwa: { clientId: string; clientSecret: string; refreshToken: string };
}

/** The configuration (environment) that connects stockguard to the Shopify, Amazon and SQS fakes. */
export function fakeChannelsEnv(options: { shopify: ShopifyFake; amazon: AmazonFake; sqs: { queueUrl: string; endpoint: string }; credentials: FakeCredentials }): Record<string, string> {
  const { shopify, amazon, sqs, credentials } = options;
  return {
    SHOPIFY_APP_SECRET: credentials.appSecret,
    STOCKGUARD_WMS_WEBHOOK_SECRET: credentials.wms,
    STOCKGUARD_API_TOKEN: credentials.api,
    AMAZON_SQS_QUEUE_URL: sqs.queueUrl,
    AMAZON_SQS_ENDPOINT: sqs.endpoint,
    STOCKGUARD_SQS_WAIT_SECONDS: '1',
    SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
    SHOPIFY_ACCESS_TOKEN: credentials.shopifyToken,
    SHOPIFY_ADMIN_BASE_URL: shopify.url,
    AMAZON_SELLER_ID: FAKE_SELLER,
    AMAZON_MARKETPLACE_IDS: FAKE_MARKETPLACE,
    AMAZON_LWA_CLIENT_ID: credentials.lwa.clientId,
    AMAZON_LWA_CLIENT_SECRET: credentials.lwa.clientSecret,
    AMAZON_LWA_REFRESH_TOKEN: credentials.lwa.refreshToken,
    AMAZON_LWA_TOKEN_URL: amazon.lwaTokenUrl,
    AMAZON_SP_API_ENDPOINT: amazon.url,
  };
}

/**
 * What each channel should show: sellable(c) from the ledger, the static holdback plus the
 * pushers' dynamic holdback, and the channel policy; `inSync` when every channel shows it
 * (FBA listings are Amazon's and never compared).
 */
export function channelTargets(options: { redis: RedisClient; ledger: Ledger; catalog: Catalog; shopify: ShopifyFake; amazon: AmazonFake; entries: readonly CatalogEntry[] }) {
  const { ledger, catalog, shopify, amazon, entries } = options;
  const pushStore = new PushStore(options.redis, ledger.keys, ledger);
  const expected = async (entry: CatalogEntry, channel: 'shopify' | 'amazon'): Promise<number> => {
    const inventory = (await ledger.inventory(entry.sku))!;
    const dynamic = (await pushStore.view(entry.sku)).state.dynamicHoldback;
    return sellable({ ...inventory, holdback: inventory.holdback + dynamic }, catalog.policyFor(entry, channel));
  };
  const inSync = async (): Promise<boolean> => {
    for (const entry of entries) {
      if (shopify.level(entry.shopify!.inventoryItemId, entry.shopify!.locationId)?.available !== (await expected(entry, 'shopify'))) return false;
      if (entry.amazon?.fulfillment === 'MFN' && amazon.quantity(entry.amazon.sellerSku) !== (await expected(entry, 'amazon'))) return false;
    }
    return true;
  };
  return { expected, inSync };
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  }
}
