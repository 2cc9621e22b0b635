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

test('the quick flash-sale demo compares naive, shared, strict and auto on the same attempts, keeps the invariants and writes its report', async () => {
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
      modes: { mode: string; oversold_units: number; sell_through: number; stranded_units: number; quiet_after_s: number | null }[];
      runs: { mode: string; accepted: { shopify: number; amazon: number }; invariantsHold: boolean; fbaWrites: number }[];
    };
    // The same purchase attempts against the naive baseline and the three live modes.
    assert.equal(report.modes.map((row) => row.mode), ['naive', 'shared', 'strict', 'auto']);
    for (const row of report.modes) {
      for (const field of ['oversold_units', 'sell_through', 'stranded_units'] as const) assert.ok(Number.isFinite(row[field]) && row[field] >= 0, `${row.mode}.${field} = ${row[field]}`);
      assert.ok(row.sell_through > 0 && row.sell_through <= 1, `${row.mode}: sell-through ${row.sell_through}`);
      if (row.mode === 'naive') assert.ok(row.quiet_after_s === null || row.quiet_after_s === 0);
      else assert.ok(Number.isFinite(row.quiet_after_s) && row.quiet_after_s! >= 0, `${row.mode}: quiet after ${row.quiet_after_s}`);
    }
    assert.equal(report.runs.map((run) => run.mode), ['shared', 'strict', 'auto']);
    for (const run of report.runs) {
      assert.ok(run.invariantsHold, `${run.mode}: invariants`);
      assert.is(run.fbaWrites, 0, `${run.mode}: no FBA writes`);
    }
    assert.ok(report.stockguard.accepted.shopify > 0 && report.stockguard.accepted.amazon > 0, 'both channels sold');
    assert.is(report.stockguard.fbaWrites, 0);
    assert.ok(report.stockguard.invariantsHold);
    assert.ok(report.stockguard.propagationMs.n > 0, 'propagation was measured');
    assert.ok(report.stockguard.reconciliation.discrepancies.length >= 1, 'the unseen shrinkage was found');
    assert.ok(report.baseline.oversoldUnits > 0, 'the naive baseline oversells the hot SKUs');
    const html = readFileSync(join(out, reportDir!, 'report.html'), 'utf8');
    // Bars per figure, oversold over time, a sellable chart per live mode, event lag, latency.
    assert.ok((html.match(/<svg /g) ?? []).length >= 8, 'the charts were drawn');
    assert.match(html, /Stranded stock: top SKUs/);
    assert.match(html, /Amazon apply lag of an accepted patch/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the demo beyond --quick (its default rate and lags, a 12 s sale, shared and strict): exact reconciliation, a clean terminal, the daemon log in a file', async () => {
  const out = mkdtempSync(join(tmpdir(), 'stockguard-demo-'));
  try {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/demo/flashSale.ts', '--duration', '12', '--skus', '60', '--modes', 'shared,strict', '--out', out], { env, maxBuffer: 16 * 1024 * 1024, timeout: 900_000 });
    assert.match(stdout, /invariants: reserved = Σ open reservations on every SKU, no FBA quantity written/);
    assert.match(stdout, /flash sale: 100 orders\/s for 12 s/);
    // The terminal shows progress and a summary; the daemon's JSON log lines go to its file.
    assert.not.match(stdout, /^\{"level"/m);
    const [reportDir] = readdirSync(out).filter((name) => name.startsWith('demo-'));
    const report = JSON.parse(readFileSync(join(out, reportDir!, 'report.json'), 'utf8')) as {
      stockguard: { invariantsHold: boolean };
      runs: { mode: string; invariantsHold: boolean; wmsUnacknowledged: number; reconciliation: { totals: { unitsCorrected: number }; discrepancies: { sku: string }[] } }[];
    };
    assert.ok(report.stockguard.invariantsHold);
    assert.equal(report.runs.map((run) => run.mode), ['shared', 'strict'], 'shared and strict each ran');
    for (const run of report.runs) {
      assert.ok(run.invariantsHold, `${run.mode}: invariants`);
      assert.is(run.wmsUnacknowledged, 0, `${run.mode}: stockguard acknowledged every WMS event`);
      // The warehouse never ships what it lacks (it backorders), so reconciliation finds only
      // the 2 units of shrinkage nobody reported (none when that SKU's shelf was already empty).
      const found = JSON.stringify(run.reconciliation.discrepancies);
      assert.ok(run.reconciliation.discrepancies.length <= 1, `${run.mode}: discrepancies ${found}`);
      assert.ok(run.reconciliation.totals.unitsCorrected <= 2, `${run.mode}: units corrected ${run.reconciliation.totals.unitsCorrected}: ${found}`);
    }
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
