// The `stockguard` command as users run it: built with `npm run build`'s steps into a
// scratch directory, then executed with node against a private Redis.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

const run = promisify(execFile);
const test = suite('the built stockguard command');
const outDir = `.tmp/build-${randomUUID().slice(0, 8)}`;
let redis: TestRedis;

async function stockguard(args: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [`${outDir}/src/bin/stockguard.js`, ...args], {
      env: { ...process.env, REDIS_URL: redis.url, STOCKGUARD_KEY_PREFIX: redis.prefix, ...env },
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

test.before(async () => {
  redis = await startTestRedis();
  await run(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', outDir]);
  await run(process.execPath, ['scripts/copy-assets.mjs', outDir]);
});
test.after(async () => {
  rmSync(outDir, { recursive: true, force: true });
  await redis.close();
});

test('--version and --help work; an unknown command is a usage error (exit 2)', async () => {
  assert.equal(await stockguard(['--version']), { code: 0, output: '0.1.0\n' });
  assert.match((await stockguard(['--help'])).output, /stockguard catalog import/);
  const unknown = await stockguard(['frobnicate']);
  assert.is(unknown.code, 2);
  assert.match(unknown.output, /unknown command "frobnicate"/);
});

test('a bad setting stops it with the variable named (exit 1); config hides secrets', async () => {
  const bad = await stockguard(['config'], { REDIS_URL: 'localhost:6379' });
  assert.is(bad.code, 1);
  assert.match(bad.output, /STOCKGUARD_E_CONFIG: .*REDIS_URL must start with redis:\/\//);
  const shown = await stockguard(['config'], { STOCKGUARD_API_TOKEN: 'a-very-secret-token-123' });
  assert.is(shown.code, 0);
  assert.not.match(shown.output, /a-very-secret-token-123/);
});

test('catalog import, then sku shows the ledger; adjust and holdback move it', async () => {
  const imported = await stockguard(['catalog', 'import', 'examples/catalog.json']);
  assert.is(imported.code, 0, imported.output);
  assert.match(imported.output, /imported 12 rows/);
  const shown = await stockguard(['sku', 'HOODIE-DROP-BLK-M']);
  assert.is(shown.code, 0, shown.output);
  assert.match(shown.output, /HOODIE-DROP-BLK-M: on_hand 24, reserved 0/);
  assert.match(shown.output, /count\s+catalog-import:HOODIE-DROP-BLK-M\s+on_hand \+24/);
  assert.is((await stockguard(['adjust', 'HOODIE-DROP-BLK-M', '-4', '--event-id', 'damaged-1'])).code, 0);
  assert.match((await stockguard(['holdback', 'HOODIE-DROP-BLK-M', '2'])).output, /APPLIED: HOODIE-DROP-BLK-M holdback 2/);
  assert.match((await stockguard(['sku', 'HOODIE-DROP-BLK-M'])).output, /on_hand 20, reserved 0, available 20, holdback 2/);
});

test('refusals are coded (exit 1): an unknown SKU, a negative count', async () => {
  const unknown = await stockguard(['sku', 'NO-SUCH-SKU']);
  assert.is(unknown.code, 1);
  assert.match(unknown.output, /STOCKGUARD_E_UNKNOWN_SKU/);
  const negative = await stockguard(['count', 'HOODIE-DROP-BLK-M', '-1']);
  assert.is(negative.code, 2);
  assert.match(negative.output, /COUNTED must be ≥ 0/);
});

test('Redis unavailable is exit 3 with the fix', async () => {
  const down = await stockguard(['sku', 'X'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.is(down.code, 3);
  assert.match(down.output, /STOCKGUARD_E_REDIS_UNAVAILABLE/);
});

test.run();
