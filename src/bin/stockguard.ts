#!/usr/bin/env node
// The installed `stockguard` executable: runs the CLI and exits with its code.
import { EXIT, run } from '../cli.ts';

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(EXIT.unexpected);
  },
);
