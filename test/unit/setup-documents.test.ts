// The GraphQL documents `stockguard setup shopify`, `doctor` and `catalog discover` send
// validate against the vendored Admin API 2026-10 schema and use no deprecated field; the
// topics setup subscribes are exactly those the webhook mapper turns into events; the SQS
// queue ARN is read from an AWS queue URL and nothing else.
import { type GraphQLEnumType, parse, validate, TypeInfo, visit, visitWithTypeInfo } from 'graphql';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DISCOVER_SHOPIFY_DOCUMENTS } from '../../src/catalog/discover/shopify.ts';
import { mapShopifyWebhook, SHOPIFY_TOPICS } from '../../src/domain/shopifyWebhooks.ts';
import { queueArnOf } from '../../src/setup/amazon.ts';
import { SETUP_SHOPIFY_DOCUMENTS, SHOPIFY_SETUP_TOPICS } from '../../src/setup/shopify.ts';
import { adminSchema } from '../../src/sim/shopify/schema.ts';

const documents = { ...SETUP_SHOPIFY_DOCUMENTS, ...DISCOVER_SHOPIFY_DOCUMENTS };

test('every setup and discover document validates against the 2026-10 schema', () => {
  assert.is(Object.keys(documents).length, 7);
  for (const [name, document] of Object.entries(documents)) {
    const errors = validate(adminSchema(), parse(document));
    assert.equal(errors.map((error) => error.message), [], `${name} is valid`);
  }
});

test('no document selects or passes a deprecated field or argument (callbackUrl is)', () => {
  const schema = adminSchema();
  for (const [name, document] of Object.entries(documents)) {
    const typeInfo = new TypeInfo(schema);
    const deprecated: string[] = [];
    visit(
      parse(document),
      visitWithTypeInfo(typeInfo, {
        Field() {
          const field = typeInfo.getFieldDef();
          if (field?.deprecationReason) deprecated.push(field.name);
        },
        Argument() {
          const argument = typeInfo.getArgument();
          if (argument?.deprecationReason) deprecated.push(argument.name);
        },
      }),
    );
    assert.equal(deprecated, [], `${name} uses nothing deprecated`);
  }
  assert.ok(schema.getType('WebhookSubscription') && 'getFields' in schema.getType('WebhookSubscription')!, 'the schema has WebhookSubscription');
});

test('setup subscribes exactly the topics the webhook mapper turns into events', () => {
  const topicEnum = adminSchema().getType('WebhookSubscriptionTopic') as GraphQLEnumType;
  const known = new Set(topicEnum.getValues().map((value) => value.name));
  for (const topic of SHOPIFY_SETUP_TOPICS) assert.ok(known.has(topic), `${topic} is a WebhookSubscriptionTopic`);
  const asEnum = (topic: string) => topic.toUpperCase().replace('/', '_');
  // A topic the mapper takes into the ledger is subscribed; one it ignores is not.
  const mapped = SHOPIFY_TOPICS.filter((topic) => mapShopifyWebhook(topic, {}, { eventId: 'x', receivedAtMs: 0 }).kind !== 'ignored');
  assert.equal([...SHOPIFY_SETUP_TOPICS].sort(), mapped.map(asEnum).sort());
  assert.ok(mapped.length === SHOPIFY_TOPICS.length - 1 && !mapped.includes('inventory_items/update'));
});

test('queueArnOf: AMAZON_SQS_QUEUE_ARN first, else the ARN of an AWS queue URL, else nothing', () => {
  assert.is(queueArnOf({ queueArn: 'arn:aws:sqs:eu-west-1:123456789012:given', queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/other' }), 'arn:aws:sqs:eu-west-1:123456789012:given');
  assert.is(queueArnOf({ queueArn: undefined, queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/stockguard' }), 'arn:aws:sqs:us-east-1:123456789012:stockguard');
  assert.is(queueArnOf({ queueArn: undefined, queueUrl: 'https://sqs.eu-central-1.amazonaws.com/123456789012/orders.fifo' }), 'arn:aws:sqs:eu-central-1:123456789012:orders.fifo');
  // A local emulator's URL says nothing about the real queue.
  assert.is(queueArnOf({ queueArn: undefined, queueUrl: 'http://127.0.0.1:4566/000000000000/stockguard' }), undefined);
  assert.is(queueArnOf({ queueArn: undefined, queueUrl: undefined }), undefined);
});

test.run();
