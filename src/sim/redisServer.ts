// Starts private redis-server processes on free ports in temp dirs: one server, or a
// local 3-master Cluster. Used by the tests, the demo and the benchmarks, so none of
// them ever writes to a shared Redis. Servers can be stopped, killed and restarted on
// purpose (later issues kill Redis to prove durability).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.ts';

const execFileAsync = promisify(execFile);

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: readonly string[];
  /** Start as a Cluster node (cluster-enabled yes). */
  clusterNode?: boolean;
  /** Binary to run; defaults to redis-server on PATH. */
  binary?: string;
}

export class RedisServer {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    readonly directory: string,
    private readonly options: RedisServerOptions,
  ) {}

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = await freePort();
    const directory = mkdtempSync(join(tmpdir(), `stockguard-redis-${port}-`));
    const server = new RedisServer(port, directory, options);
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process !== undefined && this.process.exitCode === null && this.process.signalCode === null;
  }

  /** Starts the server again on the same port and directory (AOF/RDB files are kept). */
  async restart(): Promise<void> {
    if (this.running) await this.stop({ keepFiles: true });
    await this.launch();
  }

  /** SIGKILL: no shutdown save, as in a crash. */
  async kill(): Promise<void> {
    await this.terminate('SIGKILL');
  }

  async stop(options: { keepFiles?: boolean } = {}): Promise<void> {
    await this.terminate('SIGTERM');
    if (!options.keepFiles) rmSync(this.directory, { recursive: true, force: true });
  }

  private async terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  private async launch(): Promise<void> {
    const args = [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--dir', this.directory,
      '--save', '',
      '--appendonly', 'no',
      '--protected-mode', 'no',
      '--logfile', join(this.directory, 'redis.log'),
    ];
    if (this.options.clusterNode) {
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.directory, 'nodes.conf'), '--cluster-node-timeout', '5000');
    }
    args.push(...(this.options.args ?? []));
    const child = spawn(this.options.binary ?? 'redis-server', args, { stdio: 'ignore' });
    this.process = child;
    const failed = new Promise<never>((_resolve, reject) => {
      child.once('error', (error) => reject(new Error(`cannot start redis-server: ${error.message}`, { cause: error })));
      child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}; see ${join(this.directory, 'redis.log')}`)));
    });
    failed.catch(() => undefined);
    await Promise.race([waitForPing(this.port), failed]);
  }
}

/** A local Redis Cluster of three masters, no replicas. */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(options: Omit<RedisServerOptions, 'clusterNode'> = {}): Promise<RedisCluster> {
    const nodes = await Promise.all([0, 1, 2].map(() => RedisServer.start({ ...options, clusterNode: true })));
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    const cluster = new RedisCluster(nodes);
    await cluster.waitUntilReady();
    return cluster;
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  private async waitUntilReady(): Promise<void> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const states = await Promise.all(
        this.nodes.map(async (node) => {
          const { stdout } = await execFileAsync('redis-cli', ['-p', String(node.port), 'cluster', 'info']);
          return /cluster_state:ok/.test(stdout);
        }),
      );
      if (states.every(Boolean)) return;
      await sleep(100);
    }
    throw new Error('the local Redis Cluster did not reach cluster_state:ok within 20 s');
  }
}

export async function redisServerAvailable(binary = 'redis-server'): Promise<boolean> {
  try {
    await execFileAsync(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const { stdout } = await execFileAsync('redis-cli', ['-p', String(port), 'ping']);
      if (stdout.trim() === 'PONG') return;
    } catch (error) {
      lastError = error;
    }
    await sleep(25);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`, { cause: lastError });
}


function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
