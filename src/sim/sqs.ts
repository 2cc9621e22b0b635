// A local SQS for the demo and the chaos harness: fauxqs (speaks the AWS JSON 1.0 protocol
// the current SDK uses) with one standard queue for SP-API notifications. fauxqs is a
// development dependency: nothing in the daemon imports this file.
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';

export interface LocalSqs {
  endpoint: string;
  queueUrl: string;
  region: string;
  stop(): Promise<void>;
}

export async function startLocalSqs(queueName = 'sp-api-notifications'): Promise<LocalSqs> {
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
    return { endpoint, queueUrl, region, stop: async () => void (await fauxqs.stop()) };
  } catch (error) {
    await fauxqs.stop();
    throw error;
  } finally {
    client.destroy();
  }
}
