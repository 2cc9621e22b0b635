// Property-based fuzzing of the `stockguard` command line: run(argv, out) in-process with
// argument lists built from the real commands, flags and awkward values, against a private
// Redis named through the environment. Properties: run never throws or leaves an unhandled
// rejection, and always resolves to a documented exit code other than 4 ("unexpected
// failure": an error nothing coded). `serve` is left out: it runs until a signal.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, run } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { openRuntime } from '../../src/main.ts';
import { checkProperty, trapProcessErrors } from '../helpers/fuzz.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const test = suite('fuzz: the stockguard command line');
const trap = trapProcessErrors();
let redisHandle: TestRedis;
let directory: string;
const originalCwd = process.cwd();
const savedEnv = { ...process.env };

test.before(async () => {
  redisHandle = await startTestRedis();
  directory = mkdtempSync(join(tmpdir(), 'stockguard-fuzz-cli-'));
  // Whatever a command writes by default (reports, snapshots) lands in the temp dir.
  process.chdir(directory);
  for (const name of Object.keys(process.env)) if (name.startsWith('STOCKGUARD_') || name.startsWith('SHOPIFY_') || name.startsWith('AMAZON_')) delete process.env[name];
  Object.assign(process.env, {
    REDIS_URL: redisHandle.url,
    STOCKGUARD_KEY_PREFIX: redisHandle.prefix,
    STOCKGUARD_SNAPSHOT_DIR: join(directory, 'snapshots'),
    STOCKGUARD_RECONCILE_REPORT_DIR: join(directory, 'reports'),
  });
  writeFileSync(join(directory, 'catalog.json'), JSON.stringify([{ sku: 'FUZZ-A', onHand: 10 }, { sku: 'FUZZ-Ü', onHand: 2, holdback: 1 }]));
  writeFileSync(join(directory, 'catalog.csv'), 'sku,onHand\nFUZZ-B,3\n');
  writeFileSync(join(directory, 'garbage.jsonl.gz'), gzipSync('{"format":"stockguard-snapshot"}\nnot json\n'));
  writeFileSync(join(directory, 'plain.txt'), 'hello');
  const runtime = await openRuntime(loadConfig());
  await runtime.ledger.createSku('FUZZ-A');
  await runtime.ledger.count('FUZZ-A', { eventId: 'initial', counted: 10 });
  await runtime.close();
});

test.after(async () => {
  process.chdir(originalCwd);
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  await redisHandle.close();
  rmSync(directory, { recursive: true, force: true });
  trap.remove();
});

const word = fc.oneof(
  { arbitrary: fc.constantFrom('config', 'catalog', 'import', 'sku', 'adjust', 'count', 'holdback', 'dlq', 'list', 'replay', 'reconcile', 'snapshot', 'restore'), weight: 6 },
  { arbitrary: fc.constantFrom('FUZZ-A', 'FUZZ-B', 'FUZZ-Ü', 'NOPE', '{FUZZ}', ' FUZZ-A', 'x'.repeat(300), '', 'a\u0000b', '👕'), weight: 4 },
  { arbitrary: fc.constantFrom('0', '3', '-4', '-0', '1.5', '1e3', '0x10', '99999999999999999999', '-99999999999', 'NaN', '+5', '- 1'), weight: 4 },
  { arbitrary: fc.constantFrom('catalog.json', 'catalog.csv', 'missing.json', 'garbage.jsonl.gz', 'plain.txt', '/dev/null', '.', '..', '/'), weight: 2 },
  { arbitrary: fc.constantFrom('--help', '-h', '--version', '--receipt', '--all', '--dry-run', '--force', '--', '-', '--unknown', '-x', '--receipt=yes', '--help=no'), weight: 3 },
  { arbitrary: fc.tuple(fc.constantFrom('--event-id', '--journal', '--count', '--out'), fc.constantFrom('5', '-1', 'abc', '', 'evt-1', 'snap.jsonl.gz', 'x'.repeat(300))).map(([flag, value]) => `${flag}=${value}`), weight: 2 },
  { arbitrary: fc.constantFrom('--event-id', '--journal', '--count', '--out'), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }), weight: 1 },
);
const argv = fc.array(word, { maxLength: 6 }).filter((args) => !args.includes('serve'));
const DOCUMENTED = new Set<number>(Object.values(EXIT));

test('run(argv): any argument list resolves to a documented exit code, never 4 (unexpected), and never throws', async () => {
  const seen = new Set<number>();
  await checkProperty(
    fc.asyncProperty(argv, async (args) => {
      const lines: string[] = [];
      let code: number;
      try {
        code = await run(args, (line) => lines.push(line));
      } catch (error) {
        assert.unreachable(`run(${JSON.stringify(args)}) threw: ${error instanceof Error ? error.stack : String(error)}`);
        return;
      }
      trap.assertNone();
      seen.add(code);
      assert.ok(DOCUMENTED.has(code), `exit ${code} is not documented`);
      assert.ok(code !== EXIT.unexpected, `run(${JSON.stringify(args)}) was an unexpected failure:\n${lines.join('\n')}`);
      assert.ok(lines.length > 0, `run(${JSON.stringify(args)}) printed nothing`);
    }),
    // Random lists reach a refusal in most runs but not all (1 in 10 missed exit 1 in CI):
    // these three are always tried first, so every code below is reached on every run.
    { numRuns: 150, examples: [[['sku', 'FUZZ-A']], [['catalog', 'import', 'plain.txt']], [['--unknown']]] },
  );
  // The property saw success, refusal and usage errors, so it is not vacuous.
  for (const code of [EXIT.ok, EXIT.refused, EXIT.usage]) assert.ok(seen.has(code), `no run ended with exit ${code}`);
});

test('run(argv): with Redis unreachable every command that needs it is exit 3, with the fix and no stack', async () => {
  const url = process.env.REDIS_URL;
  process.env.REDIS_URL = 'redis://127.0.0.1:1';
  try {
    await checkProperty(
      fc.asyncProperty(fc.constantFrom(['sku', 'FUZZ-A'], ['adjust', 'FUZZ-A', '1'], ['dlq', 'list'], ['catalog', 'import', 'catalog.json'], ['snapshot'], ['holdback', 'FUZZ-A', '0']), async (args) => {
        const lines: string[] = [];
        const code = await run(args, (line) => lines.push(line));
        trap.assertNone();
        assert.is(code, EXIT.redisUnavailable, lines.join('\n'));
        assert.match(lines.join('\n'), /STOCKGUARD_E_REDIS_UNAVAILABLE/);
        assert.not.match(lines.join('\n'), /\n\s+at /);
      }),
      { numRuns: 6 },
    );
  } finally {
    process.env.REDIS_URL = url;
  }
});

test.run();
