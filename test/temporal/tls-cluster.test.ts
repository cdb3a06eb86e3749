// Parley against a cluster that demands TLS, a client certificate and an API key, as Temporal Cloud
// does: a TLS-terminating gRPC proxy with a throwaway CA in front of a real dev server.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Connection } from '@temporalio/client';
import pino from 'pino';
import { buildApi } from '../../src/api/server';
import { ConfigError, loadConfig } from '../../src/config';
import type { DevServer } from '../../src/platform/dev-server';
import { SqliteParticipantDataStore } from '../../src/store';
import { createTemporalClient, temporalConnectionOptions } from '../../src/platform/temporal-client';
import { connectWorker, createParleyWorker } from '../../src/worker/worker';
import { requireBinary } from '../../scripts/temporal-binaries';
import { bundleWorkflows } from '../../rigs/bundle';
import { authedFetch, testCredentials } from '../../rigs/credentials';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { testKeyServices } from '../../rigs/keys';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { createTestPki, type TestPki } from '../support/certificates';
import { type GrpcTlsProxy, startGrpcTlsProxy } from '../support/grpc-tls-proxy';

const API_KEY = 'tcld-key-7Q9xW2mZ-DoNotLeak';
const WRONG_KEY = 'tcld-key-wrong-4kP0-AlsoSecret';

let dir: string;
let pki: TestPki;
let devServer: DevServer;
let proxy: GrpcTlsProxy;
let workflowBundle: Awaited<ReturnType<typeof bundleWorkflows>>;

beforeAll(async () => {
  dir = tempDir('tls');
  pki = createTestPki(path.join(dir, 'pki'));
  [devServer, workflowBundle] = await Promise.all([startHeadlessDevServer(path.join(dir, 'temporal.sqlite')), bundleWorkflows()]);
  proxy = await startGrpcTlsProxy({ pki, upstream: devServer.address, apiKey: API_KEY });
});

afterAll(async () => {
  await proxy?.close();
  await devServer?.stop();
});

/** The environment an operator sets for a Temporal Cloud namespace. */
function cloudEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_TLS_CA: pki.caCert,
    TEMPORAL_TLS_CERT: pki.clientCert,
    TEMPORAL_TLS_KEY: pki.clientKey,
    TEMPORAL_API_KEY: API_KEY,
    TEMPORAL_TASK_QUEUE: uniqueId('tls'),
    PARLEY_DATA_DIR: dir,
    ...overrides,
  };
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  return env;
}

test('worker and API reach the cluster over TLS with a client certificate and the API key, which no log line shows', async () => {
  const config = loadConfig(cloudEnv());
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) }));
  const store = new SqliteParticipantDataStore(path.join(dir, 'participant-data.sqlite'));
  await store.init();
  const connection = await connectWorker(config);
  const worker = await createParleyWorker({ config, store, logger, connection, workflowBundle, dataConverter: testKeyServices().dataConverter });
  const running = worker.run();
  const credentials = testCredentials();
  const api = buildApi({ client: createTemporalClient(config, testKeyServices().dataConverter), store, logger, config, auth: credentials.settings, keys: testKeyServices() });
  try {
    await api.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
    const post = async (url: string, body: unknown) => (await authedFetch(credentials, `${base}${url}`, { method: 'POST', body })).status;
    const id = uniqueId('cloud');
    const event = (eventId: string, eventType: string, minute: number) => ({
      eventId,
      eventType,
      conversationId: id,
      taskId: 'task-1',
      channel: 'voice',
      occurredAt: new Date(Date.UTC(2026, 10, 25, 9, minute)).toISOString(),
    });

    expect(await (await fetch(`${base}/healthz`)).json()).toEqual({ status: 'ok', temporal: 'reachable' });
    expect(await post('/webhooks/routing-events', event('e1', 'CREATED', 0))).toBe(202);
    expect(await post(`/conversations/${id}/attributes`, { attributes: { plan: 'premium' } })).toBe(200);
    expect(await post('/webhooks/routing-events', event('e2', 'CLOSED', 5))).toBe(202);
    await waitFor('the batch stored after close', async () => {
      const res = await authedFetch(credentials, `${base}/conversations/${id}/attributes/plan`);
      return res.status === 200 && ((await res.json()) as { source?: string }).source === 'stored';
    });
    expect(proxy.forwarded).toBeGreaterThan(0);
    expect(proxy.refused).toBe(0);
  } finally {
    await api.close();
    worker.shutdown();
    await running;
    await connection.close();
    await store.close();
  }
  expect(lines.length).toBeGreaterThan(0);
  expect(lines.join('\n')).not.toContain(API_KEY);
  for (const secret of [credentials.webhookSecret, ...Object.values(credentials.tokens)]) expect(lines.join('\n')).not.toContain(secret);
});

test('the search-attribute setup script reaches the cluster through the same TLS variables', async () => {
  const script = path.resolve(__dirname, '../../deploy/temporal/register-search-attributes.sh');
  const run = (env: NodeJS.ProcessEnv) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      // Async: the proxy runs in this process and must keep serving while the script talks to it.
      const child = spawn('sh', [script], { env: { PATH: `${path.dirname(requireBinary('cli'))}:${process.env.PATH}`, ...env } });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      child.on('exit', (code) => resolve({ code, output }));
    });
  const ok = await run(cloudEnv({ SETUP_TIMEOUT_SECONDS: '30' }));
  expect(ok.output).toMatch(/search attributes ready on default/);
  expect(ok.code).toBe(0);
  const wrongKey = await run(cloudEnv({ TEMPORAL_API_KEY: WRONG_KEY, SETUP_TIMEOUT_SECONDS: '3' }));
  const noCertificate = await run(cloudEnv({ TEMPORAL_TLS_CERT: undefined, TEMPORAL_TLS_KEY: undefined, SETUP_TIMEOUT_SECONDS: '3' }));
  expect([wrongKey.code, noCertificate.code]).toEqual([1, 1]);
  for (const { output } of [ok, wrongKey, noCertificate]) {
    expect(output).not.toContain(API_KEY);
    expect(output).not.toContain(WRONG_KEY);
  }
});

describe('the cluster refuses a connection that lacks what it demands, and the error shows no key', () => {
  // Where the reason shows for sure: the client for what it checks itself or what the server answers;
  // the server for a missing client certificate (with TLS 1.3 the client may see only a broken pipe).
  const cases: [string, Record<string, string | undefined>, { client?: RegExp; server?: RegExp }][] = [
    ['a wrong API key', { TEMPORAL_API_KEY: WRONG_KEY }, { client: /missing or wrong API key/ }],
    ['no client certificate', { TEMPORAL_TLS_CERT: undefined, TEMPORAL_TLS_KEY: undefined }, { server: /PEER_DID_NOT_RETURN_A_CERTIFICATE/ }],
    ['the system CAs, which did not sign the server certificate', { TEMPORAL_TLS_CA: undefined }, { client: /UnknownIssuer/ }],
  ];
  test.each(cases)('%s', async (_name, overrides, expected) => {
    const config = loadConfig(cloudEnv(overrides));
    const handshakeErrorsBefore = proxy.handshakeErrors.length;
    const failures: string[] = [];
    for (const attempt of [
      () => connectWorker(config).then((c) => c.close()),
      () => Connection.connect({ ...temporalConnectionOptions(config), connectTimeout: '3s' }).then((c) => c.close()),
    ]) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(Error);
      failures.push(`${err?.message} ${String((err as { cause?: unknown })?.cause ?? '')}`);
    }
    // The worker's native client says why; the API's grpc-js client only that it could not connect.
    if (expected.client) expect(failures[0]).toMatch(expected.client);
    if (expected.server) expect(proxy.handshakeErrors.slice(handshakeErrorsBefore).join('\n')).toMatch(expected.server);
    for (const text of failures) {
      expect(text).not.toContain(API_KEY);
      expect(text).not.toContain(WRONG_KEY);
    }
  });
});

describe('TLS settings are checked when Parley starts', () => {
  test('an API key turns TLS on (system CAs); a cluster without TLS settings stays plain text', () => {
    expect(loadConfig({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: API_KEY }).temporalTls).toEqual({});
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233' }).temporalTls).toBeUndefined();
    expect(loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_TLS: 'true' }).temporalTls).toEqual({});
  });

  // Titles describe the settings rather than print them: one holds the API key.
  test.each<[string, NodeJS.ProcessEnv, RegExp]>([
    ['a client certificate without its key', { TEMPORAL_TLS_CERT: '/tmp/c.pem' }, /TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together/],
    ['TEMPORAL_TLS=yes', { TEMPORAL_TLS: 'yes' }, /TEMPORAL_TLS must be true or false/],
    ['TLS off with a CA file', { TEMPORAL_TLS: 'false', TEMPORAL_TLS_CA: '/tmp/ca.pem' }, /contradicts/],
    ['TLS off with an API key', { TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: API_KEY }, /only ever sent over TLS/],
  ])('%s is refused', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (err) {
      expect((err as Error).message).not.toContain(API_KEY);
    }
  });

  test('an unreadable certificate file is named by its variable', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: 'temporal:7233', TEMPORAL_TLS_CA: path.join(dir, 'missing-ca.pem') });
    expect(() => temporalConnectionOptions(config)).toThrow(/TEMPORAL_TLS_CA: cannot read .*missing-ca\.pem \(ENOENT\)/);
  });
});
