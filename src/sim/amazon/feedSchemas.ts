// Loads the vendored Feeds API 2021-06-30 model and the JSON_LISTINGS_FEED document schema
// (./schemas/, see the README there) and compiles them with ajv, so the fake Feeds API
// checks every request, its own responses and every uploaded feed document against what
// Amazon publishes.
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import { isJsonObject } from './schemas.ts';

type JsonObject = { [key: string]: unknown };

const FEEDS_MODEL_FILE = 'feeds_2021-06-30.json';
const FEEDS_MODEL_ID = 'https://github.com/amzn/selling-partner-api-models/models/feeds-api-model/feeds_2021-06-30.json';
const LISTINGS_FEED_SCHEMA_FILE = 'listings-feed-schema-v2.json';
const SWAGGER_PARAMETER_SCHEMA_KEYS = ['type', 'items', 'enum', 'format', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems'];

export type FeedOperationId = 'createFeedDocument' | 'getFeedDocument' | 'createFeed' | 'getFeed' | 'cancelFeed';

export interface FeedOperation {
  readonly operationId: FeedOperationId;
  /** Validates `{ [parameterName]: value }` from the path and query string (query booleans already parsed). */
  readonly validateParameters: ValidateFunction;
  readonly validateBody: ValidateFunction | undefined;
  /** Validators for the documented response bodies, by HTTP status. */
  readonly validateResponse: ReadonlyMap<number, ValidateFunction>;
  /** The usage plan the model documents for the operation. */
  readonly plan: { rate: number; burst: number };
}

function loadSchemaFile(name: string): JsonObject {
  const parsed: unknown = JSON.parse(readFileSync(new URL(`./schemas/${name}`, import.meta.url), 'utf8'));
  if (!isJsonObject(parsed)) throw new Error(`${name}: expected a JSON object at the top level`);
  return parsed;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  formatsPlugin.default(ajv);
  return ajv;
}

function absoluteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absoluteRefs);
  if (!isJsonObject(schema)) return schema;
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    copy[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${FEEDS_MODEL_ID}${value}` : absoluteRefs(value);
  }
  return copy;
}

/** The usage plan table in an operation's description: `| 0.0083 | 15 |`. */
function planFrom(description: unknown, operationId: string): { rate: number; burst: number } {
  const match = typeof description === 'string' ? /\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|/.exec(description) : null;
  if (!match?.[1] || !match[2]) throw new Error(`${FEEDS_MODEL_FILE}: ${operationId} documents no usage plan`);
  return { rate: Number(match[1]), burst: Number(match[2]) };
}

function compileFeedsModel(): ReadonlyMap<FeedOperationId, FeedOperation> {
  const model = loadSchemaFile(FEEDS_MODEL_FILE);
  const definitions = model['definitions'];
  const paths = model['paths'];
  if (!isJsonObject(definitions) || !isJsonObject(paths)) throw new Error(`${FEEDS_MODEL_FILE}: missing definitions or paths`);
  const ajv = newAjv();
  ajv.addKeyword('x-docgen-enum-table-extension');
  ajv.addKeyword('example');
  ajv.addSchema({ $id: FEEDS_MODEL_ID, definitions });
  const wanted: ReadonlyArray<[string, string, FeedOperationId]> = [
    ['/feeds/2021-06-30/documents', 'post', 'createFeedDocument'],
    ['/feeds/2021-06-30/documents/{feedDocumentId}', 'get', 'getFeedDocument'],
    ['/feeds/2021-06-30/feeds', 'post', 'createFeed'],
    ['/feeds/2021-06-30/feeds/{feedId}', 'get', 'getFeed'],
    ['/feeds/2021-06-30/feeds/{feedId}', 'delete', 'cancelFeed'],
  ];
  const operations = new Map<FeedOperationId, FeedOperation>();
  for (const [path, method, operationId] of wanted) {
    const pathItem = paths[path];
    const operation = isJsonObject(pathItem) ? pathItem[method] : undefined;
    if (!isJsonObject(operation) || operation['operationId'] !== operationId || !Array.isArray(operation['parameters'])) {
      throw new Error(`${FEEDS_MODEL_FILE}: ${method.toUpperCase()} ${path} is not ${operationId}`);
    }
    const properties: JsonObject = {};
    const required: string[] = [];
    let validateBody: ValidateFunction | undefined;
    for (const parameter of operation['parameters']) {
      if (!isJsonObject(parameter) || typeof parameter['name'] !== 'string') throw new Error(`${operationId}: malformed parameter`);
      if (parameter['in'] === 'body') {
        validateBody = ajv.compile(absoluteRefs(parameter['schema']) as JsonObject);
        continue;
      }
      const schema: JsonObject = {};
      for (const key of SWAGGER_PARAMETER_SCHEMA_KEYS) if (parameter[key] !== undefined) schema[key] = parameter[key];
      properties[parameter['name']] = schema;
      if (parameter['required'] === true) required.push(parameter['name']);
    }
    const validateResponse = new Map<number, ValidateFunction>();
    const responses = operation['responses'];
    if (isJsonObject(responses)) {
      for (const [status, response] of Object.entries(responses)) {
        if (isJsonObject(response) && response['schema'] !== undefined) validateResponse.set(Number(status), ajv.compile(absoluteRefs(response['schema']) as JsonObject));
      }
    }
    operations.set(operationId, {
      operationId,
      validateParameters: ajv.compile({ type: 'object', properties, required }),
      validateBody,
      validateResponse,
      plan: planFrom(operation['description'], operationId),
    });
  }
  return operations;
}

let feedOperations: ReadonlyMap<FeedOperationId, FeedOperation> | undefined;

export function feedOperation(operationId: FeedOperationId): FeedOperation {
  feedOperations ??= compileFeedsModel();
  const operation = feedOperations.get(operationId);
  if (!operation) throw new Error(`operation ${operationId} is not in ${FEEDS_MODEL_FILE}`);
  return operation;
}

export interface ListingsFeedValidators {
  /** The whole document with each message left unchecked (a message's own errors do not fail the feed). */
  readonly document: ValidateFunction;
  /** One message, as the schema's `messages.items`. */
  readonly message: ValidateFunction;
  /** The full schema, for tests of whole documents. */
  readonly full: ValidateFunction;
}

let listingsFeed: ListingsFeedValidators | undefined;

/**
 * The JSON_LISTINGS_FEED v2 document schema, split the way Amazon's processing report
 * answers it: document-level problems (4002005 missing header, 4002006 wrong version) stop
 * the whole feed; a message that fails its own schema is one issue (4002008) and the
 * others are processed.
 */
export function listingsFeedValidators(): ListingsFeedValidators {
  if (listingsFeed) return listingsFeed;
  const schema = loadSchemaFile(LISTINGS_FEED_SCHEMA_FILE);
  const properties = schema['properties'];
  const messages = isJsonObject(properties) ? properties['messages'] : undefined;
  if (!isJsonObject(properties) || !isJsonObject(messages) || !isJsonObject(messages['items'])) throw new Error(`${LISTINGS_FEED_SCHEMA_FILE}: no messages.items`);
  // The schema's own `example` annotations (draft-07 knows `examples` only) and mixed
  // oneOf branches without `type`: annotations and a valid draft-07 construction.
  const ajv = new Ajv({ allErrors: true, strict: false });
  formatsPlugin.default(ajv);
  const { $schema: _ignored, ...body } = schema;
  listingsFeed = {
    full: ajv.compile(body),
    document: ajv.compile({ ...body, properties: { ...properties, messages: { ...messages, items: {} } } }),
    message: ajv.compile(messages['items']),
  };
  return listingsFeed;
}
