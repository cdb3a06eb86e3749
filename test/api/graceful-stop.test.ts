// A stopping API (SIGTERM: a rolling deploy, a scale-down) behind a proxy: nothing on its way in is
// cut off. Real API processes (dist/) on a Temporal dev server; raw sockets play the proxy, which
// opens a connection and then sends its request, and which may not retry a POST it has sent.
import net from 'node:net';
import path from 'node:path';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { type ApiProcess, spawnApiProcess, waitUntilListening } from '../../rigs/api-process';
import { authedFetch, credentialsEnv, testCredentials } from '../../rigs/credentials';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import type { DevServer } from '../../src/platform/dev-server';

const credentials = testCredentials();
const dir = tempDir('graceful-stop');
let devServer: DevServer;
const spawned: ApiProcess[] = [];

async function api(env: NodeJS.ProcessEnv = {}): Promise<ApiProcess> {
  const name = uniqueId('api');
  const started = await spawnApiProcess({
    name,
    temporalAddress: devServer.address,
    // No worker polls it: a state query waits for one until TEMPORAL_REQUEST_TIMEOUT.
    taskQueue: uniqueId('no-worker'),
    databaseUrl: '',
    logFile: path.join(dir, `${name}.log`),
    env: { ...credentialsEnv(credentials), TEMPORAL_REQUEST_TIMEOUT: '2s', ...env },
  });
  spawned.push(started);
  await waitUntilListening(started);
  return started;
}

beforeAll(async () => {
  devServer = await startHeadlessDevServer(path.join(dir, 'temporal.sqlite'));
}, 120_000);

afterAll(async () => {
  await Promise.all(spawned.map((p) => p.stop()));
  await devServer?.stop();
});

const portOf = (p: ApiProcess): number => Number(new URL(p.baseUrl).port);

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything the server sends until it closes the connection, or the error that ended it. */
function readAll(socket: net.Socket): Promise<{ text: string; error?: string }> {
  return new Promise((resolve) => {
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('utf8')));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve({ text, error: err.code ?? err.message }));
    socket.once('close', () => resolve({ text }));
  });
}

async function refusesConnections(port: number): Promise<boolean> {
  try {
    (await connect(port)).destroy();
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ECONNREFUSED';
  }
}

test('with SHUTDOWN_DRAIN, a stopping API keeps serving, says it is not ready, and closes keep-alive connections', async () => {
  const p = await api({ SHUTDOWN_DRAIN: '2s' });
  expect((await fetch(`${p.baseUrl}/healthz`)).status).toBe(200);
  process.kill(p.pid, 'SIGTERM');
  await waitFor('readiness to say draining', async () => (await fetch(`${p.baseUrl}/healthz`)).status === 503, { timeoutMs: 1_500, intervalMs: 50 });
  const health = await fetch(`${p.baseUrl}/healthz`);
  expect([health.status, await health.json()]).toEqual([503, { status: 'draining' }]);
  const live = await fetch(`${p.baseUrl}/livez`);
  expect([live.status, live.headers.get('connection')]).toEqual([200, 'close']);
  // A write is still taken while draining.
  const id = uniqueId('drain');
  const body = JSON.stringify({ eventId: uniqueId('evt'), eventType: 'CREATED', conversationId: id, taskId: 't-1', channel: 'chat', occurredAt: new Date().toISOString() });
  expect((await authedFetch(credentials, `${p.baseUrl}/webhooks/routing-events`, { method: 'POST', body })).status).toBe(202);
  expect(await p.exited).toEqual({ code: 0, signal: null });
  expect(await refusesConnections(portOf(p))).toBe(true);
});

test('a connection opened before the stop whose request comes after the listener closed is answered, not reset', async () => {
  const p = await api();
  const early = await connect(portOf(p));
  const answer = readAll(early);
  process.kill(p.pid, 'SIGTERM');
  // New connections are refused: from here a proxy sends new requests to another replica.
  await waitFor('the listener to close', () => refusesConnections(portOf(p)), { timeoutMs: 5_000, intervalMs: 10 });
  early.write('GET /livez HTTP/1.1\r\nHost: parley\r\n\r\n');
  const { text, error } = await answer;
  expect(error).toBeUndefined();
  expect(text).toMatch(/^HTTP\/1\.1 200 /);
  expect(text).toMatch(/\r\nconnection: close\r\n/i);
  expect(await p.exited).toEqual({ code: 0, signal: null });
});

test('a request in progress when the stop comes gets its answer before the process exits', async () => {
  const p = await api();
  const id = uniqueId('in-flight');
  const body = JSON.stringify({ eventId: uniqueId('evt'), eventType: 'CREATED', conversationId: id, taskId: 't-1', channel: 'chat', occurredAt: new Date().toISOString() });
  expect((await authedFetch(credentials, `${p.baseUrl}/webhooks/routing-events`, { method: 'POST', body })).status).toBe(202);
  // No worker answers the query: the API waits TEMPORAL_REQUEST_TIMEOUT (2 s), then answers 504.
  const slow = authedFetch(credentials, `${p.baseUrl}/conversations/${id}`);
  await new Promise((r) => setTimeout(r, 300));
  process.kill(p.pid, 'SIGTERM');
  const answer = await slow;
  expect([answer.status, ((await answer.json()) as { error: string }).error]).toEqual([504, 'timeout']);
  expect(await p.exited).toEqual({ code: 0, signal: null });
});
