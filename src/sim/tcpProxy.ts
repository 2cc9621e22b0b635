// An in-process TCP fault proxy for the issue 7 chaos harness. It sits between stockguard
// processes and a private redis-server and injects two of the scheduled faults:
// "network delay to Redis" (setDelay: every chunk, both directions, is held back for a
// while, without ever reordering bytes) and "connection resets" (resetAll: every open
// connection is cut with a TCP RST; refuse: new connections are reset as they arrive).
// Dependency-free (node:net only). Socket errors are swallowed so a fault never crashes
// the process that hosts the proxy; a client whose upstream connect fails is dropped and
// is expected to reconnect.
import { createServer, type Server, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

export interface TcpProxyOptions {
  /** Where connections are forwarded to (e.g. the private redis-server). */
  target: { host: string; port: number };
  /** Address to listen on; defaults to 127.0.0.1. */
  host?: string;
  /** Port to listen on; defaults to 0 (a free port picked by the kernel). */
  port?: number;
}

export interface TcpProxyStats {
  /** Incoming connections that were proxied (refused ones are not counted here). */
  accepted: number;
  /** Connections cut by resetAll(). */
  reset: number;
  /** Incoming connections turned away while refuse(true) was on. */
  refused: number;
}

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  readonly stats: Readonly<TcpProxyStats>;
  /** Holds every chunk, in either direction, for `ms` milliseconds (0 = pass-through). */
  setDelay(ms: number): void;
  /** Cuts every open connection abruptly (RST on both sides); returns how many were cut. */
  resetAll(): number;
  /** While on, new incoming connections are reset as soon as they are accepted. */
  refuse(on: boolean): void;
  /** Open proxied connections. */
  connections(): number;
  /** Stops listening and destroys every socket. */
  close(): Promise<void>;
}

/** Marks the end of one direction's stream in its queue. */
const END = Symbol('end');

interface Pending {
  at: number;
  chunk: Buffer | typeof END;
}

/** One direction of one connection: source -> destination, through a release-time queue. */
class Direction {
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastRelease = 0;

  constructor(
    private readonly source: Socket,
    private readonly destination: Socket,
    private readonly delay: () => number,
  ) {
    source.on('data', (chunk: Buffer) => this.push(chunk));
    source.on('end', () => this.push(END));
  }

  private push(chunk: Buffer | typeof END): void {
    const delay = this.delay();
    if (delay <= 0 && this.queue.length === 0) {
      this.deliver(chunk);
      return;
    }
    // Release times never go backwards, so a lowered delay cannot overtake queued bytes.
    const at = Math.max(performance.now() + delay, this.lastRelease);
    this.lastRelease = at;
    this.queue.push({ at, chunk });
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const head = this.queue[0];
    if (!head) return;
    this.timer = setTimeout(() => this.flush(), Math.max(0, Math.ceil(head.at - performance.now())));
  }

  private flush(): void {
    this.timer = undefined;
    const now = performance.now();
    let head = this.queue[0];
    while (head && head.at <= now) {
      this.queue.shift();
      this.deliver(head.chunk);
      head = this.queue[0];
    }
    this.schedule();
  }

  private deliver(chunk: Buffer | typeof END): void {
    const { source, destination } = this;
    if (destination.destroyed) return;
    if (chunk === END) {
      destination.end();
      return;
    }
    if (!destination.write(chunk) && !source.isPaused()) {
      // Backpressure: stop reading until the slow side has drained.
      source.pause();
      destination.once('drain', () => source.resume());
    }
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

class Connection {
  private readonly directions: Direction[];

  constructor(
    readonly client: Socket,
    readonly upstream: Socket,
    delay: () => number,
  ) {
    this.directions = [new Direction(client, upstream, delay), new Direction(upstream, client, delay)];
  }

  stop(): void {
    for (const direction of this.directions) direction.stop();
  }
}

/** RST when the platform can, a plain destroy otherwise (or while still connecting). */
function hardClose(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting || typeof socket.resetAndDestroy !== 'function') {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const host = options.host ?? '127.0.0.1';
  const open = new Set<Connection>();
  const stats: TcpProxyStats = { accepted: 0, reset: 0, refused: 0 };
  let delayMs = 0;
  let refusing = false;
  let closed = false;
  const delay = (): number => delayMs;

  const server: Server = createServer((client) => {
    client.on('error', () => undefined);
    if (refusing || closed) {
      stats.refused += 1;
      hardClose(client);
      return;
    }
    stats.accepted += 1;
    client.setNoDelay(true);
    const upstream = new Socket();
    upstream.on('error', () => undefined);
    upstream.setNoDelay(true);
    const connection = new Connection(client, upstream, delay);
    open.add(connection);

    let clientClosed = false;
    let upstreamClosed = false;
    const settle = (): void => {
      if (clientClosed && upstreamClosed) {
        connection.stop();
        open.delete(connection);
      }
    };
    client.on('close', (hadError) => {
      clientClosed = true;
      // A graceful close reaches upstream via the queued END; an abrupt one cuts it now.
      if (hadError || !client.readableEnded) upstream.destroy();
      settle();
    });
    upstream.on('close', (hadError) => {
      upstreamClosed = true;
      // Upstream refused or died (e.g. Redis restarting): drop the client, it reconnects.
      if (hadError || !upstream.readableEnded) client.destroy();
      settle();
    });
    upstream.connect(options.target.port, options.target.host);
  });
  server.on('error', () => undefined);

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const cutAll = (): number => {
    const count = open.size;
    for (const connection of open) {
      connection.stop();
      hardClose(connection.client);
      hardClose(connection.upstream);
    }
    open.clear();
    return count;
  };

  return {
    host,
    port,
    stats,
    setDelay(ms: number) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`delay must be a finite number ≥ 0, got ${ms}`);
      delayMs = ms;
    },
    resetAll() {
      const count = cutAll();
      stats.reset += count;
      return count;
    },
    refuse(on: boolean) {
      refusing = on;
    },
    connections() {
      return open.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      cutAll();
      await stopped;
    },
  };
}
