// `npm run docs:config`: writes the settings tables of docs/configuration.md from the zod
// schema (src/config.ts: names, order, defaults) and the descriptions in src/configDocs.ts.
// Each table sits between `<!-- config-table:<section> -->` and `<!-- /config-table:<section> -->`;
// everything outside the markers is hand-written and left alone.
// `--check` writes nothing and exits 1 when the page is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CONFIG_SCHEMA } from '../src/config.ts';
import { CONFIG_DOCS, CONFIG_SECTIONS, type ConfigSection, type ConfigVariable } from '../src/configDocs.ts';

export const CONFIG_DOC_PATH = fileURLToPath(new URL('../docs/configuration.md', import.meta.url));

type Schema = { def: { type: string; defaultValue?: unknown; in?: Schema; innerType?: Schema } };

/** What a variable does: its zod `.describe()` text when it has one, else its text in src/configDocs.ts. */
export function describeVariable(name: ConfigVariable): string | undefined {
  const described = (CONFIG_SCHEMA.shape[name] as { description?: string }).description;
  return described?.trim() ? described.trim() : CONFIG_DOCS[name]?.text?.trim() || undefined;
}

/** The default the schema applies before any transform, or undefined when the variable is optional. */
export function schemaDefault(schema: unknown): string | undefined {
  for (let node = schema as Schema | undefined; node; node = node.def.in ?? node.def.innerType) {
    if (node.def.type === 'default') return String(node.def.defaultValue);
    if (node.def.type === 'optional') return undefined;
  }
  return undefined;
}

function cell(text: string): string {
  if (/[\r\n]/.test(text)) throw new Error(`a table cell must be one line: ${text.slice(0, 60)}…`);
  return text.replace(/(?<!\\)\|/g, '\\|');
}

export function renderTable(section: ConfigSection): string {
  const rows = (Object.keys(CONFIG_SCHEMA.shape) as ConfigVariable[])
    .filter((name) => CONFIG_DOCS[name]?.section === section)
    .map((name) => {
      const doc = CONFIG_DOCS[name];
      const fallback = schemaDefault(CONFIG_SCHEMA.shape[name]);
      const shown = doc.default ?? (fallback === undefined ? 'unset' : `\`${fallback}\``);
      return `| \`${name}\` | ${cell(shown)} | ${cell(describeVariable(name) ?? '')} |`;
    });
  return ['| variable | default | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The page with every marked table replaced; throws when a variable is undocumented or a section has no markers. */
export function renderConfigurationDoc(current: string): string {
  const undocumented = (Object.keys(CONFIG_SCHEMA.shape) as ConfigVariable[]).filter((name) => !(name in CONFIG_DOCS) || describeVariable(name) === undefined);
  if (undocumented.length > 0) throw new Error(`no description (src/configDocs.ts or the schema's .describe()) for ${undocumented.join(', ')}`);
  let page = current;
  for (const section of CONFIG_SECTIONS) {
    const begin = `<!-- config-table:${section} -->`;
    const end = `<!-- /config-table:${section} -->`;
    const from = page.indexOf(begin);
    const to = page.indexOf(end);
    if (from === -1 || to < from) throw new Error(`docs/configuration.md needs the markers ${begin} … ${end}`);
    page = `${page.slice(0, from + begin.length)}\n${renderTable(section)}\n${page.slice(to)}`;
  }
  return page;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const current = readFileSync(CONFIG_DOC_PATH, 'utf8');
  const next = renderConfigurationDoc(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('docs/configuration.md is out of date: run `npm run docs:config`');
      process.exit(1);
    }
    console.log('docs/configuration.md is up to date');
  } else if (next !== current) {
    writeFileSync(CONFIG_DOC_PATH, next);
    console.log('docs/configuration.md: tables rewritten from src/config.ts and src/configDocs.ts');
  } else {
    console.log('docs/configuration.md is up to date');
  }
}
