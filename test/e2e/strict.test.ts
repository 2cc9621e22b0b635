// Issue 12: a flash sale on 3 hot SKUs in strict mode, through the public paths only
// (Shopify webhooks over HTTP, Amazon ORDER_CHANGE and LISTINGS_ITEM_MFN_QUANTITY_CHANGE over
// SQS), with Amazon applying each accepted PATCH 2 s later and delivering its notifications
// up to half a second late. Buyers buy only what each channel shows. strict must oversell
// nothing, and at the end the ledger and the channels agree. The system is set up by
// src/sim/flashCell.ts (the same setup as the allocation benchmark's e2e cells).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type FlashCell, startFlashCell } from '../../src/sim/flashCell.ts';
import { eventually } from '../helpers/pushers.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const STOCK = [24, 30, 18];
const test = suite('strict mode under a flash sale');

let redis: TestRedis;
let cell: FlashCell;

test.before(async () => {
  redis = await startTestRedis();
  cell = await startFlashCell({
    redisUrl: redis.url,
    keyPrefix: redis.prefix,
    stock: STOCK,
    allocationMode: 'strict',
    skuPrefix: 'STRICT-HOT',
    shopifyDeliveryLag: { minMs: 20, maxMs: 300, seed: 3 },
    amazonApplyLag: 2_000,
    amazonDeliveryLag: { minMs: 50, maxMs: 500, seed: 4 },
    // The blind windows this test keeps to: every sale arrives within 5 s, every write applies within 10 s.
    bounds: { shopifyDeliverySeconds: 5, amazonDeliverySeconds: 5, amazonApplySeconds: 10 },
  });
});

test.after(async () => {
  await cell?.close();
  await redis?.close();
});

test('strict: 0 units oversold with a 2 s Amazon apply lag, and the ledger and the channels agree at the end', async () => {
  const { entries, shown, daemon } = cell;
  // The opening push: strict splits each SKU's stock between the channels, never more in all.
  await cell.waitForOpening(30_000);
  for (const [index, entry] of entries.entries()) {
    const { shopify: onShopify, amazon: onAmazon } = shown(entry);
    assert.ok(onShopify + onAmazon <= STOCK[index]!, `${entry.sku}: the channels show ${onShopify} + ${onAmazon} of ${STOCK[index]}`);
  }

  // The sale: 6 s of buyers on both storefronts, 40 attempts/s per SKU; a channel refuses what it does not show.
  const tally = await cell.runBuyers({ velocityPerSku: 40, durationMs: 6_000, shopifyShare: 0.5, twoUnitShare: 0.15, seed: 12 });
  await cell.waitUntilQuiet(60_000);

  let totalSold = 0;
  for (const [index, entry] of entries.entries()) {
    const { shopify: onShopify, amazon: onAmazon } = tally.sold.get(entry.sku)!;
    const units = onShopify + onAmazon;
    totalSold += units;
    // Ground truth: the channels together never accepted more than the warehouse had.
    assert.ok(units <= STOCK[index]!, `${entry.sku}: the channels sold ${units} of ${STOCK[index]}`);
    const inventory = (await daemon.runtime.ledger.inventory(entry.sku))!;
    assert.is(inventory.oversold, 0, `${entry.sku}: nothing recorded oversold`);
    assert.is(inventory.reserved, units, `${entry.sku}: every sale reached the ledger`);
  }
  assert.ok(totalSold > 0, 'the sale sold something');

  // The end: every channel shows no more than the ledger can still sell, and together no more.
  for (const entry of entries) {
    await eventually(
      async () => {
        const inventory = (await daemon.runtime.ledger.inventory(entry.sku))!;
        const { shopify: onShopify, amazon: onAmazon } = shown(entry);
        return { available: inventory.onHand - inventory.reserved, onShopify, onAmazon };
      },
      ({ available, onShopify, onAmazon }) => onShopify + onAmazon <= available && (available > 0 || onShopify + onAmazon === 0),
      `${entry.sku}: the channels agree with the ledger`,
      30_000,
    );
  }
});

test.run();
