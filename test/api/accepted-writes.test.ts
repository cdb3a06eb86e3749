// Attribute writes confirmed at the edge (`Prefer: respond-async`): validated by the API, recorded by
// Temporal as a signal and answered 202 without waiting for a worker; the conversation then applies
// or refuses them, and the caller reads the outcome. Real HTTP, a real dev server and worker.
import { DEFAULT_SETTINGS, type ConversationView, workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import type { RunningApi } from '../../rigs/api';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { webhookEvents } from '../support/conversation';
import { recordHistory } from '../support/histories';

let stack: ApiStack;
// A grace window long enough to write into after CLOSED, short enough to wait for the conversation to complete.
const SETTINGS = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 3_000 };

beforeAll(async () => {
  stack = await startApiStack({ name: 'accepted-writes', conversation: SETTINGS });
}, 120_000);

afterAll(() => stack?.stop());

const event = webhookEvents('accepted-evt', 'task-9');
const ASYNC = { prefer: 'respond-async' };

/** A write as a flow sends it, with the answer's headers. */
async function write(api: RunningApi, id: string, attributes: Record<string, string>, headers: Record<string, string> = ASYNC, secured?: boolean) {
  const res = await api.fetch(`/conversations/${id}/attributes`, { method: 'POST', body: { attributes, ...(secured ? { secured } : {}) }, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

const read = async (id: string, name: string) => (await stack.call('GET', `/conversations/${id}/attributes/${name}`)).body;
const outcome = (path: string) => stack.call('GET', path);
const open = async (api: RunningApi, id: string) => expect((await api.call('POST', '/webhooks/routing-events', event(id, 'CREATED', 0, { queue: 'billing' }))).status).toBe(202);

test('a write answered 202 is read back at once, lands in the store, and costs one signal instead of an update', async () => {
  const id = uniqueId('accepted');
  await open(stack, id);
  const answer = await write(stack, id, { Foo: 'Hello', account: 'A-77' });
  expect(answer.status).toBe(202);
  expect(answer.headers.get('preference-applied')).toBe('respond-async');
  expect(answer.body).toEqual({ conversationId: id, writeId: expect.stringMatching(/^[0-9a-f-]{36}$/), accepted: ['Foo', 'account'], outcome: `/conversations/${id}/attribute-writes/${answer.body.writeId}` });
  expect(answer.headers.get('location')).toBe(answer.body.outcome);
  // Read-your-writes: the query after the signal sees it.
  expect(await read(id, 'Foo')).toEqual({ name: 'Foo', value: 'Hello', source: 'pending' });
  expect(await outcome(answer.body.outcome)).toEqual({ status: 200, body: { conversationId: id, writeId: answer.body.writeId, status: 'applied' } });

  const events = (await stack.client.workflow.getHandle(workflowIdFor(id)).fetchHistory()).events ?? [];
  expect(events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'acceptedAttributeWrite')).toHaveLength(1);
  expect(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(0);

  expect((await stack.call('POST', '/webhooks/routing-events', event(id, 'CLOSED', 1))).status).toBe(202);
  await stack.client.workflow.getHandle(workflowIdFor(id)).result();
  expect((await stack.store.listAttributes(id)).map((a) => [a.name, a.value])).toEqual([
    ['Foo', 'Hello'],
    ['account', 'A-77'],
  ]);
  // The outcome stays readable after the conversation completed.
  expect((await outcome(answer.body.outcome)).body.status).toBe('applied');
}, 60_000);

test('read-your-writes under concurrency: 20 conversations, each write read back right after its 202', async () => {
  const ids = Array.from({ length: 20 }, () => uniqueId('ryw'));
  await Promise.all(ids.map((id) => open(stack, id)));
  const seen = await Promise.all(
    ids.map(async (id) => {
      const values: string[] = [];
      for (let k = 1; k <= 5; k++) {
        expect((await write(stack, id, { step: String(k) })).status).toBe(202);
        values.push((await read(id, 'step')).value);
      }
      return values;
    }),
  );
  expect(seen).toEqual(ids.map(() => ['1', '2', '3', '4', '5']));
}, 60_000);

test('an Idempotency-Key names one write: sent again after a later write, it changes nothing, whichever mode carried it', async () => {
  const id = uniqueId('accepted-key');
  await open(stack, id);
  const first = await write(stack, id, { Foo: 'first' }, { ...ASYNC, 'idempotency-key': 'k-first' });
  expect([first.status, first.body.writeId]).toEqual([202, 'k-first']);
  expect((await write(stack, id, { Foo: 'second' })).status).toBe(202);
  // A redelivery of the first write (its 202 was lost, say) is not applied over the later one.
  expect((await write(stack, id, { Foo: 'first' }, { ...ASYNC, 'idempotency-key': 'k-first' })).status).toBe(202);
  expect((await read(id, 'Foo')).value).toBe('second');
  expect((await outcome(first.body.outcome)).body).toEqual({ conversationId: id, writeId: 'k-first', status: 'applied' });

  // One key space with the confirmed write: a key the update carried is known to the accepted write, and its outcome readable.
  expect((await write(stack, id, { Bar: 'sync' }, { 'idempotency-key': 'k-sync' })).status).toBe(200);
  expect((await write(stack, id, { Bar: 'later' })).status).toBe(202);
  expect((await write(stack, id, { Bar: 'sync' }, { ...ASYNC, 'idempotency-key': 'k-sync' })).status).toBe(202);
  expect((await read(id, 'Bar')).value).toBe('later');
  expect((await outcome(`/conversations/${id}/attribute-writes/k-sync`)).body.status).toBe('applied');
}, 60_000);

test('after CLOSED a write is answered 202 and then refused where its caller sees it; once the conversation completed, 409', async () => {
  const id = uniqueId('accepted-closed');
  await open(stack, id);
  expect((await write(stack, id, { kept: 'yes' })).status).toBe(202);
  expect((await stack.call('POST', '/webhooks/routing-events', event(id, 'CLOSED', 1))).status).toBe(202);
  // In the grace window the conversation still runs: Temporal records the write, the conversation refuses it.
  const late = await write(stack, id, { late: 'too late', other: 'x' }, { ...ASYNC, 'idempotency-key': 'late-1' });
  expect(late.status).toBe(202);
  const refused = { conversationId: id, writeId: 'late-1', status: 'refused', reason: 'ConversationClosed', message: expect.stringMatching(/closed/), names: ['late', 'other'] };
  expect(await outcome(late.body.outcome)).toEqual({ status: 200, body: refused });
  const view = (await stack.call('GET', `/conversations/${id}`)).body as ConversationView;
  expect(view.refusedWrites).toEqual([{ writeId: 'late-1', reason: 'ConversationClosed', message: expect.any(String), names: ['late', 'other'] }]);
  expect(JSON.stringify(view)).not.toContain('too late');
  // The synchronous write says the same at once.
  expect((await write(stack, id, { late: 'too late' }, {})).status).toBe(409);

  await stack.client.workflow.getHandle(workflowIdFor(id)).result();
  expect((await stack.store.listAttributes(id)).map((a) => a.name)).toEqual(['kept']);
  expect((await outcome(late.body.outcome)).body).toEqual(refused);
  // Completed: Temporal itself refuses the signal, and nothing was accepted.
  const afterEnd = await write(stack, id, { late: 'later still' });
  expect([afterEnd.status, afterEnd.body.message]).toEqual([409, expect.stringMatching(/closed/)]);
  await recordHistory(stack.client.workflow.getHandle(workflowIdFor(id)), 'accepted-writes-applied-and-refused');
}, 60_000);

test('bad input is answered 4xx and changes nothing; other preferences keep the confirmed write', async () => {
  const id = uniqueId('accepted-bad');
  const missing = await write(stack, id, { Foo: 'x' });
  expect([missing.status, missing.body.message]).toEqual([404, expect.stringMatching(/not found/)]);
  await open(stack, id);
  expect((await write(stack, id, { Foo: 'nul\u0000' })).status).toBe(400);
  expect((await write(stack, id, { Foo: 'x' }, { ...ASYNC, 'idempotency-key': 'spaces are not allowed' })).status).toBe(400);
  expect((await stack.call('GET', `/conversations/${id}/attribute-writes/${encodeURIComponent('bad id!')}`)).status).toBe(400);
  const unknown = await stack.call('GET', `/conversations/${id}/attribute-writes/never-sent`);
  expect([unknown.status, unknown.body.message]).toEqual([404, expect.stringMatching(/no record of write never-sent/)]);
  expect((await stack.call('GET', `/conversations/${uniqueId('nobody')}/attribute-writes/w-1`)).status).toBe(404);
  expect(((await stack.call('GET', `/conversations/${id}`)).body as ConversationView).attributeNames.pending).toEqual([]);

  // RFC 7240: preferences are a list with parameters; an unknown one is ignored.
  expect((await write(stack, id, { Foo: 'sync' }, { prefer: 'return=minimal' })).status).toBe(200);
  expect((await write(stack, id, { Foo: 'async' }, { prefer: 'return=minimal, Respond-Async; wait=10' })).status).toBe(202);
  expect((await read(id, 'Foo')).value).toBe('async');
  // Only a flow or an agent script reads an outcome.
  const asOperator = await stack.fetch(`/conversations/${id}/attribute-writes/never-sent`, { headers: { authorization: `Bearer ${stack.credentials.tokens.operator}` } });
  expect(asOperator.status).toBe(403);
}, 60_000);

test('with no worker to take the conversation, the update waits out its share of the deadline and is handed to the edge (202), beside writes confirmed there, all applied in recorded order once a worker comes', async () => {
  // Its own task queue, no worker on it yet: the stall a new conversation's first task used to put every write through under load.
  const taskQueue = uniqueId('no-worker-yet');
  const api = await stack.startApi({ taskQueue, requestTimeoutMs: 2_000 });
  const id = uniqueId('accepted-stalled');
  await open(api, id);
  const stalled = await write(api, id, { viaUpdate: 'u' }, {});
  // Not asked for respond-async, answered like it: kept, with where its outcome is read.
  expect(stalled.status).toBe(202);
  expect(stalled.body).toMatchObject({ conversationId: id, accepted: ['viaUpdate'], outcome: `/conversations/${id}/attribute-writes/${stalled.body.writeId}` });
  expect(stalled.headers.get('location')).toBe(stalled.body.outcome);
  expect(stalled.headers.get('preference-applied')).toBeNull();
  const accepted = await write(api, id, { viaSignal: 's' }, ASYNC, true);
  expect(accepted.status).toBe(202);

  // The rest of the conversation, CLOSED included, recorded before any worker saw it: the first workflow
  // task takes it all at once, and must take the writes recorded before CLOSED as before it.
  expect((await write(api, id, { plainToo: 'p' })).status).toBe(202);
  expect((await api.call('POST', '/webhooks/routing-events', event(id, 'CLOSED', 1))).status).toBe(202);
  const late = await write(api, id, { afterClose: 'x' });
  expect(late.status).toBe(202);

  await stack.startWorker({ taskQueue });
  await waitFor('the write applied', async () => (await api.call('GET', accepted.body.outcome)).body?.status === 'applied', { timeoutMs: 30_000 });
  expect((await api.call('GET', late.body.outcome)).body).toMatchObject({ status: 'refused', reason: 'ConversationClosed', names: ['afterClose'] });
  await stack.client.workflow.getHandle(workflowIdFor(id)).result();
  // Secured: a flow's plain read sees the name, not the value; its explicit secured read gives it.
  const asFlow = { authorization: `Bearer ${api.credentials.tokens.flow}` };
  expect((await api.call('GET', `/conversations/${id}/attributes/viaSignal`, undefined, asFlow)).body).toEqual({ name: 'viaSignal', source: 'stored', secured: true });
  expect((await api.call('GET', `/conversations/${id}/attributes/viaSignal?secured=true`, undefined, asFlow)).body).toEqual({ name: 'viaSignal', value: 's', source: 'stored', secured: true });
  expect((await api.call('GET', stalled.body.outcome)).body).toMatchObject({ status: 'applied' });
  const stored = (await stack.store.listAttributes(id)).map((a) => a.name).sort();
  // The write handed to the edge was recorded before CLOSED, so it is stored with the others.
  expect(stored).toEqual(['plainToo', 'viaSignal', 'viaUpdate']);
  await recordHistory(stack.client.workflow.getHandle(workflowIdFor(id)), 'accepted-writes-before-first-task');
}, 60_000);
