// Loads the real Shopify Admin GraphQL schema (2026-10) that every request is validated
// against. The file is vendored beside this module (see README.md for where it came from).
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { assertValidSchema, buildClientSchema, type GraphQLSchema, type IntrospectionQuery } from 'graphql';

export const SCHEMA_API_VERSION = '2026-10';

const SCHEMA_FILE = 'admin_2026-10.json.gz';
// Beside this module when run from src/ (tsx); from dist/src/sim/shopify/ the build does not
// copy the .gz, so fall back to the source tree.
const CANDIDATES = [new URL(`./${SCHEMA_FILE}`, import.meta.url), new URL(`../../../../src/sim/shopify/${SCHEMA_FILE}`, import.meta.url)];

let cached: GraphQLSchema | undefined;

function isIntrospection(value: unknown): value is { data: IntrospectionQuery } {
  if (typeof value !== 'object' || value === null || !('data' in value)) return false;
  const data: unknown = value.data;
  return typeof data === 'object' && data !== null && '__schema' in data;
}

/** The 2026-10 Admin schema, built once per process (about a second of work). */
export function adminSchema(): GraphQLSchema {
  if (cached) return cached;
  const file = CANDIDATES.map((url) => fileURLToPath(url)).find((path) => existsSync(path));
  if (!file) throw new Error(`Shopify fake: ${SCHEMA_FILE} not found beside ${fileURLToPath(import.meta.url)}; it is vendored in src/sim/shopify/`);
  const parsed: unknown = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
  if (!isIntrospection(parsed)) throw new Error(`Shopify fake: ${file} is not an introspection result with data.__schema`);
  const schema = buildClientSchema(parsed.data);
  // graphql-js checks a schema once, on its first validate(); do it here rather than in the first request.
  assertValidSchema(schema);
  cached = schema;
  return cached;
}
