// Where reconciliation gets the warehouse's truth: the WMS on-hand snapshot, paged, with
// the time it was taken. One interface, one HTTP/JSON implementation (the contract is in
// docs/wms.md, "Stock snapshots"), so an integrator can put any WMS behind it.
import { z } from 'zod';
import { backoffDelayMs, type BackoffPolicy } from '../domain/backoff.ts';
import { StockguardError } from '../errors.ts';

/** One page of the snapshot. Every page of one snapshot carries the same `asOfMs`. */
export interface WmsStockPage {
  /** When the WMS took the snapshot (ms since the epoch). */
  asOfMs: number;
  /**
   * `seq`, the watermark (docs/wms.md, "Watermark"): the SKU's last movement number the
   * on-hand includes (0: none yet). Absent from a WMS without a watermark: that SKU is
   * compared with the settle window.
   */
  items: { sku: string; onHand: number; seq?: number }[];
}

export interface WmsAdapter {
  /** The whole on-hand list, page by page, as of one moment. */
  snapshot(): AsyncIterable<WmsStockPage>;
}

/** The body of `GET /v1/stock` (docs/wms.md). */
export const WmsStockResponse = z.object({
  asOf: z.string().datetime({ offset: true }),
  items: z
    .array(
      z.object({
        sku: z.string().min(1).max(1000),
        onHand: z.number().int().min(-1_000_000_000).max(1_000_000_000),
        seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
      }),
    )
    .max(10_000),
  nextCursor: z.string().min(1).max(2000).nullable(),
});
export type WmsStockResponse = z.infer<typeof WmsStockResponse>;

export interface HttpWmsAdapterOptions {
  /** Base URL of the WMS stock API, e.g. https://wms.example.com (the adapter adds /v1/stock). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  token: string;
  /** Items per page (`limit`); the WMS may send fewer. */
  pageSize?: number;
  /** Attempts per page after the first, on 5xx, 429, timeouts and network errors. */
  retries?: number;
  /** Per request. */
  timeoutMs?: number;
  backoff?: BackoffPolicy;
  /** Called before each retry (for logs and metrics). */
  onRetry?: (attempt: number, reason: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

const RETRY_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 10_000, factor: 2 };

export class HttpWmsAdapter implements WmsAdapter {
  private readonly stockUrl: URL;

  constructor(private readonly options: HttpWmsAdapterOptions) {
    try {
      this.stockUrl = new URL('v1/stock', options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
    } catch (error) {
      throw new StockguardError('STOCKGUARD_E_CONFIG', `STOCKGUARD_WMS_URL is not a URL: ${JSON.stringify(options.baseUrl)}`, { cause: error });
    }
  }

  async *snapshot(): AsyncIterable<WmsStockPage> {
    let cursor: string | null = null;
    let page = 0;
    do {
      const body: WmsStockResponse = await this.fetchPage(cursor, page);
      // Pages of one snapshot share its time. Each page still carries its own, so a WMS
      // that cannot hold one snapshot across pages is compared page by page correctly.
      yield { asOfMs: Date.parse(body.asOf), items: body.items };
      cursor = body.nextCursor;
      page += 1;
    } while (cursor !== null);
  }

  private async fetchPage(cursor: string | null, page: number): Promise<WmsStockResponse> {
    const url = new URL(this.stockUrl);
    url.searchParams.set('limit', String(this.options.pageSize ?? 1000));
    if (cursor !== null) url.searchParams.set('cursor', cursor);
    const retries = this.options.retries ?? 5;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let lastProblem = '';
    for (let attempt = 0; attempt <= retries; attempt += 1) {
      if (attempt > 0) {
        this.options.onRetry?.(attempt, lastProblem);
        await sleep(backoffDelayMs(attempt - 1, this.options.backoff ?? RETRY_BACKOFF));
      }
      let response: Response;
      try {
        response = await fetch(url, {
          headers: { authorization: `Bearer ${this.options.token}`, accept: 'application/json' },
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
        });
      } catch (error) {
        lastProblem = `page ${page}: ${error instanceof Error ? error.message : String(error)}`;
        continue;
      }
      if (response.status >= 500 || response.status === 429) {
        lastProblem = `page ${page}: HTTP ${response.status}`;
        await response.body?.cancel();
        continue;
      }
      const text = await response.text();
      if (response.status !== 200) {
        throw new StockguardError('STOCKGUARD_E_WMS_RESPONSE', `GET ${this.stockUrl.pathname} (page ${page}) answered HTTP ${response.status}: ${text.slice(0, 200)}`, {
          details: { status: response.status, page },
        });
      }
      return parseStockBody(text, page);
    }
    throw new StockguardError('STOCKGUARD_E_WMS_UNAVAILABLE', `${lastProblem}, after ${retries + 1} attempts`, { details: { page } });
  }
}

function parseStockBody(text: string, page: number): WmsStockResponse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new StockguardError('STOCKGUARD_E_WMS_RESPONSE', `page ${page} is not JSON`, { cause: error });
  }
  const parsed = WmsStockResponse.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 10).map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`);
    throw new StockguardError('STOCKGUARD_E_WMS_RESPONSE', `page ${page}: ${problems.join('; ')}`, { details: { page } });
  }
  return parsed.data;
}
