// The SKU catalogue in Redis, packed into the compact layout's bucket hashes (docs/catalog.md,
// "Keys and packed format"; docs/decisions.md, "Compact layout"): a SKU's entry is the field
// SKU of its `catalog` bucket (`<prefix>:catalog-bucket:{p<N>}:<bucket>`, in its SKU's
// partition, invariant I7), its value the entry packed by ./packed.ts. The catalog buckets
// are the index: listing the catalogue reads the 16,384 buckets' fields. Channel items map
// to SKUs through the `item` buckets, bucketed by the item's own field name.
import { type BundleComponent, bundlesByComponent, formatComponents, parseComponents } from '../domain/bundles.ts';
import { LAYOUT_BUCKETS, layoutBucket } from '../domain/layout.ts';
import { type ChannelPolicy, resolvePolicy } from '../domain/sellable.ts';
import { assertSku } from '../domain/validate.ts';
import { StockguardError } from '../errors.ts';
import type { RedisClient } from '../redis/client.ts';
import { KeySpace } from '../redis/keys.ts';
import { luaScripts } from '../redis/scripts.ts';
import { type KeyCommand, sendEach } from '../redis/topology.ts';
import { type CatalogEntry, type CatalogRecord, entryToRecord, rowToEntry, type SalesChannel } from './entry.ts';
import { itemField, packRecord, unpackRecord } from './packed.ts';
import { checkRow } from './row.ts';

export interface CatalogOptions {
  /** The daemon's ioredis client (one server or Cluster). */
  redis: RedisClient;
  keyPrefix: string;
}

export type PutOutcome = 'created' | 'updated' | 'unchanged';

/** How many bucket keys one listing round sends (one pipeline on one server; one command each on Cluster). */
const LIST_BATCH = 1024;

export class Catalog {
  readonly keys: KeySpace;
  private readonly redis: RedisClient;

  constructor(options: CatalogOptions) {
    this.redis = options.redis;
    this.keys = new KeySpace(options.keyPrefix);
  }

  /** The SKU's entry, or undefined when the catalogue does not have it. */
  async get(sku: string): Promise<CatalogEntry | undefined> {
    assertSku(sku);
    const packed = await this.redis.hget(this.keys.skuBucket('catalog', sku), sku);
    return packed === null ? undefined : checkedEntry(sku, packed);
  }

  /**
   * Creates or replaces the SKU's entry after checking it with the file rules. Writes
   * nothing when the stored entry is the same. The entry is written before its channel
   * items, so an item never maps to a SKU the catalogue does not have for long: a crash in
   * between leaves an entry whose items a re-put maps.
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
    const current = channelItemRefs(record);
    const [taken] = await this.takenItems(entry, options.releasedBy);
    if (taken) {
      throw new StockguardError(
        'STOCKGUARD_E_BAD_ARGUMENT',
        `catalogue entry of SKU ${JSON.stringify(entry.sku)}: ${taken.channel} item ${JSON.stringify(taken.item)} is already mapped to SKU ${JSON.stringify(taken.owner)}; a channel item maps to one SKU — remove it from ${JSON.stringify(taken.owner)} first (or import both rows in one file)`,
        { details: { sku: entry.sku, channel: taken.channel, item: taken.item, mappedTo: taken.owner } },
      );
    }
    await this.checkBundleRules(entry);
    const bucket = this.keys.skuBucket('catalog', entry.sku);
    const stored = await this.redis.hget(bucket, entry.sku);
    const packed = packRecord(entry.sku, record);
    // packRecord writes the columns in one order, so equal entries pack to equal strings.
    const outcome: PutOutcome = stored === null ? 'created' : stored === packed ? 'unchanged' : 'updated';
    if (outcome !== 'unchanged') await this.redis.hset(bucket, entry.sku, packed);
    // The bundle table follows the entry (written after it, healed by a re-put).
    if (entry.components) await this.redis.hset(this.keys.catalogBundles(), entry.sku, formatComponents(entry.components));
    else await this.redis.hdel(this.keys.catalogBundles(), entry.sku);
    const previous = stored === null ? [] : channelItemRefs(unpackRecord(entry.sku, stored));
    // An item this entry gave up keeps its mapping when another SKU has taken it over.
    for (const ref of previous.filter((candidate) => !current.includes(candidate))) {
      await this.releaseItem(ref, entry.sku);
    }
    // Always, so that an entry whose item writes were lost (crash after the entry) heals.
    for (const ref of current) {
      const field = itemField(ref)!;
      await this.redis.hset(this.itemBucket(field), field, entry.sku);
    }
    return outcome;
  }

  /**
   * The entry's channel items that another SKU's stored entry maps. One channel item maps
   * to one SKU: webhooks and notifications name the item, and the SKU they reach must not
   * depend on which entry was written last. `releasedBy` names SKUs that give their items
   * up in the same import (an item moved between SKUs); a stale item-bucket field whose
   * owner no longer maps the item does not count.
   */
  async takenItems(entry: CatalogEntry, releasedBy?: ReadonlySet<string>): Promise<TakenItem[]> {
    const taken: TakenItem[] = [];
    for (const ref of channelItemRefs(entryToRecord(entry))) {
      const field = itemField(ref)!;
      const owner = await this.redis.hget(this.itemBucket(field), field);
      if (owner === null || owner === entry.sku || releasedBy?.has(owner)) continue;
      const ownerPacked = await this.redis.hget(this.keys.skuBucket('catalog', owner), owner);
      if (ownerPacked === null || !channelItemRefs(unpackRecord(owner, ownerPacked)).includes(ref)) continue;
      const [kind, ...item] = ref.split(':') as [ChannelItemKind, ...string[]];
      const { channel, column } = CHANNEL_ITEM_KINDS[kind];
      taken.push({ channel, column, item: item.join(':'), owner });
    }
    return taken;
  }

  /**
   * Deletes the SKU's entry; true when the catalogue had it. Its channel items are released
   * first, so a crash in between leaves an entry without its item mappings (the next call
   * removes it) rather than items mapping to a SKU the catalogue no longer has. The ledger
   * is left alone.
   */
  async remove(sku: string): Promise<boolean> {
    assertSku(sku);
    const users = await this.usersOf(sku);
    if (users.length > 0) {
      throw new StockguardError('STOCKGUARD_E_BAD_ARGUMENT', `SKU ${JSON.stringify(sku)} is a component of bundle${users.length > 1 ? 's' : ''} ${users.map((bundle) => JSON.stringify(bundle)).join(', ')}; remove it from ${users.length > 1 ? 'those bundles' : 'that bundle'} first`, {
        details: { sku, bundles: users },
      });
    }
    await this.redis.hdel(this.keys.catalogBundles(), sku);
    const bucket = this.keys.skuBucket('catalog', sku);
    const stored = await this.redis.hget(bucket, sku);
    for (const ref of stored === null ? [] : channelItemRefs(unpackRecord(sku, stored))) {
      await this.releaseItem(ref, sku);
    }
    return (await this.redis.hdel(bucket, sku)) > 0;
  }

  /**
   * Our SKU for a channel's own item id: a Shopify inventory item gid, or an Amazon seller
   * SKU. Webhooks and notifications name items this way; undefined when nothing maps to it.
   */
  async skuForChannelItem(channel: SalesChannel, channelItemId: string): Promise<string | undefined> {
    const field = itemField(channelItemRef(channel, channelItemId));
    if (field === undefined) return undefined;
    return (await this.redis.hget(this.itemBucket(field), field)) ?? undefined;
  }

  /**
   * Drops the item-bucket field only while `sku` still owns it, in one step: two imports
   * swapping an item between SKUs at once must not delete the mapping the other just wrote.
   * Compare-and-delete (src/lua/releaseChannelItem.lua) on the item's bucket: one key, in the
   * item's partition (not necessarily the SKU's).
   */
  private async releaseItem(ref: string, sku: string): Promise<void> {
    const field = itemField(ref);
    if (field === undefined) return;
    await luaScripts().releaseChannelItem.run(this.redis, [this.itemBucket(field)], [field, sku]);
  }

  /** The `item` bucket holding a channel item's field (bucketed by the field name, not by a SKU). */
  private itemBucket(field: string): string {
    return this.keys.bucketKey('item', layoutBucket(field));
  }

  /**
   * Our SKUs for channel item references (`channelItemRef`), one answer per reference, in
   * one round trip (one pipeline; one command per reference on Cluster): undefined where
   * nothing in the catalogue maps it.
   */
  async resolveRefs(refs: readonly string[]): Promise<(string | undefined)[]> {
    if (refs.length === 0) return [];
    const fields = refs.map(itemField);
    const commands: KeyCommand[] = fields.flatMap((field) => (field === undefined ? [] : [['HGET', this.itemBucket(field), field] as const]));
    const replies = (await sendEach(this.redis, commands)).map(([error, reply]) => {
      if (error) throw error;
      return reply === null ? undefined : String(reply);
    });
    let next = 0;
    return fields.map((field) => (field === undefined ? undefined : replies[next++]));
  }

  /** Which of `skus` the catalogue has, one answer per SKU, in one round trip. */
  async has(skus: readonly string[]): Promise<boolean[]> {
    skus.forEach(assertSku);
    const replies = await sendEach(this.redis, skus.map((sku) => ['HEXISTS', this.keys.skuBucket('catalog', sku), sku] as const));
    return replies.map(([error, reply]) => {
      if (error) throw error;
      return Number(reply) === 1;
    });
  }

  /**
   * The components of each SKU that is a bundle, one answer per SKU in one round trip:
   * undefined for a SKU that is not a bundle (the consumers and the checkout holds expand
   * sales of bundles with it).
   */
  async bundleComponents(skus: readonly string[]): Promise<(BundleComponent[] | undefined)[]> {
    if (skus.length === 0) return [];
    const stored = await this.redis.hmget(this.keys.catalogBundles(), ...skus);
    return stored.map((value, index) => (value === null ? undefined : storedComponents(skus[index]!, value)));
  }

  /** Every bundle with its components (the pushers map component changes to bundles with it). */
  async bundles(): Promise<Map<string, BundleComponent[]>> {
    const stored = await this.redis.hgetall(this.keys.catalogBundles());
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
    const listed = await this.has(skus);
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

  /**
   * Every SKU in the catalogue, sorted: the fields of the 16,384 catalog buckets, HKEYS
   * on LIST_BATCH buckets per round trip (~60 fields each at 10^6 SKUs, always listpacks).
   */
  async list(): Promise<string[]> {
    const skus: string[] = [];
    await this.eachBucketBatch('HKEYS', (reply) => {
      for (const field of reply as Buffer[]) skus.push(field.toString());
    });
    return skus.sort();
  }

  /** How many SKUs the catalogue holds: the sum of the catalog buckets' HLEN. */
  async count(): Promise<number> {
    let total = 0;
    await this.eachBucketBatch('HLEN', (reply) => (total += Number(reply)));
    return total;
  }

  private async eachBucketBatch(command: 'HKEYS' | 'HLEN', take: (reply: unknown) => void): Promise<void> {
    for (let start = 0; start < LAYOUT_BUCKETS; start += LIST_BATCH) {
      const commands = Array.from({ length: Math.min(LIST_BATCH, LAYOUT_BUCKETS - start) }, (_, index) => [command, this.keys.bucketKey('catalog', start + index)] as const);
      for (const [error, reply] of await sendEach(this.redis, commands)) {
        if (error) throw error;
        take(reply);
      }
    }
  }

  /** The full policy for the channel: the entry's overrides over DEFAULT_POLICY. */
  policyFor(entry: CatalogEntry, channel: SalesChannel): ChannelPolicy {
    return resolvePolicy(entry.policies[channel]);
  }
}

/**
 * The entry a packed value holds, checked like a file row, so a bucket field edited by hand
 * cannot hand the pushers nonsense.
 */
function checkedEntry(sku: string, packed: string): CatalogEntry {
  const checked = checkRow({ row: 1, values: unpackRecord(sku, packed) });
  if (!checked.ok) {
    const problems = checked.errors.map((error) => `field ${error.field}: ${error.problem}`);
    throw new StockguardError('STOCKGUARD_E_CATALOG_ROW', `the stored entry of SKU ${JSON.stringify(sku)} is invalid: ${problems.join('; ')}`, {
      details: { sku, errors: checked.errors },
    });
  }
  return rowToEntry(checked.row);
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

/** The channel item references of an entry, one per channel identifier it maps. */
function channelItemRefs(record: Partial<Record<keyof CatalogRecord, unknown>>): string[] {
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
