// Which Temporal call a routing webhook becomes, over real HTTP on the dev server: CREATED a
// signal-with-start; any later event a plain signal to the running conversation; an event that
// finds no running conversation (delivered before CREATED, or after the conversation completed)
// falls back to signal-with-start, which starts it, or answers that it is closed. The calls are
// read by a client interceptor on the API's own Temporal client, as tracing's are.
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { searchAttributes, workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import type { RunningApi } from '../../rigs/api';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { webhookEvents } from '../support/conversation';

let stack: ApiStack;
let api: RunningApi;
/** Every routing call the API made, by kind and workflow id, in order. */
const calls: Array<{ kind: 'signal' | 'signalWithStart'; workflowId: string }> = [];

const recorder: WorkflowClientInterceptor = {
  async signal(input, next) {
    calls.push({ kind: 'signal', workflowId: input.workflowExecution.workflowId });
    return next(input);
  },
  async signalWithStart(input, next) {
    calls.push({ kind: 'signalWithStart', workflowId: input.options.workflowId });
    return next(input);
  },
};

beforeAll(async () => {
  // No grace window: CLOSED completes the conversation, so a later event meets a completed run.
  stack = await startApiStack({ name: 'webhook-calls', conversation: { closedGracePeriodMs: 0 } });
  api = await stack.startApi({ clientInterceptors: [recorder] });
});

afterAll(() => stack?.stop());

const event = webhookEvents(uniqueId('calls'), 'task-1');
const deliver = (body: Record<string, unknown>) => api.call('POST', '/webhooks/routing-events', body);
const callsFor = (conversationId: string) => calls.filter((c) => c.workflowId === workflowIdFor(conversationId)).map((c) => c.kind);
const signalsIn = async (conversationId: string) => {
  const history = await stack.client.workflow.getHandle(workflowIdFor(conversationId)).fetchHistory();
  return (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).length;
};

test('after CREATED, events reach the running conversation as plain signals', async () => {
  const id = uniqueId('in-order');
  expect((await deliver(event(id, 'CREATED', 0, { queue: 'billing' }))).status).toBe(202);
  expect((await deliver(event(id, 'QUEUED', 1, { queue: 'billing', estimatedWaitTime: 60 }))).status).toBe(202);
  expect((await deliver(event(id, 'ROUTED', 2, { agentId: 'agent-7' }))).status).toBe(202);
  expect(callsFor(id)).toEqual(['signalWithStart', 'signal', 'signal']);
  await waitFor('the conversation to take all three', async () => (await api.call('GET', `/conversations/${id}`)).body?.status === 'active');
  expect((await api.call('GET', `/conversations/${id}`)).body).toMatchObject({ status: 'active', queue: 'billing', agentId: 'agent-7' });
  expect(await signalsIn(id)).toBe(3);
});

test('an event delivered before CREATED starts the conversation, with the search attributes it sets', async () => {
  const id = uniqueId('early');
  const answer = await deliver(event(id, 'QUEUED', 1, { queue: 'sales' }));
  expect(answer).toEqual({ status: 202, body: { accepted: true, conversationId: id, workflowId: workflowIdFor(id) } });
  // The signal found no conversation and recorded nothing; the signal-with-start started it.
  expect(callsFor(id)).toEqual(['signal', 'signalWithStart']);
  const described = await stack.client.workflow.getHandle(workflowIdFor(id)).describe();
  expect(described.typedSearchAttributes.get(searchAttributes.status)).toBe('queued');
  expect(described.typedSearchAttributes.get(searchAttributes.queue)).toBe('sales');
  // CREATED, late, reaches it as a signal-with-start like any CREATED: the same, running conversation.
  expect((await deliver(event(id, 'CREATED', 0, { queue: 'sales' }))).status).toBe(202);
  expect(callsFor(id)).toEqual(['signal', 'signalWithStart', 'signalWithStart']);
  // A signal that arrives while a workflow task is running enters the history when that task completes.
  await waitFor('both events in the one run', async () => (await signalsIn(id)) === 2);
});

test('an event after the conversation completed is answered closed and recorded nowhere', async () => {
  const id = uniqueId('late');
  expect((await deliver(event(id, 'CREATED', 0, { queue: 'support' }))).status).toBe(202);
  expect((await deliver(event(id, 'CLOSED', 5))).status).toBe(202);
  const handle = stack.client.workflow.getHandle(workflowIdFor(id));
  await waitFor('the conversation to complete', async () => (await handle.describe()).status.name === 'COMPLETED');
  const before = await signalsIn(id);

  const late = await deliver(event(id, 'ROUTED', 6, { agentId: 'agent-1' }));
  expect(late).toEqual({ status: 200, body: { accepted: false, conversationId: id, reason: 'conversation is closed' } });
  expect(callsFor(id)).toEqual(['signalWithStart', 'signal', 'signal', 'signalWithStart']);
  // Still the one completed run, with the events it had.
  expect((await handle.describe()).status.name).toBe('COMPLETED');
  expect(await signalsIn(id)).toBe(before);
});
