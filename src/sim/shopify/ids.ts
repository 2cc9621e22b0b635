// Shopify global IDs (GIDs). Numeric ids are kept as bigint end to end: Shopify's ids can
// exceed Number.MAX_SAFE_INTEGER (its own webhook sample uses inventory_item_id
// 271878346596884015), and the fake must never round them.

export type GidType = 'InventoryItem' | 'Location' | 'Order' | 'LineItem' | 'ProductVariant' | 'Product' | 'InventoryAdjustmentGroup';

const GID_PATTERN = /^gid:\/\/shopify\/([A-Za-z]+)\/(\d{1,20})$/;
const UINT64_MAX = 2n ** 64n - 1n;

export function gid(type: GidType, id: bigint): string {
  return `gid://shopify/${type}/${id}`;
}

/** The numeric id of a `gid://shopify/<type>/<n>`, or undefined when `value` is not one. */
export function parseGid(value: string, type: GidType): bigint | undefined {
  const match = GID_PATTERN.exec(value);
  if (!match || match[1] !== type || match[2] === undefined) return undefined;
  const id = BigInt(match[2]);
  // Canonical digits only, so one id has exactly one GID string.
  return id > 0n && id <= UINT64_MAX && id.toString() === match[2] ? id : undefined;
}

/** Like parseGid, for the control API: throws with the expected shape instead. */
export function requireGid(value: string, type: GidType): bigint {
  const id = parseGid(value, type);
  if (id === undefined) throw new Error(`expected a gid://shopify/${type}/<number>, got ${JSON.stringify(value)}`);
  return id;
}

/** InventoryLevel ids are composite: gid://shopify/InventoryLevel/<location>?inventory_item_id=<item>. */
export function inventoryLevelGid(locationId: bigint, itemId: bigint): string {
  return `gid://shopify/InventoryLevel/${locationId}?inventory_item_id=${itemId}`;
}

const LEVEL_PATTERN = /^gid:\/\/shopify\/InventoryLevel\/(\d{1,20})\?inventory_item_id=(\d{1,20})$/;

export function parseInventoryLevelGid(value: string): { locationId: bigint; itemId: bigint } | undefined {
  const match = LEVEL_PATTERN.exec(value);
  if (!match || match[1] === undefined || match[2] === undefined) return undefined;
  return { locationId: BigInt(match[1]), itemId: BigInt(match[2]) };
}
