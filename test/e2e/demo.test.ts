// `npm run demo -- --quick`, the newcomer's first command, runs end to end and leaves a
// report with the figures it promises.
import { execFile } from 'node:child_process';
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
      stockguard: { accepted: { shopify: number; amazon: number }; fbaWrites: number; invariantsHold: boolean; propagationMs: { n: number }; reconciliation: { discrepancies: number; corrected: number } };
      baseline: { oversoldUnits: number };
      summary: { label: string }[];
    };
    assert.ok(report.stockguard.accepted.shopify > 0 && report.stockguard.accepted.amazon > 0, 'both channels sold');
    assert.is(report.stockguard.fbaWrites, 0);
    assert.ok(report.stockguard.invariantsHold);
    assert.ok(report.stockguard.propagationMs.n > 0, 'propagation was measured');
    assert.ok(report.stockguard.reconciliation.discrepancies >= 1, 'the unseen shrinkage was found');
    assert.ok(report.baseline.oversoldUnits > 0, 'the naive baseline oversells the hot SKUs');
    const html = readFileSync(join(out, reportDir!, 'report.html'), 'utf8');
    assert.is((html.match(/<svg /g) ?? []).length, 3);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.run();
