// The layout migration from layout 1 (src/redis/migrateLayout.ts, `stockguard migrate
// layout`: 1 → 2 → 3 in one run) and the layout check at start (src/redis/layout.ts) on a
// private Redis: a ledger written in layout 1 is refused at start with a coded error; the
// migration moves every key exactly once, resumes after an interruption (including one
// between a RESTORE and its DEL), writes the marker only at the end, and the daemon's
// readers give back every figure they gave before; a key under both names with other
// content is a conflict that leaves the SKU alone; a fresh Redis gets the marker.
// Layout 2 → 3 alone: migrate-journals.test.ts.
import { LAYOUT_VERSION, layoutPartition } from '../../src/domain/layout.ts';
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { EXIT, run } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/daemon.ts';
import { isStockguardError, type ErrorCode } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { createLogger } from '../../src/logger.ts';
import { openRuntime } from '../../src/main.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { inventoryToHash } from '../../src/domain/inventoryCodec.ts';
import { readInventoryRecord } from '../../src/ledger/inventoryRecord.ts';
import { migrateLayout, type MigrateProgress } from '../../src/redis/migrateLayout.ts';
import { type KeyDump, deletePrefix, dumpKeyspace } from '../helpers/keyspace.ts';
import { layout1Key, toLayout1, toLayout3 } from '../helpers/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';
import { BULK_LINES, buildLedger, CATALOGUED, figures, LEDGER_ONLY, SKUS } from './migrate-layout.fixture.ts';

let redis: TestRedis;
let client: Redis;
let ledger: Ledger;
let catalog: Catalog;
let keys: KeySpace;
let asOfMs: number;
/** What the readers said, and every key, before the ledger was turned into layout 1. */
let expectedFigures: unknown;
let expectedKeys: KeyDump;
let layout1Keys: string[];
const saved = { ...process.env };

const config = (prefix: string) => loadConfig({ REDIS_URL: redis.url, STOCKGUARD_KEY_PREFIX: prefix, STOCKGUARD_LOG_LEVEL: 'silent' });

async function stockguard(args: string[], prefix: string): Promise<{ code: number; output: string }> {
  const lines: string[] = [];
  process.env = { ...saved, REDIS_URL: redis.url, STOCKGUARD_KEY_PREFIX: prefix, STOCKGUARD_LOG_LEVEL: 'silent' };
  try {
    const code = await run(args, (line) => lines.push(line));
    return { code, output: lines.join('\n') };
  } finally {
    process.env = { ...saved };
  }
}

async function rejects(promise: Promise<unknown>, code: ErrorCode): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    assert.ok(isStockguardError(error, code), String(error));
    return error;
  }
  throw new Error(`expected ${code}`);
}

/** The keyspace without the layout marker, to compare with the dump taken before the marker existed. */
async function keyspace(prefix: string): Promise<KeyDump> {
  const dump = await dumpKeyspace(client, prefix);
  delete dump[`${prefix}:layout`];
  return dump;
}

test.before(async () => {
  redis = await startTestRedis();
  client = redis.client();
  const clock = { now: 1_797_000_000_000 };
  ledger = new Ledger({ redis: client, keyPrefix: redis.prefix, clock: () => (clock.now += 7) });
  catalog = new Catalog({ redis: client, keyPrefix: redis.prefix });
  keys = ledger.keys;
  ({ asOfMs } = await buildLedger(ledger, catalog, client, clock));
  expectedFigures = await figures(ledger, catalog, client, asOfMs);
  expectedKeys = await keyspace(redis.prefix);
  layout1Keys = await toLayout1(client, keys, SKUS);
});

test.after(async () => {
  process.env = saved;
  await deletePrefix(client, `${redis.prefix}-conflict`);
  await deletePrefix(client, `${redis.prefix}-inv3`);
  await deletePrefix(client, `${redis.prefix}-fresh`);
  await deletePrefix(client, `${redis.prefix}-orphan`);
  await redis.close();
});

test('the fixture is a layout-1 ledger with every kind of per-SKU key', async () => {
  // 5 SKUs × (inventory, marks, journal) + 4 with reservations (not MÜTZE-ROT-黒) + 4 catalogue entries + channel levels (2), FBA stock, pushed (2), push state (2: one holds only layout 3's `applied:amazon`).
  assert.is(layout1Keys.length, SKUS.length * 3 + 4 + CATALOGUED.length + 7);
  const kinds = new Set(layout1Keys.map((key) => key.slice(redis.prefix.length + 1).split(':{')[0]));
  assert.equal([...kinds].sort(), ['catalog', 'chan', 'fba', 'inv', 'journal', 'marks', 'pushed', 'pushstate', 'res']);
  assert.is(await client.hlen(layout1Key(redis.prefix, 'reservations', 'ZZ-BULK')), BULK_LINES);
  assert.is(await client.object('ENCODING', layout1Key(redis.prefix, 'reservations', 'ZZ-BULK')), 'hashtable');
  assert.is(await client.exists(keys.layoutMarker()), 0);
  // The current code sees nothing of it.
  assert.is(await ledger.inventory('TEE-BLK-M'), undefined);
});

test('a layout-1 ledger is refused at start with STOCKGUARD_E_LAYOUT_OUTDATED, by the daemon and by the CLI', async () => {
  const error = await rejects(openRuntime(config(redis.prefix)), 'STOCKGUARD_E_LAYOUT_OUTDATED');
  assert.match(error.message, /layout 1/);
  assert.match(error.message, /run: stockguard migrate layout/);
  await rejects(startDaemon({ config: config(redis.prefix), logger: createLogger({ level: 'silent' }) }), 'STOCKGUARD_E_LAYOUT_OUTDATED');
  const cli = await stockguard(['sku', 'TEE-BLK-M'], redis.prefix);
  assert.is(cli.code, EXIT.refused);
  assert.match(cli.output, /STOCKGUARD_E_LAYOUT_OUTDATED.*stockguard migrate layout/);
  assert.is(await client.exists(keys.layoutMarker()), 0, 'a refused start writes no marker');
});

test('a layout-1 SKU with keys and no catalogue entry is found by the SCAN, and refused too', async () => {
  const prefix = `${redis.prefix}-orphan`;
  const orphan = new Ledger({ redis: client, keyPrefix: prefix });
  await orphan.createSku('ORPHAN:1');
  await toLayout1(client, orphan.keys, ['ORPHAN:1']);
  const error = await rejects(openRuntime(config(prefix)), 'STOCKGUARD_E_LAYOUT_OUTDATED');
  assert.match(error.message, new RegExp(`${prefix}:(inv|journal|marks):\\{ORPHAN:1\\}`));
});

test('--dry-run lists what it would move and writes nothing', async () => {
  const before = await dumpKeyspace(client, redis.prefix);
  const planned: string[] = [];
  const summary = await migrateLayout({ redis: client, keys, dryRun: true, onPlannedMove: (move) => planned.push(move.from) });
  assert.is(summary.outcome, 'dry-run');
  assert.is(summary.keysMoved, layout1Keys.length);
  assert.equal(planned.sort(), [...layout1Keys].sort());
  assert.is(summary.markerWritten, undefined);
  assert.equal(await dumpKeyspace(client, redis.prefix), before);

  const cli = await stockguard(['migrate', 'layout', '--dry-run'], redis.prefix);
  assert.is(cli.code, EXIT.ok, cli.output);
  assert.match(cli.output, /would move inventory of TEE-BLK-M: .*:inv:\{TEE-BLK-M\} → .*:inv:\{p9\}:TEE-BLK-M/);
  assert.match(cli.output, new RegExp(`dry-run in [\\d.]+ s: ${SKUS.length} SKUs looked at, ${layout1Keys.length} keys to move`));
  assert.equal(await dumpKeyspace(client, redis.prefix), before);
});

test('an interrupted run resumes: every key moves exactly once, nothing is lost, the marker comes only at the end', async () => {
  // Run 1 stops after 2 SKUs, as a crash would.
  const progress: MigrateProgress[] = [];
  const first = await migrateLayout({ redis: client, keys, batchSize: 1, stopAfterSkus: 2, onProgress: (step) => progress.push(step) });
  assert.is(first.outcome, 'interrupted');
  assert.is(first.skus, 2);
  assert.ok(first.keysMoved > 0);
  assert.is(first.markerWritten, undefined);
  assert.is(await client.exists(keys.layoutMarker()), 0);
  assert.ok(progress.some((step) => step.phase === 'moving' && step.skusDone === 1 && step.skusTotal === SKUS.length));
  await rejects(openRuntime(config(redis.prefix)), 'STOCKGUARD_E_LAYOUT_OUTDATED');

  // A crash between RESTORE and DEL on a SKU run 1 did not reach: ZZ-BULK's 600
  // reservations (a hashtable: its restored copy DUMPs other bytes) and its inventory
  // (a listpack: the same bytes) now exist under both names.
  const both = (['reservations', 'inventory'] as const).map((kind) => ({ from: layout1Key(redis.prefix, kind, 'ZZ-BULK'), to: keys.perSkuKeys('ZZ-BULK')[kind] }));
  for (const { from, to } of both) await client.restore(to, 0, (await client.dumpBuffer(from))!);
  assert.not.ok((await client.dumpBuffer(both[0]!.from))!.equals((await client.dumpBuffer(both[0]!.to))!), 'the hashtable copy DUMPs other bytes (the content comparison is exercised)');
  assert.ok((await client.dumpBuffer(both[1]!.from))!.equals((await client.dumpBuffer(both[1]!.to))!));

  // Run 2 finishes the job.
  const second = await migrateLayout({ redis: client, keys });
  assert.is(second.outcome, 'done', JSON.stringify(second.conflicts));
  assert.is(second.keysFinished, 2);
  assert.is(first.keysMoved + second.keysMoved + second.keysFinished, layout1Keys.length, 'every layout-1 key moved exactly once');
  assert.ok(second.keysSkipped > 0, 'the SKUs run 1 moved are skipped');
  assert.equal(second.conflicts, []);
  assert.is(second.markerWritten, LAYOUT_VERSION);
  assert.is(second.journalsMerged, SKUS.length, 'every SKU\'s journal merged into its partition\'s');
  assert.is(await client.get(keys.layoutMarker()), String(LAYOUT_VERSION));
  for (const key of layout1Keys) assert.is(await client.exists(key), 0, `${key} is gone`);
  assert.equal(await keyspace(redis.prefix), expectedKeys, 'every key is back under its layout-3 name with its content, the journals merged with the same ids');

  // A third run, through the CLI, changes nothing.
  const cli = await stockguard(['migrate', 'layout'], redis.prefix);
  assert.is(cli.code, EXIT.ok, cli.output);
  assert.match(cli.output, /migrate layout: done in [\d.]+ s: \d+ SKUs looked at, 0 keys moved, \d+ already under the new name \(skipped\), 0 finished from an interrupted run; 0 SKU journals \(0 entries\) in 0 partitions merged; 0 SKUs \(0 hashes\) packed into layout buckets, catalogue channel-item: 0, push-state expiry: \d+; .*:layout = 4 written/, cli.output);
  // The CLI also gives the pushers' state keys written without one the idle expiry (the
  // direct calls above passed no horizon): that is the only change.
  const after = await keyspace(redis.prefix);
  const gained = Object.keys(after).filter((key) => after[key]!.ttl && !expectedKeys[key]?.ttl);
  assert.ok(gained.length > 0 && gained.every((key) => keys.parsePerSkuKey(key)?.kind === 'pushState'), JSON.stringify(gained));
  for (const key of gained) after[key]!.ttl = false;
  assert.equal(after, expectedKeys);
});

test('after the migration the daemon starts, and its readers give back every figure they gave before', async () => {
  const runtime = await openRuntime(config(redis.prefix));
  await runtime.close();
  assert.equal(await figures(ledger, catalog, client, asOfMs), expectedFigures);
  // The ledger goes on where it was: the journal continues after the moved ids.
  const [line] = await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-after', lines: [{ lineId: '1', sku: 'TEE-BLK-M', quantity: 1 }] });
  assert.is(line!.status, 'RESERVED');
  const journal = await ledger.journal('TEE-BLK-M');
  assert.ok(journal.at(-1)!.id > journal.at(-2)!.id);
  assert.ok((await ledger.inventory(LEDGER_ONLY))!.onHand === 56, 'the ledger-only SKU was moved too');
});

test('a key under both names with other content is a conflict: that SKU is left whole, the others move, no marker', async () => {
  const prefix = `${redis.prefix}-conflict`;
  const other = new Ledger({ redis: client, keyPrefix: prefix });
  for (const sku of ['A-1', 'B-2']) {
    await other.createSku(sku);
    await other.count(sku, { eventId: `initial-${sku}`, counted: 10 });
  }
  await toLayout1(client, other.keys, ['A-1', 'B-2']);
  // Something wrote A-1's new inventory name while its old one still held the ledger.
  await client.hset(other.keys.perSkuKeys('A-1').inventory, 'on_hand', '999');
  const before = await dumpKeyspace(client, prefix);
  const dry = await migrateLayout({ redis: client, keys: other.keys, dryRun: true });
  assert.equal(dry.conflicts.map((conflict) => [conflict.sku, conflict.kind]), [['A-1', 'inventory']], 'a dry run finds the conflict too');
  assert.equal(await dumpKeyspace(client, prefix), before);
  const summary = await migrateLayout({ redis: client, keys: other.keys });
  assert.is(summary.outcome, 'conflicts');
  assert.equal(summary.conflicts.map((conflict) => [conflict.sku, conflict.kind]), [['A-1', 'inventory']]);
  assert.match(summary.conflicts[0]!.reason, /both exist and their DUMPs differ: their hash content differs/);
  assert.is(summary.markerWritten, undefined);
  assert.is(await client.hget(layout1Key(prefix, 'inventory', 'A-1'), 'on_hand'), '10', 'the old key is kept');
  assert.is(await client.hget(other.keys.perSkuKeys('A-1').inventory, 'on_hand'), '999', 'the new key is kept');
  assert.is(await client.exists(layout1Key(prefix, 'journal', 'A-1')), 1, "A-1's other keys did not move");
  // B-2's keys moved to their partition-tagged names; packing into buckets (step 3 → 4) waits for every SKU.
  assert.is(await client.hget(other.keys.perSkuKeys('B-2').inventory, 'on_hand'), '10', 'B-2 moved');

  const cli = await stockguard(['migrate', 'layout'], prefix);
  assert.is(cli.code, EXIT.refused);
  assert.match(cli.output, /conflict: inventory of A-1: /);
  assert.match(cli.output, /STOCKGUARD_E_MIGRATE_CONFLICT.*1 SKU\(s\) left in layout 1.*"A-1"/);
  await rejects(openRuntime(config(prefix)), 'STOCKGUARD_E_LAYOUT_OUTDATED');

  // The operator deletes the wrong key and runs it again.
  await client.del(other.keys.perSkuKeys('A-1').inventory);
  const again = await migrateLayout({ redis: client, keys: other.keys });
  assert.is(again.outcome, 'done');
  assert.is((await other.inventory('A-1'))?.onHand, 10);
  assert.equal((await other.journal('A-1')).map((entry) => entry.event), ['create', 'initial-A-1'], "A-1's journal is in its partition's");
  assert.is(await client.get(other.keys.layoutMarker()), String(LAYOUT_VERSION));
});

test('a layout-3 ledger migrates to inventory buckets: every field of every inventory reads back, byte for byte', async () => {
  const prefix = `${redis.prefix}-inv3`;
  let now = 1_797_000_000_000;
  const other = new Ledger({ redis: client, keyPrefix: prefix, clock: () => (now += 11) });
  const skus = ['INV-A', 'INV-B:x', 'INV-C', 'INV-Ü'];
  for (const sku of skus) {
    await other.createSku(sku);
    await other.count(sku, { eventId: `initial-${sku}`, counted: 40, seq: 1 });
  }
  await other.setHoldback('INV-A', 4, 'import');
  await other.reserveOrder({ channel: 'shopify', orderId: 's-1', lines: [{ lineId: '1', sku: 'INV-A', quantity: 3 }, { lineId: '2', sku: 'INV-A', quantity: 50 }] });
  await other.reserveOrder({ channel: 'amazon', orderId: '111-1', lines: [{ lineId: '1', sku: 'INV-A', quantity: 1 }, { lineId: '1', sku: 'INV-B:x', quantity: 2 }] });
  await other.ship('INV-A', { shipmentId: 'ship-1', reservationId: 'shopify:s-1:1', quantity: 3, seq: 3 });
  await other.adjust('INV-A', { eventId: 'm5', delta: 2, cause: 'receipt', seq: 5 });
  await other.adjust('INV-A', { eventId: 'm9', delta: -1, cause: 'adjustment', seq: 9 });
  await other.release('INV-B:x', 'amazon:111-1:1');
  await other.adjust('INV-C', { eventId: 'c-1', delta: -45, cause: 'adjustment' });
  const bucketValues = async () => Promise.all(skus.map((sku) => client.hget(other.keys.sku(sku).inventoryBucket, sku)));
  const records = await Promise.all(skus.map((sku) => readInventoryRecord(client, other.keys, sku)));
  const packed = await bucketValues();
  const reservations = await Promise.all(skus.map((sku) => other.reservations(sku)));
  const journals = await Promise.all(skus.map((sku) => other.journal(sku)));
  assert.equal([records[0]!.wmsSeq, records[0]!.wmsAhead, records[0]!.soldShopify, records[0]!.soldAmazon, records[2]!.onHand], [1, '3-3,5-5,9-9', 53, 1, -5], 'the fixture fills the fields a plain SKU leaves at their default');
  assert.ok(records.every((record) => record!.sweptMs !== undefined));

  const layout3 = await toLayout3(client, other.keys, skus);
  assert.equal(layout3.filter((key) => key.startsWith(`${prefix}:inv:`)).length, skus.length);
  assert.equal(await client.hgetall(`${prefix}:inv:{p${layoutPartition('INV-A')}}:INV-A`), inventoryToHash(records[0]!), 'layout 3 kept the fields as decimal text');
  assert.equal(await bucketValues(), skus.map(() => null));

  const summary = await migrateLayout({ redis: client, keys: other.keys });
  assert.is(summary.outcome, 'done', JSON.stringify(summary.conflicts));
  for (const key of layout3) assert.is(await client.exists(key), 0, `${key} is gone`);
  assert.equal(await bucketValues(), packed, 'the packer writes what the scripts wrote');
  assert.equal(await Promise.all(skus.map((sku) => readInventoryRecord(client, other.keys, sku))), records);
  assert.equal(await Promise.all(skus.map((sku) => other.inventory(sku))), records.map((record) => ({ onHand: record!.onHand, reserved: record!.reserved, holdback: record!.holdback, oversold: record!.oversold, version: record!.version })));
  assert.equal(await Promise.all(skus.map((sku) => other.reservations(sku))), reservations);
  assert.equal(await Promise.all(skus.map((sku) => other.journal(sku))), journals);
  // The scripts go on from the migrated values: the next movement number closes the gap up to 5.
  await other.adjust('INV-A', { eventId: 'm2', delta: 1, cause: 'receipt', seq: 2 });
  await other.adjust('INV-A', { eventId: 'm4', delta: 1, cause: 'receipt', seq: 4 });
  assert.equal([(await readInventoryRecord(client, other.keys, 'INV-A'))!.wmsSeq, (await readInventoryRecord(client, other.keys, 'INV-A'))!.wmsAhead], [5, '9-9']);
});

test('a fresh Redis gets the marker at start; a marker this version does not know is refused', async () => {
  const prefix = `${redis.prefix}-fresh`;
  const fresh = new KeySpace(prefix);
  const runtime = await openRuntime(config(prefix));
  await runtime.close();
  assert.is(await client.get(fresh.layoutMarker()), String(LAYOUT_VERSION));
  // A ledger only this version wrote, without a marker (e.g. restored from a snapshot), is marked too.
  await client.del(fresh.layoutMarker());
  await new Ledger({ redis: client, keyPrefix: prefix }).createSku('NEW-1');
  await (await openRuntime(config(prefix))).close();
  assert.is(await client.get(fresh.layoutMarker()), String(LAYOUT_VERSION));

  await client.set(fresh.layoutMarker(), '99');
  const error = await rejects(openRuntime(config(prefix)), 'STOCKGUARD_E_LAYOUT_UNKNOWN');
  assert.match(error.message, /"99"/);
  await rejects(migrateLayout({ redis: client, keys: fresh }), 'STOCKGUARD_E_LAYOUT_UNKNOWN');
});

test.run();
