// Exact reconciliation at a WMS watermark (issue 13 §3, docs/reconcile.md "Pending and lost
// movements", docs/wms.md "Watermark") on a real Redis with an injected clock.
// 1. A property over random interleavings: per SKU, numbered WMS movements (adjustments and
//    shipments), a snapshot at a random watermark, which movements the ledger applied
//    before the reconciliation read it (on either side of the watermark), which arrive after
//    it, and which are lost until after the last run. Reconciliation never corrects a SKU
//    whose ledger is right once its in-flight events land; it corrects a lost gap once,
//    after the pending limit, by exactly the lost units; once everything has landed the
//    ledger equals the WMS for every SKU; and a covered movement that still arrives does not
//    move on_hand again.
// 2. The ledger's record of applied numbers (wms_seq, wms_ahead) under out-of-order
//    arrival, retries and a reused number.
// 3. A movement that lands between the reconciliation's read and its correction: no
//    correction is written (changed-during-run), and the next run agrees.
// 4. End to end through the daemon and the WMS fake: a pick in flight at the snapshot is
//    exact at once with a watermark; without one (WmsFake watermark:false) the settle
//    window is still used: the run waits it out and leaves the SKU unsettled.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/daemon.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { readLedgerBatch } from '../../src/reconcile/readLedger.ts';
import { reconcile, type ReconcileOptions, type ReconcileReport } from '../../src/reconcile/reconcile.ts';
import { HttpWmsAdapter, type WmsAdapter, type WmsStockPage } from '../../src/reconcile/wms.ts';
import { WmsFake } from '../../src/sim/wms/index.ts';
import { deletePrefix } from '../helpers/keyspace.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { readInventoryRecord } from '../../src/ledger/inventoryRecord.ts';

const SETTLE_MS = 5_000;
const PENDING_MAX_MS = 60_000;
const THRESHOLDS = { default: { units: 1, percent: 0 } };
const test = suite('reconciliation at a watermark');
let redis: TestRedis;
let reportDir: string;
let worlds = 0;

// Strictly increasing, moved ahead by `advance` instead of sleeping. Many calls within one
// real ms push it ahead of Date.now() + offset: `advance` moves it `ms` past its last value.
let offset = 0;
let last = 0;
const clock = () => (last = Math.max(Date.now() + offset, last + 1));
const advance = async (ms: number) => void (offset = Math.max(offset, last - Date.now()) + ms);

test.before(async () => {
  redis = await startTestRedis();
  reportDir = mkdtempSync(join(tmpdir(), 'sg-watermark-'));
});
test.after(async () => {
  await redis.close();
  rmSync(reportDir, { recursive: true, force: true });
});

/** A WMS that serves one frozen snapshot page. */
function frozenWms(page: WmsStockPage): WmsAdapter {
  return {
    async *snapshot() {
      yield page;
    },
  };
}

async function completed(options: Partial<ReconcileOptions> & Pick<ReconcileOptions, 'ledger' | 'wms'>): Promise<ReconcileReport> {
  const result = await reconcile({
    redis: redis.client(),
    thresholds: THRESHOLDS,
    settleMs: SETTLE_MS,
    pendingMaxMs: PENDING_MAX_MS,
    reportDir,
    lockTtlMs: 30_000,
    clock,
    sleep: advance,
    ...options,
  });
  if (result.outcome !== 'completed') throw new Error(`expected a completed run, got ${JSON.stringify(result)}`);
  return result.report;
}

type Fate = 'early' | 'flight' | 'lost';
interface Movement {
  kind: 'adjust' | 'ship';
  /** Signed change of the WMS on-hand (a shipment is negative). */
  delta: number;
  fate: Fate;
  /** Where it lands among the events of its phase (all SKUs together). */
  order: number;
}
interface SkuPlan {
  initial: number;
  movements: Movement[];
  /** The snapshot's watermark: movements 1..watermark are in it. */
  watermark: number;
}

const movementArb = fc.record({
  kind: fc.constantFrom('adjust' as const, 'ship' as const),
  size: fc.integer({ min: 1, max: 9 }),
  up: fc.boolean(),
  fate: fc.constantFrom<Fate>('early', 'early', 'flight', 'flight', 'lost'),
  order: fc.integer({ min: 0, max: 1_000_000 }),
}).map(({ kind, size, up, fate, order }): Movement => ({ kind, delta: kind === 'ship' ? -size : up ? size : -size, fate, order }));

const planArb = fc
  .array(fc.tuple(fc.integer({ min: 40, max: 200 }), fc.array(movementArb, { minLength: 0, maxLength: 8 }), fc.nat()), { minLength: 1, maxLength: 4 })
  .map((skus) => skus.map(([initial, movements, cut]): SkuPlan => ({ initial, movements, watermark: movements.length === 0 ? 0 : cut % (movements.length + 1) })));

test('property: in-flight movements on both sides of the watermark are never corrected; lost ones are corrected once, exactly, and stay covered', async () => {
  let iteration = 0;
  await fc.assert(
    fc.asyncProperty(planArb, async (plans) => {
      iteration += 1;
      const prefix = `${redis.prefix}-p${iteration}`;
      const client = redis.client();
      const ledger = new Ledger({ redis: client, keyPrefix: prefix, clock });
      const skus = plans.map((_, index) => `W-${index}`);
      const wmsOnHand = (index: number, upTo: number) => plans[index]!.initial + plans[index]!.movements.slice(0, upTo).reduce((sum, movement) => sum + movement.delta, 0);
      const corrections = new Map<string, number[]>();
      try {
        for (const [index, plan] of plans.entries()) {
          const sku = skus[index]!;
          await ledger.createSku(sku);
          await ledger.count(sku, { eventId: `initial-${sku}`, counted: plan.initial });
          for (const [number, movement] of plan.movements.entries()) {
            if (movement.kind === 'ship') {
              await ledger.reserveOrder({ channel: 'shopify', orderId: `o-${sku}-${number + 1}`, lines: [{ lineId: '1', sku, quantity: -movement.delta }] });
            }
          }
        }
        const apply = async (fate: Fate) => {
          const due = plans.flatMap((plan, index) => plan.movements.map((movement, number) => ({ index, seq: number + 1, movement }))).filter((item) => item.movement.fate === fate);
          due.sort((a, b) => a.movement.order - b.movement.order || a.index - b.index || a.seq - b.seq);
          for (const { index, seq, movement } of due) {
            const sku = skus[index]!;
            const result =
              movement.kind === 'ship'
                ? await ledger.ship(sku, { shipmentId: `ship-${sku}-${seq}`, reservationId: `shopify:o-${sku}-${seq}:1`, quantity: -movement.delta, seq })
                : await ledger.adjust(sku, { eventId: `adj-${sku}-${seq}`, delta: movement.delta, cause: 'adjustment', seq });
            assert.is(result.status, 'APPLIED');
          }
        };
        const page = (watermarks: number[]): WmsStockPage => ({
          asOfMs: clock(),
          items: skus.map((sku, index) => ({ sku, onHand: wmsOnHand(index, watermarks[index]!), seq: watermarks[index]! })),
        });
        const run = async (snapshot: WmsStockPage) => {
          const report = await completed({ ledger, wms: frozenWms(snapshot) });
          for (const item of report.discrepancies) {
            assert.is(item.action, 'corrected', `only corrections are expected: ${JSON.stringify(item)}`);
            assert.is(item.reason, 'lost-wms-events', JSON.stringify(item));
            corrections.set(item.sku, [...(corrections.get(item.sku) ?? []), item.delta]);
          }
          return report;
        };
        const missingUpTo = (index: number, upTo: number, applied: ReadonlySet<Fate>) => plans[index]!.movements.slice(0, upTo).some((movement) => !applied.has(movement.fate));

        // The WMS snapshot is taken at each SKU's watermark; the ledger then applies the early
        // movements, some of them after the watermark (the reconciliation has to take them back).
        const first = page(plans.map((plan) => plan.watermark));
        await apply('early');
        const run1 = await run(first);
        assert.equal(run1.totals.corrected, 0, 'a first sighting is never corrected');
        for (const [index, sku] of skus.entries()) {
          const pending = missingUpTo(index, plans[index]!.watermark, new Set(['early']));
          assert.is(run1.pending.some((item) => item.sku === sku), pending, `${sku} pending in run 1`);
        }
        assert.is(run1.totals.matched + run1.totals.pending, skus.length, 'every SKU matches as of the watermark, or waits');

        // The in-flight movements land; then two runs, each after the pending limit, on a
        // fresh snapshot of everything.
        await apply('flight');
        for (const _ of [2, 3]) {
          await advance(PENDING_MAX_MS + 1);
          const report = await run(page(plans.map((plan) => plan.movements.length)));
          for (const [index, sku] of skus.entries()) {
            if (!missingUpTo(index, plans[index]!.movements.length, new Set(['early', 'flight']))) {
              assert.not.ok(report.pending.some((item) => item.sku === sku), `${sku} has nothing missing`);
            }
          }
        }
        for (const [index, sku] of skus.entries()) {
          const lost = plans[index]!.movements.filter((movement) => movement.fate === 'lost');
          // A SKU that will be right once its in-flight events land is never corrected; one with
          // lost movements is corrected once, by exactly what was lost.
          assert.equal(corrections.get(sku) ?? [], lost.length === 0 ? [] : [lost.reduce((sum, movement) => sum + movement.delta, 0)], `${sku} corrections`);
          assert.is((await ledger.inventory(sku))!.onHand, wmsOnHand(index, plans[index]!.movements.length), `${sku}: ledger == WMS`);
        }

        // The lost movements arrive after all: covered, they leave on_hand alone.
        const before = await Promise.all(skus.map(async (sku) => (await ledger.inventory(sku))!.onHand));
        await apply('lost');
        assert.equal(await Promise.all(skus.map(async (sku) => (await ledger.inventory(sku))!.onHand)), before, 'a late covered movement does not move on_hand');
        for (const sku of skus) {
          const inventory = (await ledger.inventory(sku))!;
          assert.is(inventory.reserved, 0, `${sku}: every shipment consumed its reservation`);
        }
        const final = await run(page(plans.map((plan) => plan.movements.length)));
        assert.equal([final.totals.matched, final.totals.discrepancies, final.totals.pending], [skus.length, 0, 0]);
      } finally {
        await deletePrefix(client, prefix);
      }
    }),
    { numRuns: Number(process.env.STOCKGUARD_WATERMARK_RUNS ?? 100), seed: process.env.STOCKGUARD_WATERMARK_SEED === undefined ? undefined : Number(process.env.STOCKGUARD_WATERMARK_SEED) },
  );
});

test('the ledger\'s record of applied movement numbers: out-of-order numbers fold into wms_seq, a reused number is refused above it', async () => {
  worlds += 1;
  const prefix = `${redis.prefix}-seq${worlds}`;
  const client = redis.client();
  const ledger = new Ledger({ redis: client, keyPrefix: prefix, clock });
  await ledger.createSku('SEQ-1');
  await ledger.count('SEQ-1', { eventId: 'initial', counted: 100 });
  const record = async () => {
    const inventory = (await readInventoryRecord(client, ledger.keys, 'SEQ-1'))!;
    return [String(inventory.wmsSeq), inventory.wmsAhead === '' ? null : inventory.wmsAhead];
  };
  const steps: [number, (string | null)[]][] = [
    [3, ['0', '3-3']],
    [5, ['0', '3-3,5-5']],
    [1, ['1', '3-3,5-5']],
    [2, ['3', '5-5']],
    [4, ['5', null]],
  ];
  for (const [seq, expected] of steps) {
    await ledger.adjust('SEQ-1', { eventId: `m${seq}`, delta: -1, cause: 'adjustment', seq });
    assert.equal(await record(), expected, `after movement ${seq}`);
  }
  assert.is((await ledger.inventory('SEQ-1'))!.onHand, 95);
  assert.equal((await ledger.journal('SEQ-1')).filter((entry) => entry.seq !== undefined).map((entry) => entry.seq), [3, 5, 1, 2, 4], 'each movement journaled with its number');
  // A retry is a duplicate; a number applied above wms_seq under another id is a conflict.
  assert.is((await ledger.adjust('SEQ-1', { eventId: 'm5', delta: -1, cause: 'adjustment', seq: 5 })).status, 'DUPLICATE');
  await ledger.adjust('SEQ-1', { eventId: 'm7', delta: -1, cause: 'adjustment', seq: 7 });
  await ledger.adjust('SEQ-1', { eventId: 'other-7', delta: -2, cause: 'adjustment', seq: 7 }).then(
    () => assert.unreachable('applied'),
    (error: unknown) => assert.is((error as { code?: string }).code, 'STOCKGUARD_E_CONFLICT'),
  );
  assert.is((await ledger.inventory('SEQ-1'))!.onHand, 94);
  await deletePrefix(client, prefix);
});

test('a missing movement that lands between the read and the correction: nothing is written, the next run agrees', async () => {
  worlds += 1;
  const prefix = `${redis.prefix}-race${worlds}`;
  const client = redis.client();
  const ledger = new Ledger({ redis: client, keyPrefix: prefix, clock });
  await ledger.createSku('RACE-1');
  await ledger.count('RACE-1', { eventId: 'initial', counted: 10 });
  // The WMS: movements 1 (−3) and 2 (+1); the ledger has only 2.
  await ledger.adjust('RACE-1', { eventId: 'm2', delta: 1, cause: 'adjustment', seq: 2 });
  const snapshot = () => ({ asOfMs: clock(), items: [{ sku: 'RACE-1', onHand: 8, seq: 2 }] });
  const first = await completed({ ledger, wms: frozenWms(snapshot()) });
  assert.equal(first.pending.map((item) => [item.sku, item.firstPendingSeq, item.appliedSeq]), [['RACE-1', 1, 0]]);
  await advance(PENDING_MAX_MS + 1);
  // Movement 1 lands after this run read the SKU and before it corrects.
  let landed = false;
  const second = await completed({
    ledger,
    wms: frozenWms(snapshot()),
    readLedger: async (...args) => {
      const readings = await readLedgerBatch(...args);
      await ledger.adjust('RACE-1', { eventId: 'm1', delta: -3, cause: 'adjustment', seq: 1 });
      landed = true;
      return readings;
    },
  });
  assert.ok(landed);
  assert.equal(second.discrepancies.map((item) => [item.sku, item.action, item.reason, item.delta]), [['RACE-1', 'unsettled', 'changed-during-run', -3]]);
  assert.is(second.totals.corrected, 0);
  assert.is((await ledger.inventory('RACE-1'))!.onHand, 8, 'not corrected on top of the movement');
  assert.not.ok((await ledger.journal('RACE-1')).some((entry) => entry.cause === 'reconcile'));
  const third = await completed({ ledger, wms: frozenWms(snapshot()) });
  assert.equal([third.totals.matched, third.totals.discrepancies, third.totals.pending], [1, 0, 0]);
  await deletePrefix(client, prefix);
});

// End to end: the daemon applies the WMS fake's signed webhooks; `watermark` says whether the
// fake numbers movements and puts the watermark in its snapshot.
async function daemonWorld(watermark: boolean) {
  worlds += 1;
  const prefix = `${redis.prefix}-e${worlds}`;
  const config = loadConfig({
    REDIS_URL: redis.url,
    STOCKGUARD_KEY_PREFIX: prefix,
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_WMS_WEBHOOK_SECRET: 'wms-webhook-secret-0123456789',
    STOCKGUARD_ROLES: 'http,consumers',
    STOCKGUARD_CONSUMER_NAME: `watermark-${worlds}`,
  });
  const daemon = await startDaemon({ config, logger: pino({ level: 'silent' }), clock });
  const wms = await WmsFake.start({ token: 'wms-token-0123456789', webhook: { url: `${daemon.http!.url}/webhooks/wms`, secret: 'wms-webhook-secret-0123456789' }, clock, watermark });
  const adapter = new HttpWmsAdapter({ baseUrl: wms.url, token: 'wms-token-0123456789', retries: 1, sleep: async () => undefined });
  const { ledger } = daemon.runtime;
  const waits: number[] = [];
  return {
    ledger,
    wms,
    waits,
    async stock(sku: string, onHand: number) {
      await daemon.runtime.catalog.put({ sku, holdback: 0, skuClass: 'default', policies: {} });
      await ledger.createSku(sku);
      await ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
      wms.seed([[sku, onHand]]);
    },
    run: () =>
      completed({
        ledger,
        wms: adapter,
        sleep: async (ms) => {
          waits.push(ms);
          await advance(ms);
        },
      }),
    async until(sku: string, onHand: number) {
      const deadline = Date.now() + 15_000;
      while ((await ledger.inventory(sku))?.onHand !== onHand) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${sku} on_hand ${onHand}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async close() {
      await wms.close();
      await daemon.stop();
      await deletePrefix(redis.client(), prefix);
    },
  };
}

const order = (orderId: string) => ({ channel: 'shopify' as const, orderId, lineId: '1' });

test('with a watermark, a pick in flight at the snapshot is exact at once (no settle wait); a lost event is pending, then corrected after the limit', async () => {
  const w = await daemonWorld(true);
  try {
    await w.stock('FLIGHT-W', 10);
    await w.stock('LOST-W', 10);
    await w.ledger.reserveOrder({ channel: 'shopify', orderId: 'o-w', lines: [{ lineId: '1', sku: 'FLIGHT-W', quantity: 1 }] });
    await w.wms.adjust('LOST-W', -4, 'damaged', { lose: true });
    await w.wms.adjust('LOST-W', 1, 'found');
    await w.until('LOST-W', 11);
    // The snapshot is pinned here: after the pick left the shelf, before its webhook.
    await w.wms.ship('FLIGHT-W', 1, order('o-w'), { snapshotBeforeDelivery: true });
    await w.until('FLIGHT-W', 9);

    const first = await w.run();
    assert.equal(w.waits, [], 'no settle wait: every SKU has a watermark');
    assert.is(first.atWatermark, 2);
    assert.equal(first.discrepancies, [], 'the pick in the snapshot, applied after it, is not a discrepancy');
    assert.equal(first.pending.map((item) => [item.sku, item.watermarkSeq, item.appliedSeq, item.firstPendingSeq]), [['LOST-W', 2, 0, 1]]);
    assert.is((await w.ledger.inventory('LOST-W'))!.onHand, 11, 'pending: not corrected yet');

    await advance(PENDING_MAX_MS + 1);
    const second = await w.run();
    assert.equal(second.discrepancies.map((item) => [item.sku, item.delta, item.action, item.reason, item.watermarkSeq]), [['LOST-W', -4, 'corrected', 'lost-wms-events', 2]]);
    assert.is((await w.ledger.inventory('LOST-W'))!.onHand, w.wms.onHand('LOST-W'));
    assert.equal([(await w.run()).totals.discrepancies], [0]);
  } finally {
    await w.close();
  }
});

test('fallback without a watermark (WmsFake watermark:false): the run waits the settle window and leaves a pick in flight unsettled; a lost event is corrected at once', async () => {
  const w = await daemonWorld(false);
  try {
    await w.stock('FLIGHT-S', 10);
    await w.stock('LOST-S', 10);
    await w.ledger.reserveOrder({ channel: 'shopify', orderId: 'o-s', lines: [{ lineId: '1', sku: 'FLIGHT-S', quantity: 1 }] });
    await w.wms.adjust('LOST-S', -4, 'damaged', { lose: true });
    await w.wms.ship('FLIGHT-S', 1, order('o-s'), { snapshotBeforeDelivery: true });
    await w.until('FLIGHT-S', 9);

    const first = await w.run();
    assert.is(first.atWatermark, 0, 'no SKU had a watermark');
    assert.ok(w.waits.length === 1 && w.waits[0]! > 0 && w.waits[0]! <= SETTLE_MS, `waited the settle window: ${JSON.stringify(w.waits)}`);
    const bySku = Object.fromEntries(first.discrepancies.map((item) => [item.sku, [item.delta, item.action, item.reason]]));
    assert.equal(bySku, { 'FLIGHT-S': [-1, 'unsettled', 'wms-change-in-settle-window'], 'LOST-S': [-4, 'corrected', 'above-threshold'] });
    assert.equal(first.pending, []);
    assert.is((await w.ledger.inventory('FLIGHT-S'))!.onHand, 9, 'not corrected to 8');
    assert.is((await w.ledger.inventory('LOST-S'))!.onHand, 6);
    assert.equal([(await w.run()).totals.discrepancies], [0], 'the next run agrees');
  } finally {
    await w.close();
  }
});

test.run();
