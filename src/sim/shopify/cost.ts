// Shopify's calculated query cost and the per-shop leaky bucket (shopify-notes.md §3).
//
// Cost model, as the notes give it: scalar and enum fields 0, object fields 1, a connection
// 2 + (first|last) × the cost of one node, a mutation field 10 + its selection. The bucket
// is charged the requested cost before execution and refunded down to the actual cost
// (the same rules applied to the nodes really returned) afterwards.
//
// The same walk enforces the input limits Shopify applies before running anything: every
// input list holds at most 250 items (usage/limits, "Input limits") and connections need
// `first` or `last`.
import {
  type DirectiveNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  Kind,
  getArgumentValues,
  getDirectiveValues,
  getNamedType,
  isCompositeType,
  isInterfaceType,
  isObjectType,
} from 'graphql';

export const MUTATION_COST = 10;
export const MAX_QUERY_COST = 1000;
export const MAX_INPUT_ARRAY = 250;
const CONNECTION_COST = 2;

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface CostExtension {
  requestedQueryCost: number;
  actualQueryCost: number | null;
  throttleStatus: ThrottleStatus;
}

/** One field as it will be executed: its node, the type it is selected on, its definition. */
interface PlannedField {
  readonly node: FieldNode;
  readonly definition: GraphQLField<unknown, unknown>;
}

type Variables = Record<string, unknown>;

export interface OperationAnalysis {
  readonly requestedCost: number;
  readonly errors: readonly GraphQLError[];
}

/** Walks a validated operation: requested cost, input-size and connection-argument errors. */
export class CostAnalyzer {
  private readonly errors: GraphQLError[] = [];

  constructor(
    private readonly schema: GraphQLSchema,
    private readonly fragments: ReadonlyMap<string, FragmentDefinitionNode>,
    private readonly variables: Variables,
  ) {}

  analyze(operation: OperationDefinitionNode): OperationAnalysis {
    const root = operation.operation === 'mutation' ? this.schema.getMutationType() : this.schema.getQueryType();
    if (!root) return { requestedCost: 0, errors: [] };
    let cost = 0;
    for (const [key, fields] of this.collect(operation.selectionSet, root)) {
      const fieldCost = this.fieldCost(fields, [key]);
      cost += operation.operation === 'mutation' ? MUTATION_COST + fieldCost.selection : fieldCost.total;
    }
    return { requestedCost: cost, errors: this.errors };
  }

  /** Fields of a selection set grouped by response key, fragments flattened, @skip/@include honoured. */
  collect(selectionSet: SelectionSetNode, parentType: GraphQLCompositeType, into = new Map<string, PlannedField[]>()): Map<string, PlannedField[]> {
    for (const selection of selectionSet.selections) {
      if (!this.included(selection)) continue;
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue; // introspection costs nothing
        if (!isObjectType(parentType) && !isInterfaceType(parentType)) continue;
        const definition = parentType.getFields()[selection.name.value];
        if (!definition) continue;
        const key = selection.alias?.value ?? selection.name.value;
        into.set(key, [...(into.get(key) ?? []), { node: selection, definition }]);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const condition = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : parentType;
        this.collect(selection.selectionSet, condition && isCompositeType(condition) ? condition : parentType, into);
      } else {
        const fragment = this.fragments.get(selection.name.value);
        const condition = fragment ? this.schema.getType(fragment.typeCondition.name.value) : undefined;
        if (fragment && condition && isCompositeType(condition)) this.collect(fragment.selectionSet, condition, into);
      }
    }
    return into;
  }

  private included(selection: { readonly directives?: readonly DirectiveNode[] }): boolean {
    const node = { directives: selection.directives ?? [] };
    if (getDirectiveValues(GraphQLSkipDirective, node, this.variables)?.if === true) return false;
    return getDirectiveValues(GraphQLIncludeDirective, node, this.variables)?.if !== false;
  }

  /** total: the field's own cost included; selection: its sub-selection only. */
  private fieldCost(fields: readonly PlannedField[], path: readonly string[]): { total: number; selection: number } {
    const first = fields[0];
    if (!first) return { total: 0, selection: 0 };
    const args = this.arguments(first, path);
    const type = getNamedType(first.definition.type);
    if (!isCompositeType(type)) return { total: 0, selection: 0 };
    const sub = this.mergedSelection(fields, type);
    if (isConnectionType(type)) {
      const size = pageSize(args);
      if (size === undefined) this.errors.push(new GraphQLError('you must provide one of first or last', { nodes: first.node, path }));
      const perNode = this.connectionNodeCost(sub, path);
      return { total: CONNECTION_COST + (size ?? 0) * perNode, selection: CONNECTION_COST + (size ?? 0) * perNode };
    }
    let selection = 0;
    for (const [key, subFields] of sub) selection += this.fieldCost(subFields, [...path, key]).total;
    return { total: 1 + selection, selection };
  }

  /** The cost of one node of a connection: `nodes { … }` and `edges { node { … } }` each count it. */
  private connectionNodeCost(sub: Map<string, PlannedField[]>, path: readonly string[]): number {
    let cost = 0;
    for (const [key, fields] of sub) {
      const name = fields[0]?.definition.name;
      if (name === 'nodes') cost += this.fieldCost(fields, [...path, key]).total;
      if (name === 'edges') {
        const edgeType = fields[0] ? getNamedType(fields[0].definition.type) : undefined;
        if (!edgeType || !isCompositeType(edgeType)) continue;
        for (const [edgeKey, edgeFields] of this.mergedSelection(fields, edgeType)) {
          if (edgeFields[0]?.definition.name === 'node') cost += this.fieldCost(edgeFields, [...path, key, edgeKey]).total;
        }
      }
    }
    return cost;
  }

  mergedSelection(fields: readonly PlannedField[], type: GraphQLCompositeType): Map<string, PlannedField[]> {
    const merged = new Map<string, PlannedField[]>();
    for (const field of fields) if (field.node.selectionSet) this.collect(field.node.selectionSet, type, merged);
    return merged;
  }

  private arguments(field: PlannedField, path: readonly string[]): Record<string, unknown> {
    // The operation has been validated and its variables coerced, so this cannot throw for
    // a document Shopify would accept.
    const args = getArgumentValues(field.definition, field.node, this.variables);
    for (const [name, value] of Object.entries(args)) this.checkInputSize(value, [...path, name], field.node);
    return args;
  }

  private checkInputSize(value: unknown, path: readonly string[], node: FieldNode): void {
    if (Array.isArray(value)) {
      if (value.length > MAX_INPUT_ARRAY) {
        this.errors.push(
          new GraphQLError(`The input array size of ${value.length} is greater than the maximum allowed of ${MAX_INPUT_ARRAY}.`, {
            nodes: node,
            path,
            extensions: { code: 'MAX_INPUT_SIZE_EXCEEDED' },
          }),
        );
        return;
      }
      value.forEach((item: unknown, index) => this.checkInputSize(item, [...path, String(index)], node));
    } else if (typeof value === 'object' && value !== null) {
      for (const [name, item] of Object.entries(value)) this.checkInputSize(item, [...path, name], node);
    }
  }
}

export function isConnectionType(type: GraphQLCompositeType): boolean {
  if (!isObjectType(type) || !type.name.endsWith('Connection')) return false;
  const fields = type.getFields();
  return 'pageInfo' in fields && ('nodes' in fields || 'edges' in fields);
}

function pageSize(args: Record<string, unknown>): number | undefined {
  const first = args.first;
  const last = args.last;
  if (typeof first === 'number') return Math.max(0, Math.min(first, MAX_INPUT_ARRAY));
  if (typeof last === 'number') return Math.max(0, Math.min(last, MAX_INPUT_ARRAY));
  return undefined;
}

/**
 * The actual cost: the same rules over what came back, so a connection that returned 3 of
 * 10 requested nodes costs 2 + 3 × node. A null object costs nothing.
 */
export function actualCost(analyzer: CostAnalyzer, schema: GraphQLSchema, operation: OperationDefinitionNode, data: unknown): number {
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root || !isRecord(data)) return 0;
  let cost = 0;
  for (const [key, fields] of analyzer.collect(operation.selectionSet, root)) {
    if (operation.operation === 'mutation') {
      // A mutation field costs 10 whether or not it returned a payload.
      const type = fields[0] ? getNamedType(fields[0].definition.type) : undefined;
      const value = data[key];
      cost += MUTATION_COST + (type && isCompositeType(type) && isRecord(value) ? selectionActual(analyzer, fields, type, value) : 0);
    } else {
      cost += fieldActual(analyzer, fields, data[key]);
    }
  }
  return cost;
}

function fieldActual(analyzer: CostAnalyzer, fields: readonly PlannedField[], value: unknown): number {
  const type = fields[0] ? getNamedType(fields[0].definition.type) : undefined;
  if (!type || !isCompositeType(type) || value === null || value === undefined) return 0;
  if (isConnectionType(type) && isRecord(value)) {
    let cost = CONNECTION_COST;
    for (const [key, subFields] of analyzer.mergedSelection(fields, type)) {
      const name = subFields[0]?.definition.name;
      const items = value[key];
      if (!Array.isArray(items)) continue;
      if (name === 'nodes') for (const node of items) cost += fieldActual(analyzer, subFields, node);
      if (name === 'edges') {
        const edgeType = subFields[0] ? getNamedType(subFields[0].definition.type) : undefined;
        if (!edgeType || !isCompositeType(edgeType)) continue;
        for (const edge of items) {
          if (!isRecord(edge)) continue;
          for (const [edgeKey, edgeFields] of analyzer.mergedSelection(subFields, edgeType)) {
            if (edgeFields[0]?.definition.name === 'node') cost += fieldActual(analyzer, edgeFields, edge[edgeKey]);
          }
        }
      }
    }
    return cost;
  }
  if (Array.isArray(value)) {
    // A plain list is priced like one object when requested; charge the dearest element.
    const costs = value.map((element: unknown) => (isRecord(element) ? 1 + selectionActual(analyzer, fields, type, element) : 0));
    return costs.length > 0 ? Math.max(...costs) : 0;
  }
  return isRecord(value) ? 1 + selectionActual(analyzer, fields, type, value) : 0;
}

function selectionActual(analyzer: CostAnalyzer, fields: readonly PlannedField[], type: GraphQLCompositeType, value: Record<string, unknown>): number {
  let cost = 0;
  for (const [key, subFields] of analyzer.mergedSelection(fields, type)) cost += fieldActual(analyzer, subFields, value[key]);
  return cost;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The per-shop leaky bucket: fills at restoreRate points per second up to maximumAvailable. */
export class LeakyBucket {
  private available: number;
  private updatedAt: number;

  constructor(
    private maximum: number,
    private restoreRate: number,
    private readonly clock: () => number,
  ) {
    this.available = maximum;
    this.updatedAt = clock();
  }

  private refill(): void {
    const now = this.clock();
    const elapsedSeconds = Math.max(0, now - this.updatedAt) / 1000;
    this.available = Math.min(this.maximum, this.available + elapsedSeconds * this.restoreRate);
    this.updatedAt = now;
  }

  /** Takes `cost` points if they are there; false (and nothing taken) when they are not. */
  take(cost: number): boolean {
    this.refill();
    if (cost > this.available) return false;
    this.available -= cost;
    return true;
  }

  refund(points: number): void {
    this.refill();
    this.available = Math.min(this.maximum, this.available + Math.max(0, points));
  }

  status(): ThrottleStatus {
    this.refill();
    // Shopify reports whole points here; keep the fraction internally so slow restore rates still add up.
    return { maximumAvailable: this.maximum, currentlyAvailable: Math.floor(this.available), restoreRate: this.restoreRate };
  }

  configure(options: { maximumAvailable?: number; restoreRate?: number; currentlyAvailable?: number }): void {
    this.refill();
    if (options.maximumAvailable !== undefined) this.maximum = options.maximumAvailable;
    if (options.restoreRate !== undefined) this.restoreRate = options.restoreRate;
    this.available = Math.min(this.maximum, options.currentlyAvailable ?? this.available);
  }
}
