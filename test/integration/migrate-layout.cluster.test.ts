// The layout-2 migration on a local 3-master Redis Cluster: the old and new names of a key
// are in different slots (often on different masters), the SCAN for layout-1 keys must
// cover every master, and the start-up check must find them. After an interrupted run
// and a resumed one, the readers give back every figure.
import type { Cluster } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { isStockguardError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { findLayout1Key, ensureLayout } from '../../src/redis/layout.ts';
import { migrateLayout } from '../../src/redis/migrateLayout.ts';
import { layout1Key, toLayout1 } from '../helpers/layout.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis.ts';
import { buildLedger, figures, LEDGER_ONLY, SKUS } from './migrate-layout.fixture.ts';

const test = suite('layout migration on a Redis Cluster');
let target: TestCluster;
let client: Cluster;

test.before(async () => {
  target = await startTestCluster();
  client = target.client();
});

test.after(async () => {
  await target?.close();
});

test('a layout-1 ledger spread over three masters is refused, migrated after an interruption, and reads back figure for figure', async () => {
  const clock = { now: 1_798_000_000_000 };
  const ledger = new Ledger({ redis: client, keyPrefix: target.prefix, clock: () => (clock.now += 7) });
  const catalog = new Catalog({ redis: client, keyPrefix: target.prefix });
  const { asOfMs } = await buildLedger(ledger, catalog, client, clock);
  const expected = await figures(ledger, catalog, client, asOfMs);
  const moved = await toLayout1(client, ledger.keys, SKUS);
  const slots = new Set(await Promise.all(moved.map((key) => client.cluster('KEYSLOT', key))));
  assert.ok(slots.size >= SKUS.length, 'the layout-1 keys are in as many slots as SKUs');

  // Only the ledger-only SKU's keys: the catalogue sample finds nothing, the SCAN over every master must.
  const orphanPrefix = `${target.prefix}-orphan`;
  const orphan = new Ledger({ redis: client, keyPrefix: orphanPrefix });
  await orphan.createSku(LEDGER_ONLY);
  const orphanKeys = await toLayout1(client, orphan.keys, [LEDGER_ONLY]);
  const found = await findLayout1Key(client, orphan.keys);
  assert.ok((['inventory', 'journal', 'eventMarks'] as const).some((kind) => found === layout1Key(orphanPrefix, kind, LEDGER_ONLY)), String(found));
  try {
    await ensureLayout(client, ledger.keys);
    assert.unreachable('a layout-1 ledger must be refused');
  } catch (error) {
    assert.ok(isStockguardError(error, 'STOCKGUARD_E_LAYOUT_OUTDATED'), String(error));
  }

  const first = await migrateLayout({ redis: client, keys: ledger.keys, batchSize: 2, stopAfterSkus: 3 });
  assert.is(first.outcome, 'interrupted');
  assert.is(await client.exists(ledger.keys.layoutMarker()), 0);
  const second = await migrateLayout({ redis: client, keys: ledger.keys, batchSize: 2 });
  assert.is(second.outcome, 'done', JSON.stringify(second.conflicts));
  assert.is(first.keysMoved + second.keysMoved + second.keysFinished, moved.length);
  for (const key of moved) assert.is(await client.exists(key), 0, `${key} is gone`);
  assert.equal(await figures(ledger, catalog, client, asOfMs), expected);
  assert.is(await ensureLayout(client, ledger.keys), 'current');

  // The orphan prefix: found by the SCAN alone, and moved.
  const orphanRun = await migrateLayout({ redis: client, keys: orphan.keys });
  assert.is(orphanRun.outcome, 'done');
  assert.is(orphanRun.keysMoved, orphanKeys.length);
  assert.ok(await orphan.inventory(LEDGER_ONLY));
});

test.run();
