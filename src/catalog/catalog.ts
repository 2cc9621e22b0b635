// The SKU catalogue in Redis, through redis-om (HASH entities; the Redis we target has no
// RediSearch or RedisJSON, so only save / fetch / remove are used, never search).
// Each entry lives at `<prefix>:catalog:{p<N>}:<SKU>`, in its SKU's Cluster slot (invariant I7);
// a set at `<prefix>:catalog-index` lists every SKU, because without RediSearch nothing
// else can enumerate the entries short of a SCAN over the whole keyspace.
import { type RedisConnection, Repository, Schema, type SchemaDefinition } from 'redis-om';
import { type BundleComponent, bundlesByComponent, formatComponents, parseComponents } from '../domain/bundles.ts';
import { type ChannelPolicy, resolvePolicy } from '../domain/sellable.ts';
import { assertSku } from '../domain/validate.ts';
import { StockguardError } from '../errors.ts';
import { KeySpace } from '../redis/keys.ts';
import { luaScripts } from '../redis/scripts.ts';
import { nodeRedisEval } from '../redis/topology.ts';
import { type CatalogEntry, type CatalogRecord, entryToRecord, rowToEntry, type SalesChannel } from './entry.ts';
import { checkRow } from './row.ts';

export interface CatalogOptions {
  /** A connected node-redis client (`createClient`) or Cluster (`createCluster`). */
  redis: RedisConnection;
  keyPrefix: string;
}

export type PutOutcome = 'created' | 'updated' | 'unchanged';

// indexed: false because nothing creates a RediSearch index over these hashes.
const text = { type: 'string', indexed: false } as const;
const whole = { type: 'number', indexed: false } as const;
const RECORD_FIELDS: SchemaDefinition<CatalogRecord> = {
  sku: text,
  holdback: whole,
  skuClass: text,
  allocationMode: text,
  shopifyInventoryItemId: text,
  shopifyLocationId: text,
  shopifyVariantId: text,
  shopifySku: text,
  amazonSellerSku: text,
  amazonMarketplaceId: text,
  amazonProductType: text,
  amazonFulfillment: text,
  shopifyPercent: whole,
  shopifyMaxShown: whole,
  shopifySafety: whole,
  shopifyFloor: whole,
  amazonPercent: whole,
  amazonMaxShown: whole,
  amazonSafety: whole,
  amazonFloor: whole,
  components: text,
};


export class Catalog {
  readonly keys: KeySpace;
  private readonly redis: RedisConnection;
  private readonly repository: Repository<CatalogRecord>;

  constructor(options: CatalogOptions) {
    this.redis = options.redis;
    this.keys = new KeySpace(options.keyPrefix);
    const schema = new Schema<CatalogRecord>(this.keys.catalogEntryPrefix(), RECORD_FIELDS, { dataStructure: 'HASH' });
    this.repository = new Repository(schema, options.redis);
  }

  /** The SKU's entry, or undefined when the catalogue does not have it. */
  async get(sku: string): Promise<CatalogEntry | undefined> {
    assertSku(sku);
    const stored = await this.repository.fetch(this.keys.catalogEntryId(sku));
    // redis-om answers a missing key with an entity that has no fields.
    if (stored.sku === undefined) return undefined;
    // Checked like a file row, so a hash edited by hand cannot hand the pushers nonsense.
    const checked = checkRow({ row: 1, values: { ...stored } });
    if (!checked.ok) {
      const problems = checked.errors.map((error) => `field ${error.field}: ${error.problem}`);
      throw new StockguardError('STOCKGUARD_E_CATALOG_ROW', `the stored entry of SKU ${JSON.stringify(sku)} is invalid: ${problems.join('; ')}`, {
        details: { sku, errors: checked.errors },
      });
    }
    return rowToEntry(checked.row);
  }

  /**
   * Creates or replaces the SKU's entry after checking it with the file rules. Writes
   * nothing when the stored entry is the same. The entry is written before the index, so
   * a SKU that list() returns always has an entry.
   */
  async put(entry: CatalogEntry, options: { releasedBy?: ReadonlySet<string> } = {}): Promise<PutOutcome> {
    const record = entryToRecord(entry);
    const checked = checkRow({ row: 1, values: record });
    if (!checked.ok) {
      const problems = checked.errors.map((error) => `${error.field ?? 'entry'}: ${error.problem}`);
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `catalogue entry of SKU ${JSON.stringify(entry.sku)}: ${problems.join('; ')}`, {
        details: { sku: entry.sku, errors: checked.errors },
      });
    }
    const current = channelItemFields(record);
    const [taken] = await this.takenItems(entry, options.releasedBy);
    if (taken) {
      throw new StockguardError(
        'STOCKGUARD_E_BAD_ARGUMENT',
        `catalogue entry of SKU ${JSON.stringify(entry.sku)}: ${taken.channel} item ${JSON.stringify(taken.item)} is already mapped to SKU ${JSON.stringify(taken.owner)}; a channel item maps to one SKU — remove it from ${JSON.stringify(taken.owner)} first (or import both rows in one file)`,
        { details: { sku: entry.sku, channel: taken.channel, item: taken.item, mappedTo: taken.owner } },
      );
    }
    await this.checkBundleRules(entry);
    const id = this.keys.catalogEntryId(entry.sku);
    const stored = await this.repository.fetch(id);
    const outcome: PutOutcome =
      stored.sku === undefined ? 'created' : sameRecord({ ...stored }, record) ? 'unchanged' : 'updated';
    // save() replaces the whole hash (UNLINK + HSET in one MULTI), so a field removed from
    // the entry is removed from Redis too.
    if (outcome !== 'unchanged') await this.repository.save(id, record);
    // The bundle table follows the entry (written after it, healed by a re-put like the index).
    if (entry.components) await this.redis.hSet(this.keys.catalogBundles(), entry.sku, formatComponents(entry.components));
    else await this.redis.hDel(this.keys.catalogBundles(), entry.sku);
    // Always, so that an entry whose index write was lost (crash between the two) heals.
    await this.redis.sAdd(this.keys.catalogIndex(), entry.sku);
    const previous = stored.sku === undefined ? [] : channelItemFields(stored as Partial<CatalogRecord>);
    // An item this entry gave up keeps its mapping when another SKU has taken it over.
    for (const field of previous.filter((candidate) => !current.includes(candidate))) {
      await this.releaseItem(field, entry.sku);
    }
    for (const field of current) await this.redis.hSet(this.keys.catalogChannelItems(), field, entry.sku);
    return outcome;
  }

  /**
   * The entry's channel items that another SKU's stored entry maps. One channel item maps
   * to one SKU: webhooks and notifications name the item, and the SKU they reach must not
   * depend on which entry was written last. `releasedBy` names SKUs that give their items
   * up in the same import (an item moved between SKUs); a stale reverse-index field whose
   * owner no longer maps the item does not count.
   */
  async takenItems(entry: CatalogEntry, releasedBy?: ReadonlySet<string>): Promise<TakenItem[]> {
    const taken: TakenItem[] = [];
    for (const field of channelItemFields(entryToRecord(entry))) {
      const owner = await this.redis.hGet(this.keys.catalogChannelItems(), field);
      if (owner === null || owner === undefined || owner === entry.sku || releasedBy?.has(owner)) continue;
      const ownerEntry = await this.repository.fetch(this.keys.catalogEntryId(owner));
      if (ownerEntry.sku === undefined || !channelItemFields(ownerEntry as Partial<CatalogRecord>).includes(field)) continue;
      const [kind, ...item] = field.split(':') as [ChannelItemKind, ...string[]];
      const { channel, column } = CHANNEL_ITEM_KINDS[kind];
      taken.push({ channel, column, item: item.join(':'), owner });
    }
    return taken;
  }

  /**
   * Deletes the SKU's entry; true when the index listed it. The index goes first, so a
   * crash in between leaves an unlisted entry (harmless, and removed by the next call)
   * rather than a listed SKU without an entry. The ledger is left alone.
   */
  async remove(sku: string): Promise<boolean> {
    assertSku(sku);
    const users = await this.usersOf(sku);
    if (users.length > 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `SKU ${JSON.stringify(sku)} is a component of bundle${users.length > 1 ? 's' : ''} ${users.map((bundle) => JSON.stringify(bundle)).join(', ')}; remove it from ${users.length > 1 ? 'those bundles' : 'that bundle'} first`, {
        details: { sku, bundles: users },
      });
    }
    await this.redis.hDel(this.keys.catalogBundles(), sku);
    const removed = await this.redis.sRem(this.keys.catalogIndex(), sku);
    const stored = await this.repository.fetch(this.keys.catalogEntryId(sku));
    const fields = stored.sku === undefined ? [] : channelItemFields(stored as Partial<CatalogRecord>);
    for (const field of fields) {
      await this.releaseItem(field, sku);
    }
    await this.repository.remove(this.keys.catalogEntryId(sku));
    return removed > 0;
  }

  /**
   * Our SKU for a channel's own item id: a Shopify inventory item gid, or an Amazon seller
   * SKU. Webhooks and notifications name items this way; undefined when nothing maps to it.
   */
  async skuForChannelItem(channel: SalesChannel, channelItemId: string): Promise<string | undefined> {
    const sku = await this.redis.hGet(this.keys.catalogChannelItems(), `${channel}:${channelItemId}`);
    return sku ?? undefined;
  }

  /**
   * Drops the reverse-index field only while `sku` still owns it, in one step: two imports
   * swapping an item between SKUs at once must not delete the mapping the other just wrote.
   */
  private async releaseItem(field: string, sku: string): Promise<void> {
    // Compare-and-delete (src/lua/releaseChannelItem.lua). The catalogue's client is
    // node-redis (redis-om), which the ioredis runner does not drive: the source goes as
    // EVAL, routed by its key (nodeRedisEval says why).
    await nodeRedisEval(this.redis, luaScripts().releaseChannelItem.source, [this.keys.catalogChannelItems()], [field, sku]);
  }

  /**
   * Our SKUs for channel item references (`channelItemRef`), one answer per reference, in
   * one round trip: undefined where nothing in the catalogue maps it.
   */
  async resolveRefs(refs: readonly string[]): Promise<(string | undefined)[]> {
    if (refs.length === 0) return [];
    const skus = await this.redis.hmGet(this.keys.catalogChannelItems(), [...refs]);
    return skus.map((sku) => sku ?? undefined);
  }

  /**
   * The components of each SKU that is a bundle, one answer per SKU in one round trip:
   * undefined for a SKU that is not a bundle (the consumers and the checkout holds expand
   * sales of bundles with it).
   */
  async bundleComponents(skus: readonly string[]): Promise<(BundleComponent[] | undefined)[]> {
    if (skus.length === 0) return [];
    const stored = await this.redis.hmGet(this.keys.catalogBundles(), [...skus]);
    return stored.map((value, index) => (value === null || value === undefined ? undefined : storedComponents(skus[index]!, value)));
  }

  /** Every bundle with its components (the pushers map component changes to bundles with it). */
  async bundles(): Promise<Map<string, BundleComponent[]>> {
    const stored = await this.redis.hGetAll(this.keys.catalogBundles());
    return new Map(Object.entries(stored).map(([bundle, value]) => [bundle, storedComponents(bundle, value)]));
  }

  /**
   * A bundle's components must be catalogue SKUs that are not bundles themselves (bundles
   * inside bundles are not supported), and a SKU that is a component may not become a
   * bundle. Written components first, then the bundle (`catalog import` orders its rows so).
   */
  private async checkBundleRules(entry: CatalogEntry): Promise<void> {
    const fail = (problem: string, details: Record<string, unknown>) => {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `catalogue entry of SKU ${JSON.stringify(entry.sku)}: ${problem}`, { details: { sku: entry.sku, ...details } });
    };
    if (!entry.components) return;
    const skus = entry.components.map((component) => component.sku);
    const listed = await this.redis.smIsMember(this.keys.catalogIndex(), skus);
    const missing = skus.filter((_sku, index) => !listed[index]);
    if (missing.length > 0) fail(`component${missing.length > 1 ? 's' : ''} ${missing.map((sku) => JSON.stringify(sku)).join(', ')} not in the catalogue; import the component rows first (or in the same file)`, { missing });
    const bundled = await this.bundleComponents(skus);
    const nested = skus.filter((_sku, index) => bundled[index] !== undefined);
    if (nested.length > 0) fail(`component${nested.length > 1 ? 's' : ''} ${nested.map((sku) => JSON.stringify(sku)).join(', ')} ${nested.length > 1 ? 'are bundles' : 'is a bundle'}; bundles inside bundles are not supported: list the inner bundle's components instead`, { nested });
    const users = await this.usersOf(entry.sku);
    if (users.length > 0) fail(`it is a component of bundle${users.length > 1 ? 's' : ''} ${users.map((sku) => JSON.stringify(sku)).join(', ')}, so it cannot be a bundle itself (bundles inside bundles are not supported)`, { usedBy: users });
  }

  private async usersOf(sku: string): Promise<string[]> {
    return (bundlesByComponent(await this.bundles()).get(sku) ?? []).map(({ bundle }) => bundle);
  }

  /** Every SKU in the catalogue, sorted. */
  async list(): Promise<string[]> {
    const skus = await this.redis.sMembers(this.keys.catalogIndex());
    return skus.sort();
  }

  /** The full policy for the channel: the entry's overrides over DEFAULT_POLICY. */
  policyFor(entry: CatalogEntry, channel: SalesChannel): ChannelPolicy {
    return resolvePolicy(entry.policies[channel]);
  }
}

/** A channel item another SKU has (Catalog.takenItems); `column` is its catalogue-file column. */
export interface TakenItem {
  channel: SalesChannel;
  column: ChannelItemColumn;
  item: string;
  owner: string;
}

/**
 * The kinds of channel identifier the catalogue maps to a SKU, each with the catalogue
 * column that holds it. Their reverse-index field is `<kind>:<identifier>`.
 * - `shopify`: the inventory item gid (inventory level webhooks, the pushers);
 * - `shopify-variant`: the variant gid (order lines);
 * - `shopify-sku`: the variant's SKU text, only where the catalogue sets `shopifySku`;
 * - `amazon`: the seller SKU (orders and listings notifications).
 */
export const CHANNEL_ITEM_KINDS = {
  shopify: { channel: 'shopify', column: 'shopifyInventoryItemId' },
  'shopify-variant': { channel: 'shopify', column: 'shopifyVariantId' },
  'shopify-sku': { channel: 'shopify', column: 'shopifySku' },
  amazon: { channel: 'amazon', column: 'amazonSellerSku' },
} as const satisfies Record<string, { channel: SalesChannel; column: keyof CatalogRecord }>;
export type ChannelItemKind = keyof typeof CHANNEL_ITEM_KINDS;
export type ChannelItemColumn = (typeof CHANNEL_ITEM_KINDS)[ChannelItemKind]['column'];
export const CHANNEL_ITEM_COLUMNS: readonly ChannelItemColumn[] = Object.values(CHANNEL_ITEM_KINDS).map((kind) => kind.column);

/** The reverse-index field of one channel identifier: what an inbound event's line names. */
export function channelItemRef(kind: ChannelItemKind, identifier: string): string {
  return `${kind}:${identifier}`;
}

/** The reverse-index fields of an entry, one per channel identifier it maps. */
function channelItemFields(record: Partial<CatalogRecord>): string[] {
  const fields: string[] = [];
  for (const [kind, { column }] of Object.entries(CHANNEL_ITEM_KINDS) as [ChannelItemKind, (typeof CHANNEL_ITEM_KINDS)[ChannelItemKind]][]) {
    const value = record[column];
    if (typeof value === 'string' && value) fields.push(channelItemRef(kind, value));
  }
  return fields;
}


function storedComponents(bundle: string, value: string): BundleComponent[] {
  const parsed = parseComponents(value, bundle);
  if (!parsed.ok) throw new StockguardError('STOCKGUARD_E_CATALOG_ROW', `the stored components of bundle ${JSON.stringify(bundle)} are invalid: ${parsed.problem}; import its row again`, { details: { sku: bundle } });
  return parsed.components;
}

function sameRecord(stored: Record<string, unknown>, record: CatalogRecord): boolean {
  const wanted: Record<string, unknown> = { ...record };
  const keys = new Set([...Object.keys(stored), ...Object.keys(wanted)]);
  for (const key of keys) if (stored[key] !== wanted[key]) return false;
  return true;
}
