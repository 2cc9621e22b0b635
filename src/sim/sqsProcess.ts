// `tsx src/sim/sqsProcess.ts [QUEUE]`: the local SQS of src/sim/sqs.ts in a process of its
// own (startLocalSqs({ ownProcess: true })). Prints one JSON line, {endpoint, queueUrl,
// region}, once the queue exists; stops on SIGTERM or when its parent goes away (stdin
// closes). SQS is a service with its own capacity: in the chaos harness, whose event loop
// is busy with the load generator and the channel fakes, an in-process fauxqs answered the
// edge's receives a turn late each and held its poller to about 60 messages a second
// (docs/reliability.md, 2026-12-07).
import { startLocalSqs } from './sqs.ts';

const sqs = await startLocalSqs(process.argv[2] ?? 'sp-api-notifications');
process.stdout.write(`${JSON.stringify({ endpoint: sqs.endpoint, queueUrl: sqs.queueUrl, region: sqs.region })}\n`);
const stop = () => void sqs.stop().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
