// A minimal connection pool: WATCH state belongs to a connection, so a WATCH/MULTI
// transaction must own its connection from WATCH to EXEC. Callers queue for a free one,
// as they queue for a pg Pool client.
export class ConnectionPool<T> {
  private readonly idle: T[];
  private readonly waiting: ((connection: T) => void)[] = [];

  constructor(connections: readonly T[]) {
    this.idle = [...connections];
  }

  acquire(): Promise<T> {
    const connection = this.idle.pop();
    if (connection !== undefined) return Promise.resolve(connection);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(connection: T): void {
    const waiter = this.waiting.shift();
    if (waiter) waiter(connection);
    else this.idle.push(connection);
  }

  async use<R>(work: (connection: T) => Promise<R>): Promise<R> {
    const connection = await this.acquire();
    try {
      return await work(connection);
    } finally {
      this.release(connection);
    }
  }
}
