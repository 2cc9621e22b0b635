// Every GraphQL document the Shopify pusher can send validates against the vendored Admin
// API 2026-10 schema, and no other module builds one.
import { readdirSync, readFileSync } from 'node:fs';
import { parse, validate, Kind, type OperationDefinitionNode } from 'graphql';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { allShopifyDocuments, READ_AVAILABLE_SIZES, SET_AVAILABLE } from '../../src/pushers/shopifyDocuments.ts';
import { adminSchema } from '../../src/sim/shopify/schema.ts';

test('every document validates against the 2026-10 schema', () => {
  const documents = allShopifyDocuments();
  assert.is(documents.length, 2 + READ_AVAILABLE_SIZES.length);
  for (const { name, document } of documents) {
    const errors = validate(adminSchema(), parse(document));
    assert.equal(errors.map((error) => error.message), [], `${name} is valid`);
  }
});

test('the write is inventorySetQuantities with @idempotent(key:) and nothing deprecated', () => {
  const operation = parse(SET_AVAILABLE).definitions.find((definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION);
  assert.ok(operation && operation.operation === 'mutation');
  const field = operation.selectionSet.selections[0];
  assert.ok(field && field.kind === Kind.FIELD);
  assert.is(field.name.value, 'inventorySetQuantities');
  assert.equal(field.directives?.map((directive) => directive.name.value), ['idempotent']);
  const mutationType = adminSchema().getMutationType();
  assert.ok(mutationType);
  assert.not.ok(mutationType.getFields().inventorySetQuantities?.deprecationReason, 'not deprecated in 2026-10');
  for (const { name, document } of allShopifyDocuments()) {
    assert.not.match(document, /inventorySetOnHandQuantities|compareQuantity|ignoreCompareQuantity/, `${name} uses nothing removed or deprecated`);
  }
});

test('no other pusher module contains a GraphQL document', () => {
  const directory = new URL('../../src/pushers/', import.meta.url);
  for (const file of readdirSync(directory)) {
    if (!file.endsWith('.ts') || file === 'shopifyDocuments.ts') continue;
    const source = readFileSync(new URL(file, directory), 'utf8');
    assert.not.match(source, /\b(query|mutation)\s+[A-Z]\w*\s*[({]/, `${file} builds a GraphQL document`);
  }
});

test.run();
