// A local SQS for the demo and the chaos harness: fauxqs (speaks the AWS JSON 1.0 protocol
// the current SDK uses) with one standard queue for SP-API notifications. fauxqs is a
// development dependency: nothing in the daemon imports this file.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';

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

const REPO_ROOT = resolve(import.meta.dirname, '../..');

async function startSqsProcess(queueName: string): Promise<LocalSqs> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/sim/sqsProcess.ts', queueName], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  try {
    const started = await new Promise<{ endpoint: string; queueUrl: string; region: string }>((resolveStart, reject) => {
      let out = '';
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const newline = out.indexOf('\n');
        if (newline >= 0) resolveStart(JSON.parse(out.slice(0, newline)) as { endpoint: string; queueUrl: string; region: string });
      });
      child.once('exit', (code) => reject(new Error(`the local SQS process exited (${String(code)}) before its queue existed`)));
    });
    process.env.AWS_ACCESS_KEY_ID ??= 'local';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'local';
    return withDepth(started, async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    });
  } catch (error) {
    child.kill('SIGKILL');
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
