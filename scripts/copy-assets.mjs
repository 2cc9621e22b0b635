#!/usr/bin/env node
// The build emits JavaScript only; the files read at run time — the Lua scripts, the
// vendored API schemas — are copied next to the emitted code. Usage: copy-assets.mjs [outDir]
import { cpSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const outDir = resolve(root, process.argv[2] ?? 'dist');
const assets = /\.(lua|json|json\.gz)$/;
cpSync(join(root, 'src'), join(outDir, 'src'), {
  recursive: true,
  filter: (source) => statSync(source).isDirectory() || assets.test(source),
});
