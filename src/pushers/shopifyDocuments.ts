// Every GraphQL document the Shopify pusher can send, and nothing else builds one, so
// test/unit/shopify-documents.test.ts can walk them all and validate each against the
// vendored Admin API 2026-10 schema (src/sim/shopify/schema.ts).

/**
 * Sets `available` at the mapped locations (inventorySetQuantities, shopify-notes.md §1.2):
 * compare-and-set through each quantity's changeFromQuantity, and the @idempotent key that
 * 2026-04 made mandatory. The selection is kept small: a mutation costs 10 points plus its
 * selection, and the batch size does not change the cost.
 */
export const SET_AVAILABLE = /* GraphQL */ `
  mutation StockguardSetAvailable($input: InventorySetQuantitiesInput!, $idempotencyKey: String!) {
    inventorySetQuantities(input: $input) @idempotent(key: $idempotencyKey) {
      inventoryAdjustmentGroup {
        id
      }
      userErrors {
        field
        message
        code
      }
    }
  }
`;

/** One location, for the start-up check that it is active and fulfils online orders (I6). */
export const LOCATION = /* GraphQL */ `
  query StockguardLocation($id: ID!) {
    location(id: $id) {
      id
      name
      isActive
      fulfillsOnlineOrders
    }
  }
`;

/**
 * The read-back documents come in a few fixed sizes: `levels` aliases of
 * inventoryItem { inventoryLevel(locationId) { quantities(names: ["available"]) } },
 * 3 cost points each. A read of n pairs uses the smallest size ≥ n, repeating the last
 * pair in the unused aliases; more than the largest size takes several requests.
 */
export const READ_AVAILABLE_SIZES = [1, 10, 50] as const;
export type ReadAvailableSize = (typeof READ_AVAILABLE_SIZES)[number];

export function readAvailableDocument(size: ReadAvailableSize): string {
  const variables: string[] = [];
  const fields: string[] = [];
  for (let index = 0; index < size; index += 1) {
    variables.push(`$item${index}: ID!`, `$location${index}: ID!`);
    fields.push(
      `    level${index}: inventoryItem(id: $item${index}) {\n` +
        `      id\n` +
        `      inventoryLevel(locationId: $location${index}) {\n` +
        `        quantities(names: ["available"]) {\n          name\n          quantity\n        }\n` +
        `      }\n` +
        `    }`,
    );
  }
  return `\n  query StockguardReadAvailable${size}(${variables.join(', ')}) {\n${fields.join('\n')}\n  }\n`;
}

/** Every document the pusher can send, by name. */
export function allShopifyDocuments(): Array<{ name: string; document: string }> {
  return [
    { name: 'SET_AVAILABLE', document: SET_AVAILABLE },
    { name: 'LOCATION', document: LOCATION },
    ...READ_AVAILABLE_SIZES.map((size) => ({ name: `READ_AVAILABLE_${size}`, document: readAvailableDocument(size) })),
  ];
}
