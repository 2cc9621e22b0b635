// Bundles on the ledger (issue 14 §1). Runs on a single private redis-server
// (bundles.single.test.ts) and on a local 3-master Redis Cluster (bundles.cluster.test.ts),
// where a bundle's components sit in different hash slots: each component is reserved by
// its own script, idempotent on the reservation id in that component's hash.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { Cluster, Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { BundleComponent } from '../../src/domain/bundles.ts';
import type { StockguardEvent } from '../../src/domain/events.ts';
import { applyEvent } from '../../src/ledger/applyEvent.ts';
import { CheckoutHolds, HOLD_CHANNEL } from '../../src/ledger/holds.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { reservationId } from '../../src/ledger/reservationId.ts';
import type { LedgerTarget } from './ledger.suite.ts';

export function defineBundleSuite(name: string, start: () => Promise<LedgerTarget>): void {
  const test = suite(`bundles on ${name}`);
  let target: LedgerTarget;
  let redis: Redis | Cluster;
  let nowMs = Date.parse('2026-12-05T10:00:00Z');
  const clock = () => nowMs;
  let ledger: Ledger;
  /** The catalogue's bundle table, as the consumers see it. */
  const bundles = new Map<string, BundleComponent[]>();
  const bundleComponents = async (skus: readonly string[]) => skus.map((sku) => bundles.get(sku));
  const dependencies = () => ({
    ledger,
    resolveChannelItem: async () => undefined,
    resolveRefs: async (refs: readonly string[]) => refs.map(() => undefined),
    bundleComponents,
  });

  /** A fresh SKU with this stock; on a Cluster, in a slot none of `avoid` uses. */
  async function stocked(label: string, onHand: number, avoid: readonly string[] = []): Promise<string> {
    for (;;) {
      const sku = `${label}-${randomUUID().slice(0, 8)}`;
      if ('nodes' in redis && avoid.length > 0) {
        const slot = async (key: string) => Number(await redis.cluster('KEYSLOT', key));
        const slots = await Promise.all(avoid.map((other) => slot(ledger.keys.sku(other).inventoryBucket)));
        if (slots.includes(await slot(ledger.keys.sku(sku).inventoryBucket))) continue;
      }
      await ledger.createSku(sku);
      if (onHand > 0) await ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
      return sku;
    }
  }

  async function comparable(sku: string) {
    const inventory = await ledger.inventory(sku);
    const reservations = (await ledger.reservations(sku)).sort((a, b) => (a.reservationId < b.reservationId ? -1 : 1));
    return { onHand: inventory?.onHand, reserved: inventory?.reserved, oversold: inventory?.oversold, reservations };
  }

  const base = () => ({ source: 'replay' as const, receivedAtMs: nowMs });

  test.before(async () => {
    target = await start();
    redis = target.client();
    ledger = new Ledger({ redis, keyPrefix: target.prefix, clock });
  });
  test.after(async () => {
    await target.close();
  });

  test('a bundle sale reserves every component (quantity × per-bundle quantity) under the line\'s id; a short component is recorded OVERSOLD with its shortfall', async () => {
    const mug = await stocked('MUG', 10);
    const tea = await stocked('TEA', 3, [mug]);
    const kit = `KIT-${randomUUID().slice(0, 8)}`;
    bundles.set(kit, [{ sku: mug, quantity: 1 }, { sku: tea, quantity: 2 }]);
    const sale: StockguardEvent = { ...base(), eventId: 'sale-1', type: 'order.placed', channel: 'shopify', orderId: 'o-1', lines: [{ lineId: 'l-1', sku: kit, quantity: 2 }] };
    const outcome = await applyEvent(sale, dependencies());
    if (outcome.kind !== 'reserved') throw new Error(`expected reserved, got ${outcome.kind}`);
    assert.equal(outcome.lines.map((line) => [line.sku, line.lineId, line.status, line.held, line.shortfall]), [
      [mug, 'l-1', 'RESERVED', 2, 0],
      [tea, 'l-1', 'OVERSOLD', 3, 1],
    ]);
    assert.equal((await ledger.inventory(mug))?.reserved, 2);
    assert.equal([(await ledger.inventory(tea))?.reserved, (await ledger.inventory(tea))?.oversold], [3, 1]);
    // A redelivery changes nothing; the cancellation frees both components.
    await applyEvent({ ...sale, eventId: 'sale-1-again' }, dependencies());
    assert.equal((await ledger.inventory(mug))?.reserved, 2);
    const cancel: StockguardEvent = { ...base(), eventId: 'cancel-1', type: 'order.cancelled', channel: 'shopify', orderId: 'o-1', lines: [{ lineId: 'l-1', sku: kit }] };
    const released = await applyEvent(cancel, dependencies());
    assert.equal(released, { kind: 'released', units: 5 });
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [0, 0]);
  });

  test('property: a bundle order\'s reserve, cancel and component shipments in any order converge to the same state (I5)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({ mugStock: fc.nat({ max: 6 }), teaStock: fc.nat({ max: 6 }), bundles: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ mugShipments: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 2 }), teaShipments: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), cancel: fc.boolean() }),
        fc.nat({ max: 2 }),
        fc.func(fc.integer()),
        async (stock, order, competing, shuffleKey) => {
          const results = [];
          const canonical = (mug: string, tea: string, kit: string): StockguardEvent[] => {
            const events: StockguardEvent[] = [{ ...base(), eventId: 'reserve', type: 'order.placed', channel: 'amazon', orderId: 'p', lines: [{ lineId: 'item-1', sku: kit, quantity: stock.bundles }] }];
            order.mugShipments.forEach((quantity, index) => events.push({ ...base(), eventId: `ship-mug-${index}`, type: 'wms.shipment', sku: mug, channel: 'amazon', orderId: 'p', lineId: 'item-1', quantity }));
            order.teaShipments.forEach((quantity, index) => events.push({ ...base(), eventId: `ship-tea-${index}`, type: 'wms.shipment', sku: tea, channel: 'amazon', orderId: 'p', lineId: 'item-1', quantity }));
            if (order.cancel) events.push({ ...base(), eventId: 'cancel', type: 'order.cancelled', channel: 'amazon', orderId: 'p', lines: [{ lineId: 'item-1', sku: kit }] });
            return events;
          };
          for (const shuffled of [false, true]) {
            const mug = await stocked('MUG', stock.mugStock);
            const tea = await stocked('TEA', stock.teaStock, [mug]);
            const kit = `KIT-${randomUUID().slice(0, 8)}`;
            bundles.set(kit, [{ sku: mug, quantity: 1 }, { sku: tea, quantity: 2 }]);
            // Another channel's order already holds some of the component, so the bundle competes for it.
            if (competing > 0) await ledger.reserveOrder({ channel: 'shopify', orderId: 'other', lines: [{ lineId: '1', sku: tea, quantity: competing }] });
            let events = canonical(mug, tea, kit);
            if (shuffled) events = events.map((event, index) => ({ event, rank: shuffleKey(index) })).sort((a, b) => a.rank - b.rank).map(({ event }) => event);
            for (const event of events) await applyEvent(event, dependencies());
            const strip = (state: Awaited<ReturnType<typeof comparable>>) => ({ ...state, reservations: state.reservations.map((record) => ({ ...record, reservationId: record.reservationId.replace(/^shopify:other:1$/, 'other') })) });
            results.push({ mug: strip(await comparable(mug)), tea: strip(await comparable(tea)) });
          }
          assert.equal(results[1], results[0]);
        },
      ),
      { numRuns: 30 },
    );
  });

  test('a bundle and its component sold at once on two channels against the last units: reserved never exceeds on_hand and the shortfall is recorded', async () => {
    for (let round = 0; round < 20; round += 1) {
      const mug = await stocked('LAST', 3);
      const tea = await stocked('TEA', 5, [mug]);
      const kit = `KIT-${randomUUID().slice(0, 8)}`;
      bundles.set(kit, [{ sku: mug, quantity: 2 }, { sku: tea, quantity: 1 }]);
      // Shopify sells one bundle (2 mugs), Amazon sells 2 mugs: 4 wanted, 3 on hand.
      await Promise.all([
        applyEvent({ ...base(), eventId: `s-${round}`, type: 'order.placed', channel: 'shopify', orderId: `s-${round}`, lines: [{ lineId: '1', sku: kit, quantity: 1 }] }, dependencies()),
        applyEvent({ ...base(), eventId: `a-${round}`, type: 'order.placed', channel: 'amazon', orderId: `a-${round}`, lines: [{ lineId: '1', sku: mug, quantity: 2 }] }, dependencies()),
      ]);
      const inventory = (await ledger.inventory(mug))!;
      assert.ok(inventory.reserved <= inventory.onHand, `reserved ${inventory.reserved} > on_hand ${inventory.onHand}`);
      assert.equal([inventory.reserved, inventory.oversold], [3, 1], 'every unit sold is either held or recorded oversold');
      const records = await ledger.reservations(mug);
      assert.is(records.reduce((sum, record) => sum + record.shortfall, 0), 1);
      assert.is(records.reduce((sum, record) => sum + record.openUnits, 0), inventory.reserved);
    }
  });

  test('a checkout hold on a bundle that fails on its second component leaves nothing held', async () => {
    const mug = await stocked('HOLD', 5);
    const tea = await stocked('TEA', 1, [mug]);
    const kit = `KIT-${randomUUID().slice(0, 8)}`;
    bundles.set(kit, [{ sku: mug, quantity: 1 }, { sku: tea, quantity: 2 }]);
    const holds = new CheckoutHolds(redis, ledger, clock, bundleComponents);
    const result = await holds.hold('checkout-1', [{ lineId: '1', sku: kit, quantity: 1 }], 600);
    assert.is(result.held, false);
    // What each component would have got: the mug fits, the tea is one unit short.
    assert.equal(result.lines.map((line) => [line.sku, line.status, line.shortfall]), [
      [mug, 'RESERVED', 0],
      [tea, 'OVERSOLD', 1],
    ]);
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [0, 0]);
    // A hold that fits holds both components, and a cancel frees both.
    const fits = await holds.hold('checkout-2', [{ lineId: '1', sku: kit, quantity: 1 }], 600);
    assert.is(fits.held, false, 'the tea is still one unit short');
    await ledger.count(tea, { eventId: `recount-${tea}`, counted: 4 });
    const held = await holds.hold('checkout-3', [{ lineId: '1', sku: kit, quantity: 2 }], 600);
    assert.is(held.held, true);
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [2, 4]);
    assert.is(await holds.cancel('checkout-3'), true);
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [0, 0]);
  });

  test('a bundle hold interrupted after its first component (the process killed) is rolled back by the reaper', async () => {
    const mug = await stocked('KILL', 5);
    const tea = await stocked('TEA', 5, [mug]);
    const kit = `KIT-${randomUUID().slice(0, 8)}`;
    bundles.set(kit, [{ sku: mug, quantity: 1 }, { sku: tea, quantity: 2 }]);
    // A ledger whose process dies after the first component's script ran: the hold's
    // record is written, one component is held, nothing else happens (no release).
    const dying = Object.create(ledger) as Ledger;
    dying.holdOrder = async (order) => {
      const first = order.lines[0]!;
      await ledger.reserveOrder({ channel: order.channel, orderId: order.orderId, lines: [first] });
      throw new Error('killed');
    };
    const crashed = new CheckoutHolds(redis, dying, clock, bundleComponents);
    await crashed.hold('checkout-kill', [{ lineId: '1', sku: kit, quantity: 1 }], 60).then(
      () => assert.unreachable('the hold should have died'),
      (error: unknown) => assert.is((error as Error).message, 'killed'),
    );
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [1, 0], 'half held when the process died');
    // A new process: the retry the 500 asks for completes it…
    const restarted = new CheckoutHolds(redis, ledger, clock, bundleComponents);
    // …or nobody retries, and the reaper releases every component once the hold expires.
    nowMs += 61_000;
    assert.is(await restarted.reapExpired(), 1);
    assert.equal([(await ledger.inventory(mug))?.reserved, (await ledger.inventory(tea))?.reserved], [0, 0]);
    assert.is(await ledger.hasReservation(mug, reservationId(HOLD_CHANNEL, 'checkout-kill', '1')), true, 'the record stays, released');
    assert.equal((await ledger.reservations(mug))[0]?.openUnits, 0);
  });

  test.run();
}
