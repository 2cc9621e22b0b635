// Snapshots and restore (src/reconcile/snapshot.ts) on private Redis servers: a round trip
// reproduces every key exactly, a damaged file is refused before anything is written, a
// non-empty target needs --force, and a snapshot taken under load is consistent per SKU.
import { setPushedLevel } from '../helpers/pushers.ts';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Redis as IORedis, type Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { decodeReservationRecord, Ledger } from '../../src/ledger/ledger.ts';
import { decodeInventory, inventoryToHash } from '../../src/domain/inventoryCodec.ts';
import { CheckoutHolds } from '../../src/ledger/holds.ts';
import { isStockguardError, type ErrorCode } from '../../src/errors.ts';
import { restoreSnapshot, verifySnapshot, writeSnapshot } from '../../src/reconcile/snapshot.ts';
import { deletePrefix, dumpKeyspace, withPrefix } from '../helpers/keyspace.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

let source: TestRedis;
let target: TestRedis;
let sourceClient: Redis;
let targetClient: Redis;
let directory: string;
let snapshotFile: string;
let ledger: Ledger;

const SKUS = ['TEE-BLK-M', 'MUG-WHT', 'MÜTZE-ROT-黒', 'glob*[chars]?', 'EMPTY-1'];

test.before(async () => {
  source = await startTestRedis();
  target = await startTestRedis();
  sourceClient = source.client();
  targetClient = target.client();
  directory = mkdtempSync(join(tmpdir(), 'sg-snapshot-'));

  // A ledger with every kind of key a snapshot holds.
  let now = 1_795_000_000_000;
  ledger = new Ledger({ redis: sourceClient, keyPrefix: source.prefix, clock: () => (now += 7) });
  const catalog = new Catalog({ redis: sourceClient, keyPrefix: source.prefix });
  for (const sku of SKUS) {
    await catalog.put({
      sku,
      holdback: 1,
      skuClass: sku === 'MUG-WHT' ? 'bulk' : 'default',
      policies: { shopify: { safety: 2 } },
      shopify: { inventoryItemId: `gid://shopify/InventoryItem/${BigInt(SKUS.indexOf(sku)) + 9007199254740993n}`, locationId: 'gid://shopify/Location/1' },
      ...(sku === 'MUG-WHT' ? { amazon: { sellerSku: 'SG-MUG', marketplaceId: 'ATVPDKIKX0DER', productType: 'MUG', fulfillment: 'MFN' as const } } : {}),
    });
    await ledger.createSku(sku);
    if (sku !== 'EMPTY-1') await ledger.count(sku, { eventId: `initial-${sku}`, counted: 50 });
  }
  await ledger.setHoldback('TEE-BLK-M', 3, 'import');
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-1', lines: [{ lineId: '1', sku: 'TEE-BLK-M', quantity: 2 }, { lineId: '2', sku: 'MUG-WHT', quantity: 1 }] });
  await ledger.reserveOrder({ channel: 'amazon', orderId: '111-2222222-3333333', lines: [{ lineId: '9', sku: 'TEE-BLK-M', quantity: 1 }] });
  await ledger.ship('TEE-BLK-M', { shipmentId: 'ship-1', reservationId: 'shopify:o-1:1', quantity: 1 });
  await ledger.release('MUG-WHT', 'shopify:o-1:2');
  await ledger.adjust('MÜTZE-ROT-黒', { eventId: 'adj-1', delta: -4, cause: 'adjustment' });
  await ledger.recordChannelLevel('TEE-BLK-M', 'shopify', { quantity: 44, observedAtMs: now, eventId: 'lvl-1' });
  await ledger.recordFbaStock('MUG-WHT', 'ATVPDKIKX0DER', { quantity: 12, observedAtMs: now, eventId: 'fba-1' });
  await setPushedLevel(sourceClient, ledger.keys, 'TEE-BLK-M', 'shopify', { quantity: 44, atMs: now });
  await setPushedLevel(sourceClient, ledger.keys, 'TEE-BLK-M', 'amazon', { quantity: 41, atMs: now - 1, version: 3 });
  // Layout 3's per-SKU hashes of the channel state, as a ledger not yet migrated has them: carried as they are.
  await sourceClient.hset(ledger.keys.pushedLevels('TEE-BLK-M'), 'shopify', JSON.stringify({ quantity: 44, atMs: now }), 'amazon', '41');
  await sourceClient.hset(ledger.keys.pushState('TEE-BLK-M'), 'cursor', '1795000000007-0', 'dynamic_holdback', '2');
  // A bounded Shopify account holding unseen sales: its state has no time bound (alloc:keep).
  await sourceClient.hset(ledger.keys.pushState('MUG-WHT'), 'cursor', '1795000000008-0', 'alloc:keep', '1');
  await sourceClient.set(ledger.keys.saleToLedgerLatency(), JSON.stringify({ p99Ms: 40, samples: 100, atMs: now }));
  await new CheckoutHolds(sourceClient, ledger, () => now).hold('checkout-77', [{ lineId: '1', sku: 'MUG-WHT', quantity: 1 }], 600);

  snapshotFile = join(directory, 'good.jsonl.gz');
  await writeSnapshot({ redis: sourceClient, keys: ledger.keys, file: snapshotFile, clock: () => now });
});

test.after(async () => {
  await deletePrefix(sourceClient, `${source.prefix}-load`);
  await source.close();
  await target.close();
  rmSync(directory, { recursive: true, force: true });
});

async function clearTarget(): Promise<void> {
  const keys = Object.keys(await dumpKeyspace(targetClient, target.prefix));
  if (keys.length > 0) await targetClient.del(...keys);
}

async function refused(file: string, code: ErrorCode, message: RegExp): Promise<void> {
  await clearTarget();
  try {
    await restoreSnapshot({ redis: targetClient, keys: new Ledger({ redis: targetClient, keyPrefix: target.prefix }).keys, file });
    assert.unreachable(`${file} must be refused`);
  } catch (error) {
    assert.ok(isStockguardError(error, code), String(error));
    assert.match(error.message, message);
  }
  assert.equal(await dumpKeyspace(targetClient, target.prefix), {}, 'nothing was written');
}

test('snapshot → restore into a fresh Redis reproduces every key exactly', async () => {
  await clearTarget();
  const sourceDump = await dumpKeyspace(sourceClient, source.prefix);
  assert.ok(Object.keys(sourceDump).length > 25, 'the fixture covers many keys');
  const kinds = new Set(Object.keys(sourceDump).map((key) => key.slice(source.prefix.length + 1).split(/[:{]/)[0]));
  for (const kind of ['inv-bucket', 'res', 'marks', 'journal', 'chan-bucket', 'pushed', 'pushstate', 'catalog-bucket', 'item-bucket', 'dirty', 'holds', 'hold-lines', 'sale-latency']) {
    assert.ok(kinds.has(kind), `the fixture has ${kind} keys: ${[...kinds].join(', ')}`);
  }
  const targetKeys = new Ledger({ redis: targetClient, keyPrefix: target.prefix }).keys;
  const summary = await restoreSnapshot({ redis: targetClient, keys: targetKeys, file: snapshotFile });
  assert.is(summary.skus, SKUS.length);
  assert.is(summary.sourcePrefix, source.prefix);
  assert.is(summary.keys, Object.keys(sourceDump).length);
  assert.equal(await dumpKeyspace(targetClient, target.prefix), withPrefix(sourceDump, source.prefix, target.prefix));

  // The restored ledger keeps working: its journal continues after the restored ids.
  const restored = new Ledger({ redis: targetClient, keyPrefix: target.prefix, clock: () => 1 });
  const [line] = await restored.reserveOrder({ channel: 'shopify', orderId: 'o-after', lines: [{ lineId: '1', sku: 'TEE-BLK-M', quantity: 1 }] });
  assert.is(line!.status, 'RESERVED');
  const journal = await restored.journal('TEE-BLK-M');
  assert.ok(journal.at(-1)!.id > journal.at(-2)!.id);
});

test('a restored pushers\' state key gets the idle expiry its writes give it, unless it holds alloc:keep', async () => {
  await clearTarget();
  const targetKeys = new Ledger({ redis: targetClient, keyPrefix: target.prefix }).keys;
  const idleMs = 140 * 60_000;
  await restoreSnapshot({ redis: targetClient, keys: targetKeys, file: snapshotFile, pushStateIdleMs: idleMs });
  const ttl = await targetClient.pttl(targetKeys.pushState('TEE-BLK-M'));
  assert.ok(ttl > idleMs - 60_000 && ttl <= idleMs, `expires within the idle horizon, PTTL ${ttl}`);
  assert.is(await targetClient.pttl(targetKeys.pushState('MUG-WHT')), -1, 'alloc:keep: no expiry');
  assert.equal(await targetClient.hgetall(targetKeys.pushState('TEE-BLK-M')), { cursor: '1795000000007-0', dynamic_holdback: '2' });
});

test('a byte flipped inside the compressed data is refused as corrupt, and nothing is written', async () => {
  const bytes = readFileSync(snapshotFile);
  const flipped = Buffer.from(bytes);
  const at = Math.floor(flipped.length / 2);
  flipped[at] = flipped[at]! ^ 0xff;
  const file = join(directory, 'flipped.jsonl.gz');
  writeFileSync(file, flipped);
  await refused(file, 'STOCKGUARD_E_SNAPSHOT_CORRUPT', /STOCKGUARD_E_SNAPSHOT_CORRUPT: The snapshot file is damaged.*flipped\.jsonl\.gz.*Fix: Nothing was written/);
});

test('a truncated file is refused as corrupt, and nothing is written', async () => {
  const bytes = readFileSync(snapshotFile);
  const file = join(directory, 'truncated.jsonl.gz');
  writeFileSync(file, bytes.subarray(0, bytes.length - 40));
  await refused(file, 'STOCKGUARD_E_SNAPSHOT_CORRUPT', /cannot decompress|truncated/);
});

test('content changed and recompressed fails the sha256; a missing end line is truncation; another version is refused', async () => {
  const lines = gunzipSync(readFileSync(snapshotFile)).toString('utf8').split('\n');
  const tampered = lines.map((line) => line.replace('"on_hand","49"', '"on_hand","490"'));
  assert.not.equal(tampered, lines, 'the fixture has a line to tamper with');
  const tamperedFile = join(directory, 'tampered.jsonl.gz');
  writeFileSync(tamperedFile, gzipSync(tampered.join('\n')));
  await refused(tamperedFile, 'STOCKGUARD_E_SNAPSHOT_CORRUPT', /sha256/);

  const withoutEnd = join(directory, 'no-end.jsonl.gz');
  writeFileSync(withoutEnd, gzipSync(`${lines.slice(0, -2).join('\n')}\n`));
  await refused(withoutEnd, 'STOCKGUARD_E_SNAPSHOT_CORRUPT', /no end line.*truncated/);

  const newer = join(directory, 'newer.jsonl.gz');
  writeFileSync(newer, gzipSync([lines[0]!.replace('"version":2', '"version":3'), ...lines.slice(1)].join('\n')));
  await refused(newer, 'STOCKGUARD_E_SNAPSHOT_VERSION', /format version 3/);
  // Version 1 held a journal per SKU (layout 2): refused, not half restored.
  const older = join(directory, 'older.jsonl.gz');
  writeFileSync(older, gzipSync([lines[0]!.replace('"version":2', '"version":1'), ...lines.slice(1)].join('\n')));
  await refused(older, 'STOCKGUARD_E_SNAPSHOT_VERSION', /format version 1/);

  const notSnapshot = join(directory, 'not-a-snapshot.gz');
  writeFileSync(notSnapshot, gzipSync('{"hello":"world"}\n'));
  await refused(notSnapshot, 'STOCKGUARD_E_SNAPSHOT_CORRUPT', /not a stockguard snapshot header/);

  const missing = join(directory, 'does-not-exist.jsonl.gz');
  await refused(missing, 'STOCKGUARD_E_FILE', /ENOENT/);
});

test('a non-empty target is refused without --force; --force replaces the ledger and keeps other keys', async () => {
  await clearTarget();
  const keys = new Ledger({ redis: targetClient, keyPrefix: target.prefix }).keys;
  const stray = new Ledger({ redis: targetClient, keyPrefix: target.prefix });
  await stray.createSku('STRAY-1');
  await stray.count('TEE-BLK-M', { eventId: 'x', counted: 1 }).catch(() => undefined);
  const inFlight = keys.eventStream('sales', 0);
  await targetClient.xadd(inFlight, '*', 'event', '{}');
  const before = await dumpKeyspace(targetClient, target.prefix);
  try {
    await restoreSnapshot({ redis: targetClient, keys, file: snapshotFile });
    assert.unreachable('a non-empty target must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_RESTORE_NOT_EMPTY'), String(error));
    assert.match(error.message, /--force/);
  }
  assert.equal(await dumpKeyspace(targetClient, target.prefix), before, 'nothing changed');

  const summary = await restoreSnapshot({ redis: targetClient, keys, file: snapshotFile, force: true });
  assert.ok(summary.replaced > 0);
  const after = await dumpKeyspace(targetClient, target.prefix);
  assert.is(after[inFlight]?.type, 'stream', 'event streams are not the snapshot’s to delete');
  delete after[inFlight];
  assert.equal(after, withPrefix(await dumpKeyspace(sourceClient, source.prefix), source.prefix, target.prefix), 'STRAY-1 is gone, the rest is the snapshot');
});

test('a write Redis refuses mid-restore is STOCKGUARD_E_RESTORE_PARTIAL naming the line and reason; restoring again with --force completes it', async () => {
  await clearTarget();
  const keys = new Ledger({ redis: targetClient, keyPrefix: target.prefix }).keys;
  // A user that may do everything but XADD: the first journal write is refused.
  const user = `restorer-${randomUUID().slice(0, 8)}`;
  await targetClient.call('ACL', 'SETUSER', user, 'on', '>restore-secret', '~*', '&*', '+@all', '-xadd');
  const restricted = new IORedis(target.url, { username: user, password: 'restore-secret', maxRetriesPerRequest: 1 });
  try {
    await restoreSnapshot({ redis: restricted, keys, file: snapshotFile });
    assert.unreachable('the refused XADD must fail the restore');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_RESTORE_PARTIAL'), String(error));
    assert.match(error.message, /line \d+: Redis refused the journal of layout partition \d+: .*NOPERM/);
    assert.match(error.message, /--force/);
  } finally {
    restricted.disconnect();
    await targetClient.call('ACL', 'DELUSER', user);
  }
  await restoreSnapshot({ redis: targetClient, keys, file: snapshotFile, force: true });
  assert.equal(await dumpKeyspace(targetClient, target.prefix), withPrefix(await dumpKeyspace(sourceClient, source.prefix), source.prefix, target.prefix));
});

test('a snapshot taken under load is consistent per SKU and per partition journal', async () => {
  const prefix = `${source.prefix}-load`;
  let now = 1_796_000_000_000;
  const busy = new Ledger({ redis: sourceClient, keyPrefix: prefix, clock: () => (now += 1) });
  const skus = Array.from({ length: 40 }, (_, index) => `LOAD-${index}`);
  for (const sku of skus) {
    await busy.createSku(sku);
    await busy.count(sku, { eventId: `initial-${sku}`, counted: 1_000 });
  }
  let stop = false;
  const writers = Array.from({ length: 8 }, async (_, writer) => {
    for (let round = 0; !stop; round += 1) {
      const sku = skus[(writer * 7 + round) % skus.length]!;
      const orderId = `w${writer}-r${round}`;
      await busy.reserveOrder({ channel: 'api', orderId, lines: [{ lineId: '1', sku, quantity: 2 }] });
      if (round % 2 === 0) await busy.ship(sku, { shipmentId: `s-${orderId}`, reservationId: `api:${orderId}:1`, quantity: 1 });
      if (round % 3 === 0) await busy.release(sku, `api:${orderId}:1`);
    }
  });
  const file = join(directory, `load-${randomUUID().slice(0, 8)}.jsonl.gz`);
  // Let the writers get going, then snapshot while they run.
  await new Promise((resolve) => setTimeout(resolve, 50));
  await writeSnapshot({ redis: sourceClient, keys: busy.keys, file });
  stop = true;
  await Promise.all(writers);
  await verifySnapshot(file);

  let checked = 0;
  const lines = gunzipSync(readFileSync(file)).toString('utf8').trim().split('\n').slice(1, -1).map((line) => JSON.parse(line) as { sku?: string; journal?: number; keys?: Record<string, { type: string; value: unknown }>; packed?: Record<string, string>; value?: unknown });
  // Each SKU's entries, from the partition journal lines (one partition's SKUs are read with its journal).
  const bySku = new Map<string, [string, string[]][]>();
  for (const line of lines) {
    if (line.journal === undefined) continue;
    for (const entry of line.value as [string, string[]][]) {
      const sku = entry[1][entry[1].indexOf('sku') + 1]!;
      bySku.set(sku, [...(bySku.get(sku) ?? []), entry]);
    }
  }
  for (const parsed of lines) {
    if (!parsed.sku) continue;
    const hash = (kind: string) => {
      const flat = (parsed.keys![kind]?.value ?? []) as string[];
      const map = new Map<string, string>();
      for (let index = 0; index + 1 < flat.length; index += 2) map.set(flat[index]!, flat[index + 1]!);
      return map;
    };
    // The inventory is the SKU's `inv` bucket field, as stored (src/domain/inventoryCodec.ts).
    const inventory = new Map(Object.entries(inventoryToHash(decodeInventory(parsed.packed!.inv!))));
    const open = [...hash('reservations')].reduce((sum, [id, encoded]) => sum + decodeReservationRecord(id, encoded).openUnits, 0);
    assert.is(Number(inventory.get('reserved')), open, `${parsed.sku}: reserved = Σ open reservations (I3) in the same snapshot`);
    const journal = bySku.get(parsed.sku)!;
    const lastFields = journal.at(-1)![1];
    assert.is(lastFields[lastFields.indexOf('on_hand') + 1], inventory.get('on_hand'), `${parsed.sku}: the journal ends where the inventory is`);
    assert.is(lastFields[lastFields.indexOf('reserved') + 1], inventory.get('reserved'));
    checked += 1;
  }
  assert.is(checked, skus.length);
});

test.run();
