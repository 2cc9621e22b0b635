// Redis credentials and TLS from configuration, against private redis-server processes:
// the password of the default user (requirepass), a least-privilege ACL user, and TLS
// with a self-signed CA and client certificates made by openssl. The one ioredis client
// (the ledger's and the catalogue's) must log in with them; wrong
// credentials are STOCKGUARD_E_REDIS_UNAVAILABLE (CLI exit 3) with Redis's reason and
// without the password.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { EXIT, run } from '../../src/cli.ts';
import { loadConfig } from '../../src/config.ts';
import { startDaemon } from '../../src/daemon.ts';
import { isStockguardError } from '../../src/errors.ts';
import { signWms } from '../../src/ingest/http/signatures.ts';
import { openRuntime } from '../../src/main.ts';
import { RedisServer, redisServerAvailable } from '../../src/sim/redisServer.ts';
import { trapProcessErrors } from '../helpers/fuzz.ts';
import { freePort } from '../../src/sim/ports.ts';

const execFileAsync = promisify(execFile);
const test = suite('Redis AUTH, ACL users and TLS');
const trap = trapProcessErrors();
const PREFIX = 'sgauth';
// Characters that must be percent-encoded in a URL, to prove both clients decode them.
const DEFAULT_PASSWORD = 'Auth-P@ss/w:rd#1%';
const ACL_USER = 'stockguard';
const ACL_PASSWORD = 'Acl-S3cret@Pw';
const WMS_SECRET = 'wms_auth_secret_0123456789';
let directory: string;
let server: RedisServer;
let admin: Redis;
const savedEnv = { ...process.env };

const url = (user: string, password: string | undefined, port = server.port, scheme = 'redis') =>
  `${scheme}://${password === undefined ? '' : `${encodeURIComponent(user)}:${encodeURIComponent(password)}@`}127.0.0.1:${port}`;

test.before(async () => {
  if (!(await redisServerAvailable())) throw new Error('these tests start private redis-server processes; install redis-server');
  directory = mkdtempSync(join(tmpdir(), 'stockguard-auth-'));
  server = await RedisServer.start();
  admin = new Redis(server.url);
  admin.on('error', () => undefined);
  // Set after start: RedisServer's readiness check pings without a password.
  await admin.config('SET', 'requirepass', DEFAULT_PASSWORD);
  await admin.auth(DEFAULT_PASSWORD);
  // Least privilege: its own keys only, nothing @dangerous except what the clients need
  // (INFO: ioredis's ready check; CLIENT UNBLOCK: the consumers' shutdown). docs/security.md.
  await admin.call('ACL', 'SETUSER', ACL_USER, 'reset', 'on', `>${ACL_PASSWORD}`, `~${PREFIX}:*`, '+@all', '-@dangerous', '+info', '+client|unblock');
  await admin.call('ACL', 'LOG', 'RESET');
  writeFileSync(join(directory, 'catalog.json'), JSON.stringify([{ sku: 'AUTH-A', onHand: 7 }]));
});

test.after(async () => {
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
  admin.disconnect();
  await server.stop();
  rmSync(directory, { recursive: true, force: true });
  trap.remove();
});

async function cli(args: string[], redisUrl: string, extraEnv: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  Object.assign(process.env, { REDIS_URL: redisUrl, STOCKGUARD_KEY_PREFIX: PREFIX, ...extraEnv });
  const lines: string[] = [];
  const code = await run(args, (line) => lines.push(line));
  for (const name of Object.keys(extraEnv)) delete process.env[name];
  return { code, output: lines.join('\n') };
}

function assertNoPassword(text: string, ...passwords: string[]): void {
  for (const password of passwords) {
    for (const form of [password, encodeURIComponent(password)]) assert.not.ok(text.includes(form), `the password shows: ${text}`);
  }
}

test('the default user with requirepass: the CLI works with the password; wrong or missing is exit 3 with the reason and no password', async () => {
  const imported = await cli(['catalog', 'import', join(directory, 'catalog.json')], url('', DEFAULT_PASSWORD));
  assert.is(imported.code, EXIT.ok, imported.output);
  const shown = await cli(['sku', 'AUTH-A'], url('default', DEFAULT_PASSWORD));
  assert.is(shown.code, EXIT.ok, shown.output);
  assert.match(shown.output, /AUTH-A: on_hand 7/);

  const wrong = await cli(['sku', 'AUTH-A'], url('', 'not-the-password'));
  assert.is(wrong.code, EXIT.redisUnavailable, wrong.output);
  assert.match(wrong.output, /STOCKGUARD_E_REDIS_UNAVAILABLE.*WRONGPASS/);
  assertNoPassword(wrong.output, 'not-the-password', DEFAULT_PASSWORD);
  const missing = await cli(['sku', 'AUTH-A'], url('', undefined));
  assert.is(missing.code, EXIT.redisUnavailable, missing.output);
  assert.match(missing.output, /NOAUTH/);

  const printed = await cli(['config'], url('default', DEFAULT_PASSWORD));
  assert.is(printed.code, EXIT.ok);
  assert.match(printed.output, /redis:\/\/default:\*\*\*@127\.0\.0\.1/);
  assertNoPassword(printed.output, DEFAULT_PASSWORD);
  trap.assertNone();
});

test('a least-privilege ACL user: the daemon ingests and applies a WMS event and no command is denied; a wrong password is refused', async () => {
  await admin.call('ACL', 'LOG', 'RESET');
  const config = loadConfig({
    REDIS_URL: url(ACL_USER, ACL_PASSWORD),
    STOCKGUARD_KEY_PREFIX: PREFIX,
    STOCKGUARD_ROLES: 'http,consumers,holds',
    STOCKGUARD_HTTP_HOST: '127.0.0.1',
    STOCKGUARD_HTTP_PORT: '0',
    STOCKGUARD_WMS_WEBHOOK_SECRET: WMS_SECRET,
    STOCKGUARD_CONSUMER_NAME: 'auth-1',
  });
  const daemon = await startDaemon({ config, logger: pino({ level: 'silent' }) });
  try {
    await daemon.runtime.catalog.put({ sku: 'AUTH-B', holdback: 0, skuClass: 'default', policies: {} });
    await daemon.runtime.ledger.createSku('AUTH-B');
    const body = JSON.stringify({ events: [{ id: 'auth-receipt-1', type: 'receipt', sku: 'AUTH-B', quantity: 4 }] });
    const timestamp = String(Math.floor(Date.now() / 1000));
    const response = await fetch(`${daemon.http!.url}/webhooks/wms`, {
      method: 'POST',
      headers: { 'x-stockguard-timestamp': timestamp, 'x-stockguard-signature': signWms(body, timestamp, WMS_SECRET) },
      body,
    });
    assert.is(response.status, 202);
    const deadline = Date.now() + 15_000;
    while ((await daemon.runtime.ledger.inventory('AUTH-B'))?.onHand !== 4) {
      if (Date.now() > deadline) throw new Error('gave up waiting for the receipt to reach the ledger');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok((await daemon.runtime.catalog.get('AUTH-B')) !== undefined);
  } finally {
    await daemon.stop();
  }
  const denied = (await admin.call('ACL', 'LOG')) as unknown[];
  assert.is(denied.length, 0, `commands the ACL user was denied: ${JSON.stringify(denied)}`);

  const wrong = await openRuntime(loadConfig({ REDIS_URL: url(ACL_USER, 'Wrong-Acl-Pw'), STOCKGUARD_KEY_PREFIX: PREFIX })).then(
    () => undefined,
    (error: unknown) => error,
  );
  assert.ok(isStockguardError(wrong, 'STOCKGUARD_E_REDIS_UNAVAILABLE'), String(wrong));
  assert.match(wrong.message, /WRONGPASS/);
  assertNoPassword(wrong.message, 'Wrong-Acl-Pw', ACL_PASSWORD);
  trap.assertNone();
});

// ---------------------------------------------------------------------------------------
// TLS


async function openssl(...args: string[]): Promise<void> {
  await execFileAsync('openssl', args, { cwd: directory });
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA. */
async function makeCertificates(): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=stockguard test CA');
  writeFileSync(join(directory, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext');
  await openssl('req', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=stockguard');
  await openssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.crt', '-days', '2');
}

test('TLS (rediss://) with the CA and a client certificate: the ledger and the catalogue connect; without them, exit 3', async () => {
  await makeCertificates();
  const tlsPort = await freePort();
  const file = (name: string) => join(directory, name);
  // The plain port stays for RedisServer's readiness check; stockguard is given the TLS port only.
  const tlsServer = await RedisServer.start({
    args: ['--tls-port', String(tlsPort), '--tls-cert-file', file('server.crt'), '--tls-key-file', file('server.key'), '--tls-ca-cert-file', file('ca.crt'), '--tls-auth-clients', 'yes'],
  });
  try {
    const tlsUrl = `rediss://127.0.0.1:${tlsPort}`;
    const settings = { STOCKGUARD_REDIS_TLS_CA_FILE: file('ca.crt'), STOCKGUARD_REDIS_TLS_CERT_FILE: file('client.crt'), STOCKGUARD_REDIS_TLS_KEY_FILE: file('client.key') };
    const imported = await cli(['catalog', 'import', file('catalog.json')], tlsUrl, settings);
    assert.is(imported.code, EXIT.ok, imported.output);
    const shown = await cli(['sku', 'AUTH-A'], tlsUrl, settings);
    assert.is(shown.code, EXIT.ok, shown.output);
    assert.match(shown.output, /AUTH-A: on_hand 7/);

    // The system CAs do not know the self-signed CA.
    const noCa = await cli(['sku', 'AUTH-A'], tlsUrl, { STOCKGUARD_REDIS_TLS_CERT_FILE: file('client.crt'), STOCKGUARD_REDIS_TLS_KEY_FILE: file('client.key') });
    assert.is(noCa.code, EXIT.redisUnavailable, noCa.output);
    assert.match(noCa.output, /certificate/i, noCa.output);
    // The server asks for a client certificate.
    const noClientCertificate = await cli(['sku', 'AUTH-A'], tlsUrl, { STOCKGUARD_REDIS_TLS_CA_FILE: file('ca.crt') });
    assert.is(noClientCertificate.code, EXIT.redisUnavailable, noClientCertificate.output);
    const missingFile = await cli(['sku', 'AUTH-A'], tlsUrl, { STOCKGUARD_REDIS_TLS_CA_FILE: file('no-such-ca.crt') });
    assert.is(missingFile.code, EXIT.refused, missingFile.output);
    assert.match(missingFile.output, /STOCKGUARD_E_CONFIG.*STOCKGUARD_REDIS_TLS_CA_FILE/);
    // A plain-text client on the TLS port gets nowhere.
    const plain = await cli(['sku', 'AUTH-A'], `redis://127.0.0.1:${tlsPort}`);
    assert.is(plain.code, EXIT.redisUnavailable, plain.output);
  } finally {
    await tlsServer.stop();
  }
  trap.assertNone();
});

test.run();
