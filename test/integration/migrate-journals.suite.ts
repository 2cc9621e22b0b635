// Layout 2 → 3 (`stockguard migrate layout`, src/redis/migrateLayout.ts +
// src/lua/mergeJournals.lua): the journals of a layout-2 ledger, one stream per SKU, are
// merged into one stream per layout partition. Runs on one server
// (migrate-journals.test.ts) and on a 3-master Cluster (migrate-journals.cluster.test.ts).
import { LAYOUT_VERSION } from '../../src/domain/layout.ts';
import type { Cluster, Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { layoutPartition } from '../../src/domain/layout.ts';
import { isStockguardError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { ensureLayout } from '../../src/redis/layout.ts';
import { migrateLayout } from '../../src/redis/migrateLayout.ts';
import { layout2JournalKey, skusSharingAPartition, toLayout2 } from '../helpers/layout.ts';

export interface MigrateTarget {
  prefix: string;
  client(): Redis | Cluster;
  close(): Promise<void>;
}

/** A journal as a reader sees it, without the ids' seq (re-assigned by the merge): ms, at_ms and fields in order. */
type Comparable = { ms: string; fields: string[] }[];

export function defineMigrateJournalsSuite(name: string, start: () => Promise<MigrateTarget>): void {
  const test = suite(`layout 2 → 3 on ${name}`);
  let target: MigrateTarget;
  let client: Redis | Cluster;

  test.before(async () => {
    target = await start();
    client = target.client();
  });
  test.after(async () => {
    await target.close();
  });

  /** Each SKU's layout-2 journal: ms of each id, and the fields. */
  async function layout2Journals(prefix: string, skus: readonly string[]): Promise<Map<string, Comparable>> {
    const journals = new Map<string, Comparable>();
    for (const sku of skus) journals.set(sku, (await client.xrange(layout2JournalKey(prefix, sku), '-', '+')).map(([id, fields]) => ({ ms: id.split('-')[0]!, fields })));
    return journals;
  }

  /** Each SKU's entries in its partition journal, the same way (the field `sku` checked and left out). */
  async function partitionJournals(ledger: Ledger, skus: readonly string[]): Promise<Map<string, Comparable>> {
    const journals = new Map<string, Comparable>();
    for (const sku of skus) {
      const entries = (await client.xrange(ledger.keys.sku(sku).journal, '-', '+')).filter(([, fields]) => fields[1] === sku);
      for (const [, fields] of entries) assert.is(fields[0], 'sku', 'the SKU comes first');
      journals.set(sku, entries.map(([id, fields]) => ({ ms: id.split('-')[0]!, fields: fields.slice(2) })));
    }
    return journals;
  }

  test('every entry of every SKU is kept (same fields, at_ms and order, ms of the id kept), an interrupted run resumes without duplicates, layout 2 is refused at start', async () => {
    const prefix = target.prefix;
    let now = 1_799_000_000_000;
    const ledger = new Ledger({ redis: client, keyPrefix: prefix, clock: () => (now += 3) });
    // Pairs of SKUs sharing a partition, and lone ones: several partitions to merge.
    const skus = [...skusSharingAPartition(`MJ-${prefix.slice(-4)}-a`), ...skusSharingAPartition(`MJ-${prefix.slice(-4)}-b`, 3), 'LONE:1', 'LONE-ü'];
    for (const sku of skus) {
      await ledger.createSku(sku);
      await ledger.adjust(sku, { eventId: `rcpt-${sku}`, delta: 9, cause: 'receipt' });
    }
    for (const [index, sku] of skus.entries()) {
      await ledger.reserveOrder({ channel: 'shopify', orderId: `o-${index}`, lines: [{ lineId: '1', sku, quantity: 2 }, { lineId: '2', sku, quantity: 1 }] });
      now -= 2; // a clock stepping back a little between changes
      await ledger.ship(sku, { shipmentId: `s-${index}`, reservationId: `shopify:o-${index}:1`, quantity: 2, seq: index + 1 });
    }
    const before = await Promise.all(skus.map(async (sku) => ({ inventory: await ledger.inventory(sku), events: (await ledger.journal(sku)).map(({ id: _id, ...entry }) => entry) })));

    // Layout 2, plus two SKUs of one partition whose own journals hold the same ids.
    await toLayout2(client, ledger.keys, skus);
    const [x, y] = skusSharingAPartition(`MJ-${prefix.slice(-4)}-same`);
    for (const sku of [x!, y!]) {
      await client.xadd(layout2JournalKey(prefix, sku), '1799000000000-0', 'cause', 'create', 'event', 'create', 'at_ms', '1799000000000');
      await client.xadd(layout2JournalKey(prefix, sku), '1799000000000-1', 'cause', 'receipt', 'event', `rcpt-${sku}`, 'at_ms', '1799000000000');
    }
    await client.xadd(layout2JournalKey(prefix, y!), '1799000000005-0', 'cause', 'adjustment', 'event', `adj-${y}`, 'at_ms', '1799000000004');
    // The pushers read up to y's first entry: their cursor must still split y's entries there.
    await client.hset(ledger.keys.pushState(y!), 'cursor', '1799000000000-0');
    const all = [...skus, x!, y!];
    const expected = await layout2Journals(prefix, all);
    const partitions = new Set(all.map((sku) => layoutPartition(sku))).size;

    try {
      await ensureLayout(client, ledger.keys);
      assert.unreachable('layout 2 must be refused');
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_LAYOUT_OUTDATED'), String(error));
      assert.match((error as Error).message, /layout 2.*stockguard migrate layout/);
    }

    // Run 1 stops after two partitions, as a crash would between two calls.
    const first = await migrateLayout({ redis: client, keys: ledger.keys, batchSize: 1, stopAfterPartitions: 2 });
    assert.is(first.outcome, 'interrupted');
    assert.is(first.partitionsMerged, 2);
    assert.is(await client.get(ledger.keys.layoutMarker()), '2', 'the marker stays 2 until every partition is merged');
    const left = await Promise.all(all.map((sku) => client.exists(layout2JournalKey(prefix, sku))));
    assert.ok(left.includes(0) && left.includes(1), 'some SKUs moved, some not');

    const second = await migrateLayout({ redis: client, keys: ledger.keys, batchSize: 3 });
    assert.is(second.outcome, 'done');
    assert.is(second.markerWritten, LAYOUT_VERSION);
    assert.is(first.partitionsMerged + second.partitionsMerged, partitions, 'each partition merged once');
    assert.is(first.entriesMerged + second.entriesMerged, [...expected.values()].reduce((sum, journal) => sum + journal.length, 0), 'each entry moved once');
    assert.is(await client.get(ledger.keys.layoutMarker()), String(LAYOUT_VERSION));
    assert.is(await ensureLayout(client, ledger.keys), 'current');
    for (const sku of all) assert.is(await client.exists(layout2JournalKey(prefix, sku)), 0, `${sku}'s own journal is gone`);
    assert.equal(await partitionJournals(ledger, all), expected, 'every entry, in order, with its fields and the ms of its id');

    // The readers: the same journal and ledger as before, ids apart; the pushers' cursor moved with y's entry.
    const after = await Promise.all(skus.map(async (sku) => ({ inventory: await ledger.inventory(sku), events: (await ledger.journal(sku)).map(({ id: _id, ...entry }) => entry) })));
    assert.equal(after, before);
    const cursor = (await client.hget(ledger.keys.pushState(y!), 'cursor'))!;
    assert.equal((await ledger.journal(y!, { afterId: cursor })).map((entry) => entry.event), [`rcpt-${y}`, `adj-${y}`], `cursor ${cursor}`);
    assert.equal((await ledger.journal(x!)).map((entry) => entry.event), ['create', `rcpt-${x}`]);

    // A third run changes nothing; the ledger goes on after the merged ids.
    const third = await migrateLayout({ redis: client, keys: ledger.keys });
    assert.equal([third.outcome, third.partitionsMerged, third.entriesMerged], ['done', 0, 0]);
    // On a clock behind every merged id: the XADD still succeeds, after them.
    now = 1_798_000_000_000;
    await ledger.adjust(skus[0]!, { eventId: 'late', delta: 1, cause: 'receipt' });
    const journal = await ledger.journal(skus[0]!);
    assert.is(journal.at(-1)!.event, 'late');
    assert.ok(journal.at(-1)!.id > journal.at(-2)!.id);
  });

  test.run();
}
