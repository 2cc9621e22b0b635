// The journal trimmer (src/ledger/journalTrimmer.ts) on a real Redis with an injected clock:
// an idle partition's journal is emptied once every entry is older than the retention
// (commitChange alone never trims it: it trims only when one of the partition's SKUs changes
// again) and kept, an active partition keeps its entries inside the retention, nothing goes
// before the retention ends, and every audit line names its SKU.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AuditedEntry, JOURNAL_TRIM_GRACE_MS, JournalAuditFiles, JournalTrimmer, trimJournals } from '../../src/ledger/journalTrimmer.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { LAYOUT_PARTITIONS, layoutPartition } from '../../src/domain/layout.ts';
import { RunLock } from '../../src/reconcile/lock.ts';
import { skusSharingAPartition } from '../helpers/layout.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const DAY_MS = 86_400_000;
const RETENTION_MS = 3 * DAY_MS;
const T0 = Date.UTC(2026, 10, 2, 9, 0, 0);

let redis: TestRedis;
test.before(async () => {
  redis = await startTestRedis();
});
test.after(async () => {
  await redis.close();
});

test('an idle partition journal is emptied once the retention has passed, and kept; an active one keeps its recent entries', async () => {
  const client = redis.client();
  let now = T0;
  const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-trim`, clock: () => now, journalRetentionMs: RETENTION_MS });
  const keys = ledger.keys;
  // Two SKUs of one partition (the idle one and an idle neighbour), one of another.
  const [idle, neighbour] = skusSharingAPartition('IDLE');
  const active = 'ACTIVE-1';
  assert.is.not(layoutPartition(active), layoutPartition(idle!));
  for (const sku of [idle!, neighbour!, active]) {
    await ledger.createSku(sku);
    await ledger.adjust(sku, { eventId: `receipt-${sku}`, delta: 12, cause: 'receipt' });
  }
  const idleJournal = keys.sku(idle!).journal;
  assert.is(keys.sku(neighbour!).journal, idleJournal, 'one journal per partition');
  const lastSeenId = (await client.xrevrange(idleJournal, '+', '-', 'COUNT', 1))[0]![0];

  now = T0 + RETENTION_MS - 1;
  const early = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now });
  assert.equal(early, { partitions: LAYOUT_PARTITIONS, trimmed: 0, exported: 0 }, 'nothing is older than the retention yet');
  assert.is(await client.xlen(idleJournal), 4);

  // Two days on, the active SKU changes: its new entry is inside the retention, and so are
  // its old ones (T0 > now - retention), so its own XADD trims nothing.
  now = T0 + 2 * DAY_MS;
  await ledger.adjust(active, { eventId: 'receipt-ACTIVE-1-b', delta: 3, cause: 'receipt' });
  now = T0 + RETENTION_MS + 3_600_000;
  const result = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now });
  assert.is(result.partitions, LAYOUT_PARTITIONS);
  assert.ok(result.trimmed > 0);
  assert.is(await client.xlen(idleJournal), 0, 'the idle partition has no entry left');
  assert.is(await client.exists(idleJournal), 1, 'the emptied partition journal is kept: it keeps its last id');
  assert.ok(Number(await client.call('MEMORY', 'USAGE', idleJournal)) < 1_000, 'an empty partition journal is small');
  const activeEntries = await ledger.journal(active);
  assert.ok(activeEntries.some((entry) => entry.event === 'receipt-ACTIVE-1-b'), 'the entry inside the retention stays');

  // The ledger itself is untouched, and a second pass removes nothing more.
  assert.is((await ledger.inventory(idle!))?.onHand, 12);
  assert.equal(await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now }), { partitions: LAYOUT_PARTITIONS, trimmed: 0, exported: 0 });

  // The neighbour changes on a clock that stepped back an hour, then the idle SKU: the
  // emptied stream still knows its last id, so neither XADD fails and both new ids come
  // after every trimmed one, so a reader that kept the last id it saw (the pushers'
  // cursor) misses nothing.
  now = T0 - 3_600_000;
  await ledger.adjust(neighbour!, { eventId: `receipt-${neighbour}-b`, delta: 1, cause: 'receipt' });
  await ledger.adjust(idle!, { eventId: `receipt-${idle}-b`, delta: 1, cause: 'receipt' });
  const recreated = await client.xrange(idleJournal, '-', '+');
  assert.is(recreated.length, 2);
  assert.equal((await ledger.journal(idle!, { afterId: lastSeenId })).map((entry) => entry.event), [`receipt-${idle}-b`], `the new id comes after the last trimmed one, ${lastSeenId}`);
  assert.equal((await ledger.journal(neighbour!, { afterId: lastSeenId })).map((entry) => entry.event), [`receipt-${neighbour}-b`]);
});

test('a retention that is not a whole number of ms ≥ 1 is refused with a coded error', async () => {
  const client = redis.client();
  const keys = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-bad` }).keys;
  for (const retentionMs of [0, -1, 1.5, Number.NaN]) {
    try {
      await trimJournals({ redis: client, keys, retentionMs });
      assert.unreachable(`retention ${retentionMs} accepted`);
    } catch (error) {
      assert.is((error as { code?: string }).code, 'STOCKGUARD_E_BAD_ARGUMENT');
    }
  }
});

/** Every line of every audit file in `dir`, parsed. */
function auditLines(dir: string): AuditedEntry[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => gunzipSync(readFileSync(join(dir, name))).toString('utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as AuditedEntry);
}

test('with an audit directory, entries past the retention are written out once, then trimmed exactly; the ledger scripts trim one grace later', async () => {
  const client = redis.client();
  const dir = mkdtempSync(join(tmpdir(), 'stockguard-audit-'));
  try {
    let now = T0;
    const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-audit`, clock: () => now, journalRetentionMs: RETENTION_MS });
    const keys = ledger.keys;
    // Two SKUs of one partition: one journal, whose audit lines must still tell them apart.
    const [first, second] = skusSharingAPartition('AUDIT');
    for (const sku of [first!, second!]) {
      await ledger.createSku(sku);
      await ledger.adjust(sku, { eventId: `receipt-${sku}`, delta: 5, cause: 'receipt' });
    }
    const audit = new JournalAuditFiles(dir, 'audit-test', () => now);
    now = T0 + RETENTION_MS + 3_600_000;
    await ledger.adjust(first!, { eventId: `late-${first}`, delta: 1, cause: 'receipt' });

    const pass = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit });
    assert.equal(pass, { partitions: LAYOUT_PARTITIONS, trimmed: 4, exported: 4 }, 'two old entries per SKU, written then trimmed');
    const lines = auditLines(dir);
    assert.equal(readdirSync(dir), [`stockguard-audit-test-journal-${new Date(now).toISOString().slice(0, 10)}.ndjson.gz`]);
    assert.equal(lines.map((line) => `${line.sku} ${line.fields.event}`).sort(), [`${first} create`, `${first} receipt-${first}`, `${second} create`, `${second} receipt-${second}`].sort());
    assert.ok(lines.every((line) => !('sku' in line.fields)), 'the SKU is the line\'s own field, as before');
    assert.ok(lines.every((line) => /^\d+-\d+$/.test(line.id) && Number(line.id.split('-')[0]) < now - RETENTION_MS), 'each line names its stream id, older than the retention');
    const left = await client.xrange(keys.sku(first!).journal, '-', '+');
    assert.equal(left.map(([, fields]) => fields[fields.indexOf('event') + 1]), [`late-${first}`], 'only the entry inside the retention stays in Redis');

    // A second pass a day later writes the late entry once, and nothing twice.
    now += DAY_MS + RETENTION_MS;
    const later = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit });
    assert.equal(later, { partitions: LAYOUT_PARTITIONS, trimmed: 1, exported: 1 });
    const all = auditLines(dir);
    assert.is(all.length, 5);
    assert.equal(all.at(-1)!.sku, first, 'the late line names its SKU');
    assert.is(new Set(all.map((line) => `${line.sku} ${line.id}`)).size, 5, 'no entry written twice');
    assert.equal(await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit }), { partitions: LAYOUT_PARTITIONS, trimmed: 0, exported: 0 });
    assert.is(JOURNAL_TRIM_GRACE_MS, DAY_MS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a SKU that changes after the retention does not trim its old entries itself before the trimmer could write them out (one grace later it does)', async () => {
  const client = redis.client();
  let now = T0;
  const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-grace`, clock: () => now, journalRetentionMs: RETENTION_MS });
  const journal = ledger.keys.sku('GRACE-1').journal;
  await ledger.createSku('GRACE-1');
  // 150 entries at T0: a full stream node (stream-node-max-entries 100), which an
  // approximate trim at now − retention would drop whole.
  for (let index = 0; index < 149; index += 1) await ledger.adjust('GRACE-1', { eventId: `old-${index}`, delta: 1, cause: 'receipt' });
  now = T0 + RETENTION_MS + 3_600_000;
  await ledger.adjust('GRACE-1', { eventId: 'after-retention', delta: 1, cause: 'receipt' });
  assert.is(await client.xlen(journal), 151, 'inside the grace: nothing trimmed by the SKU\'s own change');
  now = T0 + RETENTION_MS + JOURNAL_TRIM_GRACE_MS + 3_600_000;
  await ledger.adjust('GRACE-1', { eventId: 'after-grace', delta: 1, cause: 'receipt' });
  assert.ok((await client.xlen(journal)) < 120, `past the grace the script drops the old nodes whole: ${await client.xlen(journal)} left`);
});

test('an audit write that fails trims nothing: the entries stay in Redis for the next pass', async () => {
  const client = redis.client();
  let now = T0;
  const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-auditfail`, clock: () => now, journalRetentionMs: RETENTION_MS });
  await ledger.createSku('FAIL-1');
  now = T0 + RETENTION_MS + 1;
  const failing = { write: async () => Promise.reject(new Error('EROFS: read-only file system')) };
  try {
    await trimJournals({ redis: client, keys: ledger.keys, retentionMs: RETENTION_MS, clock: () => now, audit: failing });
    assert.unreachable('the failed write was ignored');
  } catch (error) {
    assert.match((error as Error).message, /EROFS/);
  }
  assert.is(await client.xlen(ledger.keys.sku('FAIL-1').journal), 1);
});

test('two replicas trimming at once: the run lock lets one write the audit trail, each entry once', async () => {
  const client = redis.client();
  const dir = mkdtempSync(join(tmpdir(), 'stockguard-audit-'));
  try {
    let now = T0;
    const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-auditlock`, clock: () => now, journalRetentionMs: RETENTION_MS });
    const skus = Array.from({ length: 600 }, (_, index) => `LOCK-${index}`);
    for (const sku of skus) await ledger.createSku(sku);
    now = T0 + RETENTION_MS + 1;
    const replica = (name: string) =>
      new JournalTrimmer({
        redis: client,
        keys: ledger.keys,
        retentionMs: RETENTION_MS,
        clock: () => now,
        batchSize: 16,
        audit: new JournalAuditFiles(dir, name, () => now),
        lock: new RunLock(client, ledger.keys.runLock('journal-trim'), 30_000),
        logger: pino({ level: 'silent' }),
      });
    const results = await Promise.all([replica('a').trimOnce(), replica('b').trimOnce()]);
    assert.is(results.filter((result) => result !== undefined).length, 1, 'one replica ran the pass, the other found the lock taken');
    const lines = auditLines(dir);
    assert.is(lines.length, 600);
    assert.is(new Set(lines.map((line) => line.sku)).size, 600);
    assert.is(await client.get(ledger.keys.runLock('journal-trim')), null, 'the lock is released');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
