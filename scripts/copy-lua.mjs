#!/usr/bin/env node
// The build emits JavaScript only; the Lua scripts are read at run time, so copy them
// next to the emitted ledger code (dist/src/lua).
import { cpSync } from 'node:fs';

const root = new URL('..', import.meta.url).pathname;
cpSync(`${root}src/lua`, `${root}dist/src/lua`, { recursive: true });
