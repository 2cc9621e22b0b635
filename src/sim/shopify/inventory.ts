// The fake shop's inventory: locations, inventory items and one level per (item, location),
// with Shopify's quantity states, plus the 2026-10 rules of the two inventory mutations.
// Pure state and rules, no GraphQL and no HTTP: resolvers.ts maps GraphQL onto this.
//
// State model (shopify-notes.md §1.7): on_hand = available + committed + reserved + damaged
// + safety_stock + quality_control; `incoming` is not on hand. on_hand is always derived,
// never stored, so the equation cannot drift.
import { parseGid, requireGid } from './ids.ts';

export type StateName = 'available' | 'committed' | 'reserved' | 'damaged' | 'safety_stock' | 'quality_control' | 'incoming';
export type QuantityName = StateName | 'on_hand';

export const ON_HAND_STATES: readonly StateName[] = ['available', 'committed', 'reserved', 'damaged', 'safety_stock', 'quality_control'];
const STATE_NAMES: readonly StateName[] = [...ON_HAND_STATES, 'incoming'];
export const QUANTITY_NAMES: readonly QuantityName[] = [...STATE_NAMES, 'on_hand'];

/** Names inventorySetQuantities accepts (InventorySetQuantitiesInput.name description). */
const SETTABLE_NAMES: readonly QuantityName[] = ['available', 'on_hand'];
/** Names inventoryAdjustQuantities accepts here: the states an app may move. `committed` moves with orders only. */
const ADJUSTABLE_NAMES: readonly StateName[] = ['available', 'incoming', 'reserved', 'damaged', 'safety_stock', 'quality_control'];

/**
 * Reasons accepted. The first eight are confirmed (shopify-notes.md §1.6); the movement,
 * reservation, safety_stock and quality_control ones are on Shopify's quantities-states
 * guide as the notes expect but UNCONFIRMED there.
 */
export const INVENTORY_REASONS: ReadonlySet<string> = new Set([
  'correction', 'cycle_count_available', 'damaged', 'other', 'promotion', 'received', 'restock', 'shrinkage',
  'movement_created', 'movement_updated', 'movement_received', 'movement_canceled',
  'reservation_created', 'reservation_updated', 'reservation_deleted', 'safety_stock', 'quality_control',
]);

const SET_LIMIT = 1_000_000_000; // InventorySetQuantitiesUserErrorCode INVALID_QUANTITY_TOO_HIGH / _LOW
const ADJUST_LIMIT = 2_000_000_000; // InventoryAdjustQuantitiesUserErrorCode INVALID_QUANTITY_TOO_HIGH / _LOW

export interface LocationRecord {
  readonly id: string;
  readonly numericId: bigint;
  name: string;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
  deactivatedAt: string | null;
  readonly createdAt: string;
  updatedAt: string;
  /** Insertion order; the first location is the shop's primary one. */
  readonly position: number;
}

export interface ItemRecord {
  readonly id: string;
  readonly numericId: bigint;
  readonly sku: string | null;
  readonly title: string;
  readonly variantId: bigint;
  readonly productId: bigint;
  /** InventoryItem.tracked: false when Shopify does not count this variant's stock. */
  readonly tracked: boolean;
  readonly createdAt: string;
  updatedAt: string;
}

export interface LevelRecord {
  readonly itemId: string;
  readonly locationId: string;
  readonly states: Record<StateName, number>;
  readonly quantityUpdatedAt: Record<QuantityName, string>;
  readonly createdAt: string;
  updatedAt: string;
}

/** A copy of one level's quantities, on_hand included, for tests and the demo. */
export interface LevelSnapshot extends Record<QuantityName, number> {
  readonly itemId: string;
  readonly locationId: string;
}

export interface UserError {
  readonly field: readonly string[] | null;
  readonly message: string;
  readonly code: string;
}

export interface AppliedChange {
  readonly itemId: string;
  readonly locationId: string;
  readonly name: QuantityName;
  readonly delta: number;
  readonly quantityAfterChange: number;
  readonly ledgerDocumentUri: string | null;
}

export type WriteOutcome = { readonly ok: true; readonly changes: readonly AppliedChange[] } | { readonly ok: false; readonly userErrors: readonly UserError[] };

export interface SetQuantitiesRequest {
  readonly name: string;
  readonly reason: string;
  readonly referenceDocumentUri: string | null;
  readonly quantities: ReadonlyArray<{ inventoryItemId: string; locationId: string; quantity: number; changeFromQuantity: number | null }>;
}

export interface AdjustQuantitiesRequest {
  readonly name: string;
  readonly reason: string;
  readonly referenceDocumentUri: string | null;
  readonly changes: ReadonlyArray<{ inventoryItemId: string; locationId: string; delta: number; changeFromQuantity: number | null; ledgerDocumentUri: string | null }>;
}

export interface LocationInput {
  id: string;
  name: string;
  isActive?: boolean;
  fulfillsOnlineOrders?: boolean;
}

export interface ItemInput {
  id: string;
  sku?: string | null;
  title?: string;
  /** The item's variant (order lines name it): a gid or its number; assigned by the fake when left out. */
  variantId?: string | bigint;
  /** Whether Shopify tracks the item's quantity (InventoryItem.tracked); default true. */
  tracked?: boolean;
}

export type StockInput = { available: number } & Partial<Record<Exclude<StateName, 'available'>, number>>;

export function onHand(states: Readonly<Record<StateName, number>>): number {
  return ON_HAND_STATES.reduce((sum, name) => sum + states[name], 0);
}

export function quantityOf(level: LevelRecord, name: QuantityName): number {
  return name === 'on_hand' ? onHand(level.states) : level.states[name];
}

export function isQuantityName(name: string): name is QuantityName {
  return (QUANTITY_NAMES as readonly string[]).includes(name);
}

/** A URI with a scheme and content; a gid:// one needs app, entity and id (InventorySetQuantitiesInput.referenceDocumentUri). */
export function isValidDocumentUri(uri: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/.test(uri)) return false;
  return !uri.startsWith('gid:') || /^gid:\/\/[^/\s]+\/[^/\s]+\/[^/\s]+/.test(uri);
}

function levelKey(itemId: string, locationId: string): string {
  return `${itemId}|${locationId}`;
}

function zeroStates(): Record<StateName, number> {
  return { available: 0, committed: 0, reserved: 0, damaged: 0, safety_stock: 0, quality_control: 0, incoming: 0 };
}

export class InventoryStore {
  private readonly locationsById = new Map<string, LocationRecord>();
  private readonly itemsById = new Map<string, ItemRecord>();
  private readonly levelsByKey = new Map<string, LevelRecord>();
  private nextVariantId = 40_000_000_000_000_001n;

  constructor(private readonly clock: () => number) {}

  private now(): string {
    return new Date(this.clock()).toISOString();
  }

  addLocation(input: LocationInput): LocationRecord {
    const numericId = requireGid(input.id, 'Location');
    if (this.locationsById.has(input.id)) throw new Error(`location ${input.id} already exists`);
    const now = this.now();
    const isActive = input.isActive ?? true;
    const location: LocationRecord = {
      id: input.id,
      numericId,
      name: input.name,
      isActive,
      fulfillsOnlineOrders: input.fulfillsOnlineOrders ?? true,
      deactivatedAt: isActive ? null : now,
      createdAt: now,
      updatedAt: now,
      position: this.locationsById.size,
    };
    this.locationsById.set(location.id, location);
    return location;
  }

  updateLocation(id: string, patch: Partial<Omit<LocationInput, 'id'>>): LocationRecord {
    const location = this.locationsById.get(id);
    if (!location) throw new Error(`unknown location ${id}`);
    const now = this.now();
    if (patch.name !== undefined) location.name = patch.name;
    if (patch.fulfillsOnlineOrders !== undefined) location.fulfillsOnlineOrders = patch.fulfillsOnlineOrders;
    if (patch.isActive !== undefined && patch.isActive !== location.isActive) {
      location.isActive = patch.isActive;
      location.deactivatedAt = patch.isActive ? null : now;
    }
    location.updatedAt = now;
    return location;
  }

  addItem(input: ItemInput): ItemRecord {
    const numericId = requireGid(input.id, 'InventoryItem');
    if (this.itemsById.has(input.id)) throw new Error(`inventory item ${input.id} already exists`);
    const now = this.now();
    const variantId = input.variantId === undefined ? this.nextVariantId : typeof input.variantId === 'bigint' ? input.variantId : requireGid(String(input.variantId).startsWith('gid://') ? input.variantId : `gid://shopify/ProductVariant/${input.variantId}`, 'ProductVariant');
    if (input.variantId === undefined) this.nextVariantId += 2n;
    const item: ItemRecord = {
      id: input.id,
      numericId,
      sku: input.sku ?? null,
      title: input.title ?? input.sku ?? `Item ${numericId}`,
      variantId,
      productId: variantId + 1n,
      tracked: input.tracked ?? true,
      createdAt: now,
      updatedAt: now,
    };
    this.itemsById.set(item.id, item);
    return item;
  }

  /** Sets a level's states directly (seeding); creates the item when unknown, and the level. */
  stock(itemId: string, locationId: string, quantities: StockInput): LevelRecord {
    if (!this.locationsById.has(locationId)) throw new Error(`unknown location ${locationId}: addLocation() it first`);
    if (!this.itemsById.has(itemId)) this.addItem({ id: itemId });
    for (const [name, value] of Object.entries(quantities)) {
      if (!Number.isSafeInteger(value)) throw new Error(`stock(): ${name} must be an integer, got ${value}`);
    }
    const level = this.ensureLevel(itemId, locationId);
    const now = this.now();
    for (const name of STATE_NAMES) {
      const value = quantities[name];
      if (value === undefined) continue;
      level.states[name] = value;
      level.quantityUpdatedAt[name] = now;
    }
    level.quantityUpdatedAt.on_hand = now;
    level.updatedAt = now;
    return level;
  }

  location(id: string): LocationRecord | undefined {
    return this.locationsById.get(id);
  }

  locations(): LocationRecord[] {
    return [...this.locationsById.values()];
  }

  primaryLocation(): LocationRecord | undefined {
    return this.locations()[0];
  }

  item(id: string): ItemRecord | undefined {
    return this.itemsById.get(id);
  }

  items(): ItemRecord[] {
    return [...this.itemsById.values()];
  }

  level(itemId: string, locationId: string): LevelRecord | undefined {
    return this.levelsByKey.get(levelKey(itemId, locationId));
  }

  levels(): LevelRecord[] {
    return [...this.levelsByKey.values()];
  }

  snapshot(level: LevelRecord): LevelSnapshot {
    return { itemId: level.itemId, locationId: level.locationId, ...level.states, on_hand: onHand(level.states) };
  }

  /** A storefront checkout: available -= qty, committed += qty (shopify-notes.md §1.7, order lifecycle). */
  commitForOrder(itemId: string, locationId: string, quantity: number, options: { oversell?: boolean } = {}): LevelRecord {
    if (!Number.isSafeInteger(quantity) || quantity <= 0) throw new Error(`quantity must be a positive integer, got ${quantity}`);
    const location = this.locationsById.get(locationId);
    if (!location) throw new Error(`unknown location ${locationId}`);
    // Only active locations that fulfil online orders sell online (shopify-notes.md §2).
    if (!location.isActive || !location.fulfillsOnlineOrders) {
      throw new Error(`location ${locationId} is ${location.isActive ? 'not fulfilling online orders' : 'inactive'}: the storefront cannot sell from it`);
    }
    const level = this.level(itemId, locationId);
    if (!level) throw new Error(`${itemId} is not stocked at ${locationId}`);
    if (level.states.available < quantity && !options.oversell) {
      throw new Error(`only ${level.states.available} available of ${itemId} at ${locationId}, cannot sell ${quantity} (pass oversell: true to sell anyway)`);
    }
    this.moveStates(level, [['available', -quantity], ['committed', quantity]]);
    return level;
  }

  /** An order cancelled with restock: committed -= qty, available += qty. */
  releaseForCancel(itemId: string, locationId: string, quantity: number): LevelRecord {
    const level = this.level(itemId, locationId);
    if (!level) throw new Error(`${itemId} is not stocked at ${locationId}`);
    this.moveStates(level, [['committed', -quantity], ['available', quantity]]);
    return level;
  }

  setQuantities(request: SetQuantitiesRequest): WriteOutcome {
    const errors: UserError[] = [];
    const nameValid = (SETTABLE_NAMES as readonly string[]).includes(request.name);
    if (!nameValid) errors.push({ field: ['input', 'name'], message: "The quantity name must be either 'available' or 'on_hand'.", code: 'INVALID_NAME' });
    this.checkReasonAndReference(request, errors);
    const seen = new Set<string>();
    request.quantities.forEach((entry, index) => {
      const path = ['input', 'quantities', String(index)];
      const known = this.checkItemAndLocation(entry, path, errors);
      const key = levelKey(entry.inventoryItemId, entry.locationId);
      if (seen.has(key)) {
        errors.push({ field: path, message: 'The combination of inventoryItemId and locationId must be unique.', code: 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR' });
      }
      seen.add(key);
      if (!known || !nameValid) return;
      const level = this.level(entry.inventoryItemId, entry.locationId);
      const states = level ? level.states : zeroStates();
      const current = request.name === 'on_hand' ? onHand(states) : states.available;
      if (entry.changeFromQuantity !== null && entry.changeFromQuantity !== current) {
        errors.push({ field: [...path, 'changeFromQuantity'], message: 'The changeFromQuantity value does not match persisted value.', code: 'CHANGE_FROM_QUANTITY_STALE' });
      }
      if (request.name === 'on_hand' && entry.quantity < 0) {
        errors.push({ field: [...path, 'quantity'], message: "The quantity can't be negative.", code: 'INVALID_QUANTITY_NEGATIVE' });
      }
      const delta = entry.quantity - current;
      const totals = [states.available + delta, onHand(states) + delta];
      if (Math.max(...totals) > SET_LIMIT) {
        errors.push({ field: [...path, 'quantity'], message: "The total quantity can't be higher than 1,000,000,000.", code: 'INVALID_QUANTITY_TOO_HIGH' });
      } else if (Math.min(...totals) < -SET_LIMIT) {
        errors.push({ field: [...path, 'quantity'], message: "The total quantity can't be lower than -1,000,000,000.", code: 'INVALID_QUANTITY_TOO_LOW' });
      }
    });
    if (errors.length > 0) return { ok: false, userErrors: errors };

    // All-or-nothing: nothing is written until every entry has passed (shopify-notes.md §1.2).
    const changes: AppliedChange[] = [];
    for (const entry of request.quantities) {
      // From 2026-10 an item can be set at any location: the level is created on first write
      // (changelog `removal-of-itemnotstockedatlocation-error`; the 2026-10 error enums no
      // longer have ITEM_NOT_STOCKED_AT_LOCATION).
      const level = this.ensureLevel(entry.inventoryItemId, entry.locationId);
      const current = request.name === 'on_hand' ? onHand(level.states) : level.states.available;
      const delta = entry.quantity - current;
      // available and on_hand move together: the other states stay where they are.
      this.moveStates(level, [['available', delta]]);
      const first: QuantityName = request.name === 'on_hand' ? 'on_hand' : 'available';
      const second: QuantityName = first === 'on_hand' ? 'available' : 'on_hand';
      for (const name of [first, second]) {
        changes.push({ itemId: level.itemId, locationId: level.locationId, name, delta, quantityAfterChange: quantityOf(level, name), ledgerDocumentUri: null });
      }
    }
    return { ok: true, changes };
  }

  adjustQuantities(request: AdjustQuantitiesRequest): WriteOutcome {
    const errors: UserError[] = [];
    const name = (ADJUSTABLE_NAMES as readonly string[]).includes(request.name) ? (request.name as StateName) : undefined;
    if (!name) errors.push({ field: ['input', 'name'], message: 'The specified quantity name is invalid.', code: 'INVALID_QUANTITY_NAME' });
    this.checkReasonAndReference(request, errors);
    const ledgerDocuments = new Set<string>();
    // Changes to one pair apply in order, each CAS against the value the previous one left.
    const working = new Map<string, number>();
    request.changes.forEach((entry, index) => {
      const path = ['input', 'changes', String(index)];
      const known = this.checkItemAndLocation(entry, path, errors);
      if (name === 'available') {
        if (entry.ledgerDocumentUri !== null) {
          errors.push({ field: [...path, 'ledgerDocumentUri'], message: 'A ledger document URI is not allowed when adjusting available.', code: 'INVALID_AVAILABLE_DOCUMENT' });
        }
      } else if (name) {
        const document = entry.ledgerDocumentUri;
        if (document === null) {
          errors.push({ field: [...path, 'ledgerDocumentUri'], message: 'A ledger document URI is required except when adjusting available.', code: 'INVALID_QUANTITY_DOCUMENT' });
        } else if (document.startsWith('gid://shopify/')) {
          errors.push({ field: [...path, 'ledgerDocumentUri'], message: 'Internal (gid://shopify/) ledger documents are not allowed to be adjusted via API.', code: 'INTERNAL_LEDGER_DOCUMENT' });
        } else if (!isValidDocumentUri(document)) {
          errors.push({ field: [...path, 'ledgerDocumentUri'], message: 'The specified ledger document is invalid.', code: 'INVALID_LEDGER_DOCUMENT' });
        } else {
          ledgerDocuments.add(document);
        }
      }
      if (!known || !name) return;
      const key = levelKey(entry.inventoryItemId, entry.locationId);
      const level = this.level(entry.inventoryItemId, entry.locationId);
      const current = working.get(key) ?? (level ? level.states[name] : 0);
      if (entry.changeFromQuantity !== null && entry.changeFromQuantity !== current) {
        errors.push({ field: [...path, 'changeFromQuantity'], message: 'The changeFromQuantity argument no longer matches the persisted quantity.', code: 'CHANGE_FROM_QUANTITY_STALE' });
      }
      const after = current + entry.delta;
      if (after > ADJUST_LIMIT) errors.push({ field: [...path, 'delta'], message: "The quantity can't be higher than 2,000,000,000.", code: 'INVALID_QUANTITY_TOO_HIGH' });
      if (after < -ADJUST_LIMIT) errors.push({ field: [...path, 'delta'], message: "The quantity can't be lower than -2,000,000,000.", code: 'INVALID_QUANTITY_TOO_LOW' });
      working.set(key, after);
    });
    if (ledgerDocuments.size > 1) {
      errors.push({ field: ['input', 'changes'], message: 'All changes must have the same ledger document URI or, in the case of adjusting available, no ledger document URI.', code: 'MAX_ONE_LEDGER_DOCUMENT' });
    }
    if (errors.length > 0 || !name) return { ok: false, userErrors: errors };

    const changes: AppliedChange[] = [];
    for (const entry of request.changes) {
      const level = this.ensureLevel(entry.inventoryItemId, entry.locationId);
      this.moveStates(level, [[name, entry.delta]]);
      const ledgerDocumentUri = entry.ledgerDocumentUri;
      changes.push({ itemId: level.itemId, locationId: level.locationId, name, delta: entry.delta, quantityAfterChange: level.states[name], ledgerDocumentUri });
      if (ON_HAND_STATES.includes(name)) {
        changes.push({ itemId: level.itemId, locationId: level.locationId, name: 'on_hand', delta: entry.delta, quantityAfterChange: onHand(level.states), ledgerDocumentUri });
      }
    }
    return { ok: true, changes };
  }

  private checkReasonAndReference(request: { reason: string; referenceDocumentUri: string | null }, errors: UserError[]): void {
    if (!INVENTORY_REASONS.has(request.reason)) {
      errors.push({ field: ['input', 'reason'], message: 'The specified reason is invalid.', code: 'INVALID_REASON' });
    }
    if (request.referenceDocumentUri !== null && !isValidDocumentUri(request.referenceDocumentUri)) {
      errors.push({ field: ['input', 'referenceDocumentUri'], message: 'The specified reference document is invalid.', code: 'INVALID_REFERENCE_DOCUMENT' });
    }
  }

  private checkItemAndLocation(entry: { inventoryItemId: string; locationId: string }, path: readonly string[], errors: UserError[]): boolean {
    let known = true;
    if (parseGid(entry.inventoryItemId, 'InventoryItem') === undefined || !this.itemsById.has(entry.inventoryItemId)) {
      errors.push({ field: [...path, 'inventoryItemId'], message: 'The specified inventory item could not be found.', code: 'INVALID_INVENTORY_ITEM' });
      known = false;
    }
    if (parseGid(entry.locationId, 'Location') === undefined || !this.locationsById.has(entry.locationId)) {
      errors.push({ field: [...path, 'locationId'], message: 'The specified location could not be found.', code: 'INVALID_LOCATION' });
      known = false;
    }
    return known;
  }

  private ensureLevel(itemId: string, locationId: string): LevelRecord {
    const key = levelKey(itemId, locationId);
    const existing = this.levelsByKey.get(key);
    if (existing) return existing;
    const now = this.now();
    const updatedAt = Object.fromEntries(QUANTITY_NAMES.map((name) => [name, now])) as Record<QuantityName, string>;
    const level: LevelRecord = { itemId, locationId, states: zeroStates(), quantityUpdatedAt: updatedAt, createdAt: now, updatedAt: now };
    this.levelsByKey.set(key, level);
    return level;
  }

  private moveStates(level: LevelRecord, moves: ReadonlyArray<readonly [StateName, number]>): void {
    const now = this.now();
    for (const [name, delta] of moves) {
      level.states[name] += delta;
      level.quantityUpdatedAt[name] = now;
      if (ON_HAND_STATES.includes(name)) level.quantityUpdatedAt.on_hand = now;
    }
    level.updatedAt = now;
    const item = this.itemsById.get(level.itemId);
    if (item) item.updatedAt = now;
  }
}

