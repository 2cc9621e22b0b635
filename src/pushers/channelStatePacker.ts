// The migration packer of the channel state (step 3 → 4 of `stockguard migrate layout`,
// src/redis/migrate/toBuckets.ts): a SKU's layout-3 hashes `pushed:{p<N>}:<SKU>` (channel →
// JSON {quantity, atMs, version}), `chan:{p<N>}:<SKU>` (channel → JSON {at, q, e}) and
// `fba:{p<N>}:<SKU>` (marketplace → the same) become its packed channel state
// (src/domain/channelState.ts), its field of the `chan` bucket.
//
// A push is packed confirmed when the pushers' layout-3 `applied:<channel>` field (in the
// pushstate hash, which the migration reads and keeps) holds its atMs, so its apply lag is
// not counted again after the migration; the `applied:*` fields go in the same MULTI.
// What does not move: the observations' event ids (nothing read them).
import type { BucketPacker } from '../redis/migrate/toBuckets.ts';
import { type ChannelState, emptyChannelState, encodeChannelState, isPackableName } from '../domain/channelState.ts';
import { StockguardError } from '../errors.ts';

function parseJson(raw: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function unreadable(sku: string, what: string, name: string, raw: string): StockguardError {
  return new StockguardError('STOCKGUARD_E_MIGRATE_FAILED', `SKU ${JSON.stringify(sku)}: its ${what} of ${JSON.stringify(name)} cannot be packed: ${JSON.stringify(raw.slice(0, 200))}`);
}

const whole = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

/** The packed channel state of one SKU from its layout-3 hashes (undefined: nothing to keep). */
export function packLayout3ChannelState(sku: string, hashes: Partial<Record<'pushedLevels' | 'channelLevels' | 'fbaStock' | 'pushState', Record<string, string>>>): string | undefined {
  const state: ChannelState = emptyChannelState();
  for (const [channel, raw] of Object.entries(hashes.pushedLevels ?? {})) {
    const level = parseJson(raw);
    // What the pushers' reader (parsePushed) did not take as a level was never used: left out.
    if (!level || !whole(level.quantity) || !whole(level.atMs)) continue;
    if (!isPackableName(channel) || level.atMs < 0) throw unreadable(sku, 'pushed level', channel, raw);
    const applied = hashes.pushState?.[`applied:${channel}`] === String(level.atMs);
    state.pushed[channel] = { quantity: level.quantity, atMs: level.atMs, version: whole(level.version) && level.version >= 0 ? level.version : 0, applied };
  }
  for (const [what, target, hash] of [['channel level', state.observed, hashes.channelLevels], ['FBA stock', state.fba, hashes.fbaStock]] as const) {
    for (const [name, raw] of Object.entries(hash ?? {})) {
      const observation = parseJson(raw);
      if (!observation || !whole(observation.q) || !whole(observation.at) || observation.at < 0 || !isPackableName(name)) throw unreadable(sku, what, name, raw);
      target[name] = { quantity: observation.q, observedAtMs: observation.at };
    }
  }
  return encodeChannelState(state);
}

export const CHANNEL_STATE_PACKER: BucketPacker = {
  name: 'channel state',
  from: ['pushedLevels', 'channelLevels', 'fbaStock'],
  alsoReads: ['pushState'],
  consumed: (hashes) => ({ pushState: Object.keys(hashes.pushState ?? {}).filter((field) => field.startsWith('applied:')) }),
  to: 'chan',
  pack: packLayout3ChannelState,
};
