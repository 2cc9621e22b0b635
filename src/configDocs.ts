// What every setting in CONFIG_SCHEMA (src/config.ts) does, for docs/configuration.md.
// `npm run docs:config` (scripts/docs-config.ts) writes the tables of that page from this
// map and the schema's defaults; test/unit/config-docs.test.ts fails when a variable has
// no entry here or the page differs from what the script would write. The type below
// makes the typecheck fail too when a variable is added to the schema without a line here.
// A variable may instead carry its text in the schema (zod `.describe('…')`): that text wins
// over `text` here, and the entry here still names the section.
import type { CONFIG_SCHEMA } from './config.ts';

/** The tables of docs/configuration.md, in page order; each sits between its markers. */
export const CONFIG_SECTIONS = ['redis', 'process', 'http', 'streams', 'sqs', 'reconcile', 'pushers'] as const;
export type ConfigSection = (typeof CONFIG_SECTIONS)[number];

export interface ConfigDoc {
  section: ConfigSection;
  /** Markdown, one paragraph (no line breaks). Optional only when the schema has a `.describe()` text, which wins. */
  text?: string;
  /** Shown instead of the schema's default, when that says too little (e.g. a computed default). */
  default?: string;
}

export type ConfigVariable = keyof typeof CONFIG_SCHEMA.shape;

export const CONFIG_DOCS: Record<ConfigVariable, ConfigDoc> = {
  // --- Redis and keys ----------------------------------------------------------------------
  REDIS_URL: {
    section: 'redis',
    text: 'Redis to use. `rediss://` for TLS; user and password in the URL (`redis://:pass@host:6379` for the default user, `redis://user:pass@host:6379` for an ACL user; percent-encode `@ : / # %` in them). A URL that does not parse stops start-up without repeating it (it may hold the password). With `STOCKGUARD_REDIS_CLUSTER=true`, any one node of the Cluster.',
  },
  STOCKGUARD_REDIS_CLUSTER: {
    section: 'redis',
    text: '`true` to connect to a Redis Cluster. Every key of one SKU shares one hash tag, the `{p<N>}` of its layout partition, so every ledger script runs on one node.',
  },
  STOCKGUARD_REDIS_WAIT_REPLICAS: {
    section: 'redis',
    default: '`1` with `STOCKGUARD_REDIS_CLUSTER=true`, else `0` (off)',
    text: "Replicas that must confirm a write before stockguard acknowledges it: after appending an event the edge sends `WAIT` on the master that took it before it answers a webhook 2xx, deletes an SQS message or acknowledges a WMS batch; a consumer does the same after each ledger change before its `XACK`. When fewer confirm within `STOCKGUARD_REDIS_WAIT_TIMEOUT_MS`, the write is not acknowledged (webhook 503 `STOCKGUARD_E_NOT_REPLICATED`, the SQS message stays, the stream entry stays pending) and is sent again, a duplicate if it survived; `stockguard_redis_replica_wait_shortfalls_total` counts these. At most the replicas each master has: a master with fewer refuses every acknowledgement. `0`: no `WAIT` (a write a master acknowledged just before it crashed can be lost; docs/operations.md, \"Redis Cluster\").",
  },
  STOCKGUARD_REDIS_WAIT_TIMEOUT_MS: {
    section: 'redis',
    text: 'How long one `WAIT` may block (ms). It holds up the commands behind it on the same connection, so keep it short; a master whose replica is gone answers every write this late until the replica is back.',
  },
  STOCKGUARD_REDIS_TLS_CA_FILE: {
    section: 'redis',
    text: "PEM file of the CA(s) that signed the Redis server's certificate, for a `rediss://` URL (unset: the system's CAs). The certificate must name the host in `REDIS_URL`.",
  },
  STOCKGUARD_REDIS_TLS_CERT_FILE: {
    section: 'redis',
    text: 'PEM client certificate, for a Redis with `tls-auth-clients yes`; needs `STOCKGUARD_REDIS_TLS_KEY_FILE`.',
  },
  STOCKGUARD_REDIS_TLS_KEY_FILE: {
    section: 'redis',
    text: 'PEM key of that client certificate. The three TLS settings need a `rediss://` URL; both Redis clients (ledger and catalogue) use them. See `docs/security.md`.',
  },
  STOCKGUARD_KEY_PREFIX: {
    section: 'redis',
    text: 'Prefix of every key stockguard writes (letters, digits, `_`, `.`, `-`). Two deployments can share one Redis with different prefixes.',
  },
  STOCKGUARD_JOURNAL_RETENTION_DAYS: {
    section: 'redis',
    text: 'How long the journal stays in Redis. Older entries are written to the audit files (`STOCKGUARD_JOURNAL_AUDIT_DIR`) and then trimmed, hourly, by age, never by count. Keep it longer than the time from a WMS snapshot to its reconciliation plus `STOCKGUARD_RECONCILE_PENDING_MAX_MS` (docs/ledger.md, "Journal retention and audit files").',
  },
  STOCKGUARD_JOURNAL_AUDIT_DIR: {
    section: 'redis',
    text: 'Where journal entries go before they are trimmed: one gzipped NDJSON file per UTC day, `stockguard-<prefix>-journal-<date>.ndjson.gz`, written by one consumer replica at a time. Mount a PersistentVolume here. `off` trims without writing them: the trail then ends at the retention.',
  },

  // --- The process -------------------------------------------------------------------------
  STOCKGUARD_LOG_LEVEL: {
    section: 'process',
    text: 'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`.',
  },
  STOCKGUARD_CATALOG_FILE: {
    section: 'process',
    text: 'Optional catalogue file (JSON or CSV) that `stockguard catalog import` uses when no path is given.',
  },
  STOCKGUARD_ROLES: {
    section: 'process',
    text: 'Comma-separated parts `stockguard serve` runs (at least one): `http` (webhooks, reservation API, `/healthz`, `/readyz`, `/metrics`), `consumers` (apply the event streams to the ledger), `sqs` (poll Amazon notifications), `holds` (release expired checkout holds), `pushers` (tell the channels what they may sell), `reconcile` (scheduled reconciliation and snapshots). Split them over Deployments to scale ingest and apply apart (`docs/operations.md`). An unknown role stops start-up.',
  },
  STOCKGUARD_SHUTDOWN_DEADLINE_MS: {
    section: 'process',
    text: "On SIGTERM or SIGINT, how long the consumers and a running job may take to finish and acknowledge what they hold; entries still unfinished stay pending for another replica. Keep the orchestrator's grace period above it (`deploy/k8s`: 40 s).",
  },

  // --- HTTP receiver and authentication ----------------------------------------------------
  STOCKGUARD_HTTP_HOST: {
    section: 'http',
    text: 'Address the HTTP listener (`http` role) binds: `0.0.0.0` every IPv4 interface, `127.0.0.1` this machine only, `::` IPv6 too.',
  },
  STOCKGUARD_HTTP_PORT: {
    section: 'http',
    text: 'Its port, 0–65535 (`0`: any free port; the address is logged as `http listening`).',
  },
  STOCKGUARD_PUBLIC_URL: { section: 'http' },
  STOCKGUARD_HTTP_BODY_LIMIT_BYTES: {
    section: 'http',
    text: 'Largest request body on every route; a larger one is refused with 413 before it is parsed.',
  },
  SHOPIFY_APP_SECRET: {
    section: 'http',
    text: "The Shopify app's client secret, which signs its webhooks (`X-Shopify-Hmac-Sha256`); at least 16 characters. Unset: `POST /webhooks/shopify` is off (a warning is logged).",
  },
  SHOPIFY_APP_SECRET_PREVIOUS: {
    section: 'http',
    text: 'The secret before a rotation, accepted as well while deliveries signed with it may still arrive; remove it afterwards.',
  },
  STOCKGUARD_WMS_WEBHOOK_SECRET: {
    section: 'http',
    text: 'Shared secret of the WMS webhooks (`X-Stockguard-Signature`, `docs/wms.md`); at least 16 characters. Unset: `POST /webhooks/wms` is off (a warning is logged).',
  },
  STOCKGUARD_API_TOKEN: {
    section: 'http',
    text: 'Bearer token of the checkout reservation API (`/v1/reservations`); at least 16 characters. Unset: the API is off (a warning is logged).',
  },
  STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS: {
    section: 'http',
    text: 'A Shopify delivery whose `X-Shopify-Triggered-At` is older than this is refused as a replay (401 `STOCKGUARD_E_STALE_REQUEST`). Shopify retries for up to 4 h with the original time: keep it above that.',
  },
  STOCKGUARD_WMS_MAX_AGE_SECONDS: {
    section: 'http',
    text: "A WMS delivery whose `X-Stockguard-Timestamp` is further than this from stockguard's clock, either way, is refused (401 `STOCKGUARD_E_STALE_REQUEST`).",
  },
  STOCKGUARD_DEDUPE_WINDOW_SECONDS: {
    section: 'http',
    text: 'How long a Shopify delivery id (topic + `X-Shopify-Event-Id`) is remembered, so a redelivery appends nothing twice. At least `STOCKGUARD_SHOPIFY_MAX_AGE_SECONDS` (checked at start-up): Shopify retries for 4 hours with the original `X-Shopify-Triggered-At`, and older deliveries are refused. SQS and WMS ids have their own windows below; the ledger\'s own marks follow `STOCKGUARD_EVENT_HORIZON_SECONDS`.',
  },
  STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS: { section: 'http' },
  STOCKGUARD_WMS_DEDUPE_WINDOW_SECONDS: { section: 'http' },
  STOCKGUARD_EVENT_HORIZON_SECONDS: { section: 'streams' },

  // --- Streams, consumers and checkout holds -----------------------------------------------
  STOCKGUARD_STREAM_PARTITIONS: {
    section: 'streams',
    text: 'Streams per event kind (`sales`, `wms`, `notifications`), 1–256; a SKU always goes to the same one. Every replica must use the same number; drain the streams (lag 0) before changing it (`docs/streams.md`).',
  },
  STOCKGUARD_CONSUMER_GROUP: {
    section: 'streams',
    text: 'Redis Streams consumer group the `consumers` role reads with; every replica of one deployment uses the same group.',
  },
  STOCKGUARD_CONSUMER_NAME: {
    section: 'streams',
    default: '`$HOSTNAME`, else the host name',
    text: 'Name of this process in the group; must be unique in it (two processes with one name take each other\'s pending entries). In Kubernetes `HOSTNAME` is the pod name.',
  },
  STOCKGUARD_CONSUMER_BATCH: {
    section: 'streams',
    text: 'Entries read per `XREADGROUP`, 1–1000; the next batch is read when the whole batch is done.',
  },
  STOCKGUARD_CONSUMER_CONCURRENCY: {
    section: 'streams',
    text: 'Entries of one batch applied at once, 1–256; entries of one SKU still apply in stream order.',
  },
  STOCKGUARD_CLAIM_IDLE_MS: {
    section: 'streams',
    text: 'An entry pending this long (its consumer died, or a transient error left it) is claimed by the reclaim (`XAUTOCLAIM`) and applied again. Keep it above the slowest handler call.',
  },
  STOCKGUARD_RECLAIM_INTERVAL_MS: {
    section: 'streams',
    text: 'How often each consumer runs that reclaim over its streams.',
  },
  STOCKGUARD_MAX_DELIVERIES: {
    section: 'streams',
    text: 'Deliveries of one entry, 1–100, before it goes to the dead-letter stream with reason `too many deliveries` (`stockguard dlq list`).',
  },
  STOCKGUARD_HOLD_REAP_INTERVAL_MS: {
    section: 'streams',
    text: 'How often the `holds` role releases checkout holds whose TTL has passed (`POST /v1/reservations`, `docs/ingest.md`).',
  },

  // --- Amazon notifications over SQS ---------------------------------------------------------
  AMAZON_SQS_QUEUE_URL: {
    section: 'sqs',
    text: 'URL of the SQS queue the SP-API notification subscriptions deliver to (`docs/amazon-notifications.md`). Unset: the `sqs` role logs one line and polls nothing.',
  },
  AMAZON_SQS_QUEUE_ARN: { section: 'sqs' },
  AMAZON_SQS_ENDPOINT: {
    section: 'sqs',
    text: "Send SQS requests here instead of AWS's endpoint for `AWS_REGION`: a local SQS (fauxqs, ElasticMQ, LocalStack; `docs/try-it.md`) or a VPC endpoint, e.g. `http://127.0.0.1:4566`.",
  },
  AWS_REGION: {
    section: 'sqs',
    text: "Region of the queue (and of its endpoint when `AMAZON_SQS_ENDPOINT` is unset). Credentials are the AWS SDK's own, below.",
  },
  STOCKGUARD_SQS_VISIBILITY_TIMEOUT_SECONDS: {
    section: 'sqs',
    text: 'How long a received message stays hidden from other receivers, 1–43200. A message stockguard could not put on a stream is not deleted and comes back after it.',
  },
  STOCKGUARD_SQS_RECEIVE_LOOPS: {
    section: 'sqs',
    text: 'Receive loops running at once (1–32), each handling its batch of up to 10 messages at once. One loop publishing one message at a time fell minutes behind a flash sale on Redis Cluster during failovers (docs/reliability.md); raise it when `stockguard_channel_delivery_lag_seconds` (Amazon) grows under load.',
  },
  STOCKGUARD_SQS_WAIT_SECONDS: {
    section: 'sqs',
    text: 'Long-poll wait of each receive, 0–20 (0: short polling, more requests). Shutdown does not wait for it: the poll is cancelled.',
  },

  // --- Reconciliation and snapshots ------------------------------------------------------------
  STOCKGUARD_WMS_URL: {
    section: 'reconcile',
    text: 'Base URL of the WMS stock API (`GET <url>/v1/stock`, `docs/wms.md`). Unset: the daemon schedules no reconciliation and logs a warning; `stockguard reconcile` refuses with `STOCKGUARD_E_CONFIG`.',
  },
  STOCKGUARD_WMS_TOKEN: {
    section: 'reconcile',
    text: 'Bearer token for the WMS stock API (at least 16 characters; redacted by `stockguard config`).',
  },
  STOCKGUARD_WMS_PAGE_SIZE: { section: 'reconcile', text: 'Items per page requested (`limit`, 1–10,000).' },
  STOCKGUARD_WMS_TIMEOUT_MS: { section: 'reconcile', text: 'Per page request.' },
  STOCKGUARD_WMS_RETRIES: {
    section: 'reconcile',
    text: 'Retries per page on 5xx, 429, timeouts and connection errors (exponential backoff from 200 ms to 10 s), then the run fails with `STOCKGUARD_E_WMS_UNAVAILABLE`.',
  },
  STOCKGUARD_RECONCILE_SCHEDULE: {
    section: 'reconcile',
    text: 'node-cron expression (5 fields, or 6 with seconds). It must fire every day: day of month, month and day of week stay `*`.',
  },
  STOCKGUARD_RECONCILE_TIMEZONE: { section: 'reconcile', text: 'IANA time zone of the schedule, e.g. `Europe/Berlin`.' },
  STOCKGUARD_RECONCILE_THRESHOLDS: {
    section: 'reconcile',
    text: 'Per SKU class (catalogue `skuClass`): a discrepancy is corrected when it reaches `units` AND `percent` % of the WMS on-hand, else only reported. Classes left out use `default`; `default` left out is `{"units":1,"percent":0}`.',
  },
  STOCKGUARD_RECONCILE_SETTLE_MS: {
    section: 'reconcile',
    text: "How long after the snapshot's `asOf` WMS webhooks may still be arriving: the run waits until it has passed, and a discrepancy on a SKU with a WMS change in that window is left to the next run.",
  },
  STOCKGUARD_RECONCILE_REPORT_DIR: { section: 'reconcile', text: 'Where each run writes `reconcile-<runId>.json`.' },
  STOCKGUARD_RECONCILE_LOCK_TTL_MS: {
    section: 'reconcile',
    text: "TTL of the one-run-at-a-time lock (renewed every third of it while the run is alive); also the snapshot lock's.",
  },
  STOCKGUARD_RECONCILE_PENDING_MAX_MS: { section: 'reconcile' },
  STOCKGUARD_SNAPSHOT_SCHEDULE: {
    section: 'reconcile',
    default: 'unset (off)',
    text: 'node-cron expression for scheduled snapshots, e.g. `0 2 * * *`, in `STOCKGUARD_RECONCILE_TIMEZONE`.',
  },
  STOCKGUARD_SNAPSHOT_DIR: { section: 'reconcile', text: 'Where scheduled snapshots (and `stockguard snapshot` without `--out`) are written.' },
  STOCKGUARD_SNAPSHOT_KEEP: {
    section: 'reconcile',
    text: 'Scheduled snapshots of this prefix kept in the directory; older ones are deleted after each new one.',
  },

  // --- Channel pushers ---------------------------------------------------------------------------
  SHOPIFY_STORE_DOMAIN: {
    section: 'pushers',
    text: 'The shop, e.g. `my-shop.myshopify.com`. With `SHOPIFY_ACCESS_TOKEN`, turns Shopify pushes on.',
  },
  SHOPIFY_ACCESS_TOKEN: { section: 'pushers', text: 'Admin API access token (`shpat_…`) with `write_inventory` and `read_locations`.' },
  SHOPIFY_API_VERSION: {
    section: 'pushers',
    text: "Admin GraphQL version. The pusher's documents are validated against 2026-10; `changeFromQuantity` and `@idempotent` need 2026-04 or later.",
  },
  SHOPIFY_ADMIN_BASE_URL: {
    section: 'pushers',
    text: 'Send Admin API requests here instead of `https://<SHOPIFY_STORE_DOMAIN>` (the in-repo fake, a proxy), e.g. `http://127.0.0.1:8443`.',
  },
  STOCKGUARD_SHOPIFY_BATCH_SIZE: { section: 'pushers', text: "Quantities per `inventorySetQuantities` call, 1–250 (Shopify's input limit)." },
  AMAZON_SELLER_ID: { section: 'pushers', text: 'Merchant token. Turns Amazon pushes on; the four below are then required.' },
  AMAZON_MARKETPLACE_IDS: {
    section: 'pushers',
    text: 'Comma-separated marketplaces this account pushes to, e.g. `ATVPDKIKX0DER`. Catalogue rows for other marketplaces are not pushed.',
  },
  AMAZON_LWA_CLIENT_ID: { section: 'pushers', text: 'Login with Amazon client id of the SP-API application.' },
  AMAZON_LWA_CLIENT_SECRET: { section: 'pushers', text: 'Its client secret.' },
  AMAZON_LWA_REFRESH_TOKEN: { section: 'pushers', text: "The seller's refresh token (it starts with `Atzr`)." },
  AMAZON_LWA_TOKEN_URL: {
    section: 'pushers',
    text: "Where access tokens come from (the fake's `/auth/o2/token` in tests). Tokens are refreshed 60 s before they expire.",
  },
  AMAZON_SP_API_ENDPOINT: { section: 'pushers', text: "SP-API endpoint of the account's region (`-eu`, `-fe`), or the fake." },
  STOCKGUARD_AMAZON_RATE_PER_SECOND: { section: 'pushers', text: 'patchListingsItem usage plan rate; the pusher uses 95 % of it.' },
  STOCKGUARD_AMAZON_BURST: { section: 'pushers', text: "The plan's burst; one token is kept in reserve." },
  STOCKGUARD_AMAZON_FEED_THRESHOLD: {
    section: 'pushers',
    text: 'When at least this many Amazon values that may wait (not zeros, not large decreases) are waiting, they go in one JSON_LISTINGS_FEED instead of one PATCH each (`docs/pushers.md`, "Amazon backlogs: feeds"). `0`: PATCH only.',
  },
  STOCKGUARD_AMAZON_FEED_MAX_MESSAGES: { section: 'pushers', text: 'Most messages in one feed; Amazon allows 25,000.' },
  STOCKGUARD_AMAZON_FEED_WINDOW_MS: { section: 'pushers', text: 'How long a backlog over the threshold keeps collecting before its feed goes: Amazon takes 5 feeds per 5 minutes.' },
  STOCKGUARD_AMAZON_FEED_POLL_SECONDS: { section: 'pushers', text: 'How often a feed in flight is polled (getFeed).' },
  STOCKGUARD_AMAZON_FEED_TIMEOUT_SECONDS: { section: 'pushers', text: 'A feed not processed after this long: its values go back to the queue.' },
  STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_UNITS: { section: 'pushers', text: 'A decrease of at least this many units below what Amazon shows never waits for a feed: it goes by PATCH.' },
  STOCKGUARD_AMAZON_FEED_URGENT_DECREASE_PERCENT: { section: 'pushers', text: 'Likewise a decrease of at least this percent of what Amazon shows.' },
  STOCKGUARD_AMAZON_FEED_PATCH_SETTLE_SECONDS: {
    section: 'pushers',
    text: 'A SKU PATCHed less than this long ago stays off feeds (its PATCH may not have taken effect yet, and Amazon does not order a feed against a PATCH); 0 = no wait.',
  },
  STOCKGUARD_PUSH_SWEEP_CRON: {
    section: 'pushers',
    text: 'node-cron expression of the full sweep (every catalogue SKU re-checked, Shopify locations re-checked, drift judged). Also runs at start-up. Each sweep reads every SKU: widen it for very large catalogues.',
  },
  STOCKGUARD_PUSH_LINGER_MS: {
    section: 'pushers',
    text: 'A SKU waits this long before it is sent, so bursts of changes coalesce into one push.',
  },
  STOCKGUARD_PUSH_POLL_MS: { section: 'pushers', text: 'Pause between looks at an empty dirty index.' },
  STOCKGUARD_PUSH_MAX_ATTEMPTS: {
    section: 'pushers',
    text: 'Attempts per request (throttling, 5xx, timeouts) and compare-and-set rounds per batch before a push counts as failed; the SKU is then retried after a backoff.',
  },
  STOCKGUARD_PUSH_REQUEST_TIMEOUT_MS: { section: 'pushers', text: 'Per channel request.' },
  STOCKGUARD_DYNAMIC_HOLDBACK_WINDOW_SECONDS: { section: 'pushers', text: 'Sliding window of the per-SKU sales rate.' },
  STOCKGUARD_DYNAMIC_HOLDBACK_MAX_UNITS: { section: 'pushers', text: 'Upper bound of the dynamic holdback per SKU; `0` turns it off.' },
  STOCKGUARD_DYNAMIC_HOLDBACK_DEFAULT_LATENCY_MS: {
    section: 'pushers',
    text: 'p99 sale-to-ledger latency assumed until the consumers have measured one (or when their measurement is over a minute old).',
  },
  STOCKGUARD_DRIFT_SETTLE_SECONDS: {
    section: 'pushers',
    text: "Quiet time (since the push, the channel's report and the ledger's last change) before a disagreement counts as drift. Keep it above the p99 sale-to-ledger latency.",
  },
  STOCKGUARD_PUSH_TOP_EXPOSURE_SKUS: { section: 'pushers', text: 'How many SKUs `stockguard_exposure_top_units` lists (0–100).' },
  STOCKGUARD_ALLOCATION_CHANNEL_MIX: {
    section: 'pushers',
    default: 'unset (equal shares)',
    text: 'Your usual share of sales per channel, e.g. `shopify=60,amazon=40`: strict, budget:N and auto split a SKU by it until its own sales say otherwise (it counts as ten sales spread over the velocity window, `docs/allocation.md`). Without it a SKU that has not sold lately opens with equal shares.',
  },
  STOCKGUARD_SHOPIFY_DELIVERY_LAG_BOUND_SECONDS: {
    section: 'pushers',
    text: 'Bound on the Shopify delivery lag (from `X-Shopify-Triggered-At` to receipt): alert `StockguardChannelLagOverBound` fires when the p99 of `stockguard_channel_delivery_lag_seconds{channel="shopify"}` stays above it. Shopify calls webhooks near-real-time but warns of rare delays up to a day (docs/sim.md, "Lags").',
  },
  STOCKGUARD_AMAZON_DELIVERY_LAG_BOUND_SECONDS: {
    section: 'pushers',
    text: 'Bound on the Amazon delivery lag (notification `EventTime` to receipt from SQS), as above for `channel="amazon"`. On Amazon (no compare-and-set) a sale that arrives later than this may oversell beyond the budget (I8).',
  },
  STOCKGUARD_SHOPIFY_APPLY_LAG_BOUND_SECONDS: {
    section: 'pushers',
    text: 'Bound on the Shopify apply lag (push acknowledged to `inventory_levels/update` reporting the pushed value). Shopify applies `inventorySetQuantities` before it answers, so this only catches a slow or lost echo.',
  },
  STOCKGUARD_AMAZON_APPLY_LAG_BOUND_SECONDS: {
    section: 'pushers',
    text: 'Bound on the Amazon apply lag (PATCH `ACCEPTED` to `LISTINGS_ITEM_MFN_QUANTITY_CHANGE` reporting the pushed value). Sellers report minutes; `JSON_LISTINGS_FEED` took about 30 minutes in 2026 (docs/sim.md, "Lags").',
  },
};
