// Login with Amazon (LWA) token endpoint, POST /auth/o2/token (spec notes §2.1).
// Accepts the documented form-urlencoded body and the JSON body both npm clients send.
import { randomBytes } from 'node:crypto';

export interface LwaCredentials {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface LwaResponse {
  status: number;
  body: Record<string, string | number>;
}

export type AccessTokenCheck = 'valid' | 'missing' | 'invalid' | 'expired';

interface IssuedToken {
  expiresAtMs: number;
  /** Seller tokens come from a refresh token; grantless ones (client_credentials) only reach grantless operations. */
  grant: 'refresh_token' | 'client_credentials';
  /** The scopes a grantless token was issued for. */
  scopes: readonly string[];
}

/** Scopes LWA grants for SP-API grantless operations (the @sp-api-sdk/auth AuthorizationScope values). */
const GRANTLESS_SCOPES = new Set(['sellingpartnerapi::notifications', 'sellingpartnerapi::client_credential:rotation']);

// Error bodies follow OAuth 2.0 (RFC 6749 §5.2) as LWA sends them:
// invalid_grant text from amzn/selling-partner-api-models#921,
// invalid_client (401) from amzn/selling-partner-api-docs#1447 and #499.
function oauthError(status: number, error: string, description: string): LwaResponse {
  return { status, body: { error_description: description, error } };
}

function parseTokenRequest(contentType: string | undefined, rawBody: string): Map<string, string> | undefined {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (mediaType === 'application/x-www-form-urlencoded') return new Map(new URLSearchParams(rawBody));
  if (mediaType === 'application/json') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawBody);
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const fields = new Map<string, string>();
    for (const [key, value] of Object.entries(parsed)) {
      if (typeof value === 'string') fields.set(key, value);
    }
    return fields;
  }
  return undefined;
}

export class LwaTokenService {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly credentials: LwaCredentials,
    private readonly lifetimeSeconds: number,
    private readonly now: () => number,
  ) {
    if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds <= 0) {
      throw new Error(`tokenLifetimeSeconds must be a whole number > 0, got ${lifetimeSeconds}`);
    }
  }

  /** Number of access tokens issued so far (a client that caches tokens asks rarely). */
  get issuedCount(): number {
    return this.tokens.size;
  }

  handleTokenRequest(contentType: string | undefined, rawBody: string): LwaResponse {
    const fields = parseTokenRequest(contentType, rawBody);
    if (!fields) return oauthError(400, 'invalid_request', 'The request body must be application/x-www-form-urlencoded or application/json');
    const grantType = fields.get('grant_type');
    if (!grantType) return oauthError(400, 'invalid_request', 'The request is missing a required parameter : grant_type');
    if (grantType !== 'refresh_token' && grantType !== 'client_credentials') {
      return oauthError(400, 'unsupported_grant_type', `The authorization grant type is not supported : ${grantType}`);
    }
    for (const name of ['client_id', 'client_secret', grantType === 'refresh_token' ? 'refresh_token' : 'scope']) {
      if (!fields.get(name)) return oauthError(400, 'invalid_request', `The request is missing a required parameter : ${name}`);
    }
    if (fields.get('client_id') !== this.credentials.clientId || fields.get('client_secret') !== this.credentials.clientSecret) {
      return oauthError(401, 'invalid_client', 'Client authentication failed');
    }
    if (grantType === 'refresh_token') {
      if (fields.get('refresh_token') !== this.credentials.refreshToken) {
        return oauthError(400, 'invalid_grant', 'The request has an invalid grant parameter : refresh_token');
      }
      const accessToken = this.issue('refresh_token');
      return {
        status: 200,
        body: { access_token: accessToken, token_type: 'bearer', expires_in: this.lifetimeSeconds, refresh_token: this.credentials.refreshToken },
      };
    }
    const scopes = (fields.get('scope') ?? '').split(' ').filter(Boolean);
    if (scopes.length === 0 || !scopes.every((scope) => GRANTLESS_SCOPES.has(scope))) {
      return oauthError(400, 'invalid_scope', 'An unknown scope was requested');
    }
    return { status: 200, body: { access_token: this.issue('client_credentials', scopes), token_type: 'bearer', expires_in: this.lifetimeSeconds } };
  }

  /** Checks an `x-amz-access-token` value for a seller (refresh-token) operation. */
  checkSellerToken(token: string | undefined): AccessTokenCheck {
    if (!token) return 'missing';
    const issued = this.tokens.get(token);
    if (!issued || issued.grant !== 'refresh_token') return 'invalid';
    return this.now() < issued.expiresAtMs ? 'valid' : 'expired';
  }

  /** Checks an `x-amz-access-token` value for a grantless operation that needs `scope`. */
  checkGrantlessToken(token: string | undefined, scope: string): AccessTokenCheck {
    if (!token) return 'missing';
    const issued = this.tokens.get(token);
    if (!issued || issued.grant !== 'client_credentials' || !issued.scopes.includes(scope)) return 'invalid';
    return this.now() < issued.expiresAtMs ? 'valid' : 'expired';
  }

  /** Makes every token issued so far expired, as if its hour had passed. */
  expireAll(): void {
    const now = this.now();
    for (const token of this.tokens.values()) token.expiresAtMs = Math.min(token.expiresAtMs, now);
  }

  private issue(grant: IssuedToken['grant'], scopes: readonly string[] = []): string {
    const accessToken = `Atza|${randomBytes(48).toString('base64url')}`;
    this.tokens.set(accessToken, { expiresAtMs: this.now() + this.lifetimeSeconds * 1000, grant, scopes });
    return accessToken;
  }
}
