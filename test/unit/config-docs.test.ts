// docs/configuration.md lists every variable of the config schema (src/config.ts), with the
// schema's defaults and the descriptions in src/configDocs.ts, as `npm run docs:config` writes it.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CONFIG_SCHEMA } from '../../src/config.ts';
import { CONFIG_DOCS, CONFIG_SECTIONS } from '../../src/configDocs.ts';
import { CONFIG_DOC_PATH, describeVariable, renderConfigurationDoc, schemaDefault } from '../../scripts/docs-config.ts';

const doc = readFileSync(CONFIG_DOC_PATH, 'utf8');

test('every schema variable has a description, and nothing else has one', () => {
  assert.equal(Object.keys(CONFIG_DOCS).sort(), Object.keys(CONFIG_SCHEMA.shape).sort());
  for (const [name, entry] of Object.entries(CONFIG_DOCS)) {
    assert.ok(describeVariable(name as keyof typeof CONFIG_DOCS) !== undefined, `${name} has no description: add text in src/configDocs.ts (or .describe() in the schema)`);
    assert.ok((CONFIG_SECTIONS as readonly string[]).includes(entry.section), `${name}: unknown section ${entry.section}`);
  }
});

test('docs/configuration.md is what `npm run docs:config` writes (run it after changing src/config.ts or src/configDocs.ts)', () => {
  const expected = renderConfigurationDoc(doc);
  if (expected !== doc) {
    const ours = doc.split('\n');
    const line = expected.split('\n').findIndex((text, index) => text !== ours[index]);
    assert.unreachable(`docs/configuration.md is out of date from line ${line + 1} (${JSON.stringify(ours[line] ?? '')}): run \`npm run docs:config\``);
  }
});

test('each variable appears in exactly one table row, with the default loadConfig applies', () => {
  const rows = [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)` \| ([^|]+) \|/gm)].map((match) => ({ name: match[1]!, shown: match[2]!.trim() }));
  assert.equal(rows.map((row) => row.name).sort(), Object.keys(CONFIG_SCHEMA.shape).sort());
  for (const row of rows) {
    const fallback = schemaDefault(CONFIG_SCHEMA.shape[row.name as keyof typeof CONFIG_SCHEMA.shape]);
    if (CONFIG_DOCS[row.name as keyof typeof CONFIG_DOCS].default === undefined) {
      assert.is(row.shown, fallback === undefined ? 'unset' : `\`${fallback}\``, row.name);
    }
  }
});

test('the documented defaults are the ones that apply: the schema parses each shown default to its own default', () => {
  const parsed = CONFIG_SCHEMA.parse({}) as Record<string, unknown>;
  for (const name of Object.keys(CONFIG_SCHEMA.shape) as (keyof typeof CONFIG_SCHEMA.shape)[]) {
    const fallback = schemaDefault(CONFIG_SCHEMA.shape[name]);
    if (fallback === undefined) {
      assert.is(parsed[name], undefined, `${name} is documented as unset`);
    } else {
      assert.equal(CONFIG_SCHEMA.shape[name].parse(fallback), parsed[name], name);
    }
  }
});

test.run();
