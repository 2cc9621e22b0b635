// Starts private redis-server processes on free ports in temp dirs: one server, or a
// local 3-master Cluster, optionally with one replica per master. Used by the tests, the
// demo, the benchmarks and the chaos runs, so none of them ever writes to a shared Redis.
// Servers can be stopped, killed and restarted on purpose (issue 7 kills Redis to prove
// durability; issue 13 fails a Cluster master over under load).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freeClusterPort, freePort } from './ports.ts';

const execFileAsync = promisify(execFile);

/**
 * One command on one node over a short-lived connection, no retries (a killed node fails
 * at once). Used to watch a Cluster under load: spawning a redis-cli per question took
 * seconds each on a loaded 2-core machine and stretched every failover.
 */
async function ask(port: number, ...args: string[]): Promise<string> {
  const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, connectTimeout: 2000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return String(await client.call(args[0]!, ...args.slice(1)));
  } finally {
    client.disconnect();
  }
}

/** How long a SIGTERM may take before the server is killed (terminate). */
const SHUTDOWN_GRACE_MS = 5_000;

/** Ports tried before a bind failure is reported (RedisServer.start). */
const PORT_ATTEMPTS = 5;

export interface RedisServerOptions {
  /** Extra redis-server arguments, e.g. ['--appendonly', 'yes']. */
  args?: readonly string[];
  /** Start as a Cluster node (cluster-enabled yes). */
  clusterNode?: boolean;
  /**
   * cluster-node-timeout of a Cluster node (default 5000 ms): how long a master may be
   * unreachable before its replica is elected in its place.
   */
  clusterNodeTimeoutMs?: number;
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
    // A port is free when asked, not when redis-server binds it: another process (a test
    // run beside this one) can take it, or its Cluster bus port, in between. The server
    // then aborts with "Address already in use"; only that failure is tried again, on
    // another port.
    for (let attempt = 1; ; attempt += 1) {
      const port = options.clusterNode ? await freeClusterPort() : await freePort();
      const directory = mkdtempSync(join(tmpdir(), `stockguard-redis-${port}-`));
      const server = new RedisServer(port, directory, options);
      try {
        await server.launch();
        return server;
      } catch (error) {
        if (attempt >= PORT_ATTEMPTS || !server.lostItsPort()) throw error;
        rmSync(directory, { recursive: true, force: true });
      }
    }
  }

  /** The server exited because its port (or Cluster bus port) was taken. */
  private lostItsPort(): boolean {
    try {
      return !this.running && /Address already in use|Failed listening on port/.test(readFileSync(join(this.directory, 'redis.log'), 'utf8'));
    } catch {
      return false;
    }
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
    if (signal === 'SIGKILL') return exited;
    // Redis can refuse a SIGTERM ("Errors trying to shut down the server"), e.g. while the
    // AOF rewrite that CONFIG SET appendonly yes starts is still running: it then keeps
    // serving, and a caller waiting for the exit would wait for ever. Kill it after a while.
    let timer: NodeJS.Timeout | undefined;
    const refused = new Promise<'refused'>((resolve) => {
      timer = setTimeout(() => resolve('refused'), SHUTDOWN_GRACE_MS);
    });
    const outcome = await Promise.race([exited, refused]);
    clearTimeout(timer);
    if (outcome === 'refused') {
      child.kill('SIGKILL');
      await exited;
    }
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
      args.push('--cluster-enabled', 'yes', '--cluster-config-file', join(this.directory, 'nodes.conf'), '--cluster-node-timeout', String(this.options.clusterNodeTimeoutMs ?? 5000));
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

export interface RedisClusterOptions extends Omit<RedisServerOptions, 'clusterNode'> {
  /** Replicas per master: 0 (three nodes, the default) or 1 (six nodes). */
  replicas?: 0 | 1;
}

/** One node as `CLUSTER NODES` on a running node describes it. */
export interface ClusterNodeView {
  server: RedisServer;
  id: string;
  role: 'master' | 'replica';
  /** The node id of its master (replicas only). */
  masterId: string | undefined;
  /** Slot ranges it serves, [first, last]. */
  slots: [number, number][];
  /** Flagged `fail` or `fail?` by the node asked. */
  failing: boolean;
}

/** What one replication link looked like, from `INFO replication`. */
export interface ReplicationState {
  role: 'master' | 'replica';
  /** master_repl_offset: bytes of the replication stream this node has. */
  offset: number;
  /** second_repl_offset: where a promoted replica stopped following its old master (+1), or -1. */
  secondOffset: number;
  /** Replicas only: master_link_status is up. */
  linkUp: boolean;
}

/**
 * A local Redis Cluster of three masters, each with one replica when asked (the layout a
 * user scales onto, issue 13 §5). The replicas make failover testable: `failover()` is an
 * operator's `CLUSTER FAILOVER` on the replica, `killMaster()` a crash the Cluster has to
 * detect itself (after cluster-node-timeout).
 */
export class RedisCluster {
  private constructor(readonly nodes: RedisServer[]) {}

  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const { replicas = 0, ...serverOptions } = options;
    const started = await Promise.allSettled(Array.from({ length: 3 * (1 + replicas) }, () => RedisServer.start({ ...serverOptions, clusterNode: true })));
    const nodes = started.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value] : []));
    const cluster = new RedisCluster(nodes);
    // A node that failed to start, or a create that failed, must not leave the others
    // running: their child processes would keep the caller's process alive for ever.
    try {
      const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
      if (failed) throw failed.reason;
      const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
      // redis-cli makes the first three nodes masters and gives each one of the others.
      await execFileAsync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes']);
      await cluster.waitUntilReady();
    } catch (error) {
      await cluster.stop().catch(() => undefined);
      throw error;
    }
    return cluster;
  }

  get startupNodes(): { host: string; port: number }[] {
    return this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port }));
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }

  /** The Cluster as a running node sees it (the first one that answers, or `asked`). */
  async topology(asked?: RedisServer): Promise<ClusterNodeView[]> {
    const node = asked ?? this.nodes.find((candidate) => candidate.running);
    if (!node) throw new Error('no node of the local Redis Cluster is running');
    const stdout = await ask(node.port, 'cluster', 'nodes');
    const views: ClusterNodeView[] = [];
    for (const line of stdout.split('\n')) {
      const [id, address, flags, master, , , , , ...slotFields] = line.trim().split(' ');
      if (!id || !address || !flags || !master) continue;
      const port = Number(/:(\d+)@/.exec(address)?.[1]);
      const server = this.nodes.find((candidate) => candidate.port === port);
      if (!server) continue;
      const flagSet = new Set(flags.split(','));
      const slots = slotFields.filter((field) => /^\d+(-\d+)?$/.test(field)).map((field) => {
        const [first, last] = field.split('-').map(Number);
        return [first!, last ?? first!] as [number, number];
      });
      views.push({ server, id, role: flagSet.has('master') ? 'master' : 'replica', masterId: master === '-' ? undefined : master, slots, failing: flagSet.has('fail') || flagSet.has('fail?') });
    }
    return views;
  }

  /** The masters that serve slots, in slot order. */
  async masters(): Promise<RedisServer[]> {
    const views = await this.topology();
    return views
      .filter((view) => view.role === 'master' && view.slots.length > 0 && !view.failing)
      .sort((a, b) => a.slots[0]![0] - b.slots[0]![0])
      .map((view) => view.server);
  }

  /** The replica following `master`, as the master sees it. */
  async replicaOf(master: RedisServer): Promise<RedisServer | undefined> {
    const views = await this.topology(master.running ? master : undefined);
    const id = views.find((view) => view.server === master)?.id;
    return views.find((view) => view.role === 'replica' && view.masterId === id && !view.failing)?.server;
  }

  /** The hash slot of a key, as Redis computes it. */
  async slotOf(key: string): Promise<number> {
    const node = this.nodes.find((candidate) => candidate.running)!;
    return Number(await ask(node.port, 'cluster', 'keyslot', key));
  }

  async replication(node: RedisServer): Promise<ReplicationState> {
    const stdout = await ask(node.port, 'info', 'replication');
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(stdout)?.[1]?.trim();
    return {
      role: field('role') === 'master' ? 'master' : 'replica',
      offset: Number(field('master_repl_offset') ?? 0),
      secondOffset: Number(field('second_repl_offset') ?? -1),
      linkUp: field('master_link_status') === 'up',
    };
  }

  /**
   * An operator's manual failover: `CLUSTER FAILOVER` on the master's replica. The master
   * stops its clients, the replica catches up to the master's replication offset, and only
   * then takes the slots over, so no write the master acknowledged is lost (redis.io,
   * CLUSTER FAILOVER). Resolves once every node agrees, with the promoted replica, when it
   * was asked, when it won the election (its log) and when every node agreed.
   */
  async failover(master: RedisServer, timeoutMs = 60_000): Promise<{ replica: RedisServer; askedAtMs: number; promotedAtMs: number; agreedAtMs: number }> {
    const replica = await this.replicaOf(master);
    if (!replica) throw new Error(`the master on port ${master.port} has no replica to fail over to`);
    const deadline = Date.now() + timeoutMs;
    const askedAtMs = Date.now();
    // A manual failover that does not finish in 5 s is abandoned by Redis: ask again.
    while (Date.now() < deadline) {
      // Refused while the replica is still catching up after a resync: asked again below.
      await ask(replica.port, 'cluster', 'failover').catch(() => undefined);
      const askedAt = Date.now();
      while (Date.now() - askedAt < 8_000 && Date.now() < deadline) {
        if ((await this.replication(replica)).role === 'master') {
          // When the replica won its election, by its own log (a busy caller sees it late).
          const promotedAtMs = electionWonAt(replica) ?? Date.now();
          await this.waitUntilReady(Math.max(1000, deadline - Date.now()));
          return { replica, askedAtMs, promotedAtMs, agreedAtMs: Date.now() };
        }
        await sleep(50);
      }
    }
    throw new Error(`the replica on port ${replica.port} did not take over from port ${master.port} within ${timeoutMs} ms`);
  }

  /**
   * SIGKILL of a master: its replica is elected once the other masters have not heard from
   * it for cluster-node-timeout. Resolves with the promoted replica, its replication state
   * as promoted and when it was seen promoted; the killed node stays down (`rejoin()`).
   */
  async killMaster(master: RedisServer, timeoutMs = 60_000): Promise<{ replica: RedisServer; killedAtMs: number; promotedAtMs: number; agreedAtMs: number; promoted: ReplicationState }> {
    const replica = await this.replicaOf(master);
    if (!replica) throw new Error(`the master on port ${master.port} has no replica to take over`);
    const killedAtMs = Date.now();
    await master.kill();
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const state = await this.replication(replica).catch(() => undefined);
      if (state?.role === 'master') {
        // When the replica won its election, by its own log (a busy caller sees it late).
        const promotedAtMs = electionWonAt(replica) ?? Date.now();
        await this.waitUntilReady(Math.max(1000, deadline - Date.now()), { allowDown: true });
        return { replica, killedAtMs, promotedAtMs, agreedAtMs: Date.now(), promoted: state };
      }
      await sleep(50);
    }
    throw new Error(`the replica on port ${replica.port} was not elected within ${timeoutMs} ms of the SIGKILL of port ${master.port}`);
  }

  /** Starts a killed node again (same port, nodes.conf and AOF); it rejoins as a replica. */
  async rejoin(node: RedisServer, timeoutMs = 60_000): Promise<void> {
    await node.restart();
    await this.waitUntilReady(timeoutMs);
  }

  /**
   * Every running node reports cluster_state:ok and the same slot owners; with replicas,
   * every running replica's link to its master is up. `allowDown`: a killed node may still
   * be listed (as failing) while its replica serves its slots.
   */
  async waitUntilReady(timeoutMs = 20_000, options: { allowDown?: boolean } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const running = this.nodes.filter((node) => node.running);
        if (!options.allowDown && running.length < this.nodes.length) throw new Error(`${this.nodes.length - running.length} node(s) down`);
        // Every running node must see the same Cluster: who serves which slots, and which
        // replica follows which master (a fault picks a master's replica from this view).
        // The nodes are asked at once: a caller whose event loop is busy (the chaos harness
        // under load) pays its latency once per round, not once per question.
        const answers = await Promise.all(
          running.map(async (node) => {
            const [info, all, replication] = await Promise.all([ask(node.port, 'cluster', 'info'), this.topology(node), this.replication(node)]);
            const views = all.filter((view) => !view.failing && view.server.running);
            const portOf = (id: string | undefined) => views.find((view) => view.id === id)?.server.port;
            const map = views.map((view) => (view.role === 'master' ? [view.server.port, 'master', view.slots] : [view.server.port, 'replica of', portOf(view.masterId)]));
            // With every node up, every master that serves slots has its replica again.
            const servers = views.filter((view) => view.role === 'master' && view.slots.length > 0);
            const replicated = !(running.length === this.nodes.length && this.nodes.length > 3 && servers.some((master) => !views.some((view) => view.masterId === master.id)));
            const self = views.find((view) => view.server === node);
            const linked = self?.role !== 'replica' || replication.linkUp;
            return { ready: /cluster_state:ok/.test(info) && replicated && linked, map: JSON.stringify(map.sort((a, b) => Number(a[0]) - Number(b[0]))) };
          }),
        );
        const maps = new Set(answers.map((answer) => answer.map));
        const ready = answers.every((answer) => answer.ready);
        if (ready && maps.size === 1) return;
        last = `every node ok and replicas linked: ${ready}; different views of the Cluster: ${maps.size}`;
      } catch (error) {
        last = String(error);
      }
      await sleep(250);
    }
    throw new Error(`the local Redis Cluster did not settle within ${timeoutMs} ms (${last})`);
  }
}

/**
 * The time of the last "Failover election won" line in a node's log (Redis writes local
 * time, as Date parses it), or undefined.
 */
function electionWonAt(node: RedisServer): number | undefined {
  let log: string;
  try {
    log = readFileSync(join(node.directory, 'redis.log'), 'utf8');
  } catch {
    return undefined;
  }
  const lines = log.split('\n').filter((line) => line.includes('Failover election won'));
  const stamp = /^\d+:[A-Z] (\d+ \w+ \d+ \d+:\d+:\d+\.\d+)/.exec(lines.at(-1) ?? '')?.[1];
  const at = stamp ? new Date(stamp).getTime() : Number.NaN;
  return Number.isFinite(at) ? at : undefined;
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
