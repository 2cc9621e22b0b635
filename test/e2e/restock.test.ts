// Issue 11 §2: a Shopify cancel with restock of a line the ledger recorded OVERSOLD (it held
// nothing, so the release frees nothing and sellable does not move) must still reach
// Shopify: Shopify put the line's units back on its own counter, and shows stock the
// ledger does not have until it is told again. Run with and without Shopify's
// `inventory_levels/update` webhook; drift correction is set out of reach (600 s settle,
// no sweep) so only the cancellation itself can trigger the push.
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon, type Daemon } from '../../src/daemon.ts';
import { reservationId } from '../../src/ledger/reservationId.ts';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { eventually, NEVER, SHOPIFY_APP_SECRET, SHOPIFY_TOKEN } from '../helpers/pushers.ts';
import { startTestRedis } from '../helpers/redis.ts';

const WAREHOUSE = 'gid://shopify/Location/601';
const ITEM = 'gid://shopify/InventoryItem/660001';
const SKU = 'RESTOCK-TEE';
const test = suite('cancel with restock of an oversold line');

async function scenario(levelWebhooks: boolean): Promise<void> {
  const redis = await startTestRedis();
  let shopify: ShopifyFake | undefined;
  let daemon: Daemon | undefined;
  try {
    shopify = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: SHOPIFY_APP_SECRET, shopDomain: 'restock.myshopify.com', inventoryLevelWebhooks: levelWebhooks });
    shopify.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    const { variantId } = shopify.addItem({ id: ITEM, sku: null });
    shopify.stock(ITEM, WAREHOUSE, { available: 0 });
    const config = loadConfig({
      REDIS_URL: redis.url,
      STOCKGUARD_KEY_PREFIX: redis.prefix,
      STOCKGUARD_ROLES: 'http,consumers,pushers',
      STOCKGUARD_HTTP_HOST: '127.0.0.1',
      STOCKGUARD_HTTP_PORT: '0',
      SHOPIFY_APP_SECRET,
      STOCKGUARD_CONSUMER_NAME: `restock-${levelWebhooks ? 'levels' : 'no-levels'}`,
      SHOPIFY_STORE_DOMAIN: shopify.shopDomain,
      SHOPIFY_ACCESS_TOKEN: SHOPIFY_TOKEN,
      SHOPIFY_ADMIN_BASE_URL: shopify.url,
      STOCKGUARD_PUSH_SWEEP_CRON: NEVER,
      STOCKGUARD_PUSH_POLL_MS: '10',
      STOCKGUARD_DRIFT_SETTLE_SECONDS: '600',
    });
    const pushes: { cause: string; quantity: number; atMs: number }[] = [];
    daemon = await startDaemon({
      config,
      logger: pino({ level: 'silent' }),
      onPush: (event) => {
        if (event.outcome.kind === 'acked') pushes.push({ cause: event.cause, quantity: event.quantity, atMs: Date.now() });
      },
    });
    shopify.setWebhookUrl(`${daemon.http!.url}/webhooks/shopify`);
    const { ledger, catalog } = daemon.runtime;
    await catalog.put({ sku: SKU, holdback: 0, skuClass: 'default', policies: {}, shopify: { inventoryItemId: ITEM, locationId: WAREHOUSE, variantId } });
    await ledger.createSku(SKU);
    await ledger.count(SKU, { eventId: 'opening', counted: 10 });
    const shown = () => shopify!.level(ITEM, WAREHOUSE)?.available;
    await eventually(shown, (value) => value === 10, 'Shopify told 10');

    // A storefront sale of 4 whose webhook is late; meanwhile a checkout elsewhere takes all 10.
    const sale = await shopify.sellOnStorefront(ITEM, WAREHOUSE, 4, { webhooks: false });
    await ledger.reserveOrder({ channel: 'api', orderId: 'elsewhere', lines: [{ lineId: '1', sku: SKU, quantity: 10 }] });
    await eventually(shown, (value) => value === 0, 'Shopify told 0 once the ledger has nothing left');

    // The late webhook: the line is OVERSOLD and holds nothing.
    await shopify.emitWebhook('orders/create', shopify.orderCreatePayload(sale.order.id));
    const lineId = reservationId('shopify', `gid://shopify/Order/${sale.order.id}`, `gid://shopify/LineItem/${sale.order.lines[0]!.lineItemId}`);
    const record = await eventually(() => ledger.reservations(SKU).then((records) => records.find((candidate) => candidate.reservationId === lineId)), Boolean, 'the oversold line');
    assert.is(record!.openUnits, 0, 'the oversold line holds nothing');
    assert.is((await ledger.inventory(SKU))!.oversold, 4);
    // The sale made Shopify subtract 4 from the 0 it was told: it is told 0 again (a resync),
    // and that push is the newest one when the cancellation comes.
    await eventually(() => pushes.some((push) => push.cause === 'resync'), Boolean, 'the resync after the oversold sale');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const pushesBefore = pushes.length;
    assert.is(shown(), 0);

    // The merchant cancels it with restock (what the oversold runbook says): Shopify shows 4 again.
    await shopify.cancelStorefrontOrder(sale.order.id);
    await eventually(() => ledger.journal(SKU).then((lines) => lines.some((line) => line.cause === 'release' && line.ref === lineId)), Boolean, 'the cancellation in the ledger');
    const inventory = (await ledger.inventory(SKU))!;
    assert.is(inventory.onHand - inventory.reserved, 0, 'the release freed nothing: sellable is still 0');
    // The cancellation alone makes the pushers tell Shopify again.
    await eventually(shown, (value) => value === 0, `Shopify back at sellable 0 after the restock (level webhooks ${levelWebhooks ? 'on' : 'off'})`);
    await eventually(() => pushes.length > pushesBefore, Boolean, 'the push after the cancellation reported');
  } finally {
    await daemon?.stop();
    await shopify?.close();
    await redis.close();
  }
}

test('without the inventory_levels/update webhook, the cancellation is pushed', () => scenario(false));
test('with the inventory_levels/update webhook, the cancellation is pushed before any drift window', () => scenario(true));

test.run();
