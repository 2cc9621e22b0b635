// `npm run demo -- --quick`, the newcomer's first command, runs end to end and leaves a
// report with the figures it promises.
import { execFile, spawn } from 'node:child_process';
import { createConnection } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const run = promisify(execFile);

test('the quick flash-sale demo converges, keeps the invariants and writes its report', async () => {
  const out = mkdtempSync(join(tmpdir(), 'stockguard-demo-'));
  try {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/demo/flashSale.ts', '--quick', '--out', out], { env, maxBuffer: 16 * 1024 * 1024, timeout: 600_000 });
    assert.match(stdout, /invariants: reserved = Σ open reservations on every SKU, no FBA quantity written/);
    const [reportDir] = readdirSync(out).filter((name) => name.startsWith('demo-'));
    assert.ok(reportDir, 'a report directory was written');
    const report = JSON.parse(readFileSync(join(out, reportDir!, 'report.json'), 'utf8')) as {
      stockguard: { accepted: { shopify: number; amazon: number }; fbaWrites: number; invariantsHold: boolean; propagationMs: { n: number }; reconciliation: { discrepancies: unknown[]; corrected: number } };
      baseline: { oversoldUnits: number };
      summary: { label: string }[];
    };
    assert.ok(report.stockguard.accepted.shopify > 0 && report.stockguard.accepted.amazon > 0, 'both channels sold');
    assert.is(report.stockguard.fbaWrites, 0);
    assert.ok(report.stockguard.invariantsHold);
    assert.ok(report.stockguard.propagationMs.n > 0, 'propagation was measured');
    assert.ok(report.stockguard.reconciliation.discrepancies.length >= 1, 'the unseen shrinkage was found');
    assert.ok(report.baseline.oversoldUnits > 0, 'the naive baseline oversells the hot SKUs');
    const html = readFileSync(join(out, reportDir!, 'report.html'), 'utf8');
    assert.is((html.match(/<svg /g) ?? []).length, 3);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the demo beyond --quick (its default rate, a 12 s sale): exact reconciliation, a clean terminal, the daemon log in a file', async () => {
  const out = mkdtempSync(join(tmpdir(), 'stockguard-demo-'));
  try {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/demo/flashSale.ts', '--duration', '12', '--skus', '60', '--out', out], { env, maxBuffer: 16 * 1024 * 1024, timeout: 900_000 });
    assert.match(stdout, /invariants: reserved = Σ open reservations on every SKU, no FBA quantity written/);
    assert.match(stdout, /flash sale: 500 orders\/s for 12 s/);
    // The terminal shows progress and a summary; the daemon's JSON log lines go to its file.
    assert.not.match(stdout, /^\{"level"/m);
    const [reportDir] = readdirSync(out).filter((name) => name.startsWith('demo-'));
    const report = JSON.parse(readFileSync(join(out, reportDir!, 'report.json'), 'utf8')) as {
      stockguard: { invariantsHold: boolean; wmsUnacknowledged: number; reconciliation: { unitsCorrected: number; discrepancies: { sku: string }[] } };
    };
    assert.ok(report.stockguard.invariantsHold);
    assert.is(report.stockguard.wmsUnacknowledged, 0, 'stockguard acknowledged every WMS event');
    // The warehouse never ships what it lacks (it backorders), so reconciliation finds only
    // the 2 units of shrinkage nobody reported (none when that SKU's shelf was already empty).
    const found = JSON.stringify(report.stockguard.reconciliation.discrepancies);
    assert.ok(report.stockguard.reconciliation.discrepancies.length <= 1, `discrepancies ${found}`);
    assert.ok(report.stockguard.reconciliation.unitsCorrected <= 2, `units corrected ${report.stockguard.reconciliation.unitsCorrected}: ${found}`);
    assert.ok(readFileSync(join(out, reportDir!, 'daemon.log'), 'utf8').includes('"msg":"http listening"'), 'the daemon logged to daemon.log');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('Ctrl-C in the middle of the sale stops every process the demo started, its redis-server included', async () => {
  const out = mkdtempSync(join(tmpdir(), 'stockguard-demo-'));
  try {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/demo/flashSale.ts', '--quick', '--duration', '30', '--out', out], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const saleStarted = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('flash sale:')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`the demo exited (${code}) before the sale: ${stdout}`)));
    });
    await saleStarted;
    const redisPort = Number(/redis: private redis-server redis:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1]);
    assert.ok(redisPort > 0, `the demo printed its redis-server: ${stdout}`);
    assert.ok(await listening(redisPort), 'its redis-server runs during the sale');
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGINT');
    assert.is(await exited, 130);
    assert.not.ok(await listening(redisPort), 'its redis-server was stopped');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test.run();
