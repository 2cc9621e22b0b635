// The SQS queue's retention against the dedupe horizons (src/ingest/amazon/queueRetention.ts),
// on a local SQS (fauxqs, the AWS JSON protocol the SDK speaks): a queue at SQS's default
// retention (4 days) is inside the default horizons (5 days); a queue kept 14 days is not,
// and the `sqs` role's check and `stockguard doctor` name both variables and the fix.
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Catalog } from '../../src/catalog/catalog.ts';
import { loadConfig } from '../../src/config.ts';
import { runDoctor } from '../../src/doctor/doctor.ts';
import { judgeRetention, queueHorizonsOf, readQueueRetention } from '../../src/ingest/amazon/queueRetention.ts';
import { SqsPoller } from '../../src/ingest/amazon/sqsPoller.ts';
import { startLocalSqs } from '../../src/sim/sqs.ts';
import { startTestRedis } from '../helpers/redis.ts';

const sqs = await startLocalSqs();
const client = new SQSClient({ endpoint: sqs.endpoint, region: sqs.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
const longQueueUrl = (await client.send(new CreateQueueCommand({ QueueName: 'kept-14-days', Attributes: { MessageRetentionPeriod: String(14 * 86_400) } }))).QueueUrl!;
const redis = await startTestRedis();
const io = redis.client();

function horizonsOf(env: Record<string, string>) {
  return queueHorizonsOf(loadConfig(env));
}

test('the queue\'s MessageRetentionPeriod is read in seconds: SQS\'s default 4 days, or what the queue was given', async () => {
  assert.is(await readQueueRetention(client, sqs.queueUrl), 4 * 86_400);
  assert.is(await readQueueRetention(client, longQueueUrl), 14 * 86_400);
});

test('the sqs role reads it through its poller\'s own client (what the daemon judges at start-up)', async () => {
  const poller = new SqsPoller({
    queueUrl: longQueueUrl,
    sqs: { region: sqs.region, endpoint: sqs.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } },
    sink: { publish: () => Promise.reject(new Error('nothing is polled')) },
    deadLetter: async () => assert.unreachable('nothing is polled'),
  });
  assert.is(await poller.queueRetentionSeconds(), 14 * 86_400);
  await poller.stop();
});

test('the default horizons cover a queue at SQS\'s default retention', () => {
  const verdict = judgeRetention(4 * 86_400, horizonsOf({}));
  assert.ok(verdict.ok, verdict.detail);
  assert.match(verdict.detail, /4 days/);
});

test('a queue kept longer than a horizon: each short variable is named, with the retention plus a day as the fix', () => {
  const both = judgeRetention(14 * 86_400, horizonsOf({}));
  assert.not.ok(both.ok);
  assert.match(both.detail, /1209600 s \(14 days, MessageRetentionPeriod\)/);
  assert.match(both.detail, /STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS \(432000 s, 5 days\) and STOCKGUARD_EVENT_HORIZON_SECONDS \(432000 s, 5 days\)/);
  assert.match(both.detail, /dead-lettered \(never applied twice\)/);
  assert.ok(!both.ok && /at least 1296000/.test(both.fix), 'the fix names the value to set');
  const one = judgeRetention(14 * 86_400, horizonsOf({ STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS: String(15 * 86_400) }));
  assert.not.ok(one.ok);
  assert.not.match(one.detail, /STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS/);
  assert.match(one.detail, /STOCKGUARD_EVENT_HORIZON_SECONDS/);
  assert.ok(judgeRetention(14 * 86_400, horizonsOf({ STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS: String(15 * 86_400), STOCKGUARD_EVENT_HORIZON_SECONDS: String(15 * 86_400) })).ok);
});

async function doctorOn(queueUrl: string, extra: Record<string, string> = {}) {
  const config = loadConfig({ REDIS_URL: redis.url, STOCKGUARD_KEY_PREFIX: redis.prefix, AMAZON_SQS_QUEUE_URL: queueUrl, AMAZON_SQS_ENDPOINT: sqs.endpoint, AWS_REGION: sqs.region, ...extra });
  const lines: string[] = [];
  const result = await runDoctor({ config, redis: io, catalog: new Catalog({ redis: io, keyPrefix: redis.prefix }), print: (line) => lines.push(line) });
  return result.findings.filter((finding) => finding.check === 'sqs-retention');
}

test('stockguard doctor checks the queue: ok at the defaults, a failure with its fix for a 14-day queue', async () => {
  const [fine] = await doctorOn(sqs.queueUrl);
  assert.is(fine?.severity, 'ok', JSON.stringify(fine));
  const [long] = await doctorOn(longQueueUrl);
  assert.is(long?.severity, 'fail');
  assert.match(long!.fix!, /STOCKGUARD_SQS_DEDUPE_WINDOW_SECONDS and STOCKGUARD_EVENT_HORIZON_SECONDS to at least 1296000/);
  const [unknown] = await doctorOn(`${sqs.endpoint}/000000000000/no-such-queue`);
  assert.is(unknown?.severity, 'warn', 'a queue it cannot read is a warning, not a verdict');
  assert.match(unknown!.fix!, /sqs:GetQueueAttributes/);
});

test.after(async () => {
  client.destroy();
  io.disconnect();
  await redis.close();
  await sqs.stop();
});

test.run();
