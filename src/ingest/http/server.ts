// The daemon's one HTTP listener (node:http; see docs/decisions.md). Reads the raw body
// with a size cap (413), routes by method and path, and turns coded errors into JSON
// responses with their status, code and fix. Handlers get the raw bytes so webhook HMACs
// are checked over exactly what was sent.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isStockguardError, StockguardError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';

export interface HttpRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
}

export interface HttpResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Sent as-is (e.g. Prometheus text); otherwise `body` is sent as JSON. */
  text?: string;
}

export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT';
  /** Exact path, or segments with `:name` parameters, e.g. `/v1/reservations/:id`. */
  path: string;
  handler(request: HttpRequest): Promise<HttpResponse>;
}

export interface HttpServerOptions {
  routes: readonly Route[];
  bodyLimitBytes: number;
  logger: Logger;
  /** Called for every response, for metrics. */
  onResponse?: (route: string, status: number, seconds: number) => void;
}

export interface RunningHttpServer {
  server: Server;
  url: string;
  port: number;
  close(): Promise<void>;
}

export function createHttpServer(options: HttpServerOptions): Server {
  const compiled = options.routes.map((route) => ({ route, match: compilePath(route.path) }));
  return createServer((incoming, outgoing) => {
    const started = process.hrtime.bigint();
    // Nothing a request sends may become an unhandled rejection: that would end the daemon.
    void handle(incoming, outgoing, compiled, options)
      .catch((error: unknown) => {
        incoming.resume();
        send(outgoing, errorResponse(error, options.logger, 'unrouted'));
        return 'bad-request';
      })
      .then((routeName) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        options.onResponse?.(routeName, outgoing.statusCode, seconds);
      });
  });
}

export async function listen(server: Server, port: number, host: string): Promise<RunningHttpServer> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port: address.port,
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

type Compiled = { route: Route; match: (path: string) => Record<string, string> | undefined };

async function handle(incoming: IncomingMessage, outgoing: ServerResponse, routes: Compiled[], options: HttpServerOptions): Promise<string> {
  const url = requestUrl(incoming.url);
  const method = incoming.method ?? 'GET';
  let pathMatched = false;
  for (const { route, match } of routes) {
    const params = match(url.pathname);
    if (!params) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    try {
      const rawBody = await readBody(incoming, options.bodyLimitBytes);
      const response = await route.handler({ method, path: url.pathname, params, query: url.searchParams, headers: incoming.headers, rawBody });
      send(outgoing, response);
    } catch (error) {
      send(outgoing, errorResponse(error, options.logger, route.path));
    }
    return route.path;
  }
  if (pathMatched) {
    incoming.resume();
    send(outgoing, { status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${url.pathname}` } } });
    return 'method-not-allowed';
  }
  incoming.resume();
  send(outgoing, { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route for ${method} ${url.pathname}` } } });
  return 'not-found';
}

/** Node's parser accepts request targets such as `//[` that WHATWG URL refuses. */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://localhost');
  } catch {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', 'the request target is not a valid URL path');
  }
}

export class PayloadTooLarge extends Error {}

/** The sender closed the connection before its body ended: there is nobody to answer. */
export class ClientClosed extends Error {}

function readBody(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(incoming.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    incoming.resume();
    return Promise.reject(new PayloadTooLarge(`the body is ${declared} bytes; the limit is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    incoming.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new PayloadTooLarge(`the body exceeds the limit of ${limit} bytes`));
        incoming.removeAllListeners('data');
        incoming.resume();
        return;
      }
      chunks.push(chunk);
    });
    incoming.on('end', () => resolve(Buffer.concat(chunks)));
    incoming.on('error', (error) => reject(incoming.readableAborted ? new ClientClosed(error.message) : error));
    // A connection closed mid-body may end without 'end' or 'error': settle anyway (a no-op after 'end').
    incoming.on('close', () => reject(new ClientClosed('the connection closed before the body ended')));
  });
}

function errorResponse(error: unknown, logger: Logger, route: string): HttpResponse {
  if (error instanceof ClientClosed) {
    logger.debug({ route, reason: error.message }, 'the sender closed the connection mid-request');
    return { status: 400, body: { error: { code: 'CLIENT_CLOSED', message: error.message } } };
  }
  if (error instanceof PayloadTooLarge) {
    return { status: 413, body: { error: { code: 'PAYLOAD_TOO_LARGE', message: error.message, fix: 'Send a smaller body, or raise STOCKGUARD_HTTP_BODY_LIMIT_BYTES' } } };
  }
  if (isStockguardError(error) && error.status !== undefined && error.status < 500) {
    return { status: error.status, body: { error: { code: error.code, message: error.message, fix: error.fix, ...error.details } } };
  }
  if (isStockguardError(error) && error.status !== undefined) {
    logger.error({ err: error, route }, 'request failed');
    return { status: error.status, body: { error: { code: error.code, message: error.message, fix: error.fix } } };
  }
  logger.error({ err: error, route }, 'request failed with an unexpected error');
  // A sender that gets a 5xx retries: nothing was acknowledged, so nothing is lost.
  return { status: 500, body: { error: { code: 'INTERNAL', message: 'internal error; the request was not accepted, retry it' } } };
}

function send(outgoing: ServerResponse, response: HttpResponse): void {
  if (outgoing.headersSent) return;
  const headers = { ...(response.headers ?? {}) };
  let payload = '';
  if (response.text !== undefined) {
    payload = response.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (response.body !== undefined) {
    payload = JSON.stringify(response.body);
    headers['content-type'] = 'application/json; charset=utf-8';
  }
  outgoing.writeHead(response.status, headers);
  outgoing.end(payload);
}

function compilePath(pattern: string): (path: string) => Record<string, string> | undefined {
  const parts = pattern.split('/');
  return (path) => {
    const segments = path.split('/');
    if (segments.length !== parts.length) return undefined;
    const params: Record<string, string> = {};
    for (const [index, part] of parts.entries()) {
      const segment = segments[index]!;
      if (part.startsWith(':')) {
        if (segment === '') return undefined;
        params[part.slice(1)] = decodeSegment(segment);
      } else if (part !== segment) {
        return undefined;
      }
    }
    return params;
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `the path segment ${JSON.stringify(segment.slice(0, 100))} is not valid percent-encoding`);
  }
}
