// The benchmarks' PostgreSQL: BENCH_PG_URL, else the local server on 127.0.0.1:5432.
// Tables live in the schema stockguard_bench and are dropped by whoever created them.
import pg from 'pg';

export const BENCH_SCHEMA = 'stockguard_bench';

export type OpenPostgres = { pool: pg.Pool; version: string; synchronousCommit: string } | { skipped: string };

export async function openBenchPostgres(max: number, url = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'): Promise<OpenPostgres> {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 3000 });
  pool.on('error', (error: Error) => console.error(`bench postgres client: ${error.message}`));
  try {
    const version = await pool.query<{ server_version: string }>('SHOW server_version');
    const commit = await pool.query<{ synchronous_commit: string }>('SHOW synchronous_commit');
    await pool.query(`CREATE SCHEMA IF NOT EXISTS ${BENCH_SCHEMA}`);
    return {
      pool,
      version: version.rows[0]?.server_version ?? 'unknown',
      synchronousCommit: commit.rows[0]?.synchronous_commit ?? 'unknown',
    };
  } catch (error) {
    await pool.end().catch(() => undefined);
    const reason = error instanceof Error ? error.message || error.name : String(error);
    return { skipped: `PostgreSQL at ${redactUrl(url)} did not answer: ${reason}` };
  }
}

/** Drops the schema once the last bench table in it is gone; another run's tables keep it alive. */
export async function dropSchemaIfEmpty(pool: pg.Pool): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} RESTRICT`).catch(() => undefined);
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable BENCH_PG_URL)';
  }
}
