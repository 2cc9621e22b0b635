// The journal trimmer (src/ledger/journalTrimmer.ts) on a real Redis with an injected clock:
// an idle SKU's journal goes once every entry is older than the retention (commitChange
// alone never trims it: it trims only when the same SKU changes again), an active SKU keeps
// its entries inside the retention, and nothing goes before the retention ends.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pino from 'pino';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AuditedEntry, JOURNAL_TRIM_GRACE_MS, JournalAuditFiles, JournalTrimmer, trimJournals } from '../../src/ledger/journalTrimmer.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { RunLock } from '../../src/reconcile/lock.ts';
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

test('an idle SKU loses its journal once the retention has passed; an active one keeps its recent entries', async () => {
  const client = redis.client();
  let now = T0;
  const ledger = new Ledger({ redis: client, keyPrefix: `${redis.prefix}-trim`, clock: () => now, journalRetentionMs: RETENTION_MS });
  const keys = ledger.keys;
  for (const sku of ['IDLE-1', 'ACTIVE-1']) {
    await ledger.createSku(sku);
    await ledger.adjust(sku, { eventId: `receipt-${sku}`, delta: 12, cause: 'receipt' });
    await client.sadd(keys.catalogIndex(), sku);
  }
  // Not in the catalogue: left alone (the trimmer walks the catalogue index).
  await ledger.createSku('UNLISTED-1');
  const idleBytesBefore = Number(await client.call('MEMORY', 'USAGE', keys.sku('IDLE-1').journal));
  const lastSeenId = (await client.xrevrange(keys.sku('IDLE-1').journal, '+', '-', 'COUNT', 1))[0]![0];

  now = T0 + RETENTION_MS - 1;
  const early = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now });
  assert.equal(early, { skus: 2, trimmed: 0, exported: 0, deleted: 0 }, 'nothing is older than the retention yet');
  assert.is(await client.xlen(keys.sku('IDLE-1').journal), 2);

  // Two days on, the active SKU changes: its new entry is inside the retention, and so are
  // its old ones (T0 > now - retention), so its own XADD trims nothing.
  now = T0 + 2 * DAY_MS;
  await ledger.adjust('ACTIVE-1', { eventId: 'receipt-ACTIVE-1-b', delta: 3, cause: 'receipt' });
  now = T0 + RETENTION_MS + 3_600_000;
  const result = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now });
  assert.is(result.skus, 2);
  assert.is(result.deleted, 1, 'the idle journal, left empty, is deleted');
  assert.is(await client.exists(keys.sku('IDLE-1').journal), 0, 'an idle SKU has no journal key at all');
  const active = await client.xrange(keys.sku('ACTIVE-1').journal, '-', '+');
  assert.ok(active.some(([, fields]) => fields.includes('receipt-ACTIVE-1-b')), 'the entry inside the retention stays');
  assert.is(await client.xlen(keys.sku('UNLISTED-1').journal), 1);
  assert.ok(idleBytesBefore > 0);

  // The ledger itself is untouched, and a second pass removes nothing more.
  assert.is((await ledger.inventory('IDLE-1'))?.onHand, 12);
  assert.equal(await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now }), { skus: 2, trimmed: 0, exported: 0, deleted: 0 });

  // The idle SKU changes again, on a clock that stepped back an hour: its re-created journal
  // continues after the deleted entries (ids from the inventory's journal_ms), so a reader
  // that kept the last id it saw (the pushers' cursor) misses nothing.
  now = T0 - 3_600_000;
  await ledger.adjust('IDLE-1', { eventId: 'receipt-IDLE-1-b', delta: 1, cause: 'receipt' });
  const recreated = await client.xrange(keys.sku('IDLE-1').journal, '-', '+');
  assert.is(recreated.length, 1);
  assert.equal((await ledger.journal('IDLE-1', { afterId: lastSeenId })).map((entry) => entry.event), ['receipt-IDLE-1-b'], `the new id ${recreated[0]![0]} comes after the last deleted one, ${lastSeenId}`);
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
    for (const sku of ['AUDIT-1', 'AUDIT-2']) {
      await ledger.createSku(sku);
      await ledger.adjust(sku, { eventId: `receipt-${sku}`, delta: 5, cause: 'receipt' });
      await client.sadd(keys.catalogIndex(), sku);
    }
    const audit = new JournalAuditFiles(dir, 'audit-test', () => now);
    now = T0 + RETENTION_MS + 3_600_000;
    await ledger.adjust('AUDIT-1', { eventId: 'late-AUDIT-1', delta: 1, cause: 'receipt' });

    const first = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit });
    assert.equal(first, { skus: 2, trimmed: 4, exported: 4, deleted: 1 }, 'two old entries per SKU, written then trimmed');
    const lines = auditLines(dir);
    assert.equal(readdirSync(dir), [`stockguard-audit-test-journal-${new Date(now).toISOString().slice(0, 10)}.ndjson.gz`]);
    assert.equal(lines.map((line) => `${line.sku} ${line.fields.event}`).sort(), ['AUDIT-1 create', 'AUDIT-1 receipt-AUDIT-1', 'AUDIT-2 create', 'AUDIT-2 receipt-AUDIT-2']);
    assert.ok(lines.every((line) => /^\d+-\d+$/.test(line.id) && Number(line.id.split('-')[0]) < now - RETENTION_MS), 'each line names its stream id, older than the retention');
    const left = await client.xrange(keys.sku('AUDIT-1').journal, '-', '+');
    assert.equal(left.map(([, fields]) => fields[fields.indexOf('event') + 1]), ['late-AUDIT-1'], 'only the entry inside the retention stays in Redis');

    // A second pass a day later writes the late entry once, and nothing twice.
    now += DAY_MS + RETENTION_MS;
    const second = await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit });
    assert.equal(second, { skus: 2, trimmed: 1, exported: 1, deleted: 1 });
    const all = auditLines(dir);
    assert.is(all.length, 5);
    assert.is(new Set(all.map((line) => `${line.sku} ${line.id}`)).size, 5, 'no entry written twice');
    assert.equal(await trimJournals({ redis: client, keys, retentionMs: RETENTION_MS, clock: () => now, audit }), { skus: 2, trimmed: 0, exported: 0, deleted: 0 });
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
  await client.sadd(ledger.keys.catalogIndex(), 'FAIL-1');
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
    for (const sku of skus) {
      await ledger.createSku(sku);
      await client.sadd(ledger.keys.catalogIndex(), sku);
    }
    now = T0 + RETENTION_MS + 1;
    const replica = (name: string) =>
      new JournalTrimmer({
        redis: client,
        keys: ledger.keys,
        retentionMs: RETENTION_MS,
        clock: () => now,
        batchSize: 50,
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
