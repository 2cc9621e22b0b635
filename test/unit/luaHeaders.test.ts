// Every Lua script has its header (purpose, KEYS, ARGV, return shape, status codes), and
// every status code a header names exists in the one LedgerStatus enum. Every script of
// stockguard is here: the ledger's and the reconciliation, lock, consumer-group and
// catalogue ones (a script without status codes says `Status codes: none`).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { WMS_CAUSES } from '../../src/domain/reconcile.ts';
import { loadScriptSource, luaDirectory, SCRIPT_NAMES } from '../../src/redis/scripts.ts';
import { LedgerStatus } from '../../src/ledger/status.ts';

const directory = luaDirectory();
const scriptFiles = readdirSync(directory).filter((name) => name.endsWith('.lua'));

test('every script in src/lua has a wrapper name, and every wrapper name a script', () => {
  assert.equal(scriptFiles.map((name) => name.replace(/\.lua$/, '')).sort(), [...SCRIPT_NAMES].sort());
});

for (const file of scriptFiles) {
  const source = readFileSync(join(directory, file), 'utf8');
  const header = /^--\[\[([\s\S]*?)\]\]/.exec(source)?.[1] ?? '';

  test(`${file} opens with a header naming its KEYS, ARGV, reply and status codes`, () => {
    assert.ok(header.startsWith(`\n${file.replace(/\.lua$/, '')}:`), 'the header starts with the script name and its purpose');
    assert.match(header, /KEYS\[1\]/);
    // A script that takes no arguments says so.
    assert.match(header, /ARGV\[1\]|^ARGV: none$/m);
    assert.match(header, /Returns /);
    assert.match(header, /Status codes: /);
  });

  test(`${file}: every status code in its header exists in LedgerStatus, and it returns no other`, () => {
    const lines = [...header.matchAll(/^(?:\w+ )*(?:status|state) codes: (.+)$/gim)].map((match) => match[1]!);
    assert.ok(lines.length > 0);
    // `none (…)`: a read or a 1/0 compare-and-act; it may return no LedgerStatus code either.
    const named = lines.filter((line) => !/^none\b/.test(line)).flatMap((line) => line.split(/,\s*/));
    const known = new Set<string>(Object.values(LedgerStatus));
    for (const code of named) assert.ok(known.has(code), `${code} is not in LedgerStatus`);
    const body = source.slice(header.length);
    const returned = [...body.matchAll(/'([A-Z_]{2,})'/g)].map((match) => match[1]!).filter((code) => known.has(code));
    for (const code of returned) assert.ok(named.includes(code), `${file} returns ${code} but its header does not name it`);
  });

  test(`${file}: every key comes through KEYS and every include exists`, () => {
    const expanded = loadScriptSource(file.replace(/\.lua$/, '') as (typeof SCRIPT_NAMES)[number]);
    assert.not.match(expanded, /@include/);
    // Key names are never built inside a script: no string concatenation into a redis.call key position.
    assert.not.match(expanded, /redis\.call\('\w+', [^K,)]*\.\./);
  });
}

test('readLedgerAsOf.lua counts as WMS-caused exactly the causes in WMS_CAUSES', () => {
  const source = readFileSync(join(directory, 'readLedgerAsOf.lua'), 'utf8');
  const table = /^local wmsCauses = \{(.*)\}$/m.exec(source)?.[1];
  assert.ok(table !== undefined, 'readLedgerAsOf.lua has its wmsCauses table');
  const causes = [...table.matchAll(/\['(\w+)'\] = true/g)].map((match) => match[1]!);
  assert.equal(causes.sort(), [...WMS_CAUSES].sort());
});

test.run();
