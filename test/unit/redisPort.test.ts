// Redis is one port (src/redis/, issue 13 §4): Lua lives in src/lua where the header test
// sees it, never in a TypeScript string, and only src/redis/topology.ts asks whether the
// client is a Cluster. These greps keep both from coming back.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = fileURLToPath(new URL('../..', import.meta.url));
const src = join(root, 'src');

function tsFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const path = join(directory, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const files = tsFiles(src).map((path) => ({ file: relative(root, path), text: readFileSync(path, 'utf8') }));

test('the search covers the whole of src/', () => {
  assert.ok(files.length > 100, `found only ${files.length} .ts files under src/`);
  assert.ok(files.some(({ file }) => file === join('src', 'redis', 'topology.ts')));
});

test('no TypeScript file under src/ holds Lua (no redis.call; scripts go in src/lua)', () => {
  const found = files.flatMap(({ file, text }) => text.split('\n').flatMap((line, index) => (/redis\.call\b/.test(line) ? [`${file}:${index + 1}: ${line.trim()}`] : [])));
  assert.equal(found, [], `redis.call in TypeScript:\n${found.join('\n')}`);
});

test('instanceof Cluster appears only in src/redis/topology.ts', () => {
  const found = files.filter(({ text }) => /instanceof\s+Cluster\b/.test(text)).map(({ file }) => file);
  assert.equal(found, [join('src', 'redis', 'topology.ts')]);
});

test('EVALSHA and EVAL are sent only from the runner (src/redis/scripts.ts)', () => {
  const found = files.filter(({ text }) => /\.(evalsha|eval)\(|['"](EVAL|EVALSHA)['"]/.test(text)).map(({ file }) => file).sort();
  assert.equal(found, [join('src', 'redis', 'scripts.ts')]);
});

test.run();
