// What the channels are shown for a bundle (issue 14 §1): min over components of
// ⌊available ÷ per-bundle quantity⌋, then the channel policy; a component change reaches
// the bundle's listing; under a bounded allocation mode the bundle's listing is charged to
// the component, so the two listings together never promise more than the component has.
// Through the real @shopify/admin-api-client against the in-repo fake.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type ShopifyFake, startShopifyFake } from '../../src/sim/shopify/index.ts';
import { eventually, pushHarness, SHOPIFY_APP_SECRET, SHOPIFY_TOKEN } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('pushers: bundles');
const WAREHOUSE = 'gid://shopify/Location/2001';
const item = (n: number) => `gid://shopify/InventoryItem/${9_007_199_254_740_993n + BigInt(n)}`;

let redisHandle: TestRedis;
test.before(async () => {
  redisHandle = await startTestRedis();
});
test.after(async () => {
  await redisHandle.close();
});

async function withShopify(run: (fake: ShopifyFake) => Promise<void>): Promise<void> {
  const fake = await startShopifyFake({ accessToken: SHOPIFY_TOKEN, appSecret: SHOPIFY_APP_SECRET, shopDomain: 'stockguard-bundles.myshopify.com' });
  try {
    fake.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    await run(fake);
  } finally {
    await fake.close();
  }
}

test('a bundle is shown the whole bundles its components make, and follows a component change and a bundle sale', async () => {
  await withShopify(async (fake) => {
    for (const n of [1, 2, 3]) fake.stock(item(n), WAREHOUSE, { available: 0 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'MUG', shopify: { inventoryItemId: item(1), locationId: WAREHOUSE } }, 10);
      await harness.addSku({ sku: 'TEA', shopify: { inventoryItemId: item(2), locationId: WAREHOUSE } }, 3);
      await harness.catalog.put({ sku: 'GIFT-SET', holdback: 0, skuClass: 'default', policies: {}, shopify: { inventoryItemId: item(3), locationId: WAREHOUSE }, components: [{ sku: 'MUG', quantity: 1 }, { sku: 'TEA', quantity: 2 }] });
      assert.is(await harness.ledger.inventory('GIFT-SET'), undefined, 'a bundle has no ledger of its own');
      await harness.start();
      const level = (n: number) => fake.level(item(n), WAREHOUSE)?.available;
      // min(⌊10 ÷ 1⌋, ⌊3 ÷ 2⌋) = 1
      await eventually(() => [level(1), level(2), level(3)], (levels) => levels.join() === '10,3,1', 'MUG 10, TEA 3, GIFT-SET 1');
      // A receipt of the component only: the bundle's listing follows.
      await harness.ledger.adjust('TEA', { eventId: 'receipt-tea', delta: 6, cause: 'receipt' });
      await eventually(() => [level(2), level(3)], (levels) => levels.join() === '9,4', 'TEA 9, GIFT-SET 4 (⌊9 ÷ 2⌋)');
      // Two bundles sold: both components move, and so does every listing.
      await harness.ledger.reserveOrder({ channel: 'api', orderId: 'o-1', lines: [{ lineId: '1', sku: 'MUG', quantity: 2 }, { lineId: '1', sku: 'TEA', quantity: 4 }] });
      await eventually(() => [level(1), level(2), level(3)], (levels) => levels.join() === '8,5,2', 'MUG 8, TEA 5, GIFT-SET 2');
      // The component's stock runs out: the bundle shows 0.
      await harness.ledger.count('MUG', { eventId: 'count-mug', counted: 2 });
      await harness.ledger.adjust('MUG', { eventId: 'damage-mug', delta: -2, cause: 'adjustment' });
      await eventually(() => [level(1), level(3)], (levels) => levels.join() === '0,0', 'MUG 0, GIFT-SET 0');
    } finally {
      await harness.close();
    }
  });
});

test('under a bounded mode the bundle\'s listing is charged to the component: together they never promise more than on hand', async () => {
  await withShopify(async (fake) => {
    for (const n of [4, 5]) fake.stock(item(n), WAREHOUSE, { available: 0 });
    const harness = await pushHarness(redisHandle, { shopify: fake });
    try {
      await harness.addSku({ sku: 'LAMP', allocationMode: 'strict', shopify: { inventoryItemId: item(4), locationId: WAREHOUSE } }, 10);
      await harness.catalog.put({ sku: 'LAMP-PAIR', holdback: 0, skuClass: 'default', policies: {}, shopify: { inventoryItemId: item(5), locationId: WAREHOUSE }, components: [{ sku: 'LAMP', quantity: 2 }] });
      await harness.start();
      const promised = () => (fake.level(item(4), WAREHOUSE)?.available ?? 0) + 2 * (fake.level(item(5), WAREHOUSE)?.available ?? 0);
      await eventually(() => fake.level(item(5), WAREHOUSE)?.available, (pairs) => pairs === 5, 'LAMP-PAIR 5');
      await harness.coordinator.sweep();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      assert.ok(promised() <= 10, `LAMP ${fake.level(item(4), WAREHOUSE)?.available} + 2 × LAMP-PAIR ${fake.level(item(5), WAREHOUSE)?.available} promise more than the 10 on hand`);
      // Shared, the same two listings would promise 10 + 2 × 5 = 20 units of 10.
      await harness.ledger.reserveOrder({ channel: 'shopify', orderId: 'pair-1', lines: [{ lineId: '1', sku: 'LAMP', quantity: 2 }] });
      await eventually(() => fake.level(item(5), WAREHOUSE)?.available, (pairs) => pairs === 4, 'LAMP-PAIR 4 after a pair sold');
      await harness.coordinator.sweep();
      await eventually(() => harness.coordinator.isIdle(), Boolean, 'the pushers to go idle');
      assert.ok(promised() <= 8, `${promised()} units promised with 8 free`);
    } finally {
      await harness.close();
    }
  });
});

test.run();
