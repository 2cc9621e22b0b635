// A local SQS for the demo and the chaos harness: fauxqs (speaks the AWS JSON 1.0 protocol
// the current SDK uses) with one standard queue for SP-API notifications. fauxqs is a
// development dependency: nothing in the daemon imports this file.
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { startChildService } from './childService.ts';

export interface LocalSqs {
  endpoint: string;
  queueUrl: string;
  region: string;
  /** Messages on the queue: visible, and handed out to a receiver and not yet deleted. */
  depth(): Promise<{ visible: number; handedOut: number }>;
  stop(): Promise<void>;
}

export interface LocalSqsOptions {
  /**
   * Run fauxqs in a child process (src/sim/sqsProcess.ts) instead of this one: for a caller
   * whose own event loop is busy (the chaos harness's load generator and fakes), which would
   * otherwise answer every receive late, as no real SQS does.
   */
  ownProcess?: boolean;
}

export async function startLocalSqs(queueName = 'sp-api-notifications', options: LocalSqsOptions = {}): Promise<LocalSqs> {
  if (options.ownProcess) return startSqsProcess(queueName);
  const fauxqs = await startFauxqs({ port: 0, logger: false });
  const endpoint = `http://127.0.0.1:${fauxqs.port}`;
  const region = 'us-east-1';
  const client = new SQSClient({ endpoint, region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    const queueUrl = (await client.send(new CreateQueueCommand({ QueueName: queueName }))).QueueUrl;
    if (!queueUrl) throw new Error(`fauxqs did not return a QueueUrl for ${queueName}`);
    // The daemon's SQS client takes credentials from the environment; any value works locally.
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    return withDepth({ endpoint, queueUrl, region }, async () => void (await fauxqs.stop()));
  } catch (error) {
    await fauxqs.stop();
    throw error;
  } finally {
    client.destroy();
  }
}

async function startSqsProcess(queueName: string): Promise<LocalSqs> {
  const service = await startChildService('src/sim/sqsProcess.ts', [queueName], { what: 'the local SQS process', stderr: 'inherit' });
  try {
    const queue = JSON.parse(service.ready) as { endpoint: string; queueUrl: string; region: string };
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    return withDepth(queue, () => service.stop());
  } catch (error) {
    await service.stop();
    throw error;
  }
}

/** The queue's address with `depth()` (one client, made on first use) and `stop`, which also closes that client. */
function withDepth(queue: { endpoint: string; queueUrl: string; region: string }, stop: () => Promise<void>): LocalSqs {
  let client: SQSClient | undefined;
  return {
    ...queue,
    async depth() {
      client ??= new SQSClient({ endpoint: queue.endpoint, region: queue.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
      const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queue.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      return { visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0), handedOut: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0) };
    },
    async stop() {
      client?.destroy();
      await stop();
    },
  };
}
