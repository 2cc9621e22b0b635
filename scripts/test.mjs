#!/usr/bin/env node
// Runs the whole suite: the typecheck, then every test/**/*.test.ts file in its own
// process with uvu (through tsx), two at a time. Prints each file's result and ends with
// the plain line `N passed, N failed` that CI reads. Exit code 1 when anything failed.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv[2];
const concurrency = Number(process.env.STOCKGUARD_TEST_CONCURRENCY ?? 2);

function findTests(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

// A file that hangs (a server that never exits, a client waiting on a dead node) is killed
// after this long and counted as failed, so the suite always ends (STOCKGUARD_TEST_FILE_TIMEOUT_MS).
const fileTimeoutMs = Number(process.env.STOCKGUARD_TEST_FILE_TIMEOUT_MS ?? 15 * 60_000);

function run(command, args, timeoutMs = 0) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env: { ...process.env, FORCE_COLOR: '0' } });
    let output = '';
    let timedOut = false;
    const timer = timeoutMs > 0 ? setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs) : undefined;
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: timedOut ? `${output}\nkilled: still running after ${timeoutMs / 1000} s (STOCKGUARD_TEST_FILE_TIMEOUT_MS)` : output, timedOut });
    });
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;
const started = Date.now();

if (!filter) {
  const typecheck = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--noEmit']);
  if (typecheck.code === 0) {
    passed += 1;
    console.log('ok    typecheck');
  } else {
    failed += 1;
    console.log(`FAIL  typecheck\n${typecheck.output}`);
  }
}

const files = findTests(join(root, 'test'))
  .map((path) => relative(root, path))
  .filter((path) => !filter || path.includes(filter))
  .sort();
const queue = [...files];

async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const fileStarted = Date.now();
    const { code, output, timedOut } = await run(process.execPath, ['--import', 'tsx', file], fileTimeoutMs);
    const total = timedOut ? NaN : Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? NaN);
    const ok = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? NaN);
    const skip = Number(/Skipped:\s+(\d+)/.exec(output)?.[1] ?? 0);
    const seconds = ((Date.now() - fileStarted) / 1000).toFixed(1);
    if (Number.isNaN(total) || Number.isNaN(ok)) {
      // The file crashed before uvu could report: count it as one failure.
      failed += 1;
      console.log(`FAIL  ${file} (no uvu summary, exit ${code}, ${seconds}s)\n${output}`);
      continue;
    }
    passed += ok;
    skipped += skip;
    const bad = total - ok - skip + (code !== 0 && total === ok + skip ? 1 : 0);
    failed += bad;
    console.log(`${bad ? 'FAIL' : 'ok  '}  ${file}: ${ok}/${total} passed (${seconds}s)`);
    if (bad) console.log(output);
  }
}

await Promise.all(Array.from({ length: concurrency }, worker));
console.log(`\nfinished in ${((Date.now() - started) / 1000).toFixed(1)}s`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
