// `npm run bench -- persistence`: what durability costs. The `stockguard` variant of the
// ledger benchmark (hot SKU and spread) against three private redis-servers that differ
// only in persistence: none, AOF with appendfsync everysec, AOF with appendfsync always.
// The figures feed docs/operations.md (the recommended default is AOF always).
import { RedisServer } from '../src/sim/redisServer.ts';
import { describeEnv } from './lib/env.ts';
import { markdownTable, textTable } from './lib/markdown.ts';
import { round } from './lib/stats.ts';
import { runLedgerScenario, type LedgerBenchResult } from './ledger.ts';

export const PERSISTENCE_MODES = [
  { name: 'no persistence', args: ['--appendonly', 'no'] },
  { name: 'AOF everysec', args: ['--appendonly', 'yes', '--appendfsync', 'everysec'] },
  { name: 'AOF always', args: ['--appendonly', 'yes', '--appendfsync', 'always'] },
] as const;

export interface PersistenceResult {
  scenario: 'persistence';
  date: string;
  env: LedgerBenchResult['env'];
  variants: { name: string; workload: string; ops_per_sec: number; p50_ms: number; p99_ms: number; oversold: number; relative_to_no_persistence: number }[];
}

export async function runPersistenceScenario(options: { opsScale?: number; log?: (line: string) => void }): Promise<PersistenceResult> {
  const log = options.log ?? (() => undefined);
  const variants: PersistenceResult['variants'] = [];
  let env: LedgerBenchResult['env'] | undefined;
  for (const mode of PERSISTENCE_MODES) {
    const server = await RedisServer.start({ args: mode.args });
    try {
      log(`${mode.name}: redis-server ${mode.args.join(' ')} in ${server.directory}`);
      const result = await runLedgerScenario({
        redisUrl: server.url,
        ops: { 'raw-evalsha': 100, stockguard: Math.max(1000, Math.round(30_000 * (options.opsScale ?? 1))), 'watch-multi': 100, 'postgres-row-lock': 100, naive: 100 },
        variants: ['stockguard'],
        log: () => undefined,
      });
      env = result.env;
      for (const variant of result.variants) {
        variants.push({ name: mode.name, workload: variant.workload, ops_per_sec: variant.ops_per_sec, p50_ms: variant.p50_ms, p99_ms: variant.p99_ms, oversold: variant.oversold, relative_to_no_persistence: 1 });
      }
    } finally {
      await server.stop();
    }
  }
  for (const variant of variants) {
    const baseline = variants.find((candidate) => candidate.name === 'no persistence' && candidate.workload === variant.workload)!;
    variant.relative_to_no_persistence = round(variant.ops_per_sec / baseline.ops_per_sec, 2);
  }
  return { scenario: 'persistence', date: new Date().toISOString(), env: env!, variants };
}

const HEADER = ['persistence', 'workload', 'ops/s', '× no persistence', 'p50 ms', 'p99 ms', 'oversold'];
const rows = (result: PersistenceResult) =>
  result.variants.map((variant) => [variant.name, variant.workload, String(variant.ops_per_sec), `${variant.relative_to_no_persistence}×`, String(variant.p50_ms), String(variant.p99_ms), String(variant.oversold)]);

export function persistenceTextReport(result: PersistenceResult): string {
  return `${describeEnv(result.env)}\n${textTable(HEADER, rows(result))}`;
}

export function persistenceMarkdown(result: PersistenceResult): string {
  return [
    '## Persistence (`npm run bench -- persistence`)',
    '',
    `The \`stockguard\` reserve path against redis-servers that differ only in persistence. Measured ${result.date.slice(0, 10)} on ${describeEnv(result.env)}, one local disk shared with everything else.`,
    '',
    markdownTable(HEADER, rows(result)),
  ].join('\n');
}
