// `stockguard doctor`'s Redis check on a local Cluster: every master is checked and named,
// so one master without AOF is found even when the others have it.
import { Redis } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkRedis, type Finding } from '../../src/doctor/doctor.ts';
import { startTestCluster, type TestCluster } from '../helpers/redis.ts';

const test = suite('doctor on a Redis Cluster');
let cluster: TestCluster;

test.before(async () => {
  cluster = await startTestCluster();
});

test.after(async () => {
  await cluster?.close();
});

test('each master is checked; the one without AOF is named', async () => {
  const client = cluster.client();
  await client.ping();
  const masters = client.nodes('master').map((node) => `${node.options.host}:${node.options.port}`).sort();
  assert.is(masters.length, 3);
  // AOF on every master but the first.
  for (const address of masters.slice(1)) {
    const admin = new Redis(`redis://${address}`);
    try {
      await admin.config('SET', 'appendonly', 'yes');
    } finally {
      admin.disconnect();
    }
  }
  const findings: Finding[] = [];
  await checkRedis(client, (finding) => findings.push(finding));
  const persistence = findings.filter((finding) => finding.check === 'redis-persistence');
  assert.equal(persistence.map((finding) => finding.detail.split(':').slice(0, 2).join(':')).sort(), masters);
  assert.equal(persistence.filter((finding) => finding.severity === 'fail').map((finding) => finding.detail.split(': ')[0]), [masters[0]]);
  assert.match(persistence.find((finding) => finding.severity === 'fail')!.detail, /AOF persistence is off/);
  assert.equal(findings.filter((finding) => finding.check === 'redis-version').map((finding) => finding.severity), ['ok', 'ok', 'ok']);
});

test.run();
