// The coded error catalogue. Callers branch on `code`, never on message text.
// docs/errors.md lists every entry; test/unit/errors.test.ts keeps the two in sync.

export interface ErrorDefinition {
  /** What went wrong, in one sentence. */
  readonly message: string;
  /** What the user or operator should do about it. */
  readonly fix: string;
  /** HTTP status when the error reaches an HTTP response; undefined when it never does. */
  readonly status?: number;
}

export const ERROR_CATALOGUE = {
  STOCKGUARD_E_CONFIG: {
    message: 'A configuration setting is missing or invalid',
    fix: 'Set the named environment variable to a valid value (see docs/configuration.md) and restart',
  },
  STOCKGUARD_E_REDIS_UNAVAILABLE: {
    message: 'Redis did not answer',
    fix: 'Check REDIS_URL, that Redis is running and reachable, and the credentials',
    status: 503,
  },
  STOCKGUARD_E_BAD_SKU: {
    message: 'The SKU is empty, too long, or contains a character stockguard cannot key on',
    fix: 'Use a non-empty SKU of at most 200 characters without "{", "}" or control characters',
    status: 400,
  },
  STOCKGUARD_E_UNKNOWN_SKU: {
    message: 'The SKU is not in the catalogue',
    fix: 'Import the SKU with `stockguard catalog import`, then replay the event',
    status: 422,
  },
  STOCKGUARD_E_UNMAPPED_ITEM: {
    message: 'An order line names a channel item (Amazon seller SKU, Shopify variant or SKU text) that no catalogue entry maps',
    fix: 'Add the identifier to the entry of the SKU it sells (amazonSellerSku, shopifyVariantId or shopifySku), `stockguard catalog import` the file, then `stockguard dlq replay`',
    status: 422,
  },
  STOCKGUARD_E_BAD_QUANTITY: {
    message: 'A quantity is not a whole number in the allowed range',
    fix: 'Send quantities as integers: positive for order lines and shipments, non-zero for adjustments, zero or more for counts and holdbacks',
    status: 400,
  },
  STOCKGUARD_E_EMPTY_ID: {
    message: 'An identifier (order, line, reservation, shipment or event id) is empty or too long',
    fix: 'Send a non-empty identifier of at most 256 characters',
    status: 400,
  },
  STOCKGUARD_E_BAD_ARGUMENT: {
    message: 'An argument is malformed',
    fix: 'Correct the named argument and retry',
    status: 400,
  },
  STOCKGUARD_E_CONFLICT: {
    message: 'An event id was reused with different content',
    fix: 'Give every distinct WMS event and shipment its own id; a retry must repeat the original content exactly',
    status: 409,
  },
  STOCKGUARD_E_SCRIPT_REPLY: {
    message: 'A ledger script returned a reply the decoder does not understand',
    fix: 'The Lua scripts and the TypeScript wrappers are out of step: deploy one version of stockguard everywhere',
    status: 500,
  },
  STOCKGUARD_E_CATALOG_ROW: {
    message: 'A catalogue row is malformed',
    fix: 'Correct the named row and field in the catalogue file and import it again',
    status: 400,
  },
  STOCKGUARD_E_CATALOG_FILE: {
    message: 'The catalogue file cannot be read',
    fix: 'Check the path and that the file is JSON (an array of rows) or CSV with a header line',
  },
  STOCKGUARD_E_UNAUTHORIZED: {
    message: 'The request is not signed or authorised as required',
    fix: 'Sign webhooks with the configured secret over the raw body (docs/wms.md), or send the bearer token configured in STOCKGUARD_API_TOKEN',
    status: 401,
  },
  STOCKGUARD_E_STALE_REQUEST: {
    message: 'The signed request is older than the replay window',
    fix: 'Send the request with a fresh timestamp; replays older than STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS (Shopify) or STOCKGUARD_WMS_MAX_AGE_SECONDS (WMS) are refused',
    status: 401,
  },
  STOCKGUARD_E_STALE_EVENT: {
    message: 'An event the ledger has no mark of is older than the dedupe horizon: it may have been applied before, and its mark swept',
    fix: 'Nothing was changed and the event is in the dead-letter stream. Check whether its effect is already in the ledger (`stockguard sku <SKU>`); if it is not, apply it by hand (`stockguard adjust`) or let reconciliation correct on_hand. Senders must retry within the horizons in docs/operations.md, and dead letters must be replayed within STOCKGUARD_EVENT_HORIZON_SECONDS of the event',
  },
  STOCKGUARD_E_BAD_JSON: {
    message: 'The body is not valid JSON',
    fix: 'Send a UTF-8 JSON body with content-type application/json',
    status: 400,
  },
  STOCKGUARD_E_BAD_PAYLOAD: {
    message: 'The JSON body does not have the documented shape',
    fix: 'Correct the named fields; the payloads are documented in docs/wms.md and docs/ingest.md',
    status: 400,
  },
  STOCKGUARD_E_BAD_EVENT: {
    message: 'A stream entry has no `event` field or its value is not JSON',
    fix: 'Producers must write one field `event` holding a JSON document (use appendEvent); fix the producer, then replay the entry with `stockguard dlq replay`',
  },
  STOCKGUARD_E_STREAM_FULL: {
    message: 'An event stream has reached its length cap because the consumers are behind',
    fix: 'Retry later; scale the consumers or raise the stream cap. stockguard refuses the event rather than drop unacknowledged entries',
    status: 503,
  },
  STOCKGUARD_E_NOT_REPLICATED: {
    message: 'Redis took the write, but fewer replicas than STOCKGUARD_REDIS_WAIT_REPLICAS confirmed it within STOCKGUARD_REDIS_WAIT_TIMEOUT_MS, so it was not acknowledged',
    fix: 'Retry (the write is idempotent: a retry after it survived is a duplicate). If it keeps happening, a master has lost its replica: check `INFO replication` on the master of the named key, and bring the replica back (docs/operations.md, "Redis Cluster")',
    status: 503,
  },
  STOCKGUARD_E_WMS_UNAVAILABLE: {
    message: 'The WMS stock API did not answer successfully',
    fix: 'Check STOCKGUARD_WMS_URL and that the WMS is up; each page is retried STOCKGUARD_WMS_RETRIES times. Nothing after the failed page was compared: run `stockguard reconcile` again once the WMS answers',
  },
  STOCKGUARD_E_WMS_RESPONSE: {
    message: 'The WMS stock API refused the request or answered with a body that does not have the documented shape',
    fix: 'Check STOCKGUARD_WMS_TOKEN, and that the WMS (or the adapter in front of it) implements GET /v1/stock as docs/wms.md describes',
  },
  STOCKGUARD_E_RECONCILE_RUNNING: {
    message: 'Another reconciliation run holds the lock',
    fix: 'Wait for it to finish (its report appears in STOCKGUARD_RECONCILE_REPORT_DIR); if its owner died, the lock expires by itself after STOCKGUARD_RECONCILE_LOCK_TTL_MS',
  },
  STOCKGUARD_E_FILE: {
    message: 'A snapshot or report file cannot be read or written',
    fix: 'Check the path, its permissions and the free disk space',
  },
  STOCKGUARD_E_SNAPSHOT_CORRUPT: {
    message: 'The snapshot file is damaged, truncated or not a stockguard snapshot',
    fix: 'Nothing was written. Restore another snapshot file, or take a new one with `stockguard snapshot`',
  },
  STOCKGUARD_E_SNAPSHOT_VERSION: {
    message: 'The snapshot file was written in a format version this stockguard does not read',
    fix: 'Nothing was written. Restore it with the stockguard version that wrote it, or a newer one',
  },
  STOCKGUARD_E_RESTORE_NOT_EMPTY: {
    message: 'The target Redis already holds keys under the key prefix',
    fix: 'Restore into an empty Redis or another STOCKGUARD_KEY_PREFIX, or stop every daemon and pass --force to replace the ledger and catalogue keys',
  },
  STOCKGUARD_E_RESTORE_PARTIAL: {
    message: 'Redis refused a write part-way through a restore: the SKUs before it are restored, the rest are not',
    fix: 'Read the reason (e.g. OOM, a key of another type, an entry Redis rejects), fix it, then restore the same file again with --force (it replaces what the snapshot covers); every SKU is written whole or not at all',
  },
  STOCKGUARD_E_LAYOUT_OUTDATED: {
    message: 'Redis holds the ledger in an older key layout than this stockguard reads',
    fix: 'Stop every stockguard daemon (scale the deployment to 0), run `stockguard migrate layout` with this version, then start the daemons again (docs/operations.md, "Migrating the key layout")',
  },
  STOCKGUARD_E_LAYOUT_UNKNOWN: {
    message: 'The key layout marker names a layout this stockguard does not know',
    fix: 'A newer stockguard wrote this ledger: run that version (or a newer one), never an older one, against it',
  },
  STOCKGUARD_E_MIGRATE_CONFLICT: {
    message: 'The layout migration left SKUs that have a key under both the old and the new name with different content',
    fix: 'Something wrote while the migration ran (a daemon that was not stopped changed an old key after it was copied) or wrote the new name by hand. Both keys were kept and the layout marker was not written: inspect the named keys, delete the one that is wrong, then run `stockguard migrate layout` again',
  },
  STOCKGUARD_E_MIGRATE_FAILED: {
    message: 'Redis refused a command of the layout migration',
    fix: 'Nothing is lost: an old key is deleted only after its copy under the new name is written. Read Redis\'s reason (NOPERM: run the migration as a user allowed DUMP, RESTORE and DEL: RESTORE is in @dangerous, add +restore; OOM: free memory or raise maxmemory, the migration needs room for the largest batch twice), fix it, then run `stockguard migrate layout` again: it resumes where it stopped',
  },
  STOCKGUARD_E_CHANNEL_REQUEST: {
    message: 'A channel API request failed after its bounded retries',
    fix: 'Check the channel status, the network and the credentials; the SKU stays due and is pushed again on its next change or the next sweep',
  },
  STOCKGUARD_E_CHANNEL_REJECTED: {
    message: 'A channel refused a pushed quantity',
    fix: 'Read the codes and issues in the log line (Shopify userErrors, Amazon INVALID issues) and correct the catalogue mapping or the listing',
  },
  STOCKGUARD_E_AMAZON_AUTH: {
    message: 'Login with Amazon did not issue an access token',
    fix: 'Check AMAZON_LWA_CLIENT_ID, AMAZON_LWA_CLIENT_SECRET, AMAZON_LWA_REFRESH_TOKEN and AMAZON_LWA_TOKEN_URL',
  },
  STOCKGUARD_E_SHOPIFY_LOCATION: {
    message: 'A catalogue SKU maps to a Shopify location that is unknown, inactive or does not fulfil online orders',
    fix: 'Activate the location and tick "Fulfill online orders from this location" in Shopify, or map the SKU to another location; stockguard never writes to it until then',
  },
  STOCKGUARD_E_DISCOVER_READ: {
    message: 'Reading the catalogue from a channel failed (`stockguard catalog discover`)',
    fix: 'Check the credentials (a Shopify token with read_products and read_inventory; the LWA credentials and AMAZON_SELLER_ID), the network and the channel status, then run discover again; no file was written',
  },
  STOCKGUARD_E_DISCOVER_LOCATION: {
    message: 'Discover cannot tell which Shopify location the catalogue should map: the shop has none, or several, that are active and fulfil online orders',
    fix: 'Pass --location gid://shopify/Location/<id> naming the active, online-fulfilling location whose stock stockguard sets',
  },
  STOCKGUARD_E_OUTPUT_EXISTS: {
    message: 'The output file already exists',
    fix: 'Pass --force to replace it, or name another file with --out',
  },
  STOCKGUARD_E_SETUP: {
    message: 'A channel refused or failed a setup request (`stockguard setup`)',
    fix: 'Read the channel\'s answer in the message: check the credentials and their scopes (Shopify: an app token; Amazon: the LWA client may call the Notifications API), STOCKGUARD_PUBLIC_URL or the SQS queue ARN, then run setup again; it only adds what is missing',
  },
  STOCKGUARD_E_TEST_REDIS: {
    message: 'No Redis is available for the tests',
    fix: 'Install redis-server (apt-get install redis-server), set REDIS_URL to a Redis you may write to, or start a Docker engine for testcontainers',
  },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/** The one error class stockguard throws for conditions it understands. */
export class StockguardError extends Error {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly fix: string;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    const definition: ErrorDefinition = ERROR_CATALOGUE[code];
    super(`${code}: ${definition.message}${detail ? `: ${detail}` : ''}. Fix: ${definition.fix}.`, {
      cause: options?.cause,
    });
    this.name = 'StockguardError';
    this.code = code;
    this.status = definition.status;
    this.fix = definition.fix;
    this.details = options?.details ?? {};
  }
}

export function isStockguardError(error: unknown, code?: ErrorCode): error is StockguardError {
  return error instanceof StockguardError && (code === undefined || error.code === code);
}
