// Every Lua script has its header (purpose, KEYS, ARGV, return shape, status codes), and
// every status code a header names exists in the one LedgerStatus enum.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadScriptSource, luaDirectory, SCRIPT_NAMES } from '../../src/ledger/scripts.ts';
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
    assert.match(header, /ARGV\[1\]/);
    assert.match(header, /Returns /);
    assert.match(header, /Status codes: /);
  });

  test(`${file}: every status code in its header exists in LedgerStatus, and it returns no other`, () => {
    const named = [...header.matchAll(/^(?:\w+ )*(?:status|state) codes: (.+)$/gim)].flatMap((match) => match[1]!.split(/,\s*/));
    assert.ok(named.length > 0);
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

test.run();
