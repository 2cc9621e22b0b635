// The fake Feeds API 2021-06-30 for JSON_LISTINGS_FEED (spec notes §1.4): createFeedDocument
// answers a presigned upload URL that this fake serves, the document is PUT there,
// createFeed queues it, getFeed shows IN_QUEUE → IN_PROGRESS → DONE after a configurable
// processing delay, and getFeedDocument points at the processing report. Every request and
// response is checked against the vendored feeds_2021-06-30.json, every uploaded document
// against listings-feed-schema-v2.json, and each operation's documented usage plan is
// enforced (429 QuotaExceeded over it), as is JSON_LISTINGS_FEED's own throttle (5 feeds
// per 5 minutes). Valid messages change the listings when the feed is processed, not
// before. docs/sim-amazon.md, "Feeds".
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Issue } from '@sp-api-sdk/listings-items-api-2021-08-01';
import { type FeedOperation, type FeedOperationId, feedOperation, listingsFeedValidators } from './feedSchemas.ts';
import type { ListingStore, MfnQuantityChange, PatchOperationRequest, PatchRequest } from './listings.ts';
import { TokenBucket, type UsagePlan } from './rateLimit.ts';
import { describeAjvErrors, isJsonObject } from './schemas.ts';

export const FEEDS_PREFIX = '/feeds/2021-06-30/';
/** Where the presigned document URLs point (the fake's stand-in for S3). */
export const FEED_STORAGE_PREFIX = '/feed-storage/';
export const JSON_LISTINGS_FEED = 'JSON_LISTINGS_FEED';
/** JSON_LISTINGS_FEED's own throttle since 6 May 2025: 5 submissions per 5 minutes (spec notes §1.4). */
export const JSON_LISTINGS_FEED_PLAN: UsagePlan = { rate: 5 / 300, burst: 5 };

export type FeedStatus = 'IN_QUEUE' | 'IN_PROGRESS' | 'DONE' | 'CANCELLED' | 'FATAL';

export interface FeedFakeOptions {
  /** From createFeed to DONE (ms); IN_QUEUE for the first half, IN_PROGRESS for the second. Default 60 s. */
  processingDelayMs?: number;
  /** Override the model's usage plans, and JSON_LISTINGS_FEED's own throttle (`jsonListingsFeed`). */
  usagePlans?: Partial<Record<FeedOperationId | 'jsonListingsFeed', UsagePlan>>;
  /** Serve processing reports GZIP-compressed (`compressionAlgorithm: "GZIP"`). Default true. */
  compressReports?: boolean;
}

/** One processing-report issue (JSON_LISTINGS_FEED report format). */
export interface FeedReportIssue {
  messageId?: number;
  code: string;
  severity: 'ERROR' | 'WARNING' | 'INFO';
  message: string;
  attributeNames?: string[];
}

export interface FeedReport {
  header: { sellerId: string; version: '2.0'; feedId: string };
  issues: FeedReportIssue[];
  summary: { errors: number; warnings: number; messagesProcessed: number; messagesAccepted: number; messagesInvalid: number };
}

export interface FeedLogEntry {
  feedId: string;
  feedType: string;
  marketplaceIds: string[];
  inputFeedDocumentId: string;
  createdAtMs: number;
  status: FeedStatus;
  /** The uploaded document as parsed, when it was JSON. */
  document: unknown;
  report: FeedReport | undefined;
  processedAtMs: number | undefined;
}

export interface FeedControls {
  /** Every feed created, oldest first. */
  feeds(): readonly FeedLogEntry[];
  /** Ends the next `count` feeds FATAL when they are processed (nothing applied), as an outage of Amazon's feed processing would. */
  failNextFeeds(count: number): void;
  /** Processes every queued feed now, in creation order; returns how many. */
  processFeedsNow(): number;
}

interface StoredDocument {
  id: string;
  contentType: string;
  /** The presigned URL's signature: a request without it is refused as S3 refuses one. */
  signature: string;
  /** Uploaded content (feed documents) or the report (result documents). */
  content: Buffer | undefined;
  compression: 'GZIP' | undefined;
  kind: 'input' | 'result';
}

interface FeedRecord extends FeedLogEntry {
  startedAtMs: number | undefined;
  resultFeedDocumentId: string | undefined;
  timers: NodeJS.Timeout[];
  fatal: boolean;
}

export interface FeedServiceDependencies {
  store: ListingStore;
  now: () => number;
  /** The fake's base URL, for the presigned URLs. */
  baseUrl: () => string;
  checkToken(token: string | undefined): 'valid' | 'missing' | 'invalid' | 'expired';
  /** Quantity changes made by a processed feed (the fake's LISTINGS_ITEM_MFN_QUANTITY_CHANGE echoes). */
  onChanges(changes: readonly MfnQuantityChange[]): void;
  violations: string[];
}

export type FeedRouteOperation = FeedOperationId | 'uploadFeedDocument' | 'downloadFeedDocument';

const ERRORS = {
  unauthorized: (details?: string) => ({ errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.', ...(details ? { details } : {}) }] }),
  quotaExceeded: () => ({ errors: [{ code: 'QuotaExceeded', message: 'You exceeded your quota for the requested resource.' }] }),
  invalidInput: (details: string) => ({ errors: [{ code: 'InvalidInput', message: 'Request has missing or invalid parameters and cannot be parsed.', details }] }),
  notFound: (message: string) => ({ errors: [{ code: 'NotFound', message }] }),
  unsupportedMediaType: () => ({ errors: [{ code: 'UnsupportedMediaType', message: 'The request content type is not supported: send application/json.' }] }),
};

/** Which feed operation a method and path name, or undefined when the path is not the Feeds API's. */
export function feedRoute(method: string, path: string): { operation: FeedRouteOperation | 'unknown'; id: string | undefined } | undefined {
  if (path.startsWith(FEED_STORAGE_PREFIX)) {
    const id = decodeSegment(path.slice(FEED_STORAGE_PREFIX.length));
    if (method === 'PUT') return { operation: 'uploadFeedDocument', id };
    if (method === 'GET') return { operation: 'downloadFeedDocument', id };
    return { operation: 'unknown', id };
  }
  if (!path.startsWith(FEEDS_PREFIX)) return undefined;
  const [collection, rawId, ...rest] = path.slice(FEEDS_PREFIX.length).split('/');
  if (rest.length > 0) return { operation: 'unknown', id: undefined };
  const id = rawId === undefined ? undefined : decodeSegment(rawId);
  if (collection === 'documents') {
    if (id === undefined && method === 'POST') return { operation: 'createFeedDocument', id };
    if (id && method === 'GET') return { operation: 'getFeedDocument', id };
  }
  if (collection === 'feeds') {
    if (id === undefined && method === 'POST') return { operation: 'createFeed', id };
    if (id && method === 'GET') return { operation: 'getFeed', id };
    if (id && method === 'DELETE') return { operation: 'cancelFeed', id };
  }
  return { operation: 'unknown', id };
}

function decodeSegment(segment: string): string | undefined {
  try {
    return segment ? decodeURIComponent(segment) : undefined;
  } catch {
    return undefined;
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  response.end(text);
}

/** An S3-style XML error, as a presigned URL answers. */
function sendS3Error(response: ServerResponse, status: number, code: string, message: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  response.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

export class FeedService implements FeedControls {
  private readonly documents = new Map<string, StoredDocument>();
  private readonly records = new Map<string, FeedRecord>();
  private readonly buckets = new Map<FeedOperationId | 'jsonListingsFeed', TokenBucket>();
  private readonly delayMs: number;
  private readonly compress: boolean;
  private fatalPending = 0;
  private sequence = 0;
  private closed = false;

  constructor(
    private readonly deps: FeedServiceDependencies,
    options: FeedFakeOptions = {},
  ) {
    this.delayMs = options.processingDelayMs ?? 60_000;
    if (!(this.delayMs >= 0)) throw new Error(`feeds.processingDelayMs must be >= 0, got ${this.delayMs}`);
    this.compress = options.compressReports ?? true;
    for (const operationId of ['createFeedDocument', 'getFeedDocument', 'createFeed', 'getFeed', 'cancelFeed'] as const) {
      this.buckets.set(operationId, new TokenBucket(options.usagePlans?.[operationId] ?? feedOperation(operationId).plan, deps.now));
    }
    this.buckets.set('jsonListingsFeed', new TokenBucket(options.usagePlans?.jsonListingsFeed ?? JSON_LISTINGS_FEED_PLAN, deps.now));
    // Compiled now (once per process), not when the first feed is processed: compiling
    // stalls the event loop, and the clients sharing it would then send in a bunch.
    listingsFeedValidators();
  }

  close(): void {
    this.closed = true;
    for (const record of this.records.values()) for (const timer of record.timers) clearTimeout(timer);
  }

  feeds(): readonly FeedLogEntry[] {
    return [...this.records.values()];
  }

  failNextFeeds(count: number): void {
    this.fatalPending += count;
  }

  processFeedsNow(): number {
    let processed = 0;
    for (const record of this.records.values()) {
      if (record.status !== 'IN_QUEUE' && record.status !== 'IN_PROGRESS') continue;
      for (const timer of record.timers) clearTimeout(timer);
      this.process(record);
      processed += 1;
    }
    return processed;
  }

  /** Answers one Feeds API or document-storage request; returns the HTTP status. */
  async handle(request: IncomingMessage, response: ServerResponse, route: { operation: FeedRouteOperation | 'unknown'; id: string | undefined }, rawQuery: string, rawBody: string | Buffer): Promise<number> {
    const requestId = randomUUID();
    if (route.operation === 'unknown') {
      sendJson(response, 404, ERRORS.notFound(`No operation matches ${request.method ?? ''} ${request.url ?? ''}.`), { 'x-amzn-RequestId': requestId });
      return 404;
    }
    if (route.operation === 'uploadFeedDocument' || route.operation === 'downloadFeedDocument') return this.storage(request, response, route.operation, route.id, rawQuery, rawBody);
    const operation = feedOperation(route.operation);
    const send = (status: number, body: unknown): number => this.send(response, operation, requestId, status, body);

    const token = request.headers['x-amz-access-token'];
    const tokenCheck = this.deps.checkToken(Array.isArray(token) ? token[0] : token);
    if (tokenCheck !== 'valid') {
      const details = { missing: 'Access token is missing in the request header.', invalid: 'The access token you provided is revoked, malformed or invalid.', expired: 'The access token you provided has expired.' }[tokenCheck];
      return send(403, ERRORS.unauthorized(details));
    }
    if (!this.buckets.get(operation.operationId)?.tryTake()) return send(429, ERRORS.quotaExceeded());

    const parameters: Record<string, unknown> = {};
    if (route.id !== undefined) parameters[operation.operationId === 'getFeedDocument' ? 'feedDocumentId' : 'feedId'] = route.id;
    const query = new URLSearchParams(rawQuery);
    const encoding = query.get('enableContentEncodingUrlHeader');
    if (encoding !== null) parameters['enableContentEncodingUrlHeader'] = encoding === 'true' ? true : encoding === 'false' ? false : encoding;
    if (!operation.validateParameters(parameters)) return send(400, ERRORS.invalidInput(`parameters: ${describeAjvErrors(operation.validateParameters.errors)}`));

    let body: unknown;
    if (operation.validateBody) {
      const mediaType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (mediaType !== 'application/json') return send(415, ERRORS.unsupportedMediaType());
      try {
        body = JSON.parse(rawBody.toString());
      } catch {
        return send(400, ERRORS.invalidInput('body: not valid JSON'));
      }
      if (!operation.validateBody(body)) return send(400, ERRORS.invalidInput(`body: ${describeAjvErrors(operation.validateBody.errors)}`));
    }

    switch (operation.operationId) {
      case 'createFeedDocument': {
        const contentType = isJsonObject(body) && typeof body['contentType'] === 'string' ? body['contentType'] : '';
        const document = this.newDocument('input', contentType);
        return send(201, { feedDocumentId: document.id, url: this.presignedUrl(document) });
      }
      case 'getFeedDocument': {
        const document = route.id ? this.documents.get(route.id) : undefined;
        if (!document) return send(404, ERRORS.notFound(`Feed document ${JSON.stringify(route.id)} not found.`));
        return send(200, { feedDocumentId: document.id, url: this.presignedUrl(document), ...(document.compression ? { compressionAlgorithm: document.compression } : {}) });
      }
      case 'createFeed':
        return this.createFeed(body, send);
      case 'getFeed': {
        const record = route.id ? this.records.get(route.id) : undefined;
        if (!record) return send(404, ERRORS.notFound(`Feed ${JSON.stringify(route.id)} not found.`));
        return send(200, this.feedOf(record));
      }
      case 'cancelFeed': {
        const record = route.id ? this.records.get(route.id) : undefined;
        if (!record) return send(404, ERRORS.notFound(`Feed ${JSON.stringify(route.id)} not found.`));
        // Only a feed still IN_QUEUE can be cancelled (the model's description).
        if (record.status !== 'IN_QUEUE') return send(400, ERRORS.invalidInput(`feed ${record.feedId} is ${record.status}; only IN_QUEUE feeds can be cancelled`));
        for (const timer of record.timers) clearTimeout(timer);
        record.status = 'CANCELLED';
        return send(200, undefined);
      }
    }
  }

  private createFeed(body: unknown, send: (status: number, body: unknown) => number): number {
    if (!isJsonObject(body)) return send(400, ERRORS.invalidInput('body: not an object'));
    const feedType = String(body['feedType']);
    const marketplaceIds = Array.isArray(body['marketplaceIds']) ? body['marketplaceIds'].map(String) : [];
    const inputFeedDocumentId = String(body['inputFeedDocumentId']);
    const document = this.documents.get(inputFeedDocumentId);
    if (!document || document.kind !== 'input') return send(400, ERRORS.invalidInput(`inputFeedDocumentId ${JSON.stringify(inputFeedDocumentId)} is not a feed document of this seller`));
    // The feed type's own throttle counts only JSON_LISTINGS_FEED submissions.
    if (feedType === JSON_LISTINGS_FEED && !this.buckets.get('jsonListingsFeed')?.tryTake()) return send(429, ERRORS.quotaExceeded());
    this.sequence += 1;
    const now = this.deps.now();
    const record: FeedRecord = {
      feedId: String(50_000_000_000 + this.sequence),
      feedType,
      marketplaceIds,
      inputFeedDocumentId,
      createdAtMs: now,
      status: 'IN_QUEUE',
      document: undefined,
      report: undefined,
      processedAtMs: undefined,
      startedAtMs: undefined,
      resultFeedDocumentId: undefined,
      timers: [],
      fatal: false,
    };
    if (this.fatalPending > 0) {
      this.fatalPending -= 1;
      record.fatal = true;
    }
    // The log shows what was submitted from the start; processing reads the upload again.
    record.document = parseDocument(document.content);
    this.records.set(record.feedId, record);
    record.timers.push(
      setTimeout(() => {
        if (record.status === 'IN_QUEUE') {
          record.status = 'IN_PROGRESS';
          record.startedAtMs = this.deps.now();
        }
      }, this.delayMs / 2),
      setTimeout(() => this.process(record), this.delayMs),
    );
    return send(202, { feedId: record.feedId });
  }

  /** Processes a feed: validates the uploaded document, applies its valid messages, writes the report. */
  private process(record: FeedRecord): void {
    if (this.closed || (record.status !== 'IN_QUEUE' && record.status !== 'IN_PROGRESS')) return;
    const now = this.deps.now();
    record.startedAtMs ??= now;
    record.processedAtMs = now;
    const content = this.documents.get(record.inputFeedDocumentId)?.content;
    // The legacy feed types return FATAL since 31 July 2025 (spec notes §1.4); an outage
    // injected with failNextFeeds too. A document never uploaded or not JSON cannot be read.
    const document = parseDocument(content);
    record.document = document;
    if (record.fatal || record.feedType !== JSON_LISTINGS_FEED || document === undefined) {
      record.status = 'FATAL';
      return;
    }
    const report = this.processDocument(record, document);
    record.report = report;
    const result = this.newDocument('result', 'application/json; charset=UTF-8');
    const text = Buffer.from(JSON.stringify(report));
    result.content = this.compress ? gzipSync(text) : text;
    result.compression = this.compress ? 'GZIP' : undefined;
    record.resultFeedDocumentId = result.id;
    record.status = 'DONE';
  }

  private processDocument(record: FeedRecord, document: unknown): FeedReport {
    const validators = listingsFeedValidators();
    const header = isJsonObject(document) && isJsonObject(document['header']) ? document['header'] : undefined;
    const sellerId = typeof header?.['sellerId'] === 'string' ? header['sellerId'] : '';
    const report: FeedReport = {
      header: { sellerId, version: '2.0', feedId: record.feedId },
      issues: [],
      summary: { errors: 0, warnings: 0, messagesProcessed: 0, messagesAccepted: 0, messagesInvalid: 0 },
    };
    if (!validators.document(document)) {
      // Document-level problems stop the feed before any message: 4002005 for a missing
      // attribute ("Attribute 'header' is required, but not present.", amzn/selling-partner-api-models#4679),
      // 4002006 for a value that does not match (the version, amzn/selling-partner-api-docs#1133).
      for (const error of validators.document.errors ?? []) {
        const missing = error.keyword === 'required' ? String(error.params['missingProperty']) : undefined;
        report.issues.push(
          missing
            ? { code: '4002005', severity: 'ERROR', message: `Attribute '${missing}' is required, but not present.` }
            : { code: '4002006', severity: 'ERROR', message: `Attribute '${error.instancePath.replace(/^\//, '').replaceAll('/', '.') || '(root)'}' does not match the required value (${error.message ?? 'invalid'}).` },
        );
      }
      report.summary.errors = report.issues.length;
      return report;
    }
    if (sellerId !== this.deps.store.sellerId) {
      report.issues.push({ code: '4002006', severity: 'ERROR', message: `Attribute 'header.sellerId' does not match the required value: this feed was submitted by seller ${this.deps.store.sellerId}.` });
      report.summary.errors = 1;
      return report;
    }
    const messages = isJsonObject(document) && Array.isArray(document['messages']) ? document['messages'] : [];
    const seen = new Set<number>();
    for (const message of messages) {
      report.summary.messagesProcessed += 1;
      const messageId = isJsonObject(message) && typeof message['messageId'] === 'number' ? message['messageId'] : undefined;
      const issues = this.processMessage(message, record.marketplaceIds, seen);
      for (const issue of issues) report.issues.push({ ...(messageId !== undefined ? { messageId } : {}), ...issue });
      if (messageId !== undefined) seen.add(messageId);
      if (issues.some((issue) => issue.severity === 'ERROR')) report.summary.messagesInvalid += 1;
      else report.summary.messagesAccepted += 1;
    }
    report.summary.errors = report.issues.filter((issue) => issue.severity === 'ERROR').length;
    report.summary.warnings = report.issues.filter((issue) => issue.severity === 'WARNING').length;
    return report;
  }

  /** Reviews and applies one message; returns its issues (an ERROR means nothing of it was applied). */
  private processMessage(message: unknown, marketplaceIds: readonly string[], seen: ReadonlySet<number>): Array<Omit<FeedReportIssue, 'messageId'>> {
    const validators = listingsFeedValidators();
    if (!validators.message(message) || !isJsonObject(message)) {
      // Amazon's answer to a message outside the schema (amzn/selling-partner-api-models#1641).
      return [{ code: '4002008', severity: 'ERROR', message: `The provided message did not meet the schema validation requirements for a feed message. (${describeAjvErrors(validators.message.errors)})` }];
    }
    const messageId = Number(message['messageId']);
    if (seen.has(messageId)) {
      return [{ code: '4002008', severity: 'ERROR', message: `The provided message did not meet the schema validation requirements for a feed message: messageId ${messageId} is not unique within the feed.` }];
    }
    const sku = String(message['sku']);
    const operationType = String(message['operationType']);
    let patch: PatchRequest;
    if (operationType === 'PATCH') {
      patch = { productType: String(message['productType']), patches: patchesOf(message['patches']) };
    } else if (operationType === 'PARTIAL_UPDATE' && isJsonObject(message['attributes'])) {
      // "PARTIAL_UPDATE is equivalent to using PATCH with the replace op" (the schema).
      patch = {
        productType: String(message['productType']),
        patches: Object.entries(message['attributes']).map(([name, value]) => ({ op: 'replace' as const, path: `/attributes/${name}`, value: Array.isArray(value) ? value.filter(isJsonObject) : [] })),
      };
    } else {
      return [{ code: 'NotImplemented', severity: 'ERROR', message: `The stockguard Amazon fake does not implement operationType ${operationType} in JSON_LISTINGS_FEED.` }];
    }
    const issues = this.deps.store.reviewPatch(this.deps.store.sellerId, sku, marketplaceIds, patch);
    const reportIssues = issues.map(reportIssueOf);
    if (issues.some((issue) => issue.severity === 'ERROR')) return reportIssues;
    this.deps.onChanges(this.deps.store.applyPatch(this.deps.store.sellerId, sku, marketplaceIds, patch));
    return reportIssues;
  }

  private storage(request: IncomingMessage, response: ServerResponse, operation: 'uploadFeedDocument' | 'downloadFeedDocument', id: string | undefined, rawQuery: string, rawBody: string | Buffer): number {
    const document = id ? this.documents.get(id) : undefined;
    const signature = new URLSearchParams(rawQuery).get('X-Amz-Signature');
    if (!document || signature !== document.signature) {
      sendS3Error(response, 403, 'AccessDenied', 'Access Denied');
      return 403;
    }
    if (operation === 'uploadFeedDocument') {
      // The URL is signed for the content type given to createFeedDocument: S3 refuses another.
      if (document.kind !== 'input' || (request.headers['content-type'] ?? '') !== document.contentType) {
        sendS3Error(response, 403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
        return 403;
      }
      document.content = Buffer.isBuffer(rawBody) ? rawBody : Buffer.from(rawBody, 'utf8');
      response.writeHead(200, { etag: `"${randomBytes(16).toString('hex')}"`, 'content-length': 0 });
      response.end();
      return 200;
    }
    if (!document.content) {
      sendS3Error(response, 404, 'NoSuchKey', 'The specified key does not exist.');
      return 404;
    }
    response.writeHead(200, { 'content-type': document.contentType, 'content-length': document.content.length });
    response.end(document.content);
    return 200;
  }

  private newDocument(kind: StoredDocument['kind'], contentType: string): StoredDocument {
    const document: StoredDocument = {
      id: `amzn1.tortuga.4.na.${randomUUID()}.T${randomBytes(6).toString('hex').toUpperCase()}`,
      contentType,
      signature: randomBytes(32).toString('hex'),
      content: undefined,
      compression: undefined,
      kind,
    };
    this.documents.set(document.id, document);
    return document;
  }

  private presignedUrl(document: StoredDocument): string {
    return `${this.deps.baseUrl()}${FEED_STORAGE_PREFIX}${encodeURIComponent(document.id)}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300&X-Amz-Signature=${document.signature}`;
  }

  private feedOf(record: FeedRecord): Record<string, unknown> {
    const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
    const feed: Record<string, unknown> = {
      feedId: record.feedId,
      feedType: record.feedType,
      marketplaceIds: record.marketplaceIds,
      createdTime: iso(record.createdAtMs),
      processingStatus: record.status,
    };
    if (record.startedAtMs !== undefined && record.status !== 'IN_QUEUE') feed['processingStartTime'] = iso(record.startedAtMs);
    if (record.status === 'DONE' || record.status === 'FATAL') feed['processingEndTime'] = iso(record.processedAtMs);
    if (record.resultFeedDocumentId) feed['resultFeedDocumentId'] = record.resultFeedDocumentId;
    return feed;
  }

  private send(response: ServerResponse, operation: FeedOperation, requestId: string, status: number, body: unknown): number {
    const validate = operation.validateResponse.get(status);
    if (validate && !validate(body)) {
      const violation = `${operation.operationId} ${status}: ${describeAjvErrors(validate.errors)}`;
      this.deps.violations.push(violation);
      sendJson(response, 500, { errors: [{ code: 'InternalFailure', message: `stockguard fake response violates the model: ${violation}` }] }, { 'x-amzn-RequestId': requestId });
      return 500;
    }
    const plan = this.buckets.get(operation.operationId)?.plan;
    const headers = { 'x-amzn-RequestId': requestId, ...(plan ? { 'x-amzn-RateLimit-Limit': String(plan.rate) } : {}) };
    if (body === undefined) {
      response.writeHead(status, { ...headers, 'content-length': 0 });
      response.end();
    } else {
      sendJson(response, status, body, headers);
    }
    return status;
  }
}

/** The uploaded document parsed as JSON; undefined when nothing was uploaded or it is not JSON. */
function parseDocument(content: Buffer | undefined): unknown {
  if (!content) return undefined;
  try {
    return JSON.parse(content.toString('utf8'));
  } catch {
    return undefined;
  }
}

function patchesOf(value: unknown): PatchOperationRequest[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isJsonObject).map((patch) => {
    const op = patch['op'] === 'add' || patch['op'] === 'replace' || patch['op'] === 'merge' || patch['op'] === 'delete' ? patch['op'] : 'replace';
    const records = Array.isArray(patch['value']) ? patch['value'].filter(isJsonObject).map((record) => ({ ...record })) : undefined;
    return records === undefined ? { op, path: String(patch['path']) } : { op, path: String(patch['path']), value: records };
  });
}

function reportIssueOf(issue: Issue): Omit<FeedReportIssue, 'messageId'> {
  return {
    code: issue.code,
    severity: issue.severity,
    message: issue.message,
    ...(issue.attributeNames && issue.attributeNames.length > 0 ? { attributeNames: [...issue.attributeNames] } : {}),
  };
}
