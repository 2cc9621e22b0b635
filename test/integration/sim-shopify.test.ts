// The fake Shopify Admin API, driven through the real @shopify/admin-api-client: what it
// accepts, what it rejects the way Shopify does (2026-10 rules), throttling, webhooks, the
// storefront and fault injection.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { type IncomingHttpHeaders, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AdminApiClient, createAdminApiClient } from '@shopify/admin-api-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ShopifyFake, type ShopifyFakeOptions, startShopifyFake } from '../../src/sim/shopify/index.ts';

const TOKEN = 'shpat_test_token';
const SECRET = 'app-client-secret';
const SHOP = 'stockguard-test.myshopify.com';
const WAREHOUSE = 'gid://shopify/Location/24826418';
const CLOSED_STORE = 'gid://shopify/Location/24826419';
// Above 2^53, like Shopify's own webhook sample.
const SHIRT = 'gid://shopify/InventoryItem/271878346596884015';
const MUG = 'gid://shopify/InventoryItem/271878346596884016';

const SET = `mutation Set($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id reason referenceDocumentUri changes { name delta quantityAfterChange item { id } location { id } } }
    userErrors { field message code }
  }
}`;

const ADJUST = `mutation Adjust($input: InventoryAdjustQuantitiesInput!, $key: String!) {
  inventoryAdjustQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id changes { name delta quantityAfterChange } }
    userErrors { field message code }
  }
}`;

interface UserErrorData {
  field: string[] | null;
  message: string;
  code: string;
}
interface ChangeData {
  name: string;
  delta: number;
  quantityAfterChange: number;
  item?: { id: string };
  location?: { id: string };
}
interface MutationPayload {
  inventoryAdjustmentGroup: { id: string; reason?: string; referenceDocumentUri?: string; changes: ChangeData[] } | null;
  userErrors: UserErrorData[];
}
interface SetData {
  inventorySetQuantities: MutationPayload | null;
}
interface AdjustData {
  inventoryAdjustQuantities: MutationPayload | null;
}

async function withFake(run: (fake: ShopifyFake) => Promise<void>, options: Partial<ShopifyFakeOptions> = {}): Promise<void> {
  const fake = await startShopifyFake({ accessToken: TOKEN, appSecret: SECRET, shopDomain: SHOP, ...options });
  try {
    fake.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    fake.addLocation({ id: CLOSED_STORE, name: 'Old shop', isActive: false, fulfillsOnlineOrders: false });
    fake.addItem({ id: SHIRT, sku: 'TSHIRT-BLK-L' });
    fake.addItem({ id: MUG, sku: 'MUG-WHT' });
    fake.stock(SHIRT, WAREHOUSE, { available: 5, committed: 2 });
    await run(fake);
  } finally {
    await fake.close();
  }
}

/** The real client, pointed at the fake: it forces https://<storeDomain>, customFetchApi swaps the origin. */
function clientFor(fake: ShopifyFake, options: { accessToken?: string; retries?: number } = {}): AdminApiClient {
  return createAdminApiClient({
    storeDomain: fake.shopDomain,
    apiVersion: '2026-10',
    accessToken: options.accessToken ?? TOKEN,
    retries: options.retries ?? 0,
    customFetchApi: (url, init) => fetch(url.replace(/^https:\/\/[^/]+/, fake.url), init),
  });
}

function setInput(quantities: object[], name = 'available'): object {
  return { name, reason: 'correction', referenceDocumentUri: 'gid://stockguard/Push/1', quantities };
}

function errorCodes(payload: MutationPayload | null | undefined): string[] {
  return (payload?.userErrors ?? []).map((error) => error.code);
}

test('a valid inventorySetQuantities applies, reports both changes and is logged', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const result = await client.request<SetData>(SET, {
      variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 12, changeFromQuantity: 5 }]), key: 'push-1' },
    });
    assert.is(result.errors, undefined);
    const payload = result.data?.inventorySetQuantities;
    assert.equal(payload?.userErrors, []);
    const changes = payload?.inventoryAdjustmentGroup?.changes ?? [];
    assert.equal(
      changes.map((change) => [change.name, change.delta, change.quantityAfterChange, change.item?.id, change.location?.id]),
      [
        ['available', 7, 12, SHIRT, WAREHOUSE],
        ['on_hand', 7, 14, SHIRT, WAREHOUSE],
      ],
    );
    assert.is(payload?.inventoryAdjustmentGroup?.referenceDocumentUri, 'gid://stockguard/Push/1');
    const level = fake.level(SHIRT, WAREHOUSE);
    assert.is(level?.available, 12);
    assert.is(level?.committed, 2);
    assert.is(level?.on_hand, 14);
    assert.is(fake.writes().length, 1);
    assert.is(fake.writes()[0]?.idempotencyKey, 'push-1');
    assert.is(fake.writes()[0]?.groupId, payload?.inventoryAdjustmentGroup?.id);
    const cost = result.extensions?.cost;
    assert.ok((cost?.requestedQueryCost ?? 0) >= 10, 'a mutation costs at least 10');
    assert.ok(typeof cost?.actualQueryCost === 'number' && cost.actualQueryCost <= (cost.requestedQueryCost ?? 0));

    const read = await client.request<{ inventoryItem: { inventoryLevel: { quantities: Array<{ name: string; quantity: number }> } | null } | null }>(
      `query Level($item: ID!, $location: ID!) {
        inventoryItem(id: $item) { inventoryLevel(locationId: $location) { quantities(names: ["available", "on_hand", "committed"]) { name quantity } } }
      }`,
      { variables: { item: SHIRT, location: WAREHOUSE } },
    );
    assert.equal(read.data?.inventoryItem?.inventoryLevel?.quantities, [
      { name: 'available', quantity: 12 },
      { name: 'on_hand', quantity: 14 },
      { name: 'committed', quantity: 2 },
    ]);
  });
});

test('setting on_hand moves available by the same delta; inventoryLevel(id) reads it back', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const result = await client.request<SetData>(SET, {
      variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 10, changeFromQuantity: 7 }], 'on_hand'), key: 'count-1' },
    });
    assert.equal(
      result.data?.inventorySetQuantities?.inventoryAdjustmentGroup?.changes.map((change) => [change.name, change.delta, change.quantityAfterChange]),
      [
        ['on_hand', 3, 10],
        ['available', 3, 8],
      ],
    );
    const read = await client.request<{ inventoryLevel: { quantities: Array<{ name: string; quantity: number }> } | null }>(
      `query($id: ID!) { inventoryLevel(id: $id) { quantities(names: ["available", "committed", "on_hand"]) { name quantity } } }`,
      { variables: { id: 'gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015' } },
    );
    assert.equal(read.data?.inventoryLevel?.quantities.map((quantity) => quantity.quantity), [8, 2, 10]);
  });
});

test('a field that is not in the 2026-10 schema is rejected by validation, and nothing runs', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const unknownField = await client.request(`{ locations(first: 5) { nodes { id warehouseCode } } }`);
    const error = unknownField.errors?.graphQLErrors?.[0];
    assert.match(error?.message ?? '', /warehouseCode/);
    assert.is(error?.extensions?.code, 'undefinedField');
    assert.is(unknownField.data, undefined);
    assert.ok(unknownField.extensions?.cost, 'validation failures still carry extensions.cost');

    // ignoreCompareQuantity was removed from InventorySetQuantitiesInput in 2026-04.
    const removedField = await client.request(
      `mutation { inventorySetQuantities(input: { name: "available", reason: "correction", ignoreCompareQuantity: true,
         quantities: [{ inventoryItemId: "${SHIRT}", locationId: "${WAREHOUSE}", quantity: 1, changeFromQuantity: null }] }) @idempotent(key: "k") { userErrors { code } } }`,
    );
    assert.match(removedField.errors?.graphQLErrors?.[0]?.message ?? '', /ignoreCompareQuantity/);
    // compareQuantity, removed too, sent through variables: variable coercion refuses it.
    const removedVariable = await client.request(SET, {
      variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 1, compareQuantity: 5, changeFromQuantity: 5 }]), key: 'k2' },
    });
    assert.match(removedVariable.errors?.graphQLErrors?.[0]?.message ?? '', /compareQuantity/);
    assert.is(fake.writes().length, 0);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5);
  });
});

test('a field of the real schema the fake does not implement is a GraphQL error naming it, not a null', async () => {
  await withFake(async (fake) => {
    const result = await clientFor(fake).request(`{ shop { name } }`);
    const error = result.errors?.graphQLErrors?.[0];
    assert.match(error?.message ?? '', /QueryRoot\.shop.*not implemented/);
    assert.is(error?.extensions?.code, 'NOT_IMPLEMENTED_BY_FAKE');
  });
});

test('leaving out the changeFromQuantity key is an error; an explicit null skips the check', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const missing = await client.request<SetData>(SET, {
      variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 9 }]), key: 'no-cas' },
    });
    assert.is(missing.errors?.graphQLErrors?.[0]?.message, 'InventoryQuantityInput must include the following argument: changeFromQuantity.');
    assert.is(missing.data?.inventorySetQuantities, null);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5);

    const adjustMissing = await client.request<AdjustData>(ADJUST, {
      variables: { input: { name: 'available', reason: 'correction', changes: [{ inventoryItemId: SHIRT, locationId: WAREHOUSE, delta: 1 }] }, key: 'no-cas-adjust' },
    });
    assert.is(adjustMissing.errors?.graphQLErrors?.[0]?.message, 'InventoryChangeInput must include the following argument: changeFromQuantity.');
    assert.is(fake.writes().length, 0);

    const explicitNull = await client.request<SetData>(SET, {
      variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 9, changeFromQuantity: null }]), key: 'null-cas' },
    });
    assert.equal(explicitNull.data?.inventorySetQuantities?.userErrors, []);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 9);
  });
});

test('a stale changeFromQuantity gives CHANGE_FROM_QUANTITY_STALE and changes nothing, in any entry', async () => {
  await withFake(async (fake) => {
    fake.stock(MUG, WAREHOUSE, { available: 3 });
    const result = await clientFor(fake).request<SetData>(SET, {
      variables: {
        input: setInput([
          { inventoryItemId: MUG, locationId: WAREHOUSE, quantity: 8, changeFromQuantity: 3 },
          { inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 12, changeFromQuantity: 4 },
        ]),
        key: 'stale',
      },
    });
    const payload = result.data?.inventorySetQuantities;
    assert.is(payload?.inventoryAdjustmentGroup, null);
    assert.equal(payload?.userErrors.map((error) => [error.code, error.field]), [['CHANGE_FROM_QUANTITY_STALE', ['input', 'quantities', '1', 'changeFromQuantity']]]);
    assert.is(fake.level(MUG, WAREHOUSE)?.available, 3, 'the valid entry was not applied either');
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5);
    assert.is(fake.writes().length, 0);
  });
});

test('a mutation without @idempotent gets the error Shopify returns from 2026-04', async () => {
  await withFake(async (fake) => {
    const result = await clientFor(fake).request<SetData>(
      `mutation Set($input: InventorySetQuantitiesInput!) {
        inventorySetQuantities(input: $input) { userErrors { code } }
      }`,
      { variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 12, changeFromQuantity: 5 }]) } },
    );
    const error = result.errors?.graphQLErrors?.[0];
    assert.is(error?.message, 'The @idempotent directive is required for this mutation but was not provided.');
    assert.is(error?.extensions?.code, 'BAD_REQUEST');
    assert.equal(error?.path, ['inventorySetQuantities']);
    assert.is(result.data?.inventorySetQuantities, null);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5);
    assert.is(fake.writes().length, 0);
  });
});

test('a replay with the same key returns the stored result and applies once', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const variables = { input: { name: 'available', reason: 'received', changes: [{ inventoryItemId: SHIRT, locationId: WAREHOUSE, delta: 3, changeFromQuantity: null }] }, key: 'receipt-77' };
    const first = await client.request<AdjustData>(ADJUST, { variables });
    const second = await client.request<AdjustData>(ADJUST, { variables });
    assert.equal(first.data?.inventoryAdjustQuantities?.userErrors, []);
    assert.ok(first.data?.inventoryAdjustQuantities?.inventoryAdjustmentGroup?.id);
    assert.equal(second.data, first.data, 'the replay answers with the stored payload');
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 8, '5 + 3, once');
    assert.is(fake.writes().length, 1);
    assert.equal(
      fake.requests().map((request) => request.replayed),
      [false, true],
    );
  });
});

test('the same key with different variables gives IDEMPOTENCY_KEY_PARAMETER_MISMATCH', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const entry = { inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 12, changeFromQuantity: 5 };
    await client.request<SetData>(SET, { variables: { input: setInput([entry]), key: 'push-9' } });
    const mismatch = await client.request<SetData>(SET, { variables: { input: setInput([{ ...entry, quantity: 20, changeFromQuantity: 12 }]), key: 'push-9' } });
    const payload = mismatch.data?.inventorySetQuantities;
    assert.equal(errorCodes(payload), ['IDEMPOTENCY_KEY_PARAMETER_MISMATCH']);
    assert.is(payload?.inventoryAdjustmentGroup, null);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 12);
    assert.is(fake.writes().length, 1);
  });
});

test('251 quantities are rejected before anything runs; 250 are accepted', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const items = Array.from({ length: 251 }, (_, index) => `gid://shopify/InventoryItem/${9_000_000 + index}`);
    for (const item of items) fake.stock(item, WAREHOUSE, { available: 0 });
    const entries = items.map((item) => ({ inventoryItemId: item, locationId: WAREHOUSE, quantity: 1, changeFromQuantity: 0 }));
    const tooMany = await client.request<SetData>(SET, { variables: { input: setInput(entries), key: 'bulk-251' } });
    const error = tooMany.errors?.graphQLErrors?.[0];
    assert.is(error?.message, 'The input array size of 251 is greater than the maximum allowed of 250.');
    assert.is(error?.extensions?.code, 'MAX_INPUT_SIZE_EXCEEDED');
    assert.equal(error?.path, ['inventorySetQuantities', 'input', 'quantities']);
    assert.is(fake.writes().length, 0);
    assert.is(fake.level(items[0] ?? '', WAREHOUSE)?.available, 0);

    const enough = await client.request<SetData>(SET, { variables: { input: setInput(entries.slice(0, 250)), key: 'bulk-250' } });
    assert.equal(enough.data?.inventorySetQuantities?.userErrors, []);
    assert.is(fake.level(items[249] ?? '', WAREHOUSE)?.available, 1);
    assert.is(fake.level(items[250] ?? '', WAREHOUSE)?.available, 0);
  });
});

test('an unknown location or item is a userError on its field, and the whole call is refused', async () => {
  await withFake(async (fake) => {
    const result = await clientFor(fake).request<SetData>(SET, {
      variables: {
        input: setInput([
          { inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 1, changeFromQuantity: 5 },
          { inventoryItemId: SHIRT, locationId: 'gid://shopify/Location/999', quantity: 1, changeFromQuantity: null },
          { inventoryItemId: 'gid://shopify/InventoryItem/404', locationId: WAREHOUSE, quantity: 1, changeFromQuantity: null },
        ]),
        key: 'unknown',
      },
    });
    const payload = result.data?.inventorySetQuantities;
    assert.equal(payload?.userErrors.map((error) => [error.code, error.field?.join('.')]), [
      ['INVALID_LOCATION', 'input.quantities.1.locationId'],
      ['INVALID_INVENTORY_ITEM', 'input.quantities.2.inventoryItemId'],
    ]);
    assert.is(payload?.inventoryAdjustmentGroup, null);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5);
  });
});

test('an inactive location is readable with isActive false and left out of locations() by default', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const one = await client.request<{ location: { id: string; name: string; isActive: boolean; fulfillsOnlineOrders: boolean } | null }>(
      `query($id: ID!) { location(id: $id) { id name isActive fulfillsOnlineOrders } }`,
      { variables: { id: CLOSED_STORE } },
    );
    assert.equal(one.data?.location, { id: CLOSED_STORE, name: 'Old shop', isActive: false, fulfillsOnlineOrders: false });
    type Locations = { locations: { nodes: Array<{ id: string; isActive: boolean }> } };
    const active = await client.request<Locations>(`{ locations(first: 10) { nodes { id isActive } } }`);
    assert.equal(active.data?.locations.nodes, [{ id: WAREHOUSE, isActive: true }]);
    const all = await client.request<Locations>(`{ locations(first: 10, includeInactive: true) { nodes { id isActive } } }`);
    assert.equal(all.data?.locations.nodes.map((node) => node.isActive).sort(), [false, true]);
  });
});

test('the bucket drains by the actual cost; past it Shopify THROTTLED arrives in a 200 with extensions.cost', async () => {
  let now = Date.parse('2026-11-27T12:00:00Z');
  await withFake(
    async (fake) => {
      const client = clientFor(fake);
      let key = 0;
      const adjust = (): Promise<Awaited<ReturnType<typeof client.request<AdjustData>>>> =>
        client.request<AdjustData>(`mutation($input: InventoryAdjustQuantitiesInput!, $key: String!) { inventoryAdjustQuantities(input: $input) @idempotent(key: $key) { userErrors { code } } }`, {
          variables: { input: { name: 'available', reason: 'correction', changes: [{ inventoryItemId: SHIRT, locationId: WAREHOUSE, delta: 1, changeFromQuantity: null }] }, key: `k-${(key += 1)}` },
        });
      let available = 50;
      let accepted = 0;
      for (;;) {
        const result = await adjust();
        const cost = result.extensions?.cost;
        if (result.errors) {
          const error = result.errors.graphQLErrors?.[0];
          assert.is(result.errors.networkStatusCode, 200);
          assert.is(error?.message, 'Throttled');
          assert.is(error?.extensions?.code, 'THROTTLED');
          assert.is(result.data, undefined, 'a throttled response has no data');
          assert.is(cost?.actualQueryCost, null);
          assert.is(cost?.requestedQueryCost, 11);
          assert.is(cost?.throttleStatus?.currentlyAvailable, available);
          assert.ok(available < 11);
          break;
        }
        accepted += 1;
        assert.is(cost?.requestedQueryCost, 11, 'mutation 10 + payload object 1');
        available -= cost?.actualQueryCost ?? NaN;
        assert.is(cost?.throttleStatus?.currentlyAvailable, available);
        assert.is(cost?.throttleStatus?.maximumAvailable, 50);
        assert.is(cost?.throttleStatus?.restoreRate, 5);
        assert.ok(accepted < 10, 'the bucket must run dry');
      }
      assert.is(fake.writes().length, accepted, 'the throttled mutation was not applied');
      assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 5 + accepted);
      now += 2000; // restores 10 points
      const later = await adjust();
      assert.is(later.errors, undefined);
      assert.is(fake.writes().length, accepted + 1);
    },
    { bucket: { maximumAvailable: 50, restoreRate: 5 }, clock: () => now },
  );
});

test('a wrong or missing access token gets 401 like Shopify', async () => {
  await withFake(async (fake) => {
    const result = await clientFor(fake, { accessToken: 'shpat_wrong' }).request(`{ locations(first: 1) { nodes { id } } }`);
    assert.is(result.errors?.networkStatusCode, 401);
    const missing = await fetch(fake.graphqlUrl(), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ query: '{ locations(first: 1) { nodes { id } } }' }) });
    assert.is(missing.status, 401);
    assert.equal(await missing.json(), { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
    assert.is(fake.requests().length, 0);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
}

async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ headers: request.headers, raw: Buffer.concat(chunks) });
      response.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/webhooks/shopify`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function hmacValid(delivery: Received, secret: string): boolean {
  const expected = createHmac('sha256', secret).update(delivery.raw).digest();
  const header = Buffer.from(String(delivery.headers['x-shopify-hmac-sha256']), 'base64');
  return header.length === expected.length && timingSafeEqual(header, expected);
}

test('webhooks: HMAC over the raw body verifies with the app secret; a duplicate keeps the event id; delays reorder', async () => {
  const receiver = await startReceiver();
  try {
    await withFake(
      async (fake) => {
        const payload = fake.inventoryLevelUpdatePayload(SHIRT, WAREHOUSE);
        const deliveries = await fake.emitWebhook('inventory_levels/update', payload, { duplicate: true });
        assert.equal(deliveries.map((delivery) => delivery.status), [200, 200]);
        const [first, second] = receiver.received;
        if (!first || !second) throw new Error('two deliveries expected');
        assert.ok(hmacValid(first, SECRET));
        assert.not.ok(hmacValid(first, 'some-other-secret'));
        assert.is(first.headers['x-shopify-topic'], 'inventory_levels/update');
        assert.is(first.headers['x-shopify-shop-domain'], SHOP);
        assert.is(first.headers['x-shopify-api-version'], '2026-10');
        assert.ok(!Number.isNaN(Date.parse(String(first.headers['x-shopify-triggered-at']))));
        assert.is(second.headers['x-shopify-event-id'], first.headers['x-shopify-event-id']);
        assert.is.not(second.headers['x-shopify-webhook-id'], first.headers['x-shopify-webhook-id']);
        assert.ok(second.raw.equals(first.raw));
        // The id is written exactly; plain JSON.parse rounds it, admin_graphql_api_id keeps it.
        const text = first.raw.toString('utf8');
        assert.ok(text.includes('"inventory_item_id":271878346596884015'), text);
        const parsed = JSON.parse(text) as { inventory_item_id: number; admin_graphql_api_id: string; available: number };
        assert.is.not(String(parsed.inventory_item_id), '271878346596884015');
        assert.is(parsed.admin_graphql_api_id, 'gid://shopify/InventoryLevel/24826418?inventory_item_id=271878346596884015');
        assert.is(parsed.available, 5);

        const late = fake.emitWebhook('inventory_levels/update', { available: 1 }, { delayMs: 150 });
        await fake.emitWebhook('inventory_levels/update', { available: 2 });
        await late;
        assert.equal(receiver.received.slice(2).map((delivery) => (JSON.parse(delivery.raw.toString('utf8')) as { available: number }).available), [2, 1]);
      },
      { webhookUrl: receiver.url },
    );
  } finally {
    await receiver.close();
  }
});

test('a storefront sale moves available to committed, sends orders/create, and makes a stale push fail', async () => {
  const receiver = await startReceiver();
  try {
    await withFake(
      async (fake) => {
        const sale = await fake.sellOnStorefront(SHIRT, WAREHOUSE, 3);
        const level = fake.level(SHIRT, WAREHOUSE);
        assert.equal([level?.available, level?.committed, level?.on_hand], [2, 5, 7], 'on_hand does not move on a sale');
        assert.equal(sale.deliveries.map((delivery) => delivery.topic), ['orders/create', 'inventory_levels/update']);
        const [order, levelUpdate] = receiver.received;
        if (!order || !levelUpdate) throw new Error('two deliveries expected');
        assert.is(order.headers['x-shopify-topic'], 'orders/create');
        assert.ok(hmacValid(order, SECRET));
        const orderText = order.raw.toString('utf8');
        assert.ok(orderText.includes(`"id":${sale.order.id}`), 'order id written exactly');
        assert.ok(sale.order.id > BigInt(Number.MAX_SAFE_INTEGER));
        const body = JSON.parse(orderText) as { admin_graphql_api_id: string; line_items: Array<{ sku: string; quantity: number; admin_graphql_api_id: string }> };
        assert.is(body.admin_graphql_api_id, `gid://shopify/Order/${sale.order.id}`);
        assert.equal(body.line_items.map((line) => [line.sku, line.quantity]), [['TSHIRT-BLK-L', 3]]);
        assert.match(body.line_items[0]?.admin_graphql_api_id ?? '', /^gid:\/\/shopify\/LineItem\/\d+$/);
        assert.is((JSON.parse(levelUpdate.raw.toString('utf8')) as { available: number }).available, 2);

        // A pusher that read available = 5 before the sale now loses the compare-and-set.
        const push = await clientFor(fake).request<SetData>(SET, {
          variables: { input: setInput([{ inventoryItemId: SHIRT, locationId: WAREHOUSE, quantity: 4, changeFromQuantity: 5 }]), key: 'push-after-sale' },
        });
        assert.equal(errorCodes(push.data?.inventorySetQuantities), ['CHANGE_FROM_QUANTITY_STALE']);
        assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 2);

        await fake.cancelStorefrontOrder(sale.order.id);
        assert.equal([fake.level(SHIRT, WAREHOUSE)?.available, fake.level(SHIRT, WAREHOUSE)?.committed], [5, 2]);
        const cancelled = receiver.received.find((delivery) => delivery.headers['x-shopify-topic'] === 'orders/cancelled');
        assert.ok(cancelled && (JSON.parse(cancelled.raw.toString('utf8')) as { cancelled_at: string | null }).cancelled_at);
      },
      { webhookUrl: receiver.url },
    );
  } finally {
    await receiver.close();
  }
});

test('delivery lag: a storefront order resolves at once, its webhooks arrive after their lag with X-Shopify-Triggered-At at the sale', async () => {
  const receiver = await startReceiver();
  try {
    await withFake(
      async (fake) => {
        const started = Date.now();
        const sale = await fake.sellOnStorefront(SHIRT, WAREHOUSE, 1);
        assert.ok(Date.now() - started < 200, 'the sale does not wait for its webhooks');
        assert.equal(sale.deliveries, []);
        assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 4, 'the stock moved at once');
        assert.is(receiver.received.length, 0, 'nothing delivered before the lag');
        // An explicit delayMs wins over the configured lag.
        await fake.emitWebhook('inventory_levels/update', fake.inventoryLevelUpdatePayload(SHIRT, WAREHOUSE), { delayMs: 0 });
        assert.is(receiver.received.length, 1);
        await fake.settleWebhooks();
        const arrived = Date.now() - started;
        assert.ok(arrived >= 240, `delivered after the lag (${arrived} ms)`);
        const order = receiver.received.find((delivery) => delivery.headers['x-shopify-topic'] === 'orders/create');
        assert.ok(order, 'orders/create delivered');
        const triggeredAt = Date.parse(String(order.headers['x-shopify-triggered-at']));
        assert.ok(triggeredAt - started < 200, 'X-Shopify-Triggered-At is the time of the sale, not of the delivery');
        assert.equal(receiver.received.map((delivery) => delivery.headers['x-shopify-topic']).sort(), ['inventory_levels/update', 'inventory_levels/update', 'orders/create']);
      },
      { webhookUrl: receiver.url, deliveryLag: { minMs: 250, maxMs: 300, seed: 1 } },
    );
  } finally {
    await receiver.close();
  }
});

test('delivery lag per topic; close() ends deliveries still waiting for their lag', async () => {
  const receiver = await startReceiver();
  try {
    const fake = await startShopifyFake({ accessToken: TOKEN, appSecret: SECRET, shopDomain: SHOP, webhookUrl: receiver.url, deliveryLag: { 'orders/create': 60_000 } });
    fake.addLocation({ id: WAREHOUSE, name: 'Warehouse', isActive: true, fulfillsOnlineOrders: true });
    fake.stock(SHIRT, WAREHOUSE, { available: 5 });
    const sale = await fake.sellOnStorefront(SHIRT, WAREHOUSE, 2);
    assert.equal(sale.deliveries, []);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(receiver.received.map((delivery) => delivery.headers['x-shopify-topic']), ['inventory_levels/update'], 'only orders/create is lagged');
    const started = Date.now();
    await fake.close();
    assert.ok(Date.now() - started < 5_000, 'close() does not wait a minute');
    const waiting = fake.webhookDeliveries().find((delivery) => delivery.topic === 'orders/create');
    assert.is(waiting?.error, 'Shopify fake closed');
    await rejectsWith(startShopifyFake({ accessToken: TOKEN, appSecret: SECRET, shopDomain: SHOP, deliveryLag: -1 }), /deliveryLag must be/);
  } finally {
    await receiver.close();
  }
});

test('injected 503, connection reset and timeout reach the client as errors', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const query = `{ locations(first: 1) { nodes { id } } }`;
    fake.injectFault({ kind: 'status', status: 503 });
    const unavailable = await client.request(query);
    assert.is(unavailable.errors?.networkStatusCode, 503);

    fake.injectFault({ kind: 'reset' });
    const reset = await client.request(query);
    assert.is(reset.errors?.networkStatusCode, undefined);
    assert.ok(reset.errors?.message, 'a reset surfaces as a network error message');

    fake.injectFault({ kind: 'timeout' });
    const timedOut = await client.request(query, { signal: AbortSignal.timeout(200) });
    assert.ok(timedOut.errors?.message);
    assert.is(timedOut.data, undefined);

    const healthy = await client.request(query);
    assert.is(healthy.errors, undefined, 'one-shot faults are used up');
    assert.equal(fake.requests().map((request) => request.status), [503, 'reset', 'timeout', 200]);
  });
});

test('removeFault drops what no request took of an injected fault, leaving the others queued', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake);
    const query = `{ locations(first: 1) { nodes { id } } }`;
    const storm = fake.injectFault({ kind: 'status', status: 503 }, { times: 3 });
    const reset = fake.injectFault({ kind: 'reset' });
    assert.is((await client.request(query)).errors?.networkStatusCode, 503);
    assert.is(fake.removeFault(storm), 2, 'two of the three were never taken');
    assert.is(fake.removeFault(storm), 0, 'removing twice drops nothing more');
    assert.ok((await client.request(query)).errors?.message, 'the reset queued behind the storm still applies');
    assert.is(fake.removeFault(reset), 0, 'a used-up fault has nothing left');
    assert.is((await client.request(query)).errors, undefined);
    assert.equal(fake.requests().map((request) => request.status), [503, 'reset', 200]);
  });
});

test('a reset after the write was applied: the client retry is answered from the idempotency store', async () => {
  await withFake(async (fake) => {
    const client = clientFor(fake, { retries: 1 });
    fake.injectFault({ kind: 'reset', phase: 'after' }, { only: 'mutation' });
    const result = await client.request<AdjustData>(ADJUST, {
      variables: { input: { name: 'available', reason: 'received', changes: [{ inventoryItemId: SHIRT, locationId: WAREHOUSE, delta: 4, changeFromQuantity: 5 }] }, key: 'receipt-retry' },
    });
    assert.is(result.errors, undefined);
    assert.equal(errorCodes(result.data?.inventoryAdjustQuantities), []);
    assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 9, 'applied once even though the request was sent twice');
    assert.is(fake.writes().length, 1);
    assert.equal(
      fake.requests().map((request) => [request.status, request.replayed]),
      [
        ['reset', false],
        [200, true],
      ],
    );
  });
});

// ---------------------------------------------------------------------------------------
// Long runs: indexed lookups and capped logs

async function rejectsWith(promise: Promise<unknown>, expected: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.match(error instanceof Error ? error.message : String(error), expected);
    return;
  }
  assert.unreachable(`expected a rejection matching ${expected}`);
}

test('order(id) finds a storefront order by id; payloads and cancels use it; order numbers keep counting', async () => {
  await withFake(async (fake) => {
    fake.stock(MUG, WAREHOUSE, { available: 100 });
    const sales = [];
    for (let index = 0; index < 50; index += 1) sales.push(await fake.sellOnStorefront(MUG, WAREHOUSE, 1, { webhooks: false }));
    assert.equal(sales.map((sale) => sale.order.orderNumber), Array.from({ length: 50 }, (_, index) => 1001 + index));
    const middle = sales[25]?.order;
    if (!middle) throw new Error('no order');
    assert.is(fake.order(middle.id), middle, 'the very object orders() holds');
    assert.is(fake.orders()[25], middle);
    assert.is(fake.order(middle.id + 1_000_000n), undefined);
    assert.is(fake.order(0n), undefined);

    const created = fake.orderCreatePayload(middle.id) as { id: bigint; order_number: number; cancelled_at: string | null };
    assert.is(created.id, middle.id);
    assert.is(created.order_number, 1026);
    assert.is(created.cancelled_at, null);
    assert.throws(() => fake.orderCreatePayload(middle.id + 1_000_000n), /no storefront order/);

    await fake.cancelStorefrontOrder(middle.id, { webhooks: false });
    assert.ok(fake.order(middle.id)?.cancelledAt);
    assert.ok((fake.orderCancelledPayload(middle.id) as { cancelled_at: string | null }).cancelled_at);
    await rejectsWith(fake.cancelStorefrontOrder(middle.id), /already cancelled/);
    await rejectsWith(fake.cancelStorefrontOrder(middle.id + 1_000_000n), /no storefront order/);
    assert.is(fake.level(MUG, WAREHOUSE)?.available, 51, '100 - 50 + 1 restocked');

    const next = await fake.placeStorefrontOrder([{ itemId: MUG, locationId: WAREHOUSE, quantity: 1 }], { webhooks: false });
    assert.is(next.order.orderNumber, 1051);
    assert.is(fake.order(next.order.id), next.order);
  });
});

test('webhookLogLimit keeps the newest deliveries; redelivering a dropped one throws naming webhookLogLimit', async () => {
  const receiver = await startReceiver();
  try {
    await withFake(
      async (fake) => {
        const deliveries = [];
        for (let index = 0; index < 40; index += 1) deliveries.push(...(await fake.emitWebhook('inventory_levels/update', { available: index })));
        const log = fake.webhookDeliveries();
        assert.ok(log.length >= 8 && log.length <= 10, `between the limit and a quarter over it, got ${log.length}`);
        assert.is(log.at(-1), deliveries.at(-1), 'the newest delivery is kept');
        assert.equal(
          log.map((delivery) => delivery.body),
          deliveries.slice(-log.length).map((delivery) => delivery.body),
          'the kept ones are the newest, in order',
        );
        assert.is(receiver.received.length, 40, 'dropping from the log does not drop deliveries');

        const dropped = deliveries[0];
        const kept = deliveries.at(-2);
        if (!dropped || !kept) throw new Error('deliveries expected');
        assert.is(fake.webhookDelivery(dropped.webhookId), undefined);
        assert.is(fake.webhookDelivery(kept.webhookId), kept);
        await rejectsWith(fake.redeliverWebhook(dropped.webhookId), /dropped from the delivery log because of webhookLogLimit \(8\)/);
        await rejectsWith(fake.redeliverWebhook('00000000-0000-4000-8000-000000000000'), /^no delivery with webhook id/);

        const again = await fake.redeliverWebhook(kept.webhookId);
        assert.is(again.status, 200);
        assert.is(again.eventId, kept.eventId);
        assert.is.not(again.webhookId, kept.webhookId);
        assert.is(again.body, kept.body);
        assert.is(fake.webhookDeliveries().at(-1), again);
        assert.match(again.webhookId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'still UUID-shaped');
        assert.is(new Set(fake.webhookDeliveries().map((delivery) => delivery.webhookId)).size, fake.webhookDeliveries().length);
      },
      { webhookUrl: receiver.url, webhookLogLimit: 8 },
    );
    await rejectsWith(startShopifyFake({ accessToken: TOKEN, appSecret: SECRET, shopDomain: SHOP, webhookLogLimit: -1 }), /webhookLogLimit must be a whole number >= 0/);
  } finally {
    await receiver.close();
  }
});

test('redeliverWebhook keeps X-Shopify-Triggered-At by default; triggeredAt overrides it (a retry hours later)', async () => {
  const receiver = await startReceiver();
  try {
    await withFake(
      async (fake) => {
        const original = '2026-11-27T09:00:00.000Z';
        const [first] = await fake.emitWebhook('inventory_levels/update', fake.inventoryLevelUpdatePayload(SHIRT, WAREHOUSE), { triggeredAt: original });
        if (!first) throw new Error('a delivery expected');
        const retry = await fake.redeliverWebhook(first.webhookId);
        const hoursLater = new Date(Date.now() - 6 * 60 * 60 * 1000).toISOString();
        const late = await fake.redeliverWebhook(first.webhookId, { triggeredAt: hoursLater });
        assert.equal([first.status, retry.status, late.status], [200, 200, 200]);
        assert.is(retry.headers['X-Shopify-Triggered-At'], original);
        assert.is(late.headers['X-Shopify-Triggered-At'], hoursLater);

        const [sent, retried, lateSent] = receiver.received;
        if (!sent || !retried || !lateSent) throw new Error('three deliveries expected');
        assert.is(sent.headers['x-shopify-triggered-at'], original);
        assert.is(retried.headers['x-shopify-triggered-at'], original);
        assert.is(lateSent.headers['x-shopify-triggered-at'], hoursLater);
        assert.is(lateSent.headers['x-shopify-event-id'], sent.headers['x-shopify-event-id'], 'same event');
        assert.is.not(lateSent.headers['x-shopify-webhook-id'], sent.headers['x-shopify-webhook-id'], 'new delivery');
        assert.ok(lateSent.raw.equals(sent.raw));
        assert.ok(hmacValid(lateSent, SECRET));
      },
      { webhookUrl: receiver.url },
    );
  } finally {
    await receiver.close();
  }
});

test('requestLogLimit and writeLogLimit keep the newest entries, write sequence numbers keep counting; idempotency keys still expire', async () => {
  let now = Date.parse('2026-11-27T12:00:00.000Z');
  await withFake(
    async (fake) => {
      const client = clientFor(fake);
      const adjust = (key: string, delta: number) =>
        client.request<AdjustData>(ADJUST, {
          variables: { input: { name: 'available', reason: 'received', changes: [{ inventoryItemId: SHIRT, locationId: WAREHOUSE, delta, changeFromQuantity: null }] }, key },
        });
      for (let index = 1; index <= 12; index += 1) {
        const result = await adjust(`key-${index}`, 1);
        assert.equal(errorCodes(result.data?.inventoryAdjustQuantities), []);
        now += 1000;
      }
      assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 17);
      const writes = fake.writes();
      assert.ok(writes.length >= 4 && writes.length <= 5, `writes kept: ${writes.length}`);
      assert.equal(writes.map((write) => write.sequence), Array.from({ length: writes.length }, (_, index) => 13 - writes.length + index));
      assert.is(writes.at(-1)?.idempotencyKey, 'key-12');
      assert.is(writes.at(-1)?.groupId, 'gid://shopify/InventoryAdjustmentGroup/30000000012');
      assert.ok(fake.requests().length >= 3 && fake.requests().length <= 4, `requests kept: ${fake.requests().length}`);

      // key-12 was stored 1 s ago: a replay. key-1 was stored 12 s ago, past the 10 s retention: applied again.
      const replay = await adjust('key-12', 1);
      assert.is(fake.requests().at(-1)?.replayed, true);
      assert.equal(replay.data?.inventoryAdjustQuantities?.inventoryAdjustmentGroup?.id, 'gid://shopify/InventoryAdjustmentGroup/30000000012');
      const expired = await adjust('key-1', 5);
      assert.equal(errorCodes(expired.data?.inventoryAdjustQuantities), [], 'an expired key with other arguments is no mismatch');
      assert.is(fake.level(SHIRT, WAREHOUSE)?.available, 22);
      assert.is(fake.writes().at(-1)?.sequence, 13);
    },
    { clock: () => now, idempotencyRetentionMs: 10_000, requestLogLimit: 3, writeLogLimit: 4 },
  );
});

test.run();
