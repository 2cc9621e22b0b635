// The webhook subscriptions of the app the fake serves: the `webhookSubscriptions` /
// `webhookSubscription` queries and the `webhookSubscriptionCreate`, `…Update` and
// `…Delete` mutations of Admin API 2026-10, as `stockguard setup shopify` and
// `stockguard doctor` call them. The schema validates every request before these run
// (server.ts); what is checked here is what Shopify checks beyond the schema.
// Rules and their sources: docs/sim.md ("Webhook subscriptions").
import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import { Resolve, notImplemented, type Model } from './resolvers.ts';
import { SCHEMA_API_VERSION } from './schema.ts';

type Args = Record<string, unknown>;

/** One subscription as the fake stores it. */
export interface WebhookSubscriptionRecord {
  readonly id: string;
  readonly numericId: bigint;
  topic: string;
  uri: string;
  format: 'JSON' | 'XML';
  includeFields: string[];
  metafieldNamespaces: string[];
  filter: string | null;
  name: string | null;
  readonly createdAt: string;
  updatedAt: string;
}

interface SubscriptionInput {
  uri: string | undefined;
  format: 'JSON' | 'XML' | undefined;
  includeFields: string[] | undefined;
  metafieldNamespaces: string[] | undefined;
  filter: string | null | undefined;
  name: string | null | undefined;
}

interface UserError {
  field: string[] | null;
  message: string;
}

// Ids just above 2^53, as Shopify's own can be (a client that parses them as numbers rounds).
const FIRST_ID = 2n ** 53n + 7n;

export class WebhookSubscriptionStore {
  private readonly byId = new Map<string, WebhookSubscriptionRecord>();
  private nextId = FIRST_ID;

  constructor(private readonly clock: () => number) {}

  list(): WebhookSubscriptionRecord[] {
    return [...this.byId.values()];
  }

  get(id: string): WebhookSubscriptionRecord | undefined {
    return this.byId.get(id);
  }

  /** Test control: adds a subscription without the API (e.g. one left pointing at an old URL). */
  add(topic: string, uri: string): WebhookSubscriptionRecord {
    const now = new Date(this.clock()).toISOString();
    const numericId = this.nextId;
    this.nextId += 1n;
    const record: WebhookSubscriptionRecord = {
      id: `gid://shopify/WebhookSubscription/${numericId}`,
      numericId,
      topic,
      uri,
      format: 'JSON',
      includeFields: [],
      metafieldNamespaces: [],
      filter: null,
      name: null,
      createdAt: now,
      updatedAt: now,
    };
    this.byId.set(record.id, record);
    return record;
  }

  /** Test control: removes a subscription without the API (a merchant or Shopify deleted it). */
  remove(id: string): boolean {
    return this.byId.delete(id);
  }

  create(topic: string, input: SubscriptionInput): { record?: WebhookSubscriptionRecord; userErrors: UserError[] } {
    const userErrors = this.checkUri(input.uri, topic, undefined);
    if (userErrors.length > 0 || input.uri === undefined) return { userErrors };
    const record = this.add(topic, input.uri);
    this.apply(record, input);
    return { record, userErrors: [] };
  }

  update(id: string, input: SubscriptionInput): { record?: WebhookSubscriptionRecord; userErrors: UserError[] } {
    const record = this.byId.get(id);
    if (!record) return { userErrors: [{ field: ['id'], message: 'Webhook subscription does not exist' }] };
    if (input.uri !== undefined) {
      const userErrors = this.checkUri(input.uri, record.topic, record.id);
      if (userErrors.length > 0) return { userErrors };
      record.uri = input.uri;
    }
    this.apply(record, input);
    record.updatedAt = new Date(this.clock()).toISOString();
    return { record, userErrors: [] };
  }

  delete(id: string): { deletedId?: string; userErrors: UserError[] } {
    if (!this.byId.delete(id)) return { userErrors: [{ field: ['id'], message: 'Webhook subscription does not exist' }] };
    return { deletedId: id, userErrors: [] };
  }

  private apply(record: WebhookSubscriptionRecord, input: SubscriptionInput): void {
    if (input.format !== undefined) record.format = input.format;
    if (input.includeFields !== undefined) record.includeFields = input.includeFields;
    if (input.metafieldNamespaces !== undefined) record.metafieldNamespaces = input.metafieldNamespaces;
    if (input.filter !== undefined) record.filter = input.filter;
    if (input.name !== undefined) record.name = input.name;
  }

  /**
   * Shopify delivers over HTTPS only (or to Pub/Sub and EventBridge), and refuses a second
   * subscription of one app to the same topic and address (the REST API's "Address for this
   * topic has already been taken", which the GraphQL API returns as a user error).
   */
  private checkUri(uri: string | undefined, topic: string, exceptId: string | undefined): UserError[] {
    const field = ['webhookSubscription', 'uri'];
    if (uri === undefined || uri.trim() === '') return [{ field, message: "Address can't be blank" }];
    if (/^http:\/\//i.test(uri)) return [{ field, message: 'Address protocol http:// is not supported' }];
    const pubSub = /^pubsub:\/\/[^:\s]+:[^:\s]+$/.test(uri);
    const eventBridge = /^arn:aws:events:[^:\s]+::event-source\/\S+$/.test(uri);
    let https = false;
    try {
      const parsed = new URL(uri);
      https = parsed.protocol === 'https:' && parsed.hostname !== '';
    } catch {
      https = false;
    }
    if (!https && !pubSub && !eventBridge) return [{ field, message: 'Address is invalid' }];
    const taken = this.list().some((record) => record.id !== exceptId && record.topic === topic && record.uri === uri);
    return taken ? [{ field, message: 'Address for this topic has already been taken' }] : [];
  }
}

function readInput(args: Args): SubscriptionInput {
  const raw = args['webhookSubscription'];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new GraphQLError('webhookSubscription must be an input object');
  const input = raw as Record<string, unknown>;
  const text = (name: string): string | undefined => (typeof input[name] === 'string' ? (input[name] as string) : undefined);
  const list = (name: string): string[] | undefined => (Array.isArray(input[name]) ? (input[name] as unknown[]).filter((item): item is string => typeof item === 'string') : undefined);
  const format = text('format');
  return {
    // callbackUrl is the deprecated spelling of uri; both are still accepted in 2026-10.
    uri: text('uri') ?? text('callbackUrl'),
    format: format === 'JSON' || format === 'XML' ? format : undefined,
    includeFields: list('includeFields'),
    metafieldNamespaces: list('metafieldNamespaces'),
    filter: input['filter'] === null ? null : text('filter'),
    name: input['name'] === null ? null : text('name'),
  };
}

function model(record: WebhookSubscriptionRecord): Model {
  return {
    id: record.id,
    legacyResourceId: record.numericId.toString(),
    topic: record.topic,
    uri: record.uri,
    // Deprecated, still served: the address when it is an HTTPS URL.
    callbackUrl: /^https:/i.test(record.uri) ? record.uri : null,
    format: record.format,
    includeFields: record.includeFields,
    metafieldNamespaces: record.metafieldNamespaces,
    metafields: [],
    filter: record.filter,
    name: record.name,
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
    apiVersion: { handle: SCHEMA_API_VERSION, displayName: SCHEMA_API_VERSION, supported: true },
  };
}

const cursorOf = (id: string): string => Buffer.from(id, 'utf8').toString('base64url');

/** A Relay connection with first/after/last/before/reverse, pages capped at 250 like Shopify's. */
function page(records: readonly WebhookSubscriptionRecord[], args: Args): Model {
  const ordered = args['reverse'] === true ? [...records].reverse() : [...records];
  const position = (cursor: unknown): number => ordered.findIndex((record) => cursorOf(record.id) === cursor);
  let from = 0;
  let to = ordered.length;
  if (typeof args['after'] === 'string' && position(args['after']) >= 0) from = position(args['after']) + 1;
  if (typeof args['before'] === 'string' && position(args['before']) >= 0) to = Math.max(from, position(args['before']));
  if (typeof args['first'] === 'number') to = Math.min(to, from + Math.min(args['first'], 250));
  else if (typeof args['last'] === 'number') from = Math.max(from, to - Math.min(args['last'], 250));
  const slice = ordered.slice(from, to);
  return {
    nodes: slice.map(model),
    edges: slice.map((record) => ({ cursor: cursorOf(record.id), node: model(record) })),
    pageInfo: {
      hasNextPage: to < ordered.length,
      hasPreviousPage: from > 0,
      startCursor: slice[0] ? cursorOf(slice[0].id) : null,
      endCursor: slice[slice.length - 1] ? cursorOf(slice[slice.length - 1]!.id) : null,
    },
  };
}

function payload(result: { record?: WebhookSubscriptionRecord; userErrors: UserError[] }): Model {
  return { webhookSubscription: result.record ? model(result.record) : null, userErrors: result.userErrors };
}

/** The QueryRoot and Mutation fields above, to merge into the fake's root value. */
export function webhookSubscriptionRootFields(store: WebhookSubscriptionStore): Model {
  return {
    webhookSubscriptions: new Resolve((args: Args, info: GraphQLResolveInfo) => {
      if (typeof args['query'] === 'string') throw notImplemented(info, 'The query argument of QueryRoot.webhookSubscriptions');
      if (args['sortKey'] !== undefined && args['sortKey'] !== 'CREATED_AT' && args['sortKey'] !== 'ID') throw notImplemented(info, `Sort key ${String(args['sortKey'])}`);
      const topics = Array.isArray(args['topics']) ? new Set(args['topics'] as string[]) : undefined;
      const uri = typeof args['uri'] === 'string' ? args['uri'] : typeof args['callbackUrl'] === 'string' ? args['callbackUrl'] : undefined;
      const format = typeof args['format'] === 'string' ? args['format'] : undefined;
      // Creation order is id order here: both sort keys list them the same way.
      const matching = store
        .list()
        .filter((record) => (!topics || topics.has(record.topic)) && (uri === undefined || record.uri === uri) && (format === undefined || record.format === format));
      return page(matching, args);
    }),
    webhookSubscription: new Resolve((args: Args) => {
      const record = typeof args['id'] === 'string' ? store.get(args['id']) : undefined;
      return record ? model(record) : null;
    }),
    webhookSubscriptionCreate: new Resolve((args: Args) => payload(store.create(String(args['topic']), readInput(args)))),
    webhookSubscriptionUpdate: new Resolve((args: Args) => payload(store.update(String(args['id']), readInput(args)))),
    webhookSubscriptionDelete: new Resolve((args: Args) => {
      const result = store.delete(String(args['id']));
      return { deletedWebhookSubscriptionId: result.deletedId ?? null, userErrors: result.userErrors };
    }),
  };
}
