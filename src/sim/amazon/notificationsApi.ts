// The Notifications API v1 of the Amazon fake: destinations and subscriptions, as
// `stockguard setup amazon` and `stockguard doctor` use them. Every request is checked
// against the vendored official model (schemas/notifications.json: path and query
// parameters, body), and so is every answer the fake gives. Grantless operations take only
// a grantless token (client_credentials, scope sellingpartnerapi::notifications), the
// others a seller token (amazon-notes.md §3.3). Each operation has its own usage plan,
// 1 request/s with a burst of 5, as the model documents. What the real API rejects beyond
// the model, and where that is UNCONFIRMED: docs/sim-amazon.md ("Notifications API").
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import type { AccessTokenCheck, LwaTokenService } from './lwa.ts';
import { TokenBucket, type UsagePlan } from './rateLimit.ts';
import { describeAjvErrors, isJsonObject } from './schemas.ts';

const MODEL_FILE = 'notifications.json';
const MODEL_ID = 'https://github.com/amzn/selling-partner-api-models/models/notifications-api-model/notifications.json';
export const NOTIFICATIONS_PREFIX = '/notifications/v1/';
const MAX_BODY_BYTES = 1024 * 1024;

export type NotificationsOperationId =
  | 'getSubscriptions'
  | 'getSubscription'
  | 'createSubscription'
  | 'getSubscriptionById'
  | 'deleteSubscriptionById'
  | 'sendTestNotification'
  | 'getDestinations'
  | 'createDestination'
  | 'getDestination'
  | 'deleteDestination';

/** The operations the model marks grantless (the rest act for the seller). */
const GRANTLESS: ReadonlySet<NotificationsOperationId> = new Set([
  'getSubscriptionById',
  'deleteSubscriptionById',
  'sendTestNotification',
  'getDestinations',
  'createDestination',
  'getDestination',
  'deleteDestination',
]);

/**
 * Notification types the fake knows, with the payload versions Amazon publishes for them
 * (amazon-notes.md §3.2; the feed and report ones from Amazon's notification type list).
 * Another type, or another version, is refused with 400 as the real API does.
 */
const PAYLOAD_VERSIONS: Readonly<Record<string, readonly string[]>> = {
  ORDER_CHANGE: ['1.0'],
  LISTINGS_ITEM_MFN_QUANTITY_CHANGE: ['1.0'],
  FBA_INVENTORY_AVAILABILITY_CHANGES: ['1.0'],
  LISTINGS_ITEM_STATUS_CHANGE: ['1.0'],
  LISTINGS_ITEM_ISSUES_CHANGE: ['1.0'],
  ANY_OFFER_CHANGED: ['1.0'],
  FEED_PROCESSING_FINISHED: ['2020-09-04'],
  REPORT_PROCESSING_FINISHED: ['2020-09-04'],
};
/** The model's eventFilterType enum: the only types a subscription may carry an eventFilter for. */
const EVENT_FILTER_TYPES: ReadonlySet<string> = new Set(['ANY_OFFER_CHANGED', 'ORDER_CHANGE', 'SHIPMENT_TRACKING_MILESTONE_CHANGED']);

interface Operation {
  readonly operationId: NotificationsOperationId;
  readonly method: string;
  readonly pattern: RegExp;
  readonly pathNames: readonly string[];
  readonly queryArrays: ReadonlySet<string>;
  readonly validateParameters: ValidateFunction;
  readonly validateBody: ValidateFunction | undefined;
  readonly validateResponse: ReadonlyMap<number, ValidateFunction>;
}

function absoluteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absoluteRefs);
  if (!isJsonObject(schema)) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${MODEL_ID}${value}` : absoluteRefs(value);
  return copy;
}

function compileModel(): Operation[] {
  const model: unknown = JSON.parse(readFileSync(new URL(`./schemas/${MODEL_FILE}`, import.meta.url), 'utf8'));
  if (!isJsonObject(model) || !isJsonObject(model['paths']) || !isJsonObject(model['definitions'])) throw new Error(`${MODEL_FILE}: no paths or definitions`);
  const ajv = new Ajv({ allErrors: true, strict: true });
  formatsPlugin.default(ajv);
  ajv.addKeyword('x-docgen-enum-table-extension');
  ajv.addKeyword('example');
  ajv.addSchema({ $id: MODEL_ID, definitions: model['definitions'] });
  const operations: Operation[] = [];
  for (const [template, pathItem] of Object.entries(model['paths'])) {
    if (!isJsonObject(pathItem)) continue;
    const pathNames: string[] = [];
    const pattern = new RegExp(`^${template.replace(/\{(\w+)\}/g, (_match, name: string) => (pathNames.push(name), '([^/]+)'))}$`);
    for (const [method, operation] of Object.entries(pathItem)) {
      if (!isJsonObject(operation) || typeof operation['operationId'] !== 'string') continue;
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      const queryArrays = new Set<string>();
      let validateBody: ValidateFunction | undefined;
      for (const parameter of Array.isArray(operation['parameters']) ? operation['parameters'] : []) {
        if (!isJsonObject(parameter) || typeof parameter['name'] !== 'string') continue;
        if (parameter['in'] === 'body') {
          validateBody = ajv.compile(absoluteRefs(parameter['schema']) as object);
          continue;
        }
        const schema: Record<string, unknown> = {};
        for (const key of ['type', 'items', 'enum', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems']) if (parameter[key] !== undefined) schema[key] = parameter[key];
        properties[parameter['name']] = schema;
        if (parameter['required'] === true) required.push(parameter['name']);
        if (parameter['type'] === 'array') queryArrays.add(parameter['name']);
      }
      const validateResponse = new Map<number, ValidateFunction>();
      const responses = operation['responses'];
      if (isJsonObject(responses)) {
        for (const [status, response] of Object.entries(responses)) {
          if (isJsonObject(response) && response['schema'] !== undefined) validateResponse.set(Number(status), ajv.compile(absoluteRefs(response['schema']) as object));
        }
      }
      operations.push({
        operationId: operation['operationId'] as NotificationsOperationId,
        method: method.toUpperCase(),
        pattern,
        pathNames,
        queryArrays,
        validateParameters: ajv.compile({ type: 'object', properties, required }),
        validateBody,
        validateResponse,
      });
    }
  }
  return operations;
}

let compiled: Operation[] | undefined;

export interface NotificationDestination {
  destinationId: string;
  name: string;
  arn: string;
}

export interface NotificationSubscription {
  subscriptionId: string;
  notificationType: string;
  payloadVersion: string;
  destinationId: string;
  processingDirective: Record<string, unknown> | undefined;
}

export interface NotificationsRequestRecord {
  operation: NotificationsOperationId | 'unknown';
  method: string;
  path: string;
  status: number;
  /** Which kind of token came with it. */
  token: 'grantless' | 'seller' | 'none' | 'invalid';
}

const ERRORS = {
  unauthorized: (details: string) => ({ errors: [{ code: 'Unauthorized', message: 'Access to requested resource is denied.', details }] }),
  quotaExceeded: () => ({ errors: [{ code: 'QuotaExceeded', message: 'You exceeded your quota for the requested resource.' }] }),
  invalidInput: (details: string) => ({ errors: [{ code: 'InvalidInput', message: 'Request has missing or invalid parameters and cannot be parsed.', details }] }),
  notFound: (message: string) => ({ errors: [{ code: 'NotFound', message }] }),
  // The answer Amazon gives a second subscription of one type and payload version
  // (amzn/selling-partner-api-models#1960): 409 StateConflict, the model's wording.
  conflict: (details: string) => ({ errors: [{ code: 'StateConflict', message: 'The resource specified conflicts with the current state.', details }] }),
  unsupportedMediaType: () => ({ errors: [{ code: 'UnsupportedMediaType', message: 'The request content type is not supported: send application/json.' }] }),
  notImplemented: (what: string) => ({ errors: [{ code: 'NotImplemented', message: `The stockguard Amazon fake does not implement ${what}.` }] }),
};

export class NotificationsApiFake {
  private readonly destinationsById = new Map<string, NotificationDestination>();
  /** By notification type, then payload version: one subscription each, as Amazon allows. */
  private readonly subscriptionsByType = new Map<string, Map<string, NotificationSubscription>>();
  private readonly buckets = new Map<NotificationsOperationId, TokenBucket>();
  private plan: UsagePlan = { rate: 1, burst: 5 };
  private readonly log: NotificationsRequestRecord[] = [];

  constructor(
    private readonly options: {
      lwa: LwaTokenService;
      now: () => number;
      /** Answers of ours the model rejects are recorded here (and sent as 500). */
      violations: string[];
    },
  ) {
    compiled ??= compileModel();
  }

  // ---- control API

  destinations(): NotificationDestination[] {
    return [...this.destinationsById.values()].map((destination) => ({ ...destination }));
  }

  subscriptions(): NotificationSubscription[] {
    return [...this.subscriptionsByType.values()].flatMap((byVersion) => [...byVersion.values()].map((subscription) => ({ ...subscription })));
  }

  /** Drops a subscription without the API (an app or Amazon removed it); true when there was one. */
  removeSubscription(notificationType: string, payloadVersion = '1.0'): boolean {
    return this.subscriptionsByType.get(notificationType)?.delete(payloadVersion) ?? false;
  }

  /** The usage plan of every Notifications operation (default 1/s, burst 5); new buckets start full. */
  setUsagePlan(plan: UsagePlan): void {
    this.plan = plan;
    this.buckets.clear();
  }

  requests(): readonly NotificationsRequestRecord[] {
    return this.log;
  }

  // ---- HTTP

  async handle(request: IncomingMessage, response: ServerResponse, rawPath: string, rawQuery: string): Promise<number> {
    const requestId = randomUUID();
    const method = request.method ?? 'GET';
    const record: NotificationsRequestRecord = { operation: 'unknown', method, path: rawPath, status: 500, token: 'none' };
    this.log.push(record);
    const send = (status: number, body: unknown, operation?: Operation): number => {
      const validate = operation?.validateResponse.get(status);
      if (operation && validate && !validate(body)) {
        const violation = `${operation.operationId} ${status}: ${describeAjvErrors(validate.errors)}`;
        this.options.violations.push(violation);
        return send(500, { errors: [{ code: 'InternalFailure', message: `stockguard fake response violates the model: ${violation}` }] });
      }
      const text = JSON.stringify(body);
      const limit = operation && status !== 403 ? { 'x-amzn-RateLimit-Limit': String(this.plan.rate) } : {};
      response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-amzn-RequestId': requestId, ...limit });
      response.end(text);
      record.status = status;
      return status;
    };

    let body: string;
    try {
      body = await readBody(request);
    } catch {
      return send(413, { errors: [{ code: 'RequestEntityTooLarge', message: 'The request size exceeded the maximum accepted size.' }] });
    }
    let found: { operation: Operation; path: string[] } | undefined;
    for (const operation of compiled ?? []) {
      const match = operation.pattern.exec(rawPath);
      if (match && operation.method === method) {
        found = { operation, path: match.slice(1) };
        break;
      }
    }
    if (!found) return send(404, ERRORS.notFound(`No operation matches ${method} ${rawPath}.`));
    const { operation } = found;
    record.operation = operation.operationId;

    const token = headerValue(request.headers['x-amz-access-token']);
    const grantless = GRANTLESS.has(operation.operationId);
    const check: AccessTokenCheck = grantless ? this.options.lwa.checkGrantlessToken(token, 'sellingpartnerapi::notifications') : this.options.lwa.checkSellerToken(token);
    record.token = token === undefined ? 'none' : this.options.lwa.checkSellerToken(token) === 'valid' ? 'seller' : this.options.lwa.checkGrantlessToken(token, 'sellingpartnerapi::notifications') === 'valid' ? 'grantless' : 'invalid';
    if (check !== 'valid') {
      const details = {
        missing: 'Access token is missing in the request header.',
        invalid: grantless
          ? `${operation.operationId} is a grantless operation: it needs an access token from grant_type=client_credentials with scope sellingpartnerapi::notifications.`
          : `${operation.operationId} acts for the selling partner: it needs an access token from grant_type=refresh_token.`,
        expired: 'The access token you provided has expired.',
      }[check];
      return send(403, ERRORS.unauthorized(details), operation);
    }
    let bucket = this.buckets.get(operation.operationId);
    if (!bucket) {
      bucket = new TokenBucket(this.plan, this.options.now);
      this.buckets.set(operation.operationId, bucket);
    }
    if (!bucket.tryTake()) return send(429, ERRORS.quotaExceeded(), operation);

    const parameters: Record<string, unknown> = {};
    try {
      operation.pathNames.forEach((name, index) => (parameters[name] = decodeURIComponent(found.path[index] ?? '')));
      for (const [name, value] of new URLSearchParams(rawQuery)) {
        if (operation.queryArrays.has(name)) parameters[name] = [...((parameters[name] as string[] | undefined) ?? []), ...value.split(',')];
        else parameters[name] = /^-?\d+$/.test(value) && name === 'pageSize' ? Number(value) : value;
      }
    } catch {
      return send(400, ERRORS.invalidInput('path: malformed percent-encoding'), operation);
    }
    if (!operation.validateParameters(parameters)) return send(400, ERRORS.invalidInput(`parameters: ${describeAjvErrors(operation.validateParameters.errors)}`), operation);

    let json: unknown;
    if (operation.validateBody) {
      const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
      if (contentType !== 'application/json') return send(415, ERRORS.unsupportedMediaType(), operation);
      try {
        json = JSON.parse(body);
      } catch (error) {
        return send(400, ERRORS.invalidInput(`body: ${error instanceof Error ? error.message : 'not JSON'}`), operation);
      }
      if (!operation.validateBody(json)) return send(400, ERRORS.invalidInput(`body: ${describeAjvErrors(operation.validateBody.errors)}`), operation);
    }
    const answer = this.execute(operation.operationId, parameters, json);
    return send(answer.status, answer.body, operation);
  }

  private execute(operationId: NotificationsOperationId, parameters: Record<string, unknown>, body: unknown): { status: number; body: unknown } {
    const text = (name: string): string => String(parameters[name] ?? '');
    switch (operationId) {
      case 'getDestinations':
        return { status: 200, body: { payload: this.destinations().map(destinationJson) } };
      case 'getDestination': {
        const destination = this.destinationsById.get(text('destinationId'));
        return destination ? { status: 200, body: { payload: destinationJson(destination) } } : { status: 404, body: ERRORS.notFound(`Destination ${text('destinationId')} does not exist.`) };
      }
      case 'createDestination': {
        const request = body as { name: string; resourceSpecification: { sqs?: { arn: string }; eventBridge?: unknown } };
        const { sqs, eventBridge } = request.resourceSpecification;
        if ((sqs === undefined) === (eventBridge === undefined)) return { status: 400, body: ERRORS.invalidInput('resourceSpecification: give exactly one of sqs and eventBridge') };
        if (!sqs) return { status: 501, body: ERRORS.notImplemented('EventBridge destinations') };
        if (request.name.length > 256) return { status: 400, body: ERRORS.invalidInput('name: at most 256 characters') };
        const existing = [...this.destinationsById.values()].find((destination) => destination.arn === sqs.arn);
        // A second destination for one queue is a conflict (amzn/selling-partner-api-models#2319).
        if (existing) return { status: 409, body: ERRORS.conflict(`destination ${existing.destinationId} already delivers to ${sqs.arn}`) };
        const destination: NotificationDestination = { destinationId: randomUUID(), name: request.name, arn: sqs.arn };
        this.destinationsById.set(destination.destinationId, destination);
        return { status: 200, body: { payload: destinationJson(destination) } };
      }
      case 'deleteDestination': {
        const id = text('destinationId');
        if (!this.destinationsById.has(id)) return { status: 404, body: ERRORS.notFound(`Destination ${id} does not exist.`) };
        if (this.subscriptions().some((subscription) => subscription.destinationId === id)) return { status: 409, body: ERRORS.conflict(`subscriptions still deliver to destination ${id}`) };
        this.destinationsById.delete(id);
        return { status: 200, body: {} };
      }
      case 'createSubscription': {
        const type = text('notificationType');
        const request = body as { payloadVersion: string; destinationId: string; processingDirective?: Record<string, unknown> };
        const problem = this.checkSubscription(type, request);
        if (problem) return { status: 400, body: ERRORS.invalidInput(problem) };
        const byVersion = this.subscriptionsByType.get(type) ?? new Map<string, NotificationSubscription>();
        const existing = byVersion.get(request.payloadVersion);
        if (existing) return { status: 409, body: ERRORS.conflict(`subscription ${existing.subscriptionId} already exists for ${type} payload version ${request.payloadVersion}`) };
        const subscription: NotificationSubscription = {
          subscriptionId: randomUUID(),
          notificationType: type,
          payloadVersion: request.payloadVersion,
          destinationId: request.destinationId,
          processingDirective: request.processingDirective,
        };
        byVersion.set(request.payloadVersion, subscription);
        this.subscriptionsByType.set(type, byVersion);
        return { status: 200, body: { payload: subscriptionJson(subscription) } };
      }
      case 'getSubscription': {
        const type = text('notificationType');
        if (!PAYLOAD_VERSIONS[type]) return { status: 400, body: ERRORS.invalidInput(`notificationType: ${type} is not a notification type`) };
        const byVersion = [...(this.subscriptionsByType.get(type)?.values() ?? [])];
        const version = parameters['payloadVersion'];
        // Without payloadVersion: the subscription of the latest version.
        const subscription = typeof version === 'string' ? byVersion.find((candidate) => candidate.payloadVersion === version) : byVersion.sort((a, b) => b.payloadVersion.localeCompare(a.payloadVersion))[0];
        return subscription ? { status: 200, body: { payload: subscriptionJson(subscription) } } : { status: 404, body: ERRORS.notFound(`No subscription for ${type}.`) };
      }
      case 'getSubscriptions': {
        const types = (parameters['notificationTypes'] as string[] | undefined) ?? [];
        const version = parameters['payloadVersion'];
        const subscriptions = this.subscriptions().filter((subscription) => types.includes(subscription.notificationType) && (typeof version !== 'string' || subscription.payloadVersion === version));
        return { status: 200, body: { payload: { subscriptions: subscriptions.map(subscriptionJson) } } };
      }
      case 'getSubscriptionById':
      case 'deleteSubscriptionById': {
        const type = text('notificationType');
        const id = text('subscriptionId');
        const byVersion = this.subscriptionsByType.get(type);
        const subscription = [...(byVersion?.values() ?? [])].find((candidate) => candidate.subscriptionId === id);
        if (!subscription || !byVersion) return { status: 404, body: ERRORS.notFound(`Subscription ${id} of ${type} does not exist.`) };
        if (operationId === 'getSubscriptionById') return { status: 200, body: { payload: subscriptionJson(subscription) } };
        byVersion.delete(subscription.payloadVersion);
        return { status: 200, body: {} };
      }
      case 'sendTestNotification':
        return { status: 501, body: ERRORS.notImplemented('sendTestNotification (a sandbox-only operation)') };
    }
  }

  /** What the real API refuses beyond the model's shapes; undefined when the request is fine. */
  private checkSubscription(type: string, request: { payloadVersion: string; destinationId: string; processingDirective?: Record<string, unknown> }): string | undefined {
    const versions = PAYLOAD_VERSIONS[type];
    if (!versions) return `notificationType: ${type} is not a notification type`;
    if (!versions.includes(request.payloadVersion)) return `payloadVersion: ${type} is published in ${versions.join(', ')}, not ${request.payloadVersion}`;
    if (!this.destinationsById.has(request.destinationId)) return `destinationId: ${request.destinationId} is not a destination of this application`;
    const directive = request.processingDirective;
    if (directive) {
      const filter = directive['eventFilter'];
      if (filter !== undefined && directive['filterExpression'] !== undefined) return 'processingDirective: eventFilter and filterExpression are mutually exclusive';
      if (isJsonObject(filter)) {
        if (!EVENT_FILTER_TYPES.has(type)) return `processingDirective.eventFilter: ${type} takes no eventFilter`;
        if (filter['eventFilterType'] !== type) return `processingDirective.eventFilter.eventFilterType: must be ${type} for a ${type} subscription`;
        if (filter['orderChangeTypes'] !== undefined && type !== 'ORDER_CHANGE') return 'processingDirective.eventFilter.orderChangeTypes: only ORDER_CHANGE filters on order change types';
      }
    }
    return undefined;
  }
}

function destinationJson(destination: NotificationDestination): Record<string, unknown> {
  return { destinationId: destination.destinationId, name: destination.name, resource: { sqs: { arn: destination.arn } } };
}

function subscriptionJson(subscription: NotificationSubscription): Record<string, unknown> {
  return {
    subscriptionId: subscription.subscriptionId,
    payloadVersion: subscription.payloadVersion,
    destinationId: subscription.destinationId,
    ...(subscription.processingDirective ? { processingDirective: subscription.processingDirective } : {}),
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) reject(new Error('body too large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
