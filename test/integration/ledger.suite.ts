// The ledger suite. It runs twice: against a single private redis-server
// (ledger.single.test.ts) and against a local 3-master Redis Cluster
// (ledger.cluster.test.ts), because the same code must work on both (invariant I7).
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isStockguardError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { reservationId } from '../../src/ledger/reservationId.ts';
import { LedgerStatus } from '../../src/ledger/status.ts';
import { readLedgerBatch } from '../../src/reconcile/readLedger.ts';
import { skusSharingAPartition } from '../helpers/layout.ts';
import { patchInventory } from '../helpers/inventory.ts';

export interface LedgerTarget {
  prefix: string;
  client(): Redis | Cluster;
  close(): Promise<void>;
}

export function defineLedgerSuite(name: string, start: () => Promise<LedgerTarget>): void {
  const test = suite(`ledger on ${name}`);
  let target: LedgerTarget;
  let redis: Redis | Cluster;
  let clockMs = 1_700_000_000_000;
  const clock = () => clockMs;
  let ledger: Ledger;

  const newSku = (label: string) => `${label}-${randomUUID().slice(0, 8)}`;
  async function stockedSku(label: string, onHand: number): Promise<string> {
    const sku = newSku(label);
    await ledger.createSku(sku);
    if (onHand > 0) await ledger.adjust(sku, { eventId: `initial-${sku}`, delta: onHand, cause: 'receipt' });
    return sku;
  }
  async function stateOf(sku: string) {
    return {
      inventory: await ledger.inventory(sku),
      reservations: await ledger.reservations(sku),
      journal: await ledger.journal(sku),
    };
  }

  test.before(async () => {
    target = await start();
    redis = target.client();
    ledger = new Ledger({ redis, keyPrefix: target.prefix, clock });
  });
  test.after(async () => {
    await target.close();
  });

  test('a new SKU starts at zero and a receipt adds stock', async () => {
    const sku = newSku('new');
    const created = await ledger.createSku(sku);
    assert.is(created.status, LedgerStatus.CREATED);
    assert.is((await ledger.createSku(sku)).status, LedgerStatus.EXISTS);
    const received = await ledger.adjust(sku, { eventId: 'rcpt-1', delta: 12, cause: 'receipt' });
    assert.is(received.status, LedgerStatus.APPLIED);
    assert.equal(await ledger.inventory(sku), { onHand: 12, reserved: 0, holdback: 0, oversold: 0, version: 2 });
  });

  test('a SKU created with its initial count: both journaled in one call, no event mark, a second call changes nothing', async () => {
    const sku = newSku('initial');
    const created = await ledger.createSku(sku, { counted: 24, eventId: `catalog-import:${sku}` });
    assert.is(created.status, LedgerStatus.CREATED);
    assert.equal([created.inventory.onHand, created.inventory.version], [24, 2]);
    const journal = await ledger.journal(sku);
    assert.equal(journal.map((entry) => [entry.cause, entry.event, entry.dOnHand, entry.onHand]), [['create', 'create', 0, 0], ['count', `catalog-import:${sku}`, 24, 24]]);
    assert.is(await redis.exists(ledger.keys.sku(sku).eventMarks), 0, 'no event mark: the SKU existing is what keeps it from counting twice');
    const again = await ledger.createSku(sku, { counted: 99, eventId: `catalog-import:${sku}` });
    assert.equal([again.status, again.inventory.onHand, again.inventory.version], [LedgerStatus.EXISTS, 24, 2]);
    assert.is((await ledger.journal(sku)).length, 2);
    try {
      await ledger.createSku(newSku('initial-bad'), { counted: -1, eventId: 'x' });
      assert.unreachable('a negative count is refused');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_BAD_QUANTITY'), String(error));
    }
  });

  test('1,000 concurrent reserves of 1 unit against on_hand 100 from many connections: exactly 100 reserved', async () => {
    const sku = await stockedSku('flash', 100);
    const connections = Array.from({ length: 16 }, () => target.client());
    const ledgers = connections.map((client) => new Ledger({ redis: client, keyPrefix: target.prefix, clock }));
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        ledgers[i % ledgers.length]!.reserveOrder({ channel: ['shopify', 'amazon', 'api'][i % 3]!, orderId: `o${i}`, lines: [{ lineId: '1', sku, quantity: 1 }] }),
      ),
    );
    const statuses = results.map((lines) => lines[0]!.status);
    assert.is(statuses.filter((status) => status === LedgerStatus.RESERVED).length, 100);
    assert.is(statuses.filter((status) => status === LedgerStatus.OVERSOLD).length, 900);
    const inventory = await ledger.inventory(sku);
    assert.is(inventory?.reserved, 100);
    assert.is(inventory?.oversold, 900);
    assert.is(inventory?.onHand, 100);
    const open = (await ledger.reservations(sku)).reduce((sum, record) => sum + record.openUnits, 0);
    assert.is(open, 100);
    await Promise.all(connections.map((client) => client.quit()));
  });

  test('the same SKU twice in one order against stock for one line: one reserved, one oversold', async () => {
    const sku = await stockedSku('twice', 1);
    const lines = await ledger.reserveOrder({
      channel: 'shopify',
      orderId: '1001',
      lines: [
        { lineId: 'a', sku, quantity: 1 },
        { lineId: 'b', sku, quantity: 1 },
      ],
    });
    assert.equal(
      lines.map((line) => [line.lineId, line.status, line.held, line.shortfall]),
      [
        ['a', LedgerStatus.RESERVED, 1, 0],
        ['b', LedgerStatus.OVERSOLD, 0, 1],
      ],
    );
    const inventory = await ledger.inventory(sku);
    assert.is(inventory?.reserved, 1);
    assert.is(inventory?.oversold, 1);
  });

  test('a line larger than what is left holds the rest and records the shortfall', async () => {
    const sku = await stockedSku('partial', 2);
    const [line] = await ledger.reserveOrder({ channel: 'amazon', orderId: '114-1', lines: [{ lineId: '1', sku, quantity: 3 }] });
    assert.equal([line!.status, line!.held, line!.shortfall], [LedgerStatus.OVERSOLD, 2, 1]);
    assert.equal(await ledger.inventory(sku), { onHand: 2, reserved: 2, holdback: 0, oversold: 1, version: 3 });
  });

  test('a multi-SKU order: one SKU oversold does not stop the other from being reserved', async () => {
    const scarce = await stockedSku('scarce', 0);
    const plenty = await stockedSku('plenty', 5);
    const lines = await ledger.reserveOrder({
      channel: 'shopify',
      orderId: '2001',
      lines: [
        { lineId: '1', sku: scarce, quantity: 1 },
        { lineId: '2', sku: plenty, quantity: 2 },
      ],
    });
    assert.equal(lines.map((line) => [line.sku, line.status]), [
      [scarce, LedgerStatus.OVERSOLD],
      [plenty, LedgerStatus.RESERVED],
    ]);
    assert.is((await ledger.inventory(plenty))?.reserved, 2);
    assert.is((await ledger.inventory(scarce))?.oversold, 1);
  });

  test('reserving the same reservation id again changes nothing', async () => {
    const sku = await stockedSku('dup', 5);
    const order = { channel: 'shopify', orderId: '3001', lines: [{ lineId: '1', sku, quantity: 2 }] };
    await ledger.reserveOrder(order);
    const before = await stateOf(sku);
    const [again] = await ledger.reserveOrder(order);
    assert.equal([again!.status, again!.held, again!.shortfall], [LedgerStatus.DUPLICATE, 2, 0]);
    assert.equal(await stateOf(sku), before);
  });

  test('release returns held units once; a cancel before the reserve makes the reserve hold nothing', async () => {
    const sku = await stockedSku('release', 5);
    await ledger.reserveOrder({ channel: 'shopify', orderId: '4001', lines: [{ lineId: '1', sku, quantity: 3 }] });
    const id = reservationId('shopify', '4001', '1');
    const released = await ledger.release(sku, id);
    assert.equal([released.status, released.released, released.inventory.reserved], [LedgerStatus.RELEASED, 3, 0]);
    assert.is((await ledger.release(sku, id)).status, LedgerStatus.DUPLICATE);

    const early = reservationId('shopify', '4002', '1');
    assert.is((await ledger.release(sku, early)).status, LedgerStatus.PENDING);
    const [late] = await ledger.reserveOrder({ channel: 'shopify', orderId: '4002', lines: [{ lineId: '1', sku, quantity: 2 }] });
    assert.is(late!.status, LedgerStatus.CANCELLED);
    assert.is((await ledger.inventory(sku))?.reserved, 0);
  });

  test('partial shipments move on_hand and reserved, idempotent on the shipment id', async () => {
    const sku = await stockedSku('ship', 10);
    await ledger.reserveOrder({ channel: 'amazon', orderId: '5001', lines: [{ lineId: '1', sku, quantity: 4 }] });
    const id = reservationId('amazon', '5001', '1');
    const first = await ledger.ship(sku, { shipmentId: 'shp-1', reservationId: id, quantity: 1 });
    assert.equal([first.status, first.inventory.onHand, first.inventory.reserved], [LedgerStatus.APPLIED, 9, 3]);
    assert.is((await ledger.ship(sku, { shipmentId: 'shp-1', reservationId: id, quantity: 1 })).status, LedgerStatus.DUPLICATE);
    const second = await ledger.ship(sku, { shipmentId: 'shp-2', reservationId: id, quantity: 3 });
    assert.equal([second.inventory.onHand, second.inventory.reserved], [6, 0]);
    if (second.status !== LedgerStatus.APPLIED) throw new Error('expected APPLIED');
    assert.is(second.reservationState, LedgerStatus.SHIPPED);
    try {
      await ledger.ship(sku, { shipmentId: 'shp-2', reservationId: id, quantity: 2 });
      assert.unreachable('a reused shipment id with another quantity must be refused');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFLICT'), String(error));
    }
    assert.equal(await ledger.inventory(sku), { onHand: 6, reserved: 0, holdback: 0, oversold: 0, version: 5 });
  });

  test('a shipment that arrives before its reservation converges once the reserve arrives', async () => {
    const sku = await stockedSku('early-ship', 5);
    const id = reservationId('shopify', '6001', '1');
    const shipped = await ledger.ship(sku, { shipmentId: 'shp-e', reservationId: id, quantity: 2 });
    assert.equal([shipped.inventory.onHand, shipped.inventory.reserved], [3, 0]);
    const [line] = await ledger.reserveOrder({ channel: 'shopify', orderId: '6001', lines: [{ lineId: '1', sku, quantity: 2 }] });
    assert.equal([line!.status, line!.shortfall], [LedgerStatus.SHIPPED, 0]);
    const inventory = await ledger.inventory(sku);
    assert.equal([inventory?.onHand, inventory?.reserved, inventory?.oversold], [3, 0, 0]);
  });

  test('adjustments and counts are idempotent on the event id and journaled as deltas', async () => {
    const sku = await stockedSku('count', 10);
    await ledger.adjust(sku, { eventId: 'adj-1', delta: -3, cause: 'adjustment' });
    assert.is((await ledger.adjust(sku, { eventId: 'adj-1', delta: -3, cause: 'adjustment' })).status, LedgerStatus.DUPLICATE);
    const counted = await ledger.count(sku, { eventId: 'cc-1', counted: 4 });
    if (counted.status !== LedgerStatus.APPLIED) throw new Error('expected APPLIED');
    assert.is(counted.delta, -3);
    assert.is((await ledger.count(sku, { eventId: 'cc-1', counted: 4 })).status, LedgerStatus.DUPLICATE);
    try {
      await ledger.count(sku, { eventId: 'cc-1', counted: 9 });
      assert.unreachable('a reused count id with another count must be refused');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_CONFLICT'), String(error));
    }
    const journal = await ledger.journal(sku);
    assert.equal(
      journal.map((entry) => [entry.cause, entry.event, entry.dOnHand]),
      [
        ['create', 'create', 0],
        ['receipt', `initial-${sku}`, 10],
        ['adjustment', 'adj-1', -3],
        ['count', 'cc-1', -3],
      ],
    );
    assert.is((await ledger.inventory(sku))?.onHand, 4);
  });

  test('every change is journaled with the injected time and marks the SKU dirty', async () => {
    const sku = await stockedSku('journal', 3);
    clockMs += 60_000;
    await ledger.setHoldback(sku, 2, 'cli');
    assert.is((await ledger.setHoldback(sku, 2, 'cli')).status, LedgerStatus.UNCHANGED);
    const journal = await ledger.journal(sku);
    const last = journal.at(-1)!;
    assert.equal([last.cause, last.event, last.dHoldback, last.atMs], ['holdback', 'cli', 2, clockMs]);
    assert.ok(last.id.startsWith(`${clockMs}-`), `journal id ${last.id} comes from the injected clock`);
    assert.is(journal.length, 3);
    assert.ok((await redis.zscore(ledger.keys.dirtySkus(), sku)) !== null, 'the SKU is in the dirty index');
  });

  test('a clock that steps back cannot break the journal', async () => {
    const sku = await stockedSku('clock', 3);
    clockMs -= 3_600_000;
    await ledger.adjust(sku, { eventId: 'back-1', delta: 1, cause: 'receipt' });
    clockMs += 3_600_000;
    const journal = await ledger.journal(sku);
    assert.is(journal.length, 3);
    assert.is((await ledger.inventory(sku))?.onHand, 4);
  });

  test('two SKUs of one layout partition share its journal: each one\'s journal, as-of reads and replay (I4) are exactly its own', async () => {
    const [first, second] = skusSharingAPartition(`shared-${randomUUID().slice(0, 8)}`);
    const skus = [first!, second!];
    assert.is(ledger.keys.sku(first!).journal, ledger.keys.sku(second!).journal);
    for (const sku of skus) await ledger.createSku(sku);
    // Interleaved, some in the same ms (ids then differ by their seq only).
    await ledger.adjust(first!, { eventId: 'rcpt-a', delta: 10, cause: 'receipt' });
    await ledger.adjust(second!, { eventId: 'rcpt-b', delta: 20, cause: 'receipt' });
    clockMs += 1_000;
    const asOfMs = clockMs;
    clockMs += 1_000;
    await ledger.reserveOrder({ channel: 'shopify', orderId: 'shared-1', lines: [{ lineId: '1', sku: first!, quantity: 3 }, { lineId: '2', sku: second!, quantity: 4 }] });
    await ledger.ship(second!, { shipmentId: 'ship-b', reservationId: 'shopify:shared-1:2', quantity: 4 });
    await ledger.adjust(first!, { eventId: 'adj-a', delta: -2, cause: 'adjustment' });
    await ledger.count(second!, { eventId: 'count-b', counted: 11 });
    await ledger.release(first!, 'shopify:shared-1:1');

    const journals = [await ledger.journal(first!), await ledger.journal(second!)];
    assert.equal(journals[0]!.map((entry) => entry.event), ['create', 'rcpt-a', 'shopify:shared-1:1', 'adj-a', 'shopify:shared-1:1']);
    assert.equal(journals[1]!.map((entry) => entry.event), ['create', 'rcpt-b', 'shopify:shared-1:2', 'ship-b', 'count-b']);
    const partition = await redis.xrange(ledger.keys.sku(first!).journal, '-', '+');
    const ids = partition.map(([id]) => id);
    for (const journal of journals) for (const entry of journal) assert.ok(ids.includes(entry.id), entry.id);
    assert.ok(partition.every(([, fields]) => fields[0] === 'sku'), 'every entry names its SKU');
    for (const [index, sku] of skus.entries()) {
      const inventory = (await ledger.inventory(sku))!;
      const journal = journals[index]!;
      const sum = (pick: (entry: (typeof journal)[number]) => number) => journal.reduce((total, entry) => total + pick(entry), 0);
      assert.is(sum((entry) => entry.dOnHand), inventory.onHand, `${sku}: Σ journaled on_hand deltas = on_hand`);
      assert.is(sum((entry) => entry.dReserved), inventory.reserved, `${sku}: Σ journaled reserved deltas = reserved`);
      assert.is(sum((entry) => entry.dOversold), inventory.oversold);
      // Paging: one entry at a time, after the last id seen, gives the same entries.
      const paged: string[] = [];
      let afterId: string | undefined;
      for (;;) {
        const [next] = await ledger.journal(sku, { afterId, count: 1 });
        if (!next) break;
        paged.push(next.id);
        afterId = next.id;
      }
      assert.equal(paged, journal.map((entry) => entry.id));
    }
    assert.equal([(await ledger.inventory(first!))!.onHand, (await ledger.inventory(second!))!.onHand], [8, 11]);
    // The reconciliation's as-of reads: only each SKU's own changes after the as-of.
    const readings = await readLedgerBatch(redis, ledger.keys, skus, { asOfMs, settleEndMs: clockMs });
    assert.equal(readings.map((reading) => [reading.sku, reading.onHandChangesAfter, reading.wmsChangesInSettleWindow]), [
      [first, -2, 1],
      [second, -4 - 5, 2],
    ]);
  });

  test('a clock that steps back in a shared layout partition never fails an XADD; ids stay above at_ms', async () => {
    const [ahead, behind] = skusSharingAPartition(`stepped-${randomUUID().slice(0, 8)}`);
    await ledger.createSku(ahead!);
    await ledger.createSku(behind!);
    // One replica's clock runs an hour ahead: its entry holds the partition's last id.
    clockMs += 3_600_000;
    await ledger.adjust(ahead!, { eventId: 'ahead-1', delta: 5, cause: 'receipt' });
    clockMs -= 3_600_000;
    const asOfMs = clockMs;
    clockMs += 1;
    const received = await ledger.adjust(behind!, { eventId: 'behind-1', delta: 7, cause: 'receipt' });
    assert.is(received.status, LedgerStatus.APPLIED);
    await ledger.reserveOrder({ channel: 'api', orderId: 'behind-2', lines: [{ lineId: '1', sku: behind!, quantity: 1 }, { lineId: '2', sku: behind!, quantity: 1 }] });
    const journal = await ledger.journal(behind!);
    assert.equal(journal.map((entry) => entry.event), ['create', 'behind-1', 'api:behind-2:1', 'api:behind-2:2']);
    for (const entry of journal) assert.ok(Number(entry.id.split('-')[0]) >= entry.atMs, `${entry.id} is not below at_ms ${entry.atMs}`);
    assert.ok(Number(journal[1]!.id.split('-')[0]) >= clockMs + 3_600_000 - 1, 'the id follows the partition\'s last one, not the stepped-back clock');
    assert.is(journal[1]!.atMs, clockMs, 'at_ms keeps the writer\'s own time');
    const [reading] = await readLedgerBatch(redis, ledger.keys, [behind!], { asOfMs, settleEndMs: asOfMs });
    assert.is(reading!.onHandChangesAfter, 7, 'an as-of read compares at_ms: the receipt after the as-of is taken back');
  });

  test('bad input is refused with coded errors and changes nothing', async () => {
    const sku = await stockedSku('bad', 5);
    const before = await stateOf(sku);
    const cases: [string, () => Promise<unknown>, string][] = [
      ['zero quantity', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b1', lines: [{ lineId: '1', sku, quantity: 0 }] }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['negative quantity', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b2', lines: [{ lineId: '1', sku, quantity: -2 }] }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['fractional quantity', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b3', lines: [{ lineId: '1', sku, quantity: 1.5 }] }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['NaN quantity', () => ledger.ship(sku, { shipmentId: 's', reservationId: 'r', quantity: Number.NaN }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['one bad line among good ones', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b4', lines: [{ lineId: '1', sku, quantity: 1 }, { lineId: '2', sku, quantity: 0 }] }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['empty order id', () => ledger.reserveOrder({ channel: 'shopify', orderId: '', lines: [{ lineId: '1', sku, quantity: 1 }] }), 'STOCKGUARD_E_EMPTY_ID'],
      ['empty line id', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b5', lines: [{ lineId: '', sku, quantity: 1 }] }), 'STOCKGUARD_E_EMPTY_ID'],
      ['empty reservation id', () => ledger.release(sku, ''), 'STOCKGUARD_E_EMPTY_ID'],
      ['empty shipment id', () => ledger.ship(sku, { shipmentId: '', reservationId: 'r', quantity: 1 }), 'STOCKGUARD_E_EMPTY_ID'],
      ['empty event id', () => ledger.adjust(sku, { eventId: '', delta: 1, cause: 'receipt' }), 'STOCKGUARD_E_EMPTY_ID'],
      ['zero adjustment', () => ledger.adjust(sku, { eventId: 'z', delta: 0, cause: 'adjustment' }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['negative receipt', () => ledger.adjust(sku, { eventId: 'n', delta: -1, cause: 'receipt' }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['negative count', () => ledger.count(sku, { eventId: 'c', counted: -1 }), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['negative holdback', () => ledger.setHoldback(sku, -1), 'STOCKGUARD_E_BAD_QUANTITY'],
      ['empty SKU', () => ledger.adjust('', { eventId: 'e', delta: 1, cause: 'receipt' }), 'STOCKGUARD_E_BAD_SKU'],
      ['SKU with a brace', () => ledger.adjust('a}b', { eventId: 'e', delta: 1, cause: 'receipt' }), 'STOCKGUARD_E_BAD_SKU'],
      ['no lines', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'b6', lines: [] }), 'STOCKGUARD_E_BAD_ARGUMENT'],
    ];
    for (const [label, call, code] of cases) {
      try {
        await call();
        assert.unreachable(`${label} must be refused`);
      } catch (error) {
        assert.ok(isStockguardError(error), `${label}: expected a coded error, got ${String(error)}`);
        assert.is(error.code, code, label);
      }
    }
    assert.equal(await stateOf(sku), before);
  });

  test('an unknown SKU is a coded error and creates nothing', async () => {
    const ghost = newSku('ghost');
    const calls: [string, () => Promise<unknown>][] = [
      ['reserve', () => ledger.reserveOrder({ channel: 'shopify', orderId: 'g1', lines: [{ lineId: '1', sku: ghost, quantity: 1 }] })],
      ['release', () => ledger.release(ghost, 'shopify:g1:1')],
      ['ship', () => ledger.ship(ghost, { shipmentId: 's', reservationId: 'shopify:g1:1', quantity: 1 })],
      ['adjust', () => ledger.adjust(ghost, { eventId: 'e', delta: 1, cause: 'receipt' })],
      ['count', () => ledger.count(ghost, { eventId: 'e', counted: 1 })],
      ['holdback', () => ledger.setHoldback(ghost, 1)],
    ];
    for (const [label, call] of calls) {
      try {
        await call();
        assert.unreachable(`${label} on an unknown SKU must be refused`);
      } catch (error) {
        assert.ok(isStockguardError(error, 'STOCKGUARD_E_UNKNOWN_SKU'), `${label}: ${String(error)}`);
      }
    }
    const keys = ledger.keys.sku(ghost);
    assert.is(await redis.hexists(keys.inventoryBucket, ghost), 0);
    assert.is(await redis.exists(keys.reservations, keys.eventMarks), 0);
    assert.equal(await ledger.journal(ghost), [], 'nothing journaled (the partition journal may hold other SKUs)');
  });

  test('property: duplicated calls have the effect of one call (idempotency)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 8 }),
        fc.array(fc.record({ quantity: fc.integer({ min: 1, max: 4 }), shipped: fc.nat({ max: 4 }), cancel: fc.boolean() }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 12, maxLength: 12 }),
        async (stock, orders, repeats) => {
          const once = await stockedSku('idem-a', stock);
          const many = await stockedSku('idem-b', stock);
          const events = orderEvents(orders);
          for (const event of events) await applyEvent(ledger, once, event);
          for (const [index, event] of events.entries()) {
            for (let i = 0; i < repeats[index % repeats.length]!; i += 1) await applyEvent(ledger, many, event);
          }
          assert.equal(await comparable(ledger, many), await comparable(ledger, once));
        },
      ),
      { numRuns: 25 },
    );
  });

  test('property: any permutation of one order\'s events converges to the same state (I5)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 6 }),
        fc.record({ quantity: fc.integer({ min: 1, max: 5 }), shipments: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 }), cancel: fc.boolean() }),
        fc.nat({ max: 3 }),
        fc.func(fc.integer()),
        async (stock, order, otherReserved, shuffleKey) => {
          const events: LedgerEvent[] = [{ kind: 'reserve', order: 'p', quantity: order.quantity }];
          order.shipments.forEach((quantity, index) => events.push({ kind: 'ship', order: 'p', shipment: `p-${index}`, quantity }));
          if (order.cancel) events.push({ kind: 'cancel', order: 'p' });
          const permuted = events
            .map((event, index) => ({ event, rank: shuffleKey(index) }))
            .sort((a, b) => a.rank - b.rank)
            .map(({ event }) => event);
          const results = [];
          for (const sequence of [events, permuted]) {
            const sku = await stockedSku('perm', stock);
            // Another order already holds stock, so the permuted order competes for it.
            if (otherReserved > 0) await applyEvent(ledger, sku, { kind: 'reserve', order: 'other', quantity: otherReserved });
            for (const event of sequence) await applyEvent(ledger, sku, event);
            results.push(await comparable(ledger, sku));
          }
          assert.equal(results[1], results[0]);
        },
      ),
      { numRuns: 40 },
    );
  });

  test('property: replaying the journal reproduces the ledger; reserved = Σ open reservations (I3, I4)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: 10 }),
        fc.array(
          fc.oneof(
            fc.record({ kind: fc.constant('reserve' as const), order: fc.constantFrom('a', 'b', 'c', 'd'), quantity: fc.integer({ min: 1, max: 4 }) }),
            fc.record({ kind: fc.constant('cancel' as const), order: fc.constantFrom('a', 'b', 'c', 'd') }),
            fc.record({ kind: fc.constant('ship' as const), order: fc.constantFrom('a', 'b', 'c', 'd'), shipment: fc.constantFrom('s1', 's2', 's3', 's4', 's5'), quantity: fc.constant(1) }),
            fc.record({ kind: fc.constant('adjust' as const), event: fc.constantFrom('e1', 'e2', 'e3'), delta: fc.constantFrom(-2, -1, 1, 3) }),
            fc.record({ kind: fc.constant('count' as const), event: fc.constantFrom('c1', 'c2'), counted: fc.nat({ max: 8 }) }),
          ),
          { maxLength: 25 },
        ),
        async (stock, events) => {
          const sku = await stockedSku('conserve', stock);
          for (const event of events) await applyEvent(ledger, sku, event).catch((error: unknown) => {
            // Reusing a shipment or event id for other content is refused by design.
            if (!isStockguardError(error, 'STOCKGUARD_E_CONFLICT')) throw error;
          });
          const inventory = (await ledger.inventory(sku))!;
          const journal = await ledger.journal(sku);
          const sum = (pick: (entry: (typeof journal)[number]) => number) => journal.reduce((total, entry) => total + pick(entry), 0);
          assert.is(sum((entry) => entry.dOnHand), inventory.onHand, 'Σ journaled on_hand deltas = on_hand');
          assert.is(sum((entry) => entry.dReserved), inventory.reserved, 'Σ journaled reserved deltas = reserved');
          assert.is(sum((entry) => entry.dOversold), inventory.oversold, 'Σ journaled oversold deltas = oversold');
          const open = (await ledger.reservations(sku)).reduce((total, record) => total + record.openUnits, 0);
          assert.is(inventory.reserved, open, 'reserved = Σ open reservation units');
          const shipped = sum((entry) => (entry.cause === 'ship' ? entry.dOnHand : 0));
          const moved = sum((entry) => (entry.cause === 'ship' ? 0 : entry.dOnHand));
          assert.is(inventory.onHand, moved + shipped, 'on_hand = receipts + adjustments + counts − shipments');
          assert.ok(journal.at(-1)!.onHand === inventory.onHand && journal.at(-1)!.reserved === inventory.reserved);
        },
      ),
      { numRuns: 30 },
    );
  });

  test('a drifted reserved is recomputed from the open records and repaired through the journal (I3)', async () => {
    const sku = await stockedSku('repair', 10);
    await ledger.reserveOrder({ channel: 'shopify', orderId: 'r1', lines: [{ lineId: '1', sku, quantity: 3 }] });
    assert.is((await ledger.repairReserved(sku, 'reconcile:run-0')).status, LedgerStatus.UNCHANGED);
    // Simulate drift the scripts never cause: someone edited the hash by hand.
    await patchInventory(redis, ledger.keys, sku, { reserved: 7 });
    const repaired = await ledger.repairReserved(sku, 'reconcile:run-1');
    if (repaired.status !== LedgerStatus.APPLIED) throw new Error(`expected APPLIED, got ${repaired.status}`);
    assert.equal([repaired.reservedBefore, repaired.inventory.reserved], [7, 3]);
    const last = (await ledger.journal(sku)).at(-1)!;
    assert.equal([last.cause, last.event, last.dReserved], ['repair', 'reconcile:run-1', -4]);
    const correction = await ledger.adjust(sku, { eventId: 'reconcile:run-1:repair', delta: -2, cause: 'reconcile' });
    assert.is(correction.inventory.onHand, 8);
  });

  test('scripts are reloaded after the server forgets them (SCRIPT FLUSH)', async () => {
    const sku = await stockedSku('flush', 2);
    if ('nodes' in redis) {
      await Promise.all(redis.nodes('master').map((node) => node.script('FLUSH')));
    } else {
      await redis.script('FLUSH');
    }
    const [line] = await ledger.reserveOrder({ channel: 'shopify', orderId: 'f1', lines: [{ lineId: '1', sku, quantity: 1 }] });
    assert.is(line!.status, LedgerStatus.RESERVED);
  });

  test.run();
}

type LedgerEvent =
  | { kind: 'reserve'; order: string; quantity: number }
  | { kind: 'cancel'; order: string }
  | { kind: 'ship'; order: string; shipment: string; quantity: number }
  | { kind: 'adjust'; event: string; delta: number }
  | { kind: 'count'; event: string; counted: number };

function orderEvents(orders: { quantity: number; shipped: number; cancel: boolean }[]): LedgerEvent[] {
  return orders.flatMap((order, index): LedgerEvent[] => {
    const events: LedgerEvent[] = [{ kind: 'reserve', order: `o${index}`, quantity: order.quantity }];
    if (order.shipped > 0) events.push({ kind: 'ship', order: `o${index}`, shipment: `s${index}`, quantity: order.shipped });
    if (order.cancel) events.push({ kind: 'cancel', order: `o${index}` });
    events.push({ kind: 'adjust', event: `r${index}`, delta: index + 1 });
    return events;
  });
}

async function applyEvent(ledger: Ledger, sku: string, event: LedgerEvent): Promise<void> {
  switch (event.kind) {
    case 'reserve':
      await ledger.reserveOrder({ channel: 'shopify', orderId: event.order, lines: [{ lineId: '1', sku, quantity: event.quantity }] });
      return;
    case 'cancel':
      await ledger.release(sku, reservationId('shopify', event.order, '1'));
      return;
    case 'ship':
      await ledger.ship(sku, { shipmentId: event.shipment, reservationId: reservationId('shopify', event.order, '1'), quantity: event.quantity });
      return;
    case 'adjust':
      await ledger.adjust(sku, { eventId: event.event, delta: event.delta, cause: 'adjustment' });
      return;
    case 'count':
      await ledger.count(sku, { eventId: event.event, counted: event.counted });
      return;
  }
}

/** The state that must match: ledger numbers and reservation records (not versions or journal order). */
async function comparable(ledger: Ledger, sku: string) {
  const inventory = (await ledger.inventory(sku))!;
  return {
    onHand: inventory.onHand,
    reserved: inventory.reserved,
    oversold: inventory.oversold,
    holdback: inventory.holdback,
    reservations: await ledger.reservations(sku),
  };
}
