// Compiles Amazon's own notification schemas (vendored in ./schemas/, see the README there)
// so a notification is checked against what Amazon publishes, not against our reading of it.
// The files are imported as JSON modules: the build copies them to dist/ with the code.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import formatsPlugin from 'ajv-formats';
import fbaInventorySchema from './schemas/FBAInventoryAvailabilityChangeNotification.json' with { type: 'json' };
import mfnQuantitySchema from './schemas/ListingsItemMfnQuantityChange.json' with { type: 'json' };
import orderChangeSchema from './schemas/OrderChangeNotification.json' with { type: 'json' };

export const SUPPORTED_NOTIFICATION_TYPES = [
  'ORDER_CHANGE',
  'LISTINGS_ITEM_MFN_QUANTITY_CHANGE',
  'FBA_INVENTORY_AVAILABILITY_CHANGES',
] as const;
export type SupportedNotificationType = (typeof SUPPORTED_NOTIFICATION_TYPES)[number];

/** The vendored schema of each consumed type, as published (before `withoutIds`). */
export const OFFICIAL_SCHEMAS: Readonly<Record<SupportedNotificationType, unknown>> = {
  ORDER_CHANGE: orderChangeSchema,
  LISTINGS_ITEM_MFN_QUANTITY_CHANGE: mfnQuantitySchema,
  FBA_INVENTORY_AVAILABILITY_CHANGES: fbaInventorySchema,
};

/**
 * A copy of a schema without its string `$id`s. The generator behind these files gave two
 * of them the same root id and two FBA subschemas the same nested id, which ajv refuses
 * to compile; nothing refers to the ids (schemas/README.md). A property *named* `$id`
 * would hold a schema object, not a string, and is kept.
 */
export function withoutIds(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutIds);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$id' && typeof value === 'string') continue;
    copy[key] = withoutIds(value);
  }
  return copy;
}

function compileAll(): Record<SupportedNotificationType, ValidateFunction> {
  // allErrors: a rejection names every problem, not only the first one ajv met.
  const ajv = new Ajv({ allErrors: true, strict: true });
  // ajv-formats is CommonJS; under NodeNext its default import is the module object.
  formatsPlugin.default(ajv);
  const compile = (type: SupportedNotificationType): ValidateFunction =>
    ajv.compile(withoutIds(OFFICIAL_SCHEMAS[type]) as object);
  return {
    ORDER_CHANGE: compile('ORDER_CHANGE'),
    LISTINGS_ITEM_MFN_QUANTITY_CHANGE: compile('LISTINGS_ITEM_MFN_QUANTITY_CHANGE'),
    FBA_INVENTORY_AVAILABILITY_CHANGES: compile('FBA_INVENTORY_AVAILABILITY_CHANGES'),
  };
}

let validators: Record<SupportedNotificationType, ValidateFunction> | undefined;

/** The compiled validator for a type (compiled once, on first use). */
export function validatorFor(type: SupportedNotificationType): ValidateFunction {
  validators ??= compileAll();
  return validators[type];
}

/**
 * ajv errors as one sentence per problem, naming the field the way Amazon's documentation
 * does: `Payload.OrderChangeNotification.Summary.OrderItems[0].Quantity must be integer`.
 */
export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors || errors.length === 0) return 'does not match the schema';
  const sentences = errors.map((error) => {
    const at = fieldPath(error.instancePath);
    switch (error.keyword) {
      case 'required': {
        const missing = String(error.params['missingProperty']);
        return `${at ? `${at}.` : ''}${missing} is missing`;
      }
      case 'enum': {
        const allowed = error.params['allowedValues'];
        return `${at || 'the notification'} must be one of ${Array.isArray(allowed) ? allowed.join(', ') : 'the allowed values'}`;
      }
      default:
        return `${at || 'the notification'} ${error.message ?? 'is invalid'}`;
    }
  });
  // One bad array can produce hundreds of errors; the first few say what is wrong.
  const shown = [...new Set(sentences)].slice(0, 5);
  const more = new Set(sentences).size - shown.length;
  return shown.join('; ') + (more > 0 ? `; and ${more} more` : '');
}

/** `/Payload/OrderItems/0/Quantity` → `Payload.OrderItems[0].Quantity`. */
export function fieldPath(instancePath: string): string {
  if (instancePath === '') return '';
  return instancePath
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : path ? `${path}.${segment}` : segment), '');
}
