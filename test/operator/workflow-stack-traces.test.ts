// The workflow sandbox's stack traces (WORKER_WORKFLOW_STACK_FRAMES): off by default, since the SDK
// records one for every promise a workflow creates; on, the Temporal UI's Stack Trace tab (the
// `__stack_trace` query) shows where a conversation waits. Real worker processes: one that bundles
// the workflows at start (`npm run worker` alone), one on the prebuilt bundle (`npm start`'s); the
// same open conversation is asked under each setting.
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { uniqueId } from '../../rigs/temp';
import { DIST } from '../../rigs/project';
import { ensureWorkerBuilt } from '../../rigs/worker-process';

let stack: ApiStack;
let client: Client;

beforeAll(async () => {
  ensureWorkerBuilt();
  stack = await startApiStack({ name: 'stack-traces', credentials: testCredentials(), conversation: { closedGracePeriodMs: 0 }, worker: false });
  ({ client } = stack);
}, 120_000);

afterAll(() => stack?.stop());

const created = (conversationId: string) => ({
  eventId: uniqueId('evt'),
  eventType: 'CREATED',
  conversationId,
  taskId: 'task-1',
  channel: 'chat',
  occurredAt: new Date().toISOString(),
});

test('no stack frames by default; WORKER_WORKFLOW_STACK_FRAMES brings the Stack Trace tab back', async () => {
  const id = uniqueId('stacked');
  const handle = client.workflow.getHandle(workflowIdFor(id));

  const quiet = await stack.spawnWorker('stack-default');
  expect((await stack.fetch('/webhooks/routing-events', { method: 'POST', body: created(id) })).status).toBe(202);
  // Waiting in its main loop, and no frame of it recorded.
  const none = await handle.query<string>('__stack_trace');
  expect(none.trim()).toBe('Error');
  expect(none).not.toMatch(/\bat /);
  await quiet.stop(5_000);

  await stack.spawnWorker('stack-on', { WORKER_WORKFLOW_STACK_FRAMES: '10', WORKFLOW_BUNDLE_PATH: path.join(DIST, 'workflow-bundle.js') });
  // The conversation is replayed on this worker from its history: the setting changed no command.
  const traced = await handle.query<string>('__stack_trace');
  expect(traced).toMatch(/at untilClosedOrDue \(.*conversation\.ts:\d+:\d+\)/);
  expect(traced).toMatch(/at conversationWorkflow \(/);
  expect((await handle.describe()).status.name).toBe('RUNNING');
}, 120_000);
