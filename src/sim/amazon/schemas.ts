// Loads the vendored Amazon models (./schemas/, see the README there) and compiles them
// with ajv, so the fake validates requests, its own responses and every notification it
// publishes against Amazon's published definitions rather than against our reading of them.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';

type JsonObject = { [key: string]: unknown };

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function loadSchemaFile(name: string): JsonObject {
  const parsed: unknown = JSON.parse(readFileSync(new URL(`./schemas/${name}`, import.meta.url), 'utf8'));
  if (!isJsonObject(parsed)) throw new Error(`${name}: expected a JSON object at the top level`);
  return parsed;
}

function schemaObject(value: unknown, what: string): JsonObject {
  if (!isJsonObject(value)) throw new Error(`${what}: expected a schema object`);
  return value;
}

function newAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, strict: true });
  // ajv-formats is CommonJS; under NodeNext its default import is the module object.
  formatsPlugin.default(ajv);
  return ajv;
}

export function describeAjvErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'invalid';
  return errors.map((error) => `${error.instancePath || '(root)'} ${error.message ?? 'is invalid'}`).join('; ');
}

// ---------------------------------------------------------------------------------------
// Listings Items API 2021-08-01 (Swagger 2.0)

const LISTINGS_MODEL_FILE = 'listingsItems_2021-08-01.json';
const LISTINGS_MODEL_ID = 'https://github.com/amzn/selling-partner-api-models/models/listings-items-api-model/listingsItems_2021-08-01.json';
const SWAGGER_PARAMETER_SCHEMA_KEYS = ['type', 'items', 'enum', 'format', 'minimum', 'maximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems'];

export type ListingsOperationId = 'getListingsItem' | 'patchListingsItem' | 'searchListingsItems';
type ParameterLocation = 'path' | 'query';

export interface OperationParameter {
  readonly name: string;
  readonly location: ParameterLocation;
  readonly required: boolean;
  readonly isArray: boolean;
  /** The Swagger type (`string`, `integer`, `array`…): query values arrive as text and are coerced by it. */
  readonly type: string | undefined;
  readonly defaultValue: unknown;
}

export interface ListingsOperation {
  readonly operationId: ListingsOperationId;
  readonly method: 'GET' | 'PATCH';
  readonly pathTemplate: string;
  readonly parameters: readonly OperationParameter[];
  /** Validates `{ [parameterName]: value }` built from the path and query string. */
  readonly validateParameters: ValidateFunction;
  /** Validates the JSON body; undefined when the operation takes none. */
  readonly validateBody: ValidateFunction | undefined;
  /** Validators for the documented response bodies, by HTTP status. */
  readonly validateResponse: ReadonlyMap<number, ValidateFunction>;
}

/** The model's `#/definitions/...` references, made absolute so ajv resolves them from the registered model. */
function absoluteRefs(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(absoluteRefs);
  if (!isJsonObject(schema)) return schema;
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    copy[key] = key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${LISTINGS_MODEL_ID}${value}` : absoluteRefs(value);
  }
  return copy;
}

function compileListingsModel(): ReadonlyMap<ListingsOperationId, ListingsOperation> {
  const model = loadSchemaFile(LISTINGS_MODEL_FILE);
  const definitions = model['definitions'];
  const paths = model['paths'];
  if (!isJsonObject(definitions) || !isJsonObject(paths)) throw new Error(`${LISTINGS_MODEL_FILE}: missing definitions or paths`);

  const ajv = newAjv();
  // Swagger 2.0 vendor extensions and annotations that draft-07 does not know: documentation only.
  ajv.addKeyword('x-docgen-enum-table-extension');
  ajv.addKeyword('example');
  ajv.addSchema({ $id: LISTINGS_MODEL_ID, definitions });

  const operations = new Map<ListingsOperationId, ListingsOperation>();
  const itemPath = '/listings/2021-08-01/items/{sellerId}/{sku}';
  const searchPath = '/listings/2021-08-01/items/{sellerId}';
  const served = [
    [itemPath, 'GET', 'getListingsItem'],
    [itemPath, 'PATCH', 'patchListingsItem'],
    [searchPath, 'GET', 'searchListingsItems'],
  ] as const;

  for (const [path, method, operationId] of served) {
    const pathItem = paths[path];
    if (!isJsonObject(pathItem)) throw new Error(`${LISTINGS_MODEL_FILE}: path ${path} is missing`);
    const operation = pathItem[method.toLowerCase()];
    if (!isJsonObject(operation) || operation['operationId'] !== operationId || !Array.isArray(operation['parameters'])) {
      throw new Error(`${LISTINGS_MODEL_FILE}: ${method} ${path} is not ${operationId}`);
    }
    const parameters: OperationParameter[] = [];
    const properties: JsonObject = {};
    const required: string[] = [];
    let validateBody: ValidateFunction | undefined;
    for (const parameter of operation['parameters']) {
      if (!isJsonObject(parameter) || typeof parameter['name'] !== 'string') throw new Error(`${operationId}: malformed parameter`);
      const name = parameter['name'];
      const location = parameter['in'];
      if (location === 'body') {
        validateBody = ajv.compile(schemaObject(absoluteRefs(parameter['schema']), `${operationId} body`));
        continue;
      }
      if (location !== 'path' && location !== 'query') throw new Error(`${operationId}: parameter ${name} in ${String(location)} is not supported`);
      const schema: JsonObject = {};
      for (const key of SWAGGER_PARAMETER_SCHEMA_KEYS) {
        if (parameter[key] !== undefined) schema[key] = parameter[key];
      }
      properties[name] = schema;
      const isRequired = parameter['required'] === true;
      if (isRequired) required.push(name);
      const type = typeof parameter['type'] === 'string' ? parameter['type'] : undefined;
      parameters.push({ name, location, required: isRequired, isArray: type === 'array', type, defaultValue: parameter['default'] });
    }
    const validateResponse = new Map<number, ValidateFunction>();
    const responses = operation['responses'];
    if (isJsonObject(responses)) {
      for (const [status, response] of Object.entries(responses)) {
        if (isJsonObject(response) && response['schema'] !== undefined) {
          validateResponse.set(Number(status), ajv.compile(schemaObject(absoluteRefs(response['schema']), `${operationId} ${status}`)));
        }
      }
    }
    operations.set(operationId, {
      operationId,
      method,
      pathTemplate: path,
      parameters,
      validateParameters: ajv.compile({ type: 'object', properties, required }),
      validateBody,
      validateResponse,
    });
  }
  return operations;
}

let listingsOperations: ReadonlyMap<ListingsOperationId, ListingsOperation> | undefined;

/** The compiled Listings Items operations the fake serves (compiled once, on first use). */
export function listingsOperation(operationId: ListingsOperationId): ListingsOperation {
  listingsOperations ??= compileListingsModel();
  const operation = listingsOperations.get(operationId);
  if (!operation) throw new Error(`operation ${operationId} is not in ${LISTINGS_MODEL_FILE}`);
  return operation;
}

// ---------------------------------------------------------------------------------------
// Notification JSON schemas (draft-07)

export const NOTIFICATION_SCHEMA_FILES = {
  ORDER_CHANGE: 'OrderChangeNotification.json',
  LISTINGS_ITEM_MFN_QUANTITY_CHANGE: 'ListingsItemMfnQuantityChange.json',
  FBA_INVENTORY_AVAILABILITY_CHANGES: 'FBAInventoryAvailabilityChangeNotification.json',
} as const;

export type SupportedNotificationType = keyof typeof NOTIFICATION_SCHEMA_FILES;

/**
 * Drops the generator's fragment-only `$id`s ("#/properties/Payload"): they are not valid
 * draft-07 identifiers, and the FBA schema repeats one, which ajv refuses to compile.
 */
function withoutFragmentIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutFragmentIds);
  if (!isJsonObject(schema)) return schema;
  const copy: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' && typeof value === 'string' && value.startsWith('#')) continue;
    copy[key] = withoutFragmentIds(value);
  }
  return copy;
}

const notificationValidators = new Map<SupportedNotificationType, ValidateFunction>();

/** The ajv validator for one notification type's official schema (one ajv per schema: they share a placeholder root `$id`). */
export function notificationValidator(type: SupportedNotificationType): ValidateFunction {
  let validator = notificationValidators.get(type);
  if (!validator) {
    validator = newAjv().compile(schemaObject(withoutFragmentIds(loadSchemaFile(NOTIFICATION_SCHEMA_FILES[type])), type));
    notificationValidators.set(type, validator);
  }
  return validator;
}

/** The `examples` the official schema ships with, for contract tests. */
export function notificationSchemaExamples(type: SupportedNotificationType): unknown[] {
  const examples = loadSchemaFile(NOTIFICATION_SCHEMA_FILES[type])['examples'];
  return Array.isArray(examples) ? examples : [];
}
