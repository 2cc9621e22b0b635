// The part of the Admin API the fake implements, as graphql-js resolvers over
// InventoryStore. Every object is a plain "model": a record of field values, where a value
// may be a Resolve (a field with arguments or computed on demand). The default field
// resolver reads models and answers any field of the real schema the fake does not
// implement with a GraphQL error naming it: never a silent null.
import { type GraphQLFieldResolver, type GraphQLResolveInfo, GraphQLError, getDirectiveValues } from 'graphql';
import { gid, inventoryLevelGid, parseInventoryLevelGid } from './ids.ts';
import {
  type AppliedChange,
  type InventoryStore,
  type ItemRecord,
  type LevelRecord,
  type LocationRecord,
  type UserError,
  type WriteOutcome,
  QUANTITY_NAMES,
  isQuantityName,
  quantityOf,
} from './inventory.ts';

export type Model = Readonly<Record<string, unknown>>;
type Args = Record<string, unknown>;

/** A field computed when it is selected, with its arguments. */
export class Resolve {
  constructor(readonly run: (args: Args, info: GraphQLResolveInfo) => unknown) {}
}

function lazy(run: (args: Args, info: GraphQLResolveInfo) => unknown): Resolve {
  return new Resolve(run);
}

export function notImplemented(info: GraphQLResolveInfo, detail?: string): GraphQLError {
  const field = `${info.parentType.name}.${info.fieldName}`;
  return new GraphQLError(
    `${detail ?? `Field "${field}" exists in the Shopify Admin API 2026-10 schema`} but is not implemented by the stockguard Shopify fake (src/sim/shopify; see docs/sim.md).`,
    { extensions: { code: 'NOT_IMPLEMENTED_BY_FAKE', field } },
  );
}

export const fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args: Args, _context, info) => {
  if (typeof source === 'object' && source !== null && Object.hasOwn(source, info.fieldName)) {
    const value: unknown = Reflect.get(source, info.fieldName);
    return value instanceof Resolve ? value.run(args, info) : value;
  }
  throw notImplemented(info);
};

// ---- reading coerced arguments (the schema guarantees the shapes; TypeScript does not know it)

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  throw new GraphQLError(`${what} must be an input object`);
}

function asArray(value: unknown, what: string): readonly unknown[] {
  if (Array.isArray(value)) return value;
  throw new GraphQLError(`${what} must be a list`);
}

function asString(value: unknown, what: string): string {
  if (typeof value === 'string') return value;
  throw new GraphQLError(`${what} must be a string`);
}

function asOptionalString(value: unknown, what: string): string | null {
  return value === null || value === undefined ? null : asString(value, what);
}

function asInt(value: unknown, what: string): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  throw new GraphQLError(`${what} must be an Int`);
}

function asOptionalStringList(value: unknown, what: string): readonly string[] | undefined {
  if (value === null || value === undefined) return undefined;
  return asArray(value, what).map((item, index) => asString(item, `${what}[${index}]`));
}

/**
 * From 2026-04 `changeFromQuantity` must be present, even as null (shopify-notes.md §1.1). The
 * schema types it as an optional Int, so this is checked at run time, as Shopify does, with
 * graphql-ruby's message for an argument declared `required: :nullable`.
 */
function changeFromQuantity(entry: Record<string, unknown>, inputType: string, what: string): number | null {
  if (!Object.hasOwn(entry, 'changeFromQuantity')) {
    throw new GraphQLError(`${inputType} must include the following argument: changeFromQuantity.`);
  }
  const value = entry.changeFromQuantity;
  return value === null ? null : asInt(value, `${what}.changeFromQuantity`);
}

function readSetInput(args: Args): Parameters<InventoryStore['setQuantities']>[0] {
  const input = asRecord(args.input, 'input');
  return {
    name: asString(input.name, 'input.name'),
    reason: asString(input.reason, 'input.reason'),
    referenceDocumentUri: asOptionalString(input.referenceDocumentUri, 'input.referenceDocumentUri'),
    quantities: asArray(input.quantities, 'input.quantities').map((value, index) => {
      const what = `input.quantities[${index}]`;
      const entry = asRecord(value, what);
      return {
        inventoryItemId: asString(entry.inventoryItemId, `${what}.inventoryItemId`),
        locationId: asString(entry.locationId, `${what}.locationId`),
        quantity: asInt(entry.quantity, `${what}.quantity`),
        changeFromQuantity: changeFromQuantity(entry, 'InventoryQuantityInput', what),
      };
    }),
  };
}

function readAdjustInput(args: Args): Parameters<InventoryStore['adjustQuantities']>[0] {
  const input = asRecord(args.input, 'input');
  return {
    name: asString(input.name, 'input.name'),
    reason: asString(input.reason, 'input.reason'),
    referenceDocumentUri: asOptionalString(input.referenceDocumentUri, 'input.referenceDocumentUri'),
    changes: asArray(input.changes, 'input.changes').map((value, index) => {
      const what = `input.changes[${index}]`;
      const entry = asRecord(value, what);
      return {
        inventoryItemId: asString(entry.inventoryItemId, `${what}.inventoryItemId`),
        locationId: asString(entry.locationId, `${what}.locationId`),
        delta: asInt(entry.delta, `${what}.delta`),
        ledgerDocumentUri: asOptionalString(entry.ledgerDocumentUri, `${what}.ledgerDocumentUri`),
        changeFromQuantity: changeFromQuantity(entry, 'InventoryChangeInput', what),
      };
    }),
  };
}

/** The key of `@idempotent(key:)` on this field, or the error Shopify returns without one (from 2026-04). */
function idempotencyKey(info: GraphQLResolveInfo): string {
  const directive = info.schema.getDirective('idempotent');
  const values = info.fieldNodes
    .map((node) => (directive ? getDirectiveValues(directive, node, info.variableValues) : undefined))
    .find((found) => found !== undefined);
  if (!values) {
    throw new GraphQLError('The @idempotent directive is required for this mutation but was not provided.', { extensions: { code: 'BAD_REQUEST' } });
  }
  const key = values.key;
  if (typeof key !== 'string' || key.trim() === '') {
    // The directive's own description: the key cannot be empty or whitespace only.
    throw new GraphQLError('The idempotency key cannot be an empty string or whitespace only.', { extensions: { code: 'BAD_REQUEST' } });
  }
  return key;
}

/** JSON with object keys sorted, so two equal argument sets give the same string. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item: unknown) => stableStringify(item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableStringify(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// ---- idempotency (shopify-notes.md §1.5)

interface IdempotencyEntry {
  readonly fingerprint: string;
  state: 'inFlight' | 'done' | 'failed';
  payload: Model | undefined;
  readonly storedAt: number;
}

export class IdempotencyStore {
  private readonly entries = new Map<string, IdempotencyEntry>();

  constructor(
    private readonly clock: () => number,
    /** Retention; Shopify documents a window but its length is UNCONFIRMED (24 h here). */
    private readonly retentionMs: number,
  ) {}

  size(): number {
    return this.entries.size;
  }

  private expired(entry: IdempotencyEntry, now: number): boolean {
    return now - entry.storedAt > this.retentionMs;
  }

  /**
   * Entries sit in the map in the order they were stored, so with a clock that does not go
   * back the expired ones are a prefix: drop it and stop at the first live entry, O(1)
   * amortised per call instead of a scan of every key. (`run` also checks the entry it
   * looks up, so a clock that does go back never replays an expired key.)
   */
  private forgetExpired(now: number): void {
    for (const [storedKey, entry] of this.entries) {
      if (!this.expired(entry, now)) return;
      this.entries.delete(storedKey);
    }
  }

  /**
   * Runs `apply` once per key. Same key and same arguments: the stored payload, not applied
   * again. Same key, other arguments: IDEMPOTENCY_KEY_PARAMETER_MISMATCH. While the first
   * is still running: IDEMPOTENCY_CONCURRENT_REQUEST. After a first attempt that threw:
   * IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED.
   */
  async run(key: string, fingerprint: string, holdMs: number, apply: () => Model): Promise<{ payload: Model; replayed: boolean }> {
    const now = this.clock();
    this.forgetExpired(now);
    let existing = this.entries.get(key);
    if (existing && this.expired(existing, now)) {
      this.entries.delete(key);
      existing = undefined;
    }
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        return { payload: failedPayload('IDEMPOTENCY_KEY_PARAMETER_MISMATCH', 'The same idempotency key cannot be used with different operation parameters.'), replayed: false };
      }
      if (existing.state === 'inFlight') {
        return { payload: failedPayload('IDEMPOTENCY_CONCURRENT_REQUEST', 'This request is currently in progress, please try again.'), replayed: false };
      }
      if (existing.state === 'failed' || !existing.payload) {
        return { payload: failedPayload('IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED', 'A previous request with this idempotency key failed. Retry with a new idempotency key.'), replayed: false };
      }
      return { payload: existing.payload, replayed: true };
    }
    const entry: IdempotencyEntry = { fingerprint, state: 'inFlight', payload: undefined, storedAt: now };
    this.entries.set(key, entry);
    try {
      if (holdMs > 0) await new Promise((resolve) => setTimeout(resolve, holdMs));
      entry.payload = apply();
      entry.state = 'done';
      return { payload: entry.payload, replayed: false };
    } catch (error) {
      entry.state = 'failed';
      throw error;
    }
  }
}

function failedPayload(code: string, message: string, field: readonly string[] | null = null): Model {
  return { inventoryAdjustmentGroup: null, userErrors: [{ field, message, code }] };
}

// ---- models

export interface AcceptedWrite {
  readonly sequence: number;
  readonly at: string;
  readonly mutation: 'inventorySetQuantities' | 'inventoryAdjustQuantities';
  readonly idempotencyKey: string;
  readonly groupId: string;
  readonly name: string;
  readonly reason: string;
  readonly referenceDocumentUri: string | null;
  readonly changes: readonly AppliedChange[];
}

export interface ResolverContext {
  readonly store: InventoryStore;
  readonly idempotency: IdempotencyStore;
  readonly clock: () => number;
  /** Called once per applied mutation; returns the id of the adjustment group. */
  recordWrite(write: Omit<AcceptedWrite, 'sequence' | 'groupId'>): AcceptedWrite;
  /** Milliseconds a mutation keeps its idempotency key in flight before applying (the 'during' latency fault). */
  readonly holdMs: number;
  /** Set when a mutation answered from the idempotency store. */
  replayed: boolean;
}

interface PageArgs {
  first?: number;
  last?: number;
  after?: string;
  before?: string;
  reverse?: boolean;
}

function pageArgs(args: Args): PageArgs {
  const result: PageArgs = {};
  if (typeof args.first === 'number') result.first = args.first;
  if (typeof args.last === 'number') result.last = args.last;
  if (typeof args.after === 'string') result.after = args.after;
  if (typeof args.before === 'string') result.before = args.before;
  if (args.reverse === true) result.reverse = true;
  return result;
}

function cursorOf(id: string): string {
  return Buffer.from(id, 'utf8').toString('base64url');
}

/** A Relay connection over an in-memory list, with Shopify's first/last/after/before/reverse. */
function connection(entries: ReadonlyArray<{ id: string; model: Model }>, args: PageArgs): Model {
  const ordered = args.reverse ? [...entries].reverse() : [...entries];
  const position = (cursor: string): number => ordered.findIndex((entry) => cursorOf(entry.id) === cursor);
  let from = 0;
  let to = ordered.length;
  if (args.after !== undefined && position(args.after) >= 0) from = position(args.after) + 1;
  if (args.before !== undefined && position(args.before) >= 0) to = Math.max(from, position(args.before));
  // Page sizes above 250 are capped (Shopify's page maximum).
  if (args.first !== undefined) to = Math.min(to, from + Math.min(args.first, 250));
  else if (args.last !== undefined) from = Math.max(from, to - Math.min(args.last, 250));
  const page = ordered.slice(from, to);
  const firstEntry = page[0];
  const lastEntry = page[page.length - 1];
  return {
    nodes: page.map((entry) => entry.model),
    edges: page.map((entry) => ({ cursor: cursorOf(entry.id), node: entry.model })),
    pageInfo: {
      hasNextPage: to < ordered.length,
      hasPreviousPage: from > 0,
      startCursor: firstEntry ? cursorOf(firstEntry.id) : null,
      endCursor: lastEntry ? cursorOf(lastEntry.id) : null,
    },
  };
}

export class Models {
  constructor(private readonly context: ResolverContext) {}

  private get store(): InventoryStore {
    return this.context.store;
  }

  location(location: LocationRecord): Model {
    const store = this.store;
    return {
      id: location.id,
      legacyResourceId: location.numericId.toString(),
      name: location.name,
      isActive: location.isActive,
      fulfillsOnlineOrders: location.fulfillsOnlineOrders,
      deactivatedAt: location.deactivatedAt,
      isFulfillmentService: false,
      createdAt: location.createdAt,
      updatedAt: location.updatedAt,
      hasActiveInventory: lazy(() => store.levels().some((level) => level.locationId === location.id)),
      inventoryLevel: lazy((args) => {
        const level = store.level(asString(args.inventoryItemId, 'inventoryItemId'), location.id);
        return level ? this.level(level) : null;
      }),
      inventoryLevels: lazy((args, info) => {
        if (typeof args.query === 'string') throw notImplemented(info, 'The query argument of Location.inventoryLevels');
        const levels = store.levels().filter((level) => level.locationId === location.id);
        return connection(levels.map((level) => ({ id: level.itemId, model: this.level(level) })), pageArgs(args));
      }),
    };
  }

  item(item: ItemRecord): Model {
    const store = this.store;
    return {
      id: item.id,
      legacyResourceId: item.numericId.toString(),
      sku: item.sku,
      tracked: item.tracked,
      requiresShipping: true,
      variant: lazy(() => this.variant(item)),
      createdAt: item.createdAt,
      updatedAt: lazy(() => item.updatedAt),
      inventoryLevel: lazy((args) => {
        const level = store.level(item.id, asString(args.locationId, 'locationId'));
        return level ? this.level(level) : null;
      }),
      inventoryLevels: lazy((args, info) => {
        if (typeof args.query === 'string') throw notImplemented(info, 'The query argument of InventoryItem.inventoryLevels');
        const levels = store.levels().filter((level) => level.itemId === item.id);
        return connection(levels.map((level) => ({ id: level.locationId, model: this.level(level) })), pageArgs(args));
      }),
    };
  }

  /** The item's variant. The fake keeps one variant per product, so the product is the variant's own. */
  variant(item: ItemRecord): Model {
    const product: Model = {
      id: gid('Product', item.productId),
      legacyResourceId: item.productId.toString(),
      title: item.title,
      hasOnlyDefaultVariant: true,
    };
    return {
      id: gid('ProductVariant', item.variantId),
      legacyResourceId: item.variantId.toString(),
      sku: item.sku,
      title: 'Default Title',
      displayName: `${item.title} - Default Title`,
      createdAt: item.createdAt,
      updatedAt: lazy(() => item.updatedAt),
      inventoryItem: lazy(() => this.item(item)),
      product,
    };
  }

  level(level: LevelRecord): Model {
    const store = this.store;
    const item = store.item(level.itemId);
    const location = store.location(level.locationId);
    if (!item || !location) throw new GraphQLError(`inventory level ${level.itemId} at ${level.locationId} refers to a missing item or location`);
    const id = inventoryLevelGid(location.numericId, item.numericId);
    return {
      id,
      isActive: true,
      createdAt: level.createdAt,
      updatedAt: lazy(() => level.updatedAt),
      item: lazy(() => this.item(item)),
      location: lazy(() => this.location(location)),
      quantities: lazy((args) => {
        const names = asOptionalStringList(args.names, 'names') ?? [];
        const unknown = names.filter((name) => !isQuantityName(name));
        if (unknown.length > 0) {
          throw new GraphQLError(`Invalid quantity names: ${unknown.join(', ')}. Valid names: ${QUANTITY_NAMES.join(', ')}.`, {
            extensions: { code: 'INVALID_QUANTITY_NAME' },
          });
        }
        return names.filter(isQuantityName).map((name) => ({
          id: `gid://shopify/InventoryQuantity/${location.numericId}?inventory_item_id=${item.numericId}&name=${name}`,
          name,
          quantity: quantityOf(level, name),
          updatedAt: level.quantityUpdatedAt[name],
        }));
      }),
    };
  }

  adjustmentGroup(write: AcceptedWrite): Model {
    return {
      id: write.groupId,
      createdAt: write.at,
      reason: write.reason,
      referenceDocumentUri: write.referenceDocumentUri,
      // An app made the change, not a staff member.
      staffMember: null,
      changes: lazy((args) => {
        const items = asOptionalStringList(args.inventoryItemIds, 'inventoryItemIds');
        const locations = asOptionalStringList(args.locationIds, 'locationIds');
        const names = asOptionalStringList(args.quantityNames, 'quantityNames');
        return write.changes
          .filter((change) => (!items || items.includes(change.itemId)) && (!locations || locations.includes(change.locationId)) && (!names || names.includes(change.name)))
          .map((change) => this.change(change));
      }),
    };
  }

  private change(change: AppliedChange): Model {
    const store = this.store;
    return {
      name: change.name,
      delta: change.delta,
      quantityAfterChange: change.quantityAfterChange,
      ledgerDocumentUri: change.ledgerDocumentUri,
      item: lazy(() => {
        const item = store.item(change.itemId);
        return item ? this.item(item) : null;
      }),
      location: lazy(() => {
        const location = store.location(change.locationId);
        return location ? this.location(location) : null;
      }),
    };
  }
}

function userErrorModels(errors: readonly UserError[]): Model[] {
  return errors.map((error) => ({ field: error.field, message: error.message, code: error.code }));
}

/** Root value for graphql-js: QueryRoot and Mutation fields the fake implements. */
export function createRootValue(context: ResolverContext): Model {
  const models = new Models(context);
  const store = context.store;

  const mutate = async <Request extends { name: string; reason: string; referenceDocumentUri: string | null }>(
    mutation: AcceptedWrite['mutation'],
    args: Args,
    info: GraphQLResolveInfo,
    read: (args: Args) => Request,
    write: (request: Request) => WriteOutcome,
  ): Promise<Model> => {
    const request = read(args);
    const key = idempotencyKey(info);
    const { payload, replayed } = await context.idempotency.run(key, `${mutation}:${stableStringify(args)}`, context.holdMs, () => {
      const outcome = write(request);
      if (!outcome.ok) return { inventoryAdjustmentGroup: null, userErrors: userErrorModels(outcome.userErrors) };
      const accepted = context.recordWrite({
        at: new Date(context.clock()).toISOString(),
        mutation,
        idempotencyKey: key,
        name: request.name,
        reason: request.reason,
        referenceDocumentUri: request.referenceDocumentUri,
        changes: outcome.changes,
      });
      return { inventoryAdjustmentGroup: models.adjustmentGroup(accepted), userErrors: [] };
    });
    if (replayed) context.replayed = true;
    return payload;
  };

  return {
    // QueryRoot
    location: lazy((args) => {
      // Without an id Shopify returns the shop's primary location: here, the first one added.
      const location = typeof args.id === 'string' ? store.location(args.id) : store.primaryLocation();
      return location ? models.location(location) : null;
    }),
    locations: lazy((args, info) => {
      if (typeof args.query === 'string') throw notImplemented(info, 'The query argument of QueryRoot.locations');
      const sortKey = typeof args.sortKey === 'string' ? args.sortKey : 'NAME';
      if (sortKey !== 'NAME' && sortKey !== 'ID') throw notImplemented(info, `Sort key ${sortKey} of QueryRoot.locations`);
      const includeInactive = args.includeInactive === true;
      const locations = store
        .locations()
        .filter((location) => includeInactive || location.isActive)
        .sort((a, b) => (sortKey === 'ID' ? (a.numericId < b.numericId ? -1 : a.numericId > b.numericId ? 1 : 0) : a.name.localeCompare(b.name) || a.position - b.position));
      return connection(locations.map((location) => ({ id: location.id, model: models.location(location) })), pageArgs(args));
    }),
    inventoryItem: lazy((args) => {
      const item = store.item(asString(args.id, 'id'));
      return item ? models.item(item) : null;
    }),
    productVariants: lazy((args, info) => {
      if (typeof args.query === 'string') throw notImplemented(info, 'The query argument of QueryRoot.productVariants');
      if (typeof args.savedSearchId === 'string') throw notImplemented(info, 'The savedSearchId argument of QueryRoot.productVariants');
      const sortKey = typeof args.sortKey === 'string' ? args.sortKey : 'ID';
      if (sortKey !== 'ID') throw notImplemented(info, `Sort key ${sortKey} of QueryRoot.productVariants`);
      const items = store.items().sort((a, b) => (a.variantId < b.variantId ? -1 : a.variantId > b.variantId ? 1 : 0));
      return connection(items.map((item) => ({ id: gid('ProductVariant', item.variantId), model: models.variant(item) })), pageArgs(args));
    }),
    productVariantsCount: lazy((args, info) => {
      if (typeof args.query === 'string') throw notImplemented(info, 'The query argument of QueryRoot.productVariantsCount');
      // Shopify counts up to `limit` (default 10000; null: no limit) and says AT_LEAST above it.
      const limit = typeof args.limit === 'number' ? args.limit : undefined;
      const count = store.items().length;
      return limit !== undefined && count > limit ? { count: limit, precision: 'AT_LEAST' } : { count, precision: 'EXACT' };
    }),
    inventoryLevel: lazy((args) => {
      const parsed = parseInventoryLevelGid(asString(args.id, 'id'));
      if (!parsed) return null;
      const level = store.level(gid('InventoryItem', parsed.itemId), gid('Location', parsed.locationId));
      return level ? models.level(level) : null;
    }),
    // Mutation
    inventorySetQuantities: lazy((args, info) => mutate('inventorySetQuantities', args, info, readSetInput, (request) => store.setQuantities(request))),
    inventoryAdjustQuantities: lazy((args, info) => mutate('inventoryAdjustQuantities', args, info, readAdjustInput, (request) => store.adjustQuantities(request))),
  };
}
