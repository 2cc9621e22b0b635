// Reads what reconciliation needs about each SKU in one atomic step per SKU (a Lua read
// over the SKU's keys, all in its `{sku}` slot), pipelined over a page of SKUs. Atomic per
// SKU matters: on_hand and the journal entries after the snapshot must be read together,
// or a pick landing between two reads would be counted twice or not at all.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from 'ioredis';
import { WMS_CAUSES } from '../domain/reconcile.ts';
import { StockguardError } from '../errors.ts';
import type { KeySpace } from '../ledger/keys.ts';
import { luaDirectory, type RedisClient } from '../ledger/scripts.ts';

// openUnits comes from the ledger's own include, so "what a reservation holds" has one
// definition (the one repairReserved.lua uses).
const SOURCE = `--[[
readLedgerAsOf: everything reconciliation needs about one SKU, read atomically. Writes nothing.

KEYS[1] inventory hash      KEYS[2] reservations hash
KEYS[3] journal stream      KEYS[4] catalogue entry hash
ARGV[1] as-of (ms): the moment the WMS took its snapshot
ARGV[2] first journal id to read: as-of + 1 (ids start with the ms and are never below at_ms);
        with a watermark, as-of - the clock-skew allowance + 1
ARGV[3] end of the settle window (ms)
ARGV[4] watermark: the SKU's last WMS movement number in the snapshot, or '' (none:
        docs/wms.md, "Watermark")

An entry is "after the snapshot" when its movement number (journal field seq) is above the
watermark; an entry without one (or any entry, without a watermark) when at_ms > as-of.

Returns { exists (0 or 1), on_hand, reserved,
          sum of d_on_hand over journal entries after the snapshot,
          WMS-caused entries after the snapshot, without a movement number when there is a
          watermark, with at_ms <= settle end,
          units the open reservation records hold, sku class or '',
          first movement number up to the watermark not applied (0: none pending),
          1 when a count is among the entries after the snapshot (else 0),
          wms_seq, wms_ahead or '' }
Status codes: none (a read)
]]
local inventoryKey = KEYS[1]
local reservationsKey = KEYS[2]
local journalKey = KEYS[3]
local catalogKey = KEYS[4]
local asOfMs = tonumber(ARGV[1])
local firstId = ARGV[2]
local settleEndMs = tonumber(ARGV[3])
local watermark = tonumber(ARGV[4] or '')
-- The journal causes that come from the WMS (WMS_CAUSES in src/domain/reconcile.ts).
local wmsCauses = { ${WMS_CAUSES.map((cause) => `['${cause}'] = true`).join(', ')} }

--- @include "openUnits"

local skuClass = redis.call('HGET', catalogKey, 'skuClass') or ''
local inventory = redis.call('HMGET', inventoryKey, 'on_hand', 'reserved', 'wms_seq', 'wms_ahead')
if inventory[1] == false then
  return { 0, 0, 0, 0, 0, 0, skuClass, 0, 0, 0, '' }
end
local applied = tonumber(inventory[3]) or 0
local firstPending = 0
if watermark ~= nil and applied < watermark then
  firstPending = applied + 1
end
local sumAfter = 0
local wmsInWindow = 0
local countAfter = 0
for _, entry in ipairs(redis.call('XRANGE', journalKey, firstId, '+')) do
  local fields = entry[2]
  local atMs, dOnHand, cause, seq = 0, 0, '', nil
  for i = 1, #fields, 2 do
    local name = fields[i]
    if name == 'at_ms' then atMs = tonumber(fields[i + 1])
    elseif name == 'd_on_hand' then dOnHand = tonumber(fields[i + 1])
    elseif name == 'cause' then cause = fields[i + 1]
    elseif name == 'seq' then seq = tonumber(fields[i + 1]) end
  end
  local numbered = watermark ~= nil and seq ~= nil
  local after
  if numbered then after = seq > watermark else after = atMs > asOfMs end
  if after then
    sumAfter = sumAfter + dOnHand
    -- A count after the snapshot set on_hand to the warehouse's newer figure: it already
    -- settled whatever the snapshot would show, and a correction on top would count twice.
    if cause == 'count' then countAfter = 1 end
    if not numbered and atMs <= settleEndMs and wmsCauses[cause] then
      wmsInWindow = wmsInWindow + 1
    end
  end
end
local open = 0
for _, encoded in ipairs(redis.call('HVALS', reservationsKey)) do
  open = open + openUnits(cjson.decode(encoded))
end
return { 1, tonumber(inventory[1]), tonumber(inventory[2]) or 0, sumAfter, wmsInWindow, open, skuClass,
  firstPending, countAfter, applied, inventory[4] or '' }
`;

const INCLUDE_LINE = /^--- @include "([A-Za-z0-9]+)"$/gm;

let script: { source: string; sha: string } | undefined;

function readScript(): { source: string; sha: string } {
  if (!script) {
    const source = SOURCE.replace(INCLUDE_LINE, (_line, include: string) =>
      readFileSync(join(luaDirectory(), 'includes', `${include}.lua`), 'utf8').trimEnd(),
    );
    script = { source, sha: createHash('sha1').update(source).digest('hex') };
  }
  return script;
}

export interface LedgerReading {
  sku: string;
  exists: boolean;
  onHand: number;
  reserved: number;
  /** Σ d_on_hand of the journal entries applied after the as-of. */
  onHandChangesAfter: number;
  /** WMS-caused entries applied within the settle window after the as-of. */
  wmsChangesInSettleWindow: number;
  /** What the open reservation records hold: `reserved` must equal it (I3). */
  openUnits: number;
  /** The catalogue's skuClass; undefined when the SKU has no catalogue entry. */
  skuClass: string | undefined;
  /** A count is among the changes after the snapshot: it already set on_hand to a newer warehouse figure. */
  countAfter?: boolean;
  /** Read at a watermark (docs/wms.md, "Watermark"): the SKU's record of applied WMS movement numbers. */
  sequence?: {
    /** The first movement number up to the watermark the ledger has not applied; 0 when none is pending. */
    firstPending: number;
    /** `wms_seq`: every movement up to it was applied (or covered by a correction). */
    applied: number;
    /** `wms_ahead`: ranges applied above it ('' when none). */
    ahead: string;
  };
}

export interface ReadWindow {
  asOfMs: number;
  settleEndMs: number;
  /**
   * Per SKU (same order as the SKUs), its last WMS movement number in the snapshot;
   * undefined for a SKU the snapshot gives none (it is read as of the time alone).
   */
  watermarks?: readonly (number | undefined)[];
  /**
   * With a watermark: how far the ledger's clock may be behind the WMS's. Journal entries
   * from as-of − this are read, so a movement after the watermark applied by a ledger clock
   * that reads earlier than as-of is still taken back.
   */
  clockSkewMs?: number;
}

/** Reads a batch of SKUs: one pipeline on a single server, one command per SKU (routed by slot) on Cluster. */
export async function readLedgerBatch(redis: RedisClient, keys: KeySpace, skus: readonly string[], window: ReadWindow): Promise<LedgerReading[]> {
  if (skus.length === 0) return [];
  const { source, sha } = readScript();
  const watermarks = new Map<string, number>();
  window.watermarks?.forEach((seq, index) => {
    if (seq !== undefined) watermarks.set(skus[index]!, seq);
  });
  const args = (sku: string): (string | number)[] => {
    const skuKeys = keys.sku(sku);
    const watermark = watermarks.get(sku);
    const firstId = watermark === undefined ? window.asOfMs + 1 : Math.max(0, window.asOfMs - (window.clockSkewMs ?? 0)) + 1;
    return [4, skuKeys.inventory, skuKeys.reservations, skuKeys.journal, keys.catalogEntry(sku), window.asOfMs, `${firstId}`, window.settleEndMs, watermark ?? ''];
  };
  let replies: unknown[];
  if (redis instanceof Cluster) {
    replies = await Promise.all(skus.map((sku) => evalWithFallback(redis, sha, source, args(sku))));
  } else {
    const run = async (command: 'evalsha' | 'eval') => {
      const pipeline = redis.pipeline();
      for (const sku of skus) {
        const [numKeys, ...rest] = args(sku);
        if (command === 'evalsha') pipeline.evalsha(sha, numKeys!, ...rest);
        else pipeline.eval(source, numKeys!, ...rest);
      }
      return (await pipeline.exec()) ?? [];
    };
    let results = await run('evalsha');
    if (results.some(([error]) => error instanceof Error && error.message.startsWith('NOSCRIPT'))) results = await run('eval');
    replies = results.map(([error, reply]) => {
      if (error) throw error;
      return reply;
    });
  }
  return replies.map((reply, index) => decodeReading(skus[index]!, reply, watermarks.has(skus[index]!)));
}

async function evalWithFallback(redis: RedisClient, sha: string, source: string, args: (string | number)[]): Promise<unknown> {
  const [numKeys, ...rest] = args;
  try {
    return await redis.evalsha(sha, numKeys!, ...rest);
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('NOSCRIPT')) return redis.eval(source, numKeys!, ...rest);
    throw error;
  }
}

function decodeReading(sku: string, reply: unknown, atWatermark: boolean): LedgerReading {
  const integer = (value: unknown) => typeof value === 'number' && Number.isSafeInteger(value);
  if (
    !Array.isArray(reply) ||
    reply.length !== 11 ||
    !reply.slice(0, 6).every(integer) ||
    typeof reply[6] !== 'string' ||
    !reply.slice(7, 10).every(integer) ||
    typeof reply[10] !== 'string'
  ) {
    throw new StockguardError('STOCKGUARD_E_SCRIPT_REPLY', `readLedgerAsOf for SKU ${JSON.stringify(sku)}: unexpected reply ${JSON.stringify(reply)}`);
  }
  const [exists, onHand, reserved, onHandChangesAfter, wmsChangesInSettleWindow, openUnits, skuClass, firstPending, countAfter, applied, ahead] = reply as [
    number, number, number, number, number, number, string, number, number, number, string,
  ];
  return {
    countAfter: countAfter === 1,
    ...(atWatermark ? { sequence: { firstPending, applied, ahead } } : {}),
    sku,
    exists: exists === 1,
    onHand,
    reserved,
    onHandChangesAfter,
    wmsChangesInSettleWindow,
    openUnits,
    skuClass: skuClass === '' ? undefined : skuClass,
  };
}
