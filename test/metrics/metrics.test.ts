// Prometheus metrics over real HTTP: the API's /metrics (operator token) and the worker process's
// /metrics and the Temporal SDK's own endpoint. Labels carry route patterns and outcomes, never a
// conversation id or a value.
import type { Client } from '@temporalio/client';
import { workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt } from '../../rigs/worker-process';

const credentials = testCredentials();
const VALUE = `metrics-canary-${uniqueId('v')}`;

let stack: ApiStack;
let base: string;
let client: Client;
let workerPorts: { health: number; sdk: number };

beforeAll(async () => {
  ensureWorkerBuilt();
  stack = await startApiStack({ name: 'metrics', credentials, conversation: { closedGracePeriodMs: 0 }, worker: false });
  ({ client, baseUrl: base } = stack);
  workerPorts = { health: await freePort(), sdk: await freePort() };
  await stack.spawnWorker('metrics-worker', { WORKER_HEALTH_PORT: String(workerPorts.health), TEMPORAL_METRICS_PORT: String(workerPorts.sdk) });
}, 120_000);

afterAll(() => stack?.stop());

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
  const post = (url: string, body: unknown) => stack.fetch(url, { method: 'POST', body });
  expect((await post('/webhooks/routing-events', event(id, 'CREATED', 0))).status).toBe(202);
  expect((await post(`/conversations/${id}/attributes`, { attributes: { note: VALUE } })).status).toBe(200);
  expect((await stack.fetch(`/conversations/${id}/attributes/note`)).status).toBe(200);

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

test("the worker's workflow-task polls are split as configured: ten on the shared queue, one on its sticky queue", async () => {
  // The SDK's gauge of open long polls, per queue: what the worker really asks of Temporal, not what its options say.
  const polls = async (): Promise<Record<string, number>> => {
    const sdk = await (await fetch(`http://127.0.0.1:${workerPorts.sdk}/metrics`)).text();
    const byType: Record<string, number> = {};
    for (const match of sdk.matchAll(/^temporal_num_pollers\{([^}]*)\} (\d+)$/gm)) {
      const type = /poller_type="([^"]+)"/.exec(match[1])?.[1];
      if (type) byType[type] = Number(match[2]);
    }
    return byType;
  };
  let seen: Record<string, number> = {};
  await waitFor('the worker holding its polls open', async () => {
    seen = await polls();
    return seen.workflow_task === 10 && seen.sticky_workflow_task === 1;
  }).catch(() => undefined);
  expect(seen).toMatchObject({ workflow_task: 10, sticky_workflow_task: 1 });
});
