// The packed inventory has two codecs, src/lua/includes/inventoryCodec.lua (the ledger
// scripts) and src/domain/inventoryCodec.ts (readers, snapshots, the migration): what one
// writes the other must read back field for field, and both must write the same bytes.
// The Lua half runs on a private redis-server through EVAL, with a small driver around it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeInventory, EMPTY_INVENTORY, encodeInventory, type InventoryRecord, inventoryFromHash, inventoryToHash } from '../../src/domain/inventoryCodec.ts';
import { isStockguardError } from '../../src/errors.ts';
import { Ledger } from '../../src/ledger/ledger.ts';
import { readInventoryRecord, writeInventoryRecord } from '../../src/ledger/inventoryRecord.ts';
import { LedgerStatus } from '../../src/ledger/status.ts';
import { luaDirectory } from '../../src/redis/scripts.ts';
import { startTestRedis, type TestRedis } from '../helpers/redis.ts';

// ARGV[1] = 'encode': ARGV[2..] = one record per 12 arguments (numbers as decimal text, '' for
// no swept_ms); returns the packed strings. ARGV[1] = 'decode': ARGV[2..] packed strings;
// returns per record its 12 fields as decimal text ('' for no swept_ms).
const DRIVER = `${readFileSync(join(luaDirectory(), 'includes', 'inventoryCodec.lua'), 'utf8')}
local names = { 'on_hand', 'reserved', 'holdback', 'oversold', 'version', 'updated_ms', 'journal_ms', 'swept_ms', 'sold_shopify', 'sold_amazon', 'wms_seq', 'wms_ahead' }
local out = {}
if ARGV[1] == 'encode' then
  for first = 2, #ARGV, 12 do
    local inventory = {}
    for i, name in ipairs(names) do
      local text = ARGV[first + i - 1]
      if name == 'wms_ahead' then inventory[name] = text
      elseif text ~= '' then inventory[name] = tonumber(text) end
    end
    out[#out + 1] = encodeInventory(inventory)
  end
else
  for i = 2, #ARGV do
    local inventory = decodeInventory(ARGV[i])
    for _, name in ipairs(names) do
      local value = inventory[name]
      if name == 'wms_ahead' then out[#out + 1] = value
      elseif value == nil then out[#out + 1] = ''
      else out[#out + 1] = string.format('%d', value) end
    end
  end
end
return out`;

let server: TestRedis;
let redis: Redis;

test.before(async () => {
  server = await startTestRedis();
  redis = server.client();
});
test.after(async () => {
  await server.close();
});

function toArgs(record: InventoryRecord): string[] {
  const { onHand, reserved, holdback, oversold, version, updatedMs, journalMs, sweptMs, soldShopify, soldAmazon, wmsSeq, wmsAhead } = record;
  return [onHand, reserved, holdback, oversold, version, updatedMs, journalMs, sweptMs ?? '', soldShopify, soldAmazon, wmsSeq, wmsAhead].map(String);
}

function fromFields(fields: readonly string[]): InventoryRecord {
  const n = (at: number) => Number(fields[at]);
  return {
    onHand: n(0), reserved: n(1), holdback: n(2), oversold: n(3), version: n(4), updatedMs: n(5), journalMs: n(6),
    sweptMs: fields[7] === '' ? undefined : n(7), soldShopify: n(8), soldAmazon: n(9), wmsSeq: n(10), wmsAhead: fields[11]!,
  };
}

async function luaEncode(records: readonly InventoryRecord[]): Promise<string[]> {
  return (await redis.eval(DRIVER, 0, 'encode', ...records.flatMap(toArgs))) as string[];
}

async function luaDecode(packed: readonly string[]): Promise<InventoryRecord[]> {
  const fields = (await redis.eval(DRIVER, 0, 'decode', ...packed)) as string[];
  return packed.map((_, index) => fromFields(fields.slice(index * 12, (index + 1) * 12)));
}

const NOW = 1_733_480_000_000;
const EXTREMES: InventoryRecord[] = [
  { ...EMPTY_INVENTORY },
  // What an import leaves: created, counted, swept.
  { ...EMPTY_INVENTORY, onHand: 120, version: 2, updatedMs: NOW, journalMs: NOW, sweptMs: NOW },
  // A busy SKU.
  { onHand: 48_213, reserved: 1_377, holdback: 25, oversold: 3, version: 918_273, updatedMs: NOW, journalMs: NOW + 1, sweptMs: NOW - 81_000_000, soldShopify: 120_345, soldAmazon: 99_876, wmsSeq: 1_234_567, wmsAhead: '1234569-1234569' },
  // Negative figures (on_hand after a shipment of stock never counted, a repaired drift), a clock stepped back.
  { onHand: -1_000_000_000, reserved: -7, holdback: 0, oversold: -1, version: 1, updatedMs: NOW, journalMs: 0, sweptMs: 0, soldShopify: -3, soldAmazon: -2, wmsSeq: 0, wmsAhead: '' },
  { ...EMPTY_INVENTORY, onHand: 5, updatedMs: NOW, journalMs: NOW + 10_000, sweptMs: NOW + 99 },
  { ...EMPTY_INVENTORY, sweptMs: 0 },
  // The largest whole numbers a double holds exactly.
  { onHand: Number.MAX_SAFE_INTEGER, reserved: Number.MAX_SAFE_INTEGER, holdback: 1_000_000_000, oversold: Number.MAX_SAFE_INTEGER, version: Number.MAX_SAFE_INTEGER, updatedMs: 2 ** 52, journalMs: 2 ** 52 + 1, sweptMs: 1, soldShopify: Number.MAX_SAFE_INTEGER, soldAmazon: -Number.MAX_SAFE_INTEGER, wmsSeq: 2 ** 53 - 2, wmsAhead: `${2 ** 53 - 1}-${2 ** 53 - 1}` },
  { ...EMPTY_INVENTORY, wmsSeq: 3, wmsAhead: '5-5,7-9,11-11,100-2000,4294967296-4294967299' },
  { ...EMPTY_INVENTORY, wmsAhead: '1-1' },
];

const safe = fc.integer({ min: -Number.MAX_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const small = fc.integer({ min: -5, max: 100_000 });
const ms = fc.integer({ min: 0, max: 4_102_444_800_000 });
const ahead = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 5 })), { maxLength: 6 })
  .map((gaps) => {
    let at = 1;
    return gaps
      .map(([gap, width]) => {
        const lo = at + gap;
        at = lo + width + 1;
        return `${lo}-${lo + width}`;
      })
      .join(',');
  });
const record: fc.Arbitrary<InventoryRecord> = fc.record({
  onHand: fc.oneof(small, safe),
  reserved: small,
  holdback: small,
  oversold: small,
  version: fc.oneof(small, fc.nat({ max: Number.MAX_SAFE_INTEGER })),
  updatedMs: ms,
  journalMs: ms,
  sweptMs: fc.option(ms, { nil: undefined }),
  soldShopify: small,
  soldAmazon: small,
  wmsSeq: fc.nat({ max: 2 ** 40 }),
  wmsAhead: ahead,
}).map((generated) => ({ ...generated })); // a plain object, as the decoders build

test('Lua and TS write the same bytes and read back every field, extremes included', async () => {
  const fromLua = await luaEncode(EXTREMES);
  assert.equal(fromLua, EXTREMES.map(encodeInventory), 'same packed strings');
  assert.equal(fromLua.map(decodeInventory), EXTREMES, 'TS decodes what Lua wrote');
  assert.equal(await luaDecode(EXTREMES.map(encodeInventory)), EXTREMES, 'Lua decodes what TS wrote');
  assert.is(encodeInventory(EMPTY_INVENTORY), '', 'a fresh inventory packs to the empty string');
});

test('Lua and TS agree on generated inventories', async () => {
  const samples = fc.sample(record, { numRuns: 500, seed: 13 });
  const fromLua = await luaEncode(samples);
  assert.equal(fromLua, samples.map(encodeInventory));
  assert.equal(fromLua.map(decodeInventory), samples);
  assert.equal(await luaDecode(fromLua), samples);
  for (const sample of samples) assert.equal(inventoryFromHash(inventoryToHash(sample)), sample, 'the layout-3 hash form round-trips');
});

test('realistic values stay within hash-max-listpack-value (64 bytes)', () => {
  const [fresh, imported, busy] = EXTREMES.slice(0, 3).map(encodeInventory);
  assert.is(fresh, '');
  assert.is(imported, '3c,,,,2,m4cl8ge8,,0');
  assert.ok(busy!.length <= 64, `${busy} is ${busy!.length} bytes`);
});

test('the TS decoder refuses what neither codec writes', () => {
  for (const bad of ['1,2,3,4,5,6,7,8,9,10,11,12,13', 'A', '1,,x!', '-0', '01', '1,,,,,,,,,,,1-', '1,,,,,,,,,,,-1', '1,,,,,,,,,,,1-2-3', ' 1']) {
    try {
      decodeInventory(bad);
      assert.unreachable(`${bad} was accepted`);
    } catch (error) {
      assert.ok(isStockguardError(error, 'STOCKGUARD_E_BAD_ARGUMENT'), `${bad}: ${String(error)}`);
    }
  }
});

test('a ledger script reads what TS wrote and TS reads what the script wrote', async () => {
  const ledger = new Ledger({ redis, keyPrefix: server.prefix, clock: () => NOW });
  await ledger.createSku('CODEC-1');
  const created = await readInventoryRecord(redis, ledger.keys, 'CODEC-1');
  assert.equal(created, { ...EMPTY_INVENTORY, version: 1, updatedMs: NOW, journalMs: NOW });
  await writeInventoryRecord(redis, ledger.keys, 'CODEC-1', { ...created!, onHand: -4, holdback: 2, soldAmazon: 7, wmsSeq: 9, wmsAhead: '11-12', sweptMs: NOW });
  const reply = await ledger.setHoldback('CODEC-1', 3, 'codec-test');
  assert.is(reply.status, LedgerStatus.APPLIED);
  assert.equal(await readInventoryRecord(redis, ledger.keys, 'CODEC-1'), { ...created!, onHand: -4, holdback: 3, soldAmazon: 7, wmsSeq: 9, wmsAhead: '11-12', sweptMs: NOW, version: 2, journalMs: NOW });
});

test.run();
