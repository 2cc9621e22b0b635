// Our own Login with Amazon token cache. @sp-api-sdk/auth posts to a hard-coded
// https://api.amazon.com/auth/ and refreshes only at expiry (amazon-notes.md §4.2); this
// one takes the token URL from configuration, refreshes a margin before expiry, shares
// one refresh between concurrent callers, and can be told a token was refused (403).
// It extends SellingPartnerApiAuth only so createAxiosInstance accepts it.
import { SellingPartnerApiAuth } from '@sp-api-sdk/auth';
import { StockguardError } from '../errors.ts';
import type { Clock } from '../ledger/ledger.ts';

export interface LwaCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
  /** e.g. https://api.amazon.com/auth/o2/token */
  tokenUrl: string;
}

export interface LwaOptions {
  clock?: Clock;
  /** Refresh this long before the token expires. Default 60 s (amazon-notes.md §4.3). */
  refreshMarginMs?: number;
  timeoutMs?: number;
  /**
   * A grantless token instead of a seller one: `client_credentials` with this scope
   * (amazon-notes.md §2.1), e.g. `sellingpartnerapi::notifications` for the Notifications
   * API's destinations. The refresh token is then not sent.
   */
  scope?: string;
}

export class LwaTokenProvider extends SellingPartnerApiAuth {
  private cached: { token: string; expiresAtMs: number } | undefined;
  private refreshing: Promise<string> | undefined;
  private readonly clock: Clock;
  private readonly refreshMarginMs: number;
  private readonly timeoutMs: number;
  private readonly scope: string | undefined;
  /** Token requests sent to LWA so far. */
  requests = 0;

  constructor(
    private readonly credentials: LwaCredentials,
    options: LwaOptions = {},
  ) {
    super({ clientId: credentials.clientId, clientSecret: credentials.clientSecret, refreshToken: credentials.refreshToken });
    this.clock = options.clock ?? Date.now;
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.scope = options.scope;
  }

  override async getAccessToken(): Promise<string> {
    if (this.cached && this.clock() < this.cached.expiresAtMs - this.refreshMarginMs) return this.cached.token;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  /** Forgets the cached token (SP-API answered 403 Unauthorized with it). */
  invalidate(): void {
    this.cached = undefined;
  }

  private async refresh(): Promise<string> {
    this.requests += 1;
    const requestedAt = this.clock();
    let response: Response;
    try {
      response = await fetch(this.credentials.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8' },
        body: new URLSearchParams(
          this.scope === undefined
            ? { grant_type: 'refresh_token', refresh_token: this.credentials.refreshToken, client_id: this.credentials.clientId, client_secret: this.credentials.clientSecret }
            : { grant_type: 'client_credentials', scope: this.scope, client_id: this.credentials.clientId, client_secret: this.credentials.clientSecret },
        ),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new StockguardError('STOCKGUARD_E_AMAZON_AUTH', `POST ${this.credentials.tokenUrl} failed`, { cause: error });
    }
    const body: unknown = await response.json().catch(() => undefined);
    const token = isRecord(body) ? body['access_token'] : undefined;
    const expiresIn = isRecord(body) ? body['expires_in'] : undefined;
    if (!response.ok || typeof token !== 'string' || typeof expiresIn !== 'number') {
      // The OAuth error body names the problem (invalid_grant, invalid_client) and no secret.
      const reason = isRecord(body) && typeof body['error'] === 'string' ? `${body['error']}: ${String(body['error_description'] ?? '')}` : `HTTP ${response.status}`;
      throw new StockguardError('STOCKGUARD_E_AMAZON_AUTH', `${this.credentials.tokenUrl} answered ${reason}`, { details: { status: response.status } });
    }
    // Expiry counts from when we asked, so a slow answer cannot make the token look fresher.
    this.cached = { token, expiresAtMs: requestedAt + expiresIn * 1000 };
    return token;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
