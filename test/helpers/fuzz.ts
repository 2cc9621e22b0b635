// Shared by the fuzz and security tests: a process-level trap for crashes that never
// reach a test's own await (an unhandled rejection in a request handler, an exception in
// a socket callback), a byte-exact fingerprint of a key prefix for "nothing was written",
// and a raw HTTP client that can send what fetch refuses to (bad paths, lying
// Content-Length, half a body).
import { connect } from 'node:net';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';

export interface ProcessErrorTrap {
  readonly errors: { kind: string; error: unknown }[];
  /** Fails the test when anything escaped since the trap was set (or last checked). */
  assertNone(): void;
  remove(): void;
}

/**
 * Records unhandled rejections and uncaught exceptions instead of letting Node print and
 * (for rejections) crash; each fuzz file checks the record after every property.
 */
export function trapProcessErrors(): ProcessErrorTrap {
  const errors: { kind: string; error: unknown }[] = [];
  const onRejection = (error: unknown) => errors.push({ kind: 'unhandledRejection', error });
  const onException = (error: unknown) => errors.push({ kind: 'uncaughtException', error });
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    errors,
    assertNone() {
      const escaped = errors.splice(0, errors.length);
      if (escaped.length > 0) {
        const shown = escaped.map(({ kind, error }) => `${kind}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        assert.unreachable(`${escaped.length} error(s) escaped to the process:\n${shown.join('\n')}`);
      }
    },
    remove() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/**
 * Every key under `prefix:` with its type, its content read back in a canonical order and
 * whether it expires: equal fingerprints, equal data. (DUMP bytes are not canonical: a
 * large hash's dict order changes while Redis rehashes it in the background.)
 */
export async function fingerprint(client: Redis, prefix: string): Promise<Map<string, string>> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  keys.sort();
  const typed = client.pipeline();
  for (const key of keys) {
    typed.type(key);
    typed.pttl(key);
  }
  const types = (await typed.exec()) ?? [];
  const read = client.pipeline();
  keys.forEach((key, index) => {
    const type = String(types[index * 2]?.[1]);
    if (type === 'hash') read.hgetall(key);
    else if (type === 'stream') read.xrange(key, '-', '+');
    else if (type === 'set') read.smembers(key);
    else if (type === 'zset') read.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'list') read.lrange(key, 0, -1);
    else read.get(key);
  });
  const contents = (await read.exec()) ?? [];
  const result = new Map<string, string>();
  keys.forEach((key, index) => {
    const type = String(types[index * 2]?.[1]);
    const expires = Number(types[index * 2 + 1]?.[1]) >= 0;
    const [error, content] = contents[index] ?? [];
    if (error) throw error;
    let canonical: unknown = content;
    if (type === 'hash') canonical = Object.entries(content as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    else if (type === 'set') canonical = [...(content as string[])].sort();
    result.set(key, `${type}|${expires ? 'expires' : 'persistent'}|${JSON.stringify(canonical)}`);
  });
  return result;
}

/** Names what differs between two fingerprints, for assertion messages. */
export function fingerprintDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const changed: string[] = [];
  for (const [key, value] of after) if (before.get(key) !== value) changed.push(before.has(key) ? `changed ${key}` : `added ${key}`);
  for (const key of before.keys()) if (!after.has(key)) changed.push(`removed ${key}`);
  return changed;
}

export interface RawResponse {
  /** undefined when the server closed the connection without an answer. */
  status: number | undefined;
  headers: Record<string, string>;
  body: string;
}

/**
 * One request over a plain TCP socket, bytes exactly as given. `declaredLength` may lie
 * (larger than the body: the client then half-closes, as a sender that died mid-body).
 * `guardMs` only ends a request the server never answers; it asserts nothing by itself.
 */
export function rawRequest(
  port: number,
  request: { method: string; target: string; headers?: Record<string, string>; body?: Buffer; declaredLength?: number },
  guardMs = 10_000,
): Promise<RawResponse> {
  const body = request.body ?? Buffer.alloc(0);
  const headers = { host: '127.0.0.1', connection: 'close', 'content-length': String(request.declaredLength ?? body.length), ...request.headers };
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${Object.entries(headers).map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
      if (request.declaredLength !== undefined && request.declaredLength > body.length) socket.end();
    });
    const guard = setTimeout(() => socket.destroy(), guardMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(guard);
      resolve(parseResponse(Buffer.concat(chunks)));
    });
  });
}

function parseResponse(bytes: Buffer): RawResponse {
  const headerEnd = bytes.indexOf('\r\n\r\n');
  const head = bytes.subarray(0, headerEnd === -1 ? bytes.length : headerEnd).toString('latin1');
  const match = /^HTTP\/1\.1 (\d{3})/.exec(head);
  if (!match || headerEnd === -1) return { status: undefined, headers: {}, body: bytes.toString('utf8') };
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(headerEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') body = unchunk(body);
  return { status: Number(match[1]), headers, body: body.toString('utf8') };
}

function unchunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let rest = bytes;
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    if (lineEnd === -1) break;
    const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
    if (!size) break;
    parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
    rest = rest.subarray(lineEnd + 2 + size + 2);
  }
  return Buffer.concat(parts);
}

/** The `error.code` of a JSON error body, or undefined when the body is not one. */
export function errorCodeOf(body: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || !('error' in parsed)) return undefined;
    const error: unknown = parsed.error;
    if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
    return typeof error.code === 'string' ? error.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * fc.assert, with the failing assertion's own message added to fast-check's report (it
 * keeps it in `cause`, which uvu does not print).
 */
export async function checkProperty<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>, parameters: fc.Parameters<Ts>): Promise<void> {
  try {
    await fc.assert(property, parameters);
  } catch (error) {
    if (error instanceof Error && error.cause !== undefined) {
      const cause = error.cause instanceof Error ? error.cause.message : String(error.cause);
      error.message = `${error.message}\nCaused by: ${cause}`;
    }
    throw error;
  }
}

/** Fails naming every key that was added, changed or removed. */
export function assertUnchanged(before: Map<string, string>, after: Map<string, string>, context: string): void {
  const diff = fingerprintDiff(before, after);
  assert.ok(diff.length === 0, `${context}: ${diff.join(', ')}`);
}
