// Prometheus metrics over real HTTP: the API's /metrics (operator token) and the worker process's
// /metrics and the Temporal SDK's own endpoint. Labels carry route patterns and outcomes, never a
// conversation id or a value.
import path from 'node:path';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { buildApi } from '../../src/api/server';
import type { DevServer } from '../../src/platform/dev-server';
import { DEFAULT_SETTINGS, workflowIdFor } from '../../src/conversation/messages';
import { SqliteParticipantDataStore } from '../../src/store';
import { createTemporalClient } from '../../src/platform/temporal-client';
import { authedFetch, testCredentials } from '../support/auth';
import { testKeyServices } from '../support/keys';
import { freePort, startTestDevServer, tempDir, uniqueId } from '../support/temporal';
import { waitFor } from '../support/wait';
import { ensureWorkerBuilt, spawnWorker, waitUntilPolling, type WorkerProcess } from '../support/worker-process';

const dir = tempDir('metrics');
const storeFile = path.join(dir, 'participant-data.sqlite');
const taskQueue = uniqueId('metrics');
const credentials = testCredentials();
const VALUE = `metrics-canary-${uniqueId('v')}`;

let devServer: DevServer;
let store: SqliteParticipantDataStore;
let api: ReturnType<typeof buildApi>;
let base: string;
let worker: WorkerProcess;
let client: Client;
let workerPorts: { health: number; sdk: number };

beforeAll(async () => {
  ensureWorkerBuilt();
  devServer = await startTestDevServer(path.join(dir, 'temporal.sqlite'));
  store = new SqliteParticipantDataStore(storeFile);
  await store.init();
  workerPorts = { health: await freePort(), sdk: await freePort() };
  worker = spawnWorker({
    name: 'metrics-worker',
    temporalAddress: devServer.address,
    databaseUrl: '',
    taskQueue,
    logFile: path.join(dir, 'worker.log'),
    env: { PARLEY_SQLITE_PATH: storeFile, WORKER_HEALTH_PORT: String(workerPorts.health), TEMPORAL_METRICS_PORT: String(workerPorts.sdk) },
  });
  client = new Client({ connection: await Connection.connect({ address: devServer.address }), dataConverter: testKeyServices().dataConverter });
  await waitUntilPolling(client, worker, taskQueue);
  api = buildApi({
    client: createTemporalClient({ temporalAddress: devServer.address, temporalNamespace: 'default', devServerPort: 0 }, testKeyServices().dataConverter),
    store,
    logger: pino({ level: 'silent' }),
    config: { taskQueue, temporalRequestTimeoutMs: 5000, conversation: { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 } },
    auth: credentials.settings,
    keys: testKeyServices(),
  });
  await api.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(api.server.address() as { port: number }).port}`;
}, 120_000);

afterAll(async () => {
  await api?.close();
  await worker?.stop(5_000);
  await client?.connection.close();
  await store?.close();
  await devServer?.stop();
});

const event = (conversationId: string, eventType: string, second: number) => ({
  eventId: uniqueId('evt'),
  eventType,
  conversationId,
  taskId: 'task-1',
  channel: 'chat',
  occurredAt: new Date(Date.UTC(2026, 10, 27, 11, 0, second)).toISOString(),
});

test('API, worker and SDK metrics describe the traffic without naming a conversation or a value', async () => {
  const id = uniqueId('metered');
  const post = (url: string, body: unknown) => authedFetch(credentials, `${base}${url}`, { method: 'POST', body });
  expect((await post('/webhooks/routing-events', event(id, 'CREATED', 0))).status).toBe(202);
  expect((await post(`/conversations/${id}/attributes`, { attributes: { note: VALUE } })).status).toBe(200);
  expect((await authedFetch(credentials, `${base}/conversations/${id}/attributes/note`)).status).toBe(200);

  // While it is open, the API counts it.
  const scrape = async (token?: string) => fetch(`${base}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect((await scrape()).status).toBe(401);
  expect((await scrape(credentials.tokens.flow)).status).toBe(403);
  const open = await (await scrape(credentials.tokens.operator)).text();
  expect(Number(/^parley_open_conversations (\d+)$/m.exec(open)?.[1])).toBeGreaterThanOrEqual(1);

  expect((await post('/webhooks/routing-events', event(id, 'CLOSED', 1))).status).toBe(202);
  await client.workflow.getHandle(workflowIdFor(id)).result();

  const apiMetrics = await scrape(credentials.tokens.operator);
  expect(apiMetrics.headers.get('content-type')).toMatch(/^text\/plain/);
  const text = await apiMetrics.text();
  expect(text).toMatch(/^parley_http_requests_total\{route="\/webhooks\/routing-events",method="POST",status="202"\} 2$/m);
  expect(text).toMatch(/^parley_http_requests_total\{route="\/conversations\/:conversationId\/attributes",method="POST",status="200"\} 1$/m);
  expect(text).toMatch(/^parley_http_request_duration_seconds_count\{route="\/conversations\/:conversationId\/attributes\/:name",method="GET",status="200"\} 1$/m);
  expect(text).toMatch(/^parley_http_requests_total\{route="\/metrics",method="GET",status="401"\} 1$/m);
  expect(text).toMatch(/^parley_kms_calls\{operation="generateDataKey"\} 0$/m);
  expect(text).toMatch(/^parley_api_process_resident_memory_bytes \d+/m);

  let workerMetrics = '';
  await waitFor('the flush in the worker metrics', async () => {
    workerMetrics = await (await fetch(`http://127.0.0.1:${workerPorts.health}/metrics`)).text();
    return /^parley_flush_total\{outcome="applied"\} 1$/m.test(workerMetrics);
  });
  expect(workerMetrics).toMatch(/^parley_flush_batch_attributes_sum 1$/m);
  expect(workerMetrics).toMatch(/^parley_worker_slots\{kind="cached_workflows"\} \d+$/m);
  const sdk = await (await fetch(`http://127.0.0.1:${workerPorts.sdk}/metrics`)).text();
  expect(sdk).toMatch(/temporal_workflow_completed|temporal_activity_execution_latency|temporal_request/);

  for (const body of [text, workerMetrics, sdk]) {
    expect(body).not.toContain(id);
    expect(body).not.toContain(VALUE);
  }
});
