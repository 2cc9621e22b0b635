// The chaos harness's reservation watch (src/chaos/checker.ts, ReservationWatch) on a real
// Redis, at the size of a 1M-operation run: its first call sees ~670,000 accepted orders at
// once. It once spread them as call arguments, which overflows the stack past ~120,000, so
// every call threw and such a run never saw its ledger quiet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReservationWatch } from '../../src/chaos/checker.ts';
import type { ChannelOrder } from '../../src/chaos/load.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import type { Runtime } from '../../src/main.ts';
import { startTestRedis } from '../helpers/redis.ts';

const redis = await startTestRedis();
const client = redis.client();
const ledger = new Ledger({ redis: client, keyPrefix: redis.prefix });
const runtime = { ledger, redis: client } as unknown as Runtime;

function order(channel: 'shopify' | 'amazon', orderId: string, sku: string): ChannelOrder {
  return { channel, orderId, lineId: '1', shopifyOrderId: undefined, sku, quantity: 1, acceptedAtMs: 0, cancelled: false, shipped: false, openIndex: -1 };
}

test('200,000 orders at the first call: all reserved is seen, one missing is counted, then found', async () => {
  for (const sku of ['W-1', 'W-2']) {
    await ledger.createSku(sku, { counted: 10, eventId: `count:${sku}` });
  }
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-1', lines: [{ lineId: '1', sku: 'W-1', quantity: 1 }] });
  await ledger.reserveOrder({ channel: 'amazon', orderId: '111-1', lines: [{ lineId: '1', sku: 'W-2', quantity: 1 }] });
  const orders = Array.from({ length: 200_000 }, (_, index) => (index % 2 === 0 ? order('shopify', 'o-1', 'W-1') : order('amazon', '111-1', 'W-2')));
  const watch = new ReservationWatch(orders, runtime);
  assert.is(await watch.allSeen(), true);
  assert.is(watch.missing, 0);

  orders.push(order('shopify', 'o-2', 'W-1'));
  assert.is(await watch.allSeen(), false);
  assert.is(watch.missing, 1, 'the order not reserved yet');
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-2', lines: [{ lineId: '1', sku: 'W-1', quantity: 1 }] });
  assert.is(await watch.allSeen(), true);
});

test.after(async () => {
  client.disconnect();
  await redis.close();
});

test.run();
