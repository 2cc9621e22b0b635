// `npm run demo`: a burst of concurrent orders from three channels against a few scarce
// SKUs, straight into the ledger, then each SKU's ledger and the reserved/oversold counts.
// Starts a private redis-server (AOF on, in a temp dir) unless REDIS_URL is set; with
// REDIS_URL it writes under a fresh key prefix of its own and deletes nothing else.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importCatalog } from '../catalog/import.ts';
import { loadConfig } from '../config.ts';
import type { Order } from '../ledger/ledger.ts';
import { LedgerStatus } from '../ledger/status.ts';
import { openRuntime } from '../main.ts';
import { RedisServer } from '../sim/redisServer.ts';
import { seededRandom } from '../domain/random.ts';

const CHANNELS = ['shopify', 'amazon', 'api'] as const;

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '400' },
    connections: { type: 'string', default: '12' },
    catalog: { type: 'string', default: fileURLToPath(new URL('../../examples/catalog.json', import.meta.url)) },
    seed: { type: 'string', default: '42' },
  },
});
const orderCount = Number(values.orders);
const connectionCount = Number(values.connections);
const random = seededRandom(Number(values.seed));

const server = process.env.REDIS_URL ? undefined : await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
const env = server
  ? { ...process.env, REDIS_URL: server.url }
  : { ...process.env, STOCKGUARD_KEY_PREFIX: `demo-${randomUUID().slice(0, 8)}` };
const config = loadConfig(env);
console.log(server ? `private redis-server on ${server.url} (AOF, appendfsync always) in ${server.directory}` : `REDIS_URL given: writing under key prefix ${config.keyPrefix}`);

const runtimes = await Promise.all(Array.from({ length: connectionCount }, () => openRuntime(config, { connectionName: 'stockguard-demo' })));
const main = runtimes[0]!;
try {
  const report = await importCatalog({ file: values.catalog, catalog: main.catalog, ledger: main.ledger });
  console.log(`catalogue: ${report.rows} SKUs imported from ${values.catalog} (${report.created} new)`);

  const stocked = [];
  for (const sku of await main.catalog.list()) {
    const inventory = await main.ledger.inventory(sku);
    if (inventory && inventory.onHand > 0) stocked.push({ sku, onHand: inventory.onHand });
  }
  const hot = stocked.sort((a, b) => a.onHand - b.onHand || a.sku.localeCompare(b.sku)).slice(0, 4).map((entry) => entry.sku);
  console.log(`burst: ${orderCount} orders from ${CHANNELS.join(', ')} over ${connectionCount} connections at ${hot.join(', ')}`);

  const orders: Order[] = Array.from({ length: orderCount }, (_, index) => {
    const channel = CHANNELS[index % CHANNELS.length]!;
    const sku = hot[Math.floor(random() * hot.length)]!;
    const lines = [{ lineId: '1', sku, quantity: 1 + Math.floor(random() * 2) }];
    // Every tenth order has the same SKU twice (the Medusa #16502 case); every seventh a second SKU.
    if (index % 10 === 0) lines.push({ lineId: '2', sku, quantity: 1 });
    if (index % 7 === 0) lines.push({ lineId: '3', sku: hot[(hot.indexOf(sku) + 1) % hot.length]!, quantity: 1 });
    return { channel, orderId: `${channel}-${100000 + index}`, lines };
  });

  const started = performance.now();
  const results = await Promise.all(orders.map((order, index) => runtimes[index % runtimes.length]!.ledger.reserveOrder(order)));
  const seconds = (performance.now() - started) / 1000;
  const lines = results.flat();
  console.log(`${lines.length} lines from ${orders.length} orders applied in ${seconds.toFixed(2)} s (${Math.round(orders.length / seconds)} orders/s)\n`);

  const rows = [];
  let invariantsHold = true;
  for (const sku of hot) {
    const inventory = (await main.ledger.inventory(sku))!;
    const records = await main.ledger.reservations(sku);
    const open = records.reduce((sum, record) => sum + record.openUnits, 0);
    const skuLines = lines.filter((line) => line.sku === sku);
    const reservedLines = skuLines.filter((line) => line.status === LedgerStatus.RESERVED).length;
    const oversoldLines = skuLines.filter((line) => line.status === LedgerStatus.OVERSOLD).length;
    const holds = open === inventory.reserved && inventory.reserved <= inventory.onHand;
    invariantsHold &&= holds;
    rows.push({
      sku,
      on_hand: inventory.onHand,
      reserved: inventory.reserved,
      available: inventory.onHand - inventory.reserved,
      'lines reserved': reservedLines,
      'lines oversold': oversoldLines,
      'units oversold': inventory.oversold,
      'reserved = Σ open': holds ? 'yes' : 'NO',
    });
  }
  console.table(rows);
  const byChannel = Object.fromEntries(
    CHANNELS.map((channel) => {
      const channelLines = lines.filter((line) => line.reservationId.startsWith(`${channel}:`));
      return [channel, { reserved: channelLines.filter((line) => line.status === LedgerStatus.RESERVED).length, oversold: channelLines.filter((line) => line.status === LedgerStatus.OVERSOLD).length }];
    }),
  );
  console.table(byChannel);
  console.log(
    invariantsHold
      ? 'Every SKU: reserved equals the sum of open reservations and never exceeds on_hand. Oversold lines are recorded with their shortfall, never dropped.'
      : 'INVARIANT VIOLATED: see the table above.',
  );
  if (!server) console.log(`inspect one: STOCKGUARD_KEY_PREFIX=${config.keyPrefix} npx tsx src/bin/stockguard.ts sku ${hot[0]}`);
  process.exitCode = invariantsHold ? 0 : 1;
} finally {
  await Promise.all(runtimes.map((runtime) => runtime.close()));
  await server?.stop();
}

