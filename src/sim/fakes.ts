// `npm run fakes`: the Shopify, Amazon, SQS (fauxqs) and WMS fakes on their own, seeded from
// a catalogue file, for trying `stockguard serve` by hand (docs/try-it.md). Also a private
// redis-server unless REDIS_URL is set. Prints (and writes to --write-env) the environment
// that points stockguard at them, then runs until Ctrl-C. A small control API sells on the
// fakes' storefronts, so a sale reaches stockguard the way it does in production:
//   POST <FAKES_URL>/sell {"channel":"shopify"|"amazon","sku":"<our SKU>","quantity":1}
//   GET  <FAKES_URL>/state   what each channel shows and the WMS holds, per SKU
// Flags: --catalog FILE (default examples/catalog.json), --stockguard-port N (default 8080),
// --write-env FILE (default $TMPDIR/stockguard-fakes.env). Development code: the daemon never imports it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readCatalogFile } from '../catalog/readFile.ts';
import { startAmazonFake } from './amazon/index.ts';
import { RedisServer } from './redisServer.ts';
import { startLocalSqs } from './sqs.ts';
import { startShopifyFake } from './shopify/index.ts';
import { WmsFake } from './wms/index.ts';
import { FAKE_MARKETPLACE, FAKE_SELLER, fakeChannelsEnv } from './world.ts';

const { values } = parseArgs({
  options: {
    catalog: { type: 'string', default: fileURLToPath(new URL('../../examples/catalog.json', import.meta.url)) },
    'stockguard-port': { type: 'string', default: '8080' },
    'write-env': { type: 'string', default: join(tmpdir(), 'stockguard-fakes.env') },
  },
});
const stockguardPort = Number(values['stockguard-port']);
if (!Number.isInteger(stockguardPort) || stockguardPort < 1 || stockguardPort > 65535) {
  console.error(`--stockguard-port must be a port number, got ${values['stockguard-port']}`);
  process.exit(2);
}

// Development secrets: the fakes and stockguard must agree on them, nothing else.
const SECRETS = {
  shopifyToken: 'shpat_fakes_access_token',
  appSecret: 'shpss_fakes_app_secret_0123',
  wms: 'wms_fakes_shared_secret_0123',
  api: 'api_fakes_token_0123456789',
  wmsToken: 'wms_fakes_read_token_012345',
  lwa: { clientId: 'amzn1.application-oa2-client.fakes', clientSecret: 'fakes-lwa-secret', refreshToken: 'Atzr|fakes-refresh-token' },
};

interface Row {
  sku: string;
  onHand?: number;
  shopifyInventoryItemId?: string;
  shopifyLocationId?: string;
  shopifyVariantId?: string;
  amazonSellerSku?: string;
  amazonMarketplaceId?: string;
  amazonProductType?: string;
  amazonFulfillment?: 'MFN' | 'FBA';
}

const cleanups: (() => Promise<unknown>)[] = [];
async function stopAll(): Promise<void> {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
}

try {
  const file = resolve(values.catalog!);
  const rows = (await readCatalogFile(file)).map((source) => source.values as Row);
  const daemonUrl = `http://127.0.0.1:${stockguardPort}`;

  const redis = process.env.REDIS_URL ? undefined : await RedisServer.start({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  if (redis) cleanups.push(() => redis.stop());
  const redisUrl = process.env.REDIS_URL ?? redis!.url;

  const sqs = await startLocalSqs();
  cleanups.push(() => sqs.stop());
  const shopify = await startShopifyFake({ accessToken: SECRETS.shopifyToken, appSecret: SECRETS.appSecret, shopDomain: 'stockguard-fakes.myshopify.com', webhookUrl: `${daemonUrl}/webhooks/shopify` });
  cleanups.push(() => shopify.close());
  const amazon = await startAmazonFake({ ...SECRETS.lwa, sellerId: FAKE_SELLER, sqs: { endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: sqs.region } });
  cleanups.push(() => amazon.close());
  const wms = await WmsFake.start({ token: SECRETS.wmsToken, webhook: { url: `${daemonUrl}/webhooks/wms`, secret: SECRETS.wms } });
  cleanups.push(() => wms.close());

  // Seed the channels with the catalogue's items, at 0: stockguard's pushers set what each may sell.
  const locations = new Set<string>();
  for (const row of rows) {
    if (row.shopifyInventoryItemId && row.shopifyLocationId) {
      if (!locations.has(row.shopifyLocationId)) {
        locations.add(row.shopifyLocationId);
        shopify.addLocation({ id: row.shopifyLocationId, name: `Location ${locations.size}`, isActive: true, fulfillsOnlineOrders: true });
      }
      shopify.addItem({ id: row.shopifyInventoryItemId, sku: row.sku, ...(row.shopifyVariantId ? { variantId: row.shopifyVariantId } : {}) });
      shopify.stock(row.shopifyInventoryItemId, row.shopifyLocationId, { available: 0 });
    }
    if (row.amazonSellerSku) {
      const fba = row.amazonFulfillment === 'FBA';
      amazon.addListing({ sku: row.amazonSellerSku, marketplaceId: row.amazonMarketplaceId ?? FAKE_MARKETPLACE, productType: row.amazonProductType ?? 'PRODUCT', fulfillment: fba ? 'FBA' : 'MFN', quantity: fba ? 100 : 0 });
    }
  }
  wms.seed(rows.map((row) => [row.sku, row.onHand ?? 0] as const));

  const bySku = new Map(rows.map((row) => [row.sku, row]));
  const control = createServer((request, response) => void handle(request, response));
  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(`${JSON.stringify(body, null, 2)}\n`);
    };
    try {
      if (request.method === 'GET' && request.url === '/state') {
        return reply(200, rows.map((row) => ({
          sku: row.sku,
          shopifyAvailable: row.shopifyInventoryItemId && row.shopifyLocationId ? shopify.level(row.shopifyInventoryItemId, row.shopifyLocationId)?.available : undefined,
          amazonQuantity: row.amazonSellerSku ? amazon.quantity(row.amazonSellerSku) : undefined,
          wmsOnHand: wms.onHand(row.sku),
        })));
      }
      if (request.method === 'POST' && request.url === '/sell') {
        let text = '';
        for await (const chunk of request) text += String(chunk);
        const { channel, sku, quantity = 1 } = JSON.parse(text || '{}') as { channel?: string; sku?: string; quantity?: number };
        const row = sku === undefined ? undefined : bySku.get(sku);
        if (!row) return reply(404, { error: `no SKU ${JSON.stringify(sku)} in ${file}` });
        if (channel === 'shopify' && row.shopifyInventoryItemId && row.shopifyLocationId) {
          const sale = await shopify.sellOnStorefront(row.shopifyInventoryItemId, row.shopifyLocationId, quantity);
          return reply(200, { channel, orderId: `gid://shopify/Order/${sale.order.id}`, lineId: `gid://shopify/LineItem/${sale.order.lines[0]!.lineItemId}` });
        }
        if (channel === 'amazon' && row.amazonSellerSku) {
          const sale = await amazon.sellOnAmazon(row.amazonSellerSku, quantity);
          return reply(200, { channel, orderId: sale.amazonOrderId, lineId: sale.orderItemId, fulfillment: sale.fulfillment });
        }
        return reply(400, { error: `channel must be "shopify" or "amazon" and the SKU listed there, got ${JSON.stringify(channel)}` });
      }
      reply(404, { error: 'GET /state or POST /sell {"channel","sku","quantity"}' });
    } catch (error) {
      // e.g. a storefront sale beyond what the channel shows: the shop refuses it, as a real one would.
      reply(409, { error: error instanceof Error ? error.message : String(error) });
    }
  }
  await new Promise<void>((resolveListen) => control.listen(0, '127.0.0.1', resolveListen));
  cleanups.push(() => new Promise((resolveClose) => control.close(resolveClose)));
  const address = control.address();
  const fakesUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;

  const env: Record<string, string> = {
    REDIS_URL: redisUrl,
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: String(stockguardPort),
    ...fakeChannelsEnv({ shopify, amazon, sqs, credentials: SECRETS }),
    AWS_REGION: sqs.region,
    // The AWS SDK refuses to sign a request without credentials; the local SQS accepts any.
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
    STOCKGUARD_WMS_URL: wms.url,
    STOCKGUARD_WMS_TOKEN: SECRETS.wmsToken,
    FAKES_URL: fakesUrl,
  };
  const exports = Object.entries(env).map(([name, value]) => `export ${name}='${value.replace(/'/g, `'\\''`)}'`);
  writeFileSync(values['write-env']!, `# written by npm run fakes; source it in the shell that runs stockguard\n${exports.join('\n')}\n`);
  console.log(`fakes running (catalogue ${file}, ${rows.length} SKUs):`);
  console.log(`  redis   ${redisUrl}${redis ? ' (private redis-server, stopped with the fakes)' : ''}`);
  console.log(`  Shopify ${shopify.url}   Amazon ${amazon.url}   SQS ${sqs.endpoint}   WMS ${wms.url}`);
  console.log(`  control ${fakesUrl}  (POST /sell, GET /state)`);
  console.log(`  webhooks go to stockguard at ${daemonUrl}`);
  console.log(`\nThe environment for stockguard, also in ${values['write-env']} (source it):\n`);
  console.log(exports.join('\n'));
  console.log('\nCtrl-C stops the fakes.');

  await new Promise<void>((resolveSignal) => {
    process.once('SIGINT', () => resolveSignal());
    process.once('SIGTERM', () => resolveSignal());
  });
  await stopAll();
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await stopAll();
  process.exitCode = 1;
}
