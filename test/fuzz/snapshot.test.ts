// Property-based fuzzing of snapshot files (`stockguard restore`): a real snapshot of a
// small ledger, damaged at the gzip level (bytes flipped, cut, inserted) or at the line
// level (lines dropped, repeated, swapped, cut, edited) without re-signing, restored
// into an empty prefix. Properties: restore either reproduces the snapshot or throws a
// coded STOCKGUARD_E_SNAPSHOT_* / STOCKGUARD_E_FILE error, and then nothing was written.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isStockguardError } from '../../src/errors.ts';
import { KeySpace } from '../../src/redis/keys.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { restoreSnapshot, writeSnapshot } from '../../src/reconcile/snapshot.ts';
import { checkProperty, fingerprint, trapProcessErrors } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('fuzz: snapshot files');
const trap = trapProcessErrors();
let redisHandle: TestRedis;
let redis: Redis;
let directory: string;
let original: Buffer;
let lines: string[];

test.before(async () => {
  redisHandle = await startTestRedis();
  redis = redisHandle.client();
  directory = mkdtempSync(join(tmpdir(), 'stockguard-fuzz-snapshot-'));
  const ledger = new Ledger({ redis, keyPrefix: redisHandle.prefix, clock: () => Date.parse('2026-11-27T12:00:00Z') });
  for (const [sku, onHand] of [['SNAP-A', 5], ['SNAP-Ü', 3], ['SNAP-C', 0]] as const) {
    await ledger.createSku(sku);
    await ledger.count(sku, { eventId: `initial-${sku}`, counted: onHand });
  }
  await ledger.reserveOrder({ channel: 'shopify', orderId: 'o-1', lines: [{ lineId: 'l-1', sku: 'SNAP-A', quantity: 2 }] });
  const file = join(directory, 'original.jsonl.gz');
  await writeSnapshot({ redis, keys: ledger.keys, file });
  original = readFileSync(file);
  lines = gunzipSync(original).toString('utf8').split('\n');
});

test.after(async () => {
  await redisHandle.close();
  rmSync(directory, { recursive: true, force: true });
  trap.remove();
});

type Damage =
  | { level: 'gzip'; kind: 'truncate' | 'flip' | 'insert'; at: number; byte: number }
  | { level: 'lines'; kind: 'drop' | 'repeat' | 'swap' | 'cut' | 'edit'; at: number; other: number; text: string };
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ level: fc.constant('gzip' as const), kind: fc.constantFrom('truncate' as const, 'flip' as const, 'insert' as const), at: fc.nat(), byte: fc.integer({ min: 1, max: 255 }) }),
  fc.record({
    level: fc.constant('lines' as const),
    kind: fc.constantFrom('drop' as const, 'repeat' as const, 'swap' as const, 'cut' as const, 'edit' as const),
    at: fc.nat(),
    other: fc.nat(),
    text: fc.constantFrom('"5"', '"-1"', '"{X}"', '0', 'null', '"0-0"', '2', '"hash"', '"zset"', '[]'),
  }),
);

function damaged(change: Damage): Buffer {
  if (change.level === 'gzip') {
    const at = change.at % original.length;
    if (change.kind === 'truncate') return original.subarray(0, at);
    if (change.kind === 'insert') return Buffer.concat([original.subarray(0, at), Buffer.from([change.byte]), original.subarray(at)]);
    const copy = Buffer.from(original);
    copy[at] = copy[at]! ^ change.byte;
    return copy;
  }
  const edited = [...lines];
  const count = edited.length - 1; // the last element is the empty string after the final newline
  const at = change.at % count;
  const other = change.other % count;
  if (change.kind === 'drop') edited.splice(at, 1);
  else if (change.kind === 'repeat') edited.splice(at, 0, edited[at]!);
  else if (change.kind === 'swap') [edited[at], edited[other]] = [edited[other]!, edited[at]!];
  else if (change.kind === 'cut') edited[at] = edited[at]!.slice(0, change.other % Math.max(1, edited[at]!.length));
  else {
    // Replace the n-th JSON value token (a string or a number) with another value.
    const tokens = [...edited[at]!.matchAll(/"(?:[^"\\]|\\.)*"|-?\d+/g)];
    const token = tokens[change.other % Math.max(1, tokens.length)];
    if (token?.index !== undefined) edited[at] = `${edited[at]!.slice(0, token.index)}${change.text}${edited[at]!.slice(token.index + token[0].length)}`;
  }
  return gzipSync(edited.join('\n'));
}

let run = 0;

test('restore: a damaged snapshot file is refused with a coded error before anything is written', async () => {
  const outcomes = new Map<string, number>();
  await checkProperty(
    fc.asyncProperty(damage, async (change) => {
      const file = join(directory, `damaged-${(run += 1)}.jsonl.gz`);
      const bytes = damaged(change);
      writeFileSync(file, bytes);
      const keys = new KeySpace(`${redisHandle.prefix}-restore-${run}`);
      try {
        await restoreSnapshot({ redis, keys, file });
        outcomes.set('restored', (outcomes.get('restored') ?? 0) + 1);
      } catch (error) {
        trap.assertNone();
        assert.ok(isStockguardError(error), `not a coded error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        assert.ok(['STOCKGUARD_E_SNAPSHOT_CORRUPT', 'STOCKGUARD_E_SNAPSHOT_VERSION', 'STOCKGUARD_E_FILE'].includes(error.code), error.message);
        outcomes.set(error.code, (outcomes.get(error.code) ?? 0) + 1);
        assert.is((await fingerprint(redis, keys.prefix)).size, 0, `${error.code}, yet keys were written under ${keys.prefix}`);
        return;
      }
      trap.assertNone();
      // Only a change that leaves the content the same may restore: a swap of a line with
      // itself, a bit in a gzip header field zlib ignores, or the end line's informational
      // key count (the only end-line field the restore does not check).
      const content = (text: string[]) => text.filter((line) => line !== '' && !line.startsWith('{"end":'));
      assert.equal(content(gunzipSync(bytes).toString('utf8').split('\n')), content(lines), 'a changed snapshot was restored');
    }),
    { numRuns: 150 },
  );
  assert.ok((outcomes.get('STOCKGUARD_E_SNAPSHOT_CORRUPT') ?? 0) > 0);
});

test.run();
