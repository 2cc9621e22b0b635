// The one place that asks whether the client is a single server or a Cluster
// (`instanceof Cluster` appears nowhere else: test/unit/redisPort.test.ts). What differs:
// - a script call or a multi-key command must stay in one slot on Cluster, so batches are
//   sent per key (routed by slot) instead of in one pipeline;
// - SCAN only sees the node it is sent to, so it runs on every master;
// - a pipeline may not span slots, so independent commands on keys of many slots
//   (sendEach) are sent one by one, all in flight at once;
// - one XREADGROUP may only name keys of one slot, so each stream gets its own read;
// - a blocked read on Cluster cannot be interrupted with CLIENT UNBLOCK (its node and
//   client id are not known), only by disconnecting.
import { Cluster, Command, type Redis } from 'ioredis';
import type { RedisClient } from './client.ts';

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

/** The nodes that hold keys: every master of a Cluster, or the one server. */
export function masters(client: RedisClient): Redis[] {
  return isCluster(client) ? client.nodes('master') : [client];
}

/** One command on one key (its first argument after the name), with its arguments. */
export type KeyCommand = readonly [name: string, key: string, ...args: (string | Buffer | number)[]];

/**
 * Independent single-key commands, all in flight at once; replies (binary-safe, as
 * Buffers) or errors in command order. One pipeline on one server; on Cluster each command
 * goes on its own, routed to its key's slot (one pipeline may not span slots).
 */
export async function sendEach(client: RedisClient, commands: readonly KeyCommand[]): Promise<[Error | null, unknown][]> {
  if (commands.length === 0) return [];
  if (isCluster(client)) {
    return Promise.all(
      commands.map(([name, ...args]) =>
        client.callBuffer(name, ...args).then(
          (reply): [Error | null, unknown] => [null, reply],
          (error: unknown): [Error | null, unknown] => [error instanceof Error ? error : new Error(String(error)), null],
        ),
      ),
    );
  }
  const pipeline = client.pipeline();
  for (const [name, ...args] of commands) pipeline.callBuffer(name, ...args);
  return (await pipeline.exec()) ?? [];
}

/**
 * A new connection for blocking reads. On one server it has no command timeout (a
 * blocked XREADGROUP would otherwise time out); a Cluster duplicate keeps its options.
 */
export function duplicateForBlocking(client: RedisClient): RedisClient {
  return isCluster(client) ? client.duplicate() : client.duplicate({ commandTimeout: undefined });
}

/** The stream sets one XREADGROUP each may read: all together on one server, one per stream on Cluster. */
export function streamSetsPerRead(client: RedisClient, streams: readonly string[]): (readonly string[])[] {
  return isCluster(client) ? streams.map((stream) => [stream]) : [streams];
}

/** CLIENT ID of a single-server connection; undefined on Cluster, where a blocked read cannot be unblocked by id. */
export async function blockingClientId(connection: RedisClient): Promise<number | undefined> {
  if (isCluster(connection)) return undefined;
  return Number(await connection.call('CLIENT', ['ID']));
}

/**
 * CLIENT UNBLOCK <id> TIMEOUT sent through `client`: the blocked read returns as if it
 * timed out. Only on one server (false on Cluster: the caller disconnects instead).
 */
export async function unblockClient(client: RedisClient, clientId: number): Promise<boolean> {
  if (isCluster(client)) return false;
  await client.call('CLIENT', ['UNBLOCK', clientId, 'TIMEOUT']);
  return true;
}

/**
 * How many replicas must hold a write before stockguard acknowledges it (a webhook's 2xx,
 * an SQS delete, a consumer's XACK), and how long to wait for them (docs/operations.md,
 * "A crashed master can take its last writes with it").
 */
export interface ReplicaWait {
  /** WAIT's numreplicas, ≥ 1. */
  readonly replicas: number;
  /** WAIT's timeout in ms, ≥ 1 (WAIT 0 would block for ever). */
  readonly timeoutMs: number;
  /** Told of each write that fewer replicas than `replicas` confirmed in time. */
  readonly onShortfall?: (confirmed: number) => void;
}

/** A write followed by WAIT: the write's own reply or error, and the replicas WAIT counted. */
export interface WaitedWrite {
  readonly error: Error | null;
  readonly reply: unknown;
  /**
   * Replicas that confirmed the write within the timeout; 0 when the write failed, when WAIT
   * itself failed, or when the connection changed between the write and the WAIT.
   */
  readonly replicas: number;
}

/** One command whose keys share a slot: its name, then its arguments (keys included). */
export type SlotCommand = readonly [name: string, ...args: (string | Buffer | number)[]];

// Replies that say a Cluster node did not run the command (its slot is elsewhere or has no
// master yet): the write may be sent again with its WAIT.
const NOT_RUN_HERE = ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN'];
const REDIRECT_ATTEMPTS = 3;

/**
 * Sends `command` and then `WAIT replicas timeoutMs` on the connection that runs it, and
 * returns both answers. WAIT takes no key and counts the replicas that have every write of
 * *its own connection* so far, so it must follow the write on the same connection, on the
 * master of the write's slot. Both go in one pipeline: on Cluster, ioredis sends a
 * pipeline whose keys all live on one node to that node, over its one connection to it
 * (which never reconnects: a lost node's pending commands fail, and a pipeline is sent
 * again only when every command in it failed alike, so never WAIT without its writes).
 *
 * Group commit: the writes asked for in the same turn of the event loop that go to the same
 * node (and ask for the same WAIT) share one pipeline and one WAIT, `W1 … Wn WAIT`. A WAIT
 * blocks its connection until the replicas answer, so one WAIT per write would hold every
 * command behind it for a replica round trip each.
 *
 * When a node answers that a write's slot is not its own (MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN), that write did not run: the slots are refreshed and it is sent again with a
 * WAIT, up to 3 times. On one server the client reconnects and resends unanswered
 * commands, which could send a WAIT without its writes on a new connection (where it counts
 * nothing of ours): CLIENT ID before the writes and after the WAIT must be the same
 * connection, or the WAIT counts 0.
 */
export function writeThenWait(client: RedisClient, command: SlotCommand, wait: ReplicaWait): Promise<WaitedWrite> {
  return new Promise((resolve) => enqueue(client, { command, wait, attempt: 1, resolve }));
}

interface QueuedWrite {
  readonly command: SlotCommand;
  readonly wait: ReplicaWait;
  readonly attempt: number;
  readonly resolve: (written: WaitedWrite) => void;
}

/** Per client: the batch being gathered for each node (and WAIT), sent on the next turn. */
const gathering = new WeakMap<RedisClient, Map<string, QueuedWrite[]>>();

function enqueue(client: RedisClient, write: QueuedWrite): void {
  let batches = gathering.get(client);
  if (!batches) {
    batches = new Map();
    gathering.set(client, batches);
  }
  const group = `${nodeGroupOf(client, write.command)} ${write.wait.replicas} ${write.wait.timeoutMs}`;
  let batch = batches.get(group);
  if (!batch) {
    const writes: QueuedWrite[] = [];
    batch = writes;
    batches.set(group, writes);
    const own = batches;
    setImmediate(() => {
      own.delete(group);
      void sendBatch(client, writes);
    });
  }
  batch.push(write);
}

/** The node a command goes to, as far as this client knows: its slot's master (Cluster), or the one server. */
function nodeGroupOf(client: RedisClient, [name, ...args]: SlotCommand): string {
  if (!isCluster(client)) return 'server';
  const slot = new Command(name, [...args]).getSlot();
  if (slot === null || slot === undefined) return 'no key';
  return client.slots[slot]?.[0] ?? `slot ${slot}`;
}

async function sendBatch(client: RedisClient, writes: readonly QueuedWrite[]): Promise<void> {
  const cluster = isCluster(client);
  const { wait } = writes[0]!;
  let results: [Error | null, unknown][];
  try {
    const pipeline = client.pipeline();
    if (!cluster) pipeline.call('CLIENT', 'ID');
    for (const { command: [name, ...args] } of writes) pipeline.call(name, ...args);
    pipeline.call('WAIT', wait.replicas, wait.timeoutMs);
    if (!cluster) pipeline.call('CLIENT', 'ID');
    results = (await pipeline.exec()) ?? [];
  } catch (error) {
    // Refused before sending: e.g. the slots moved between grouping and sending, and the
    // keys are no longer on one node. Each write then goes on its own.
    if (writes.length > 1) {
      for (const write of writes) void sendBatch(client, [write]);
      return;
    }
    writes[0]!.resolve({ error: error instanceof Error ? error : new Error(String(error)), reply: null, replicas: 0 });
    return;
  }
  const at = cluster ? 0 : 1;
  const [waitError, waited] = results[at + writes.length] ?? [new Error('no reply to WAIT'), null];
  let replicas = waitError ? 0 : Number(waited);
  if (!Number.isSafeInteger(replicas) || replicas < 0) replicas = 0;
  if (!cluster) {
    const [before, after] = [results[0], results[at + writes.length + 1]];
    if (!before || !after || before[0] || after[0] || before[1] !== after[1]) replicas = 0;
  }
  let refreshed: Promise<void> | undefined;
  writes.forEach((write, index) => {
    const [error, reply] = results[at + index] ?? [new Error(`no reply to ${write.command[0]}`), null];
    if (!error) return write.resolve({ error: null, reply, replicas });
    if (cluster && write.attempt < REDIRECT_ATTEMPTS && NOT_RUN_HERE.some((name) => error.message.startsWith(`${name} `) || error.message === name)) {
      refreshed ??= new Promise<void>((resolve) => client.refreshSlotsCache(() => resolve()));
      const again = { ...write, attempt: write.attempt + 1 };
      void refreshed.then(() => setTimeout(() => enqueue(client, again), 50 * write.attempt));
      return;
    }
    write.resolve({ error, reply: null, replicas: 0 });
  });
}
