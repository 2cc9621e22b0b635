// A helper of the simulations in a Node process of its own (`node --import tsx <script>`),
// for work the caller's busy event loop would answer late: the chaos harness's Cluster
// Service (src/chaos/clusterService.ts) and its SQS queue (src/sim/sqsProcess.ts). The
// script prints one line on stdout once it is ready; that line is what `start` resolves with.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface ChildService {
  /** The first line the script printed (without its newline). */
  readonly ready: string;
  /** SIGTERM, then waits for the exit; nothing when it has exited already. */
  stop(): Promise<void>;
}

/**
 * Starts `script` (a path from the repository root) with `args`. `stderr` is where its
 * errors go (a file descriptor, or the caller's own). Its stdin is a pipe from this process,
 * so a script may end when its parent goes away. Rejects, saying `what` and `seeWhere`, when
 * the process exits before its first line.
 */
export async function startChildService(script: string, args: readonly string[], options: { what: string; stderr: number | 'inherit'; seeWhere?: string }): Promise<ChildService> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', options.stderr] });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  try {
    const ready = await new Promise<string>((resolveReady, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const newline = out.indexOf('\n');
        if (newline >= 0) resolveReady(out.slice(0, newline));
      });
      child.once('exit', (code) => reject(new Error(`${options.what} exited (${String(code)}) before it was ready${options.seeWhere ? `; see ${options.seeWhere}` : ''}`)));
    });
    return {
      ready,
      stop: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    };
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
}
