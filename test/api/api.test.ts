// The HTTP API over real HTTP, against a real Temporal dev server and an in-process worker.
import type { Client } from '@temporalio/client';
import { type ConversationView, DEFAULT_SETTINGS, searchAttributes, workflowIdFor } from '../../src/conversation/messages';
import type { ParticipantDataStore } from '../../src/store';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import type { InProcessWorker } from '../../rigs/in-process-worker';
import { captureLogs, silentLogger } from '../../rigs/logs';
import { freePort } from '../../rigs/ports';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { recordHistory } from '../support/histories';
import { routingEvent, sendEvent, webhookEvents } from '../support/conversation';

const SECRET_VALUE = 'Card-4111-1111-1111-1111-Secret';

let stack: ApiStack;
let client: Client;
let store: ParticipantDataStore;
let taskQueue: string;
const { logger, lines: logLines } = captureLogs('debug');
// A short grace window after CLOSED: these tests wait for conversations to complete (test/api/event-order.test.ts covers the window).
const SETTINGS = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 1_000 };

beforeAll(async () => {
  stack = await startApiStack({ name: 'api-tests', logger, conversation: SETTINGS });
  ({ client, store, taskQueue } = stack);
});

afterAll(() => stack?.stop());

// Every request below authenticates as its real caller would (signed webhooks, scoped tokens).
const call: ApiStack['call'] = (...args) => stack.call(...args);

const event = webhookEvents('api-evt', 'task-7');

const postEvent = (e: Record<string, unknown>) => call('POST', '/webhooks/routing-events', e);
const setAttributes = (id: string, attributes: unknown) => call('POST', `/conversations/${id}/attributes`, { attributes });
const getState = async (id: string) => (await call('GET', `/conversations/${id}`)).body as ConversationView;

test('numbers as platforms send them: an integer disposition code (Cisco CCE), a wait time and variables as text or numbers', async () => {
  const id = uniqueId('numbers');
  expect((await postEvent(event(id, 'CREATED', 0, { taskContext: { cv_1: 42, cv_2: true, user_score: 7.5, cv_3: 'text' } }))).status).toBe(202);
  expect((await postEvent(event(id, 'QUEUED', 1, { queue: 'billing', estimatedWaitTime: '45' }))).status).toBe(202);
  expect(await getState(id)).toMatchObject({ estimatedWaitTime: 45, taskContext: { cv_1: '42', cv_2: 'true', user_score: '7.5', cv_3: 'text' } });
  expect((await postEvent(event(id, 'QUEUED', 2, { estimatedWaitTime: '-1' }))).status).toBe(202);
  expect((await getState(id)).estimatedWaitTime).toBeUndefined();
  expect((await postEvent(event(id, 'CLOSED', 3, { dispositionCode: 1 }))).status).toBe(202);
  await client.workflow.getHandle(workflowIdFor(id)).result();
  const closed = await getState(id);
  expect(closed).toMatchObject({ status: 'closed', closeReason: 'closed-event' });
  // Kept as sent: the number stays a number, text stays text.
  expect(closed.dispositionCode).toBe(1);

  const other = uniqueId('numbers');
  expect((await postEvent(event(other, 'CREATED', 0))).status).toBe(202);
  expect((await postEvent(event(other, 'CLOSED', 1, { dispositionCode: '1' }))).status).toBe(202);
  await client.workflow.getHandle(workflowIdFor(other)).result();
  expect((await getState(other)).dispositionCode).toBe('1');
});

test('a conversation driven over HTTP: events, attributes, transfer, close, read-back after close', async () => {
  const id = uniqueId('http');
  expect(await postEvent(event(id, 'CREATED', 0, { queue: 'billing', taskContext: { cv_1: 'gold', user_lang: 'fr' } }))).toEqual({
    status: 202,
    body: { accepted: true, conversationId: id, workflowId: workflowIdFor(id) },
  });
  expect((await postEvent(event(id, 'QUEUED', 1, { queue: 'billing', estimatedWaitTime: 90 }))).status).toBe(202);
  expect(await setAttributes(id, { Foo: 'Hello', account: SECRET_VALUE })).toEqual({ status: 200, body: { conversationId: id, queued: ['Foo', 'account'] } });
  expect((await postEvent(event(id, 'ROUTED', 2, { agentId: 'agent-1' }))).status).toBe(202);
  expect((await setAttributes(id, { Foo: 'Goodbye' })).status).toBe(200);
  expect(await call('GET', `/conversations/${id}/attributes/Foo`)).toEqual({ status: 200, body: { name: 'Foo', value: 'Goodbye', source: 'pending' } });
  expect((await postEvent(event(id, 'TRANSFERRED', 3, { destination: 'retention' }))).status).toBe(202);
  expect((await postEvent(event(id, 'ROUTED', 4, { agentId: 'agent-2', queue: 'retention' }))).status).toBe(202);

  const active = await getState(id);
  expect(active).toMatchObject({
    status: 'active',
    channel: 'chat',
    agentId: 'agent-2',
    queue: 'retention',
    taskContext: { cv_1: 'gold', user_lang: 'fr' },
    attributeNames: { pending: ['Foo', 'account'], stored: [] },
    transfers: [expect.objectContaining({ fromAgentId: 'agent-1', destination: 'retention' })],
  });
  // Attribute names only: the state never carries values.
  expect(JSON.stringify(active)).not.toContain(SECRET_VALUE);

  const handle = client.workflow.getHandle(workflowIdFor(id));
  await waitFor('the agent search attribute', async () => (await handle.describe()).typedSearchAttributes.get(searchAttributes.agent) === 'agent-2');

  expect((await postEvent(event(id, 'CLOSED', 5, { dispositionCode: 'RESOLVED' }))).status).toBe(202);
  await handle.result();
  expect(await call('GET', `/conversations/${id}/attributes/Foo`)).toEqual({ status: 200, body: { name: 'Foo', value: 'Goodbye', source: 'stored' } });
  expect((await call('GET', `/conversations/${id}/attributes/account`)).body.value).toBe(SECRET_VALUE);
  expect(await call('GET', `/conversations/${id}/attributes/foo`)).toMatchObject({ status: 404 });
  expect(await getState(id)).toMatchObject({ status: 'closed', closeReason: 'closed-event', attributeNames: { pending: [], stored: ['Foo', 'account'] } });

  // Findable in the UI's list by its search attributes.
  await waitFor('the conversation in the list query', async () => {
    for await (const wf of client.workflow.list({ query: `ParleyStatus = "closed" AND ParleyChannel = "chat" AND ParleyQueue = "retention" AND ParleyAgent = "agent-2"` })) {
      if (wf.workflowId === workflowIdFor(id)) return true;
    }
    return false;
  });

  // A write after close is a conflict; a late event after close is acknowledged and ignored.
  expect(await setAttributes(id, { Foo: 'again' })).toMatchObject({ status: 409 });
  const runId = (await handle.describe()).runId;
  expect(await postEvent(event(id, 'ROUTED', 3, { agentId: 'agent-9' }))).toMatchObject({ status: 200, body: { accepted: false } });
  expect((await handle.describe()).runId).toBe(runId);

  // Values stay out of the logs.
  expect(logLines.join('')).not.toContain(SECRET_VALUE);
  await recordHistory(handle, 'api-lifecycle');
});

test('every RFC 3339 form orders events, also those JavaScript cannot parse (leap second, hour-only offset)', async () => {
  const id = uniqueId('times');
  const at = (eventType: string, occurredAt: string, extra: Record<string, unknown> = {}) => ({ ...event(id, eventType, 0, extra), occurredAt });
  expect((await postEvent(at('CREATED', '2026-06-30T23:59:60Z'))).status).toBe(202);
  expect((await postEvent(at('ROUTED', '2026-07-01T02:00:00+01', { agentId: 'agent-1' }))).status).toBe(202);
  // 00:30Z is before the routing at 01:00Z, whatever the sender's offset looked like: folded in before it.
  expect((await postEvent(at('QUEUED', '2026-07-01T00:30:00Z', { queue: 'billing' }))).status).toBe(202);
  const state = await getState(id);
  expect(state).toMatchObject({ status: 'active', agentId: 'agent-1', queue: 'billing' });
  expect(state.recentEvents.map((e: { eventType: string; occurredAt: string; applied: boolean }) => [e.eventType, e.occurredAt, e.applied])).toEqual([
    ['CREATED', '2026-06-30T23:59:59.999Z', true],
    ['QUEUED', '2026-07-01T00:30:00Z', true],
    ['ROUTED', '2026-07-01T01:00:00.000Z', true],
  ]);
});

test('a redelivered event is acknowledged and changes nothing', async () => {
  const id = uniqueId('dup');
  const created = event(id, 'CREATED', 0, { queue: 'sales' });
  expect((await postEvent(created)).status).toBe(202);
  const before = await getState(id);
  expect((await postEvent({ ...created, queue: 'other' })).status).toBe(202);
  expect(await getState(id)).toEqual(before);
});

describe('bad input gets a 4xx that says what is wrong, and changes nothing', () => {
  const id = uniqueId('bad');
  const base = () => event(id, 'CREATED', 0);
  const without = (field: string) => {
    const e: Record<string, unknown> = base();
    delete e[field];
    return e;
  };
  const webhookCases: Array<[string, unknown, RegExp]> = [
    ['missing eventId', without('eventId'), /eventId/],
    ['missing occurredAt', without('occurredAt'), /occurredAt/],
    ['unknown eventType', { ...base(), eventType: 'ROUTEX' }, /eventType/],
    ['unknown channel', { ...base(), channel: 'fax' }, /channel/],
    ['occurredAt not a date-time', { ...base(), occurredAt: 'yesterday' }, /occurredAt/],
    ['conversationId with spaces and @', { ...base(), conversationId: 'john doe@example.com' }, /conversationId/],
    ['estimatedWaitTime below -1', { ...base(), estimatedWaitTime: -5 }, /estimatedWaitTime/],
    ['estimatedWaitTime as text that is no number', { ...base(), estimatedWaitTime: 'soon' }, /estimatedWaitTime/],
    ['estimatedWaitTime as a fraction', { ...base(), estimatedWaitTime: 1.5 }, /estimatedWaitTime/],
    ['dispositionCode as a fraction', { ...base(), dispositionCode: 1.5 }, /dispositionCode/],
    ['call variable over 40 bytes', { ...base(), taskContext: { cv_1: 'x'.repeat(41) } }, /cv_1.*40/],
    ['call variable past cv_10', { ...base(), taskContext: { cv_11: 'x' } }, /cv_11/],
    ['ECC variable over 210 bytes', { ...base(), taskContext: { user_note: 'é'.repeat(106) } }, /user_note.*210/],
    ['task context value an object', { ...base(), taskContext: { cv_2: { n: 5 } } }, /taskContext/],
    ['occurredAt on a day that does not exist', { ...base(), occurredAt: '2026-02-30T10:00:00Z' }, /occurredAt/],
    ['eventId over 200 bytes', { ...base(), eventId: 'é'.repeat(101) }, /eventId is 202 bytes; at most 200/],
    ['eventId with a NUL', { ...base(), eventId: 'e\u0000vil' }, /eventId contains control characters/],
    ['queue with an unpaired surrogate', { ...base(), queue: 'billing\ud800' }, /queue is not valid Unicode/],
    ['dispositionCode with a NUL', { ...base(), dispositionCode: 'DONE\u0000' }, /dispositionCode contains a NUL/],
    ['task context value with a NUL', { ...base(), taskContext: { user_note: 'a\u0000b' } }, /user_note contains a NUL/],
    ['task context over 100 variables', { ...base(), taskContext: Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`v${i}`, 'x'])) }, /101 variables/],
    ['task context over 64 KiB', { ...base(), taskContext: { notes: 'x'.repeat(70_000) } }, /larger than 65536 bytes/],
    ['body is an array', [base()], /body/],
  ];
  test.each(webhookCases)('webhook: %s', async (_name, body, message) => {
    const res = await postEvent(body as Record<string, unknown>);
    expect(res.status).toBe(400);
    expect(res.body.message).toMatch(message);
    expect((await call('GET', `/conversations/${id}`)).status).toBe(404);
  });

  test('webhook: malformed JSON and wrong content type', async () => {
    expect((await call('POST', '/webhooks/routing-events', '{"eventId": ')).status).toBe(400);
    expect((await call('POST', '/webhooks/routing-events', '<eventId/>', { 'content-type': 'application/xml' })).status).toBe(415);
    expect((await call('GET', `/conversations/${id}`)).status).toBe(404);
  });

  test('attributes: every bad body is refused and the queue is unchanged', async () => {
    const cid = uniqueId('badattr');
    expect((await postEvent(event(cid, 'CREATED', 0))).status).toBe(202);
    expect((await setAttributes(cid, { keep: 'me' })).status).toBe(200);
    const tooMany = Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, 'v']));
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /attributes/],
      [{}, /attributes/],
      [{ '': 'x' }, /empty/],
      [{ ' ': 'x' }, /blank/],
      [{ ['n'.repeat(256)]: 'x' }, /255 characters/],
      [{ ok: 'v'.repeat(2001) }, /2000 characters/],
      [{ ok: 7 }, /attributes/],
      [tooMany, /100/],
      [{ ok: 'a\u0000b' }, /NUL/],
      [{ 'name\udc00': 'x' }, /not valid Unicode/],
      [{ ok: 'half an emoji \ud83d' }, /not valid Unicode/],
    ];
    for (const [attributes, message] of cases) {
      const res = attributes === undefined ? await call('POST', `/conversations/${cid}/attributes`, {}) : await setAttributes(cid, attributes);
      expect([res.status, res.body.message]).toEqual([400, expect.stringMatching(message)]);
    }
    const extraField = await call('POST', `/conversations/${cid}/attributes`, { attributes: { a: 'b' }, sensitive: true });
    expect(extraField.status).toBe(400);
    const securedNotBoolean = await call('POST', `/conversations/${cid}/attributes`, { attributes: { a: 'b' }, secured: 'yes' });
    expect([securedNotBoolean.status, securedNotBoolean.body.message]).toEqual([400, expect.stringMatching(/secured/)]);
    const proto = await call('POST', `/conversations/${cid}/attributes`, '{"attributes":{"__proto__":"x"}}');
    expect(proto.status).toBe(400);
    const badKey = await call('POST', `/conversations/${cid}/attributes`, { attributes: { a: 'b' } }, { 'idempotency-key': 'has spaces' });
    expect([badKey.status, badKey.body.message]).toEqual([400, expect.stringMatching(/idempotency-key/)]);

    const state = await getState(cid);
    expect(state.attributeNames.pending).toEqual(['keep']);
    const history = await client.workflow.getHandle(workflowIdFor(cid)).fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(1);
  });

  test('the longest legal conversation id and attribute name work on every route', async () => {
    const cid = 'L' + 'x'.repeat(127);
    const name = 'é'.repeat(255);
    expect((await postEvent(event(cid, 'CREATED', 0))).status).toBe(202);
    // Line breaks and tabs are legal in a value (notes, addresses).
    expect((await setAttributes(cid, { [name]: 'line 1\nline 2\tend' })).status).toBe(200);
    const read = await call('GET', `/conversations/${cid}/attributes/${encodeURIComponent(name)}`);
    expect([read.status, read.body]).toEqual([200, { name, value: 'line 1\nline 2\tend', source: 'pending' }]);
    expect((await call('GET', `/conversations/${cid}`)).status).toBe(200);
    expect((await call('GET', `/conversations/${cid}/attributes/${encodeURIComponent(name + 'é')}`)).status).toBe(400);
    const controlName = await call('GET', `/conversations/${cid}/attributes/${encodeURIComponent('a\u0000b')}`);
    expect([controlName.status, controlName.body.message]).toEqual([400, expect.stringMatching(/control characters/)]);
  });

  test('unknown conversation and unknown attribute are 404', async () => {
    expect(await setAttributes(uniqueId('nobody'), { a: 'b' })).toMatchObject({ status: 404 });
    expect(await call('GET', `/conversations/${uniqueId('nobody')}`)).toMatchObject({ status: 404 });
    expect(await call('GET', `/conversations/${uniqueId('nobody')}/attributes/a`)).toMatchObject({ status: 404 });
    expect(await call('GET', `/conversations/bad%20id`)).toMatchObject({ status: 400 });
  });
});

test('with Temporal unreachable the API answers 503 and applies nothing', async () => {
  const downApi = await stack.startApi({ temporalAddress: `127.0.0.1:${await freePort()}`, requestTimeoutMs: 1000, logger: silentLogger });
  try {
    const send = async (method: string, url: string, body?: unknown) => {
      const res = await downApi.fetch(url, { method, body });
      return { status: res.status, body: (await res.json()) as { message?: string } };
    };
    const id = uniqueId('down');
    const webhook = await send('POST', '/webhooks/routing-events', event(id, 'CREATED', 0));
    expect([webhook.status, webhook.body.message]).toEqual([503, expect.stringMatching(/may have been recorded; deliver it again/)]);
    expect((await send('POST', `/conversations/${id}/attributes`, { attributes: { a: 'b' } })).status).toBe(503);
    expect((await send('GET', `/conversations/${id}`)).status).toBe(503);
    expect((await send('GET', `/conversations/${id}/attributes/a`)).status).toBe(503);
    expect((await send('GET', '/healthz')).status).toBe(503);
    // Liveness stays up: a restart would not bring Temporal back.
    expect(await send('GET', '/livez')).toMatchObject({ status: 200, body: { status: 'ok' } });
    // Nothing was half-applied: the live cluster has never heard of this conversation.
    expect((await call('GET', `/conversations/${id}`)).status).toBe(404);
    expect((await call('GET', '/healthz')).body).toEqual({ status: 'ok', temporal: 'reachable' });
  } finally {
    await downApi.close();
  }
});

test('a write no worker confirms in time is kept at the edge (202), applied once when a worker runs, and a retry with its Idempotency-Key gets its outcome', async () => {
  // A conversation on a task queue nobody polls yet: like the seconds after a worker crash.
  const idleQueue = uniqueId('api-idle');
  const id = uniqueId('unconfirmed');
  const slowApi = await stack.startApi({ taskQueue: idleQueue, requestTimeoutMs: 1500, logger: silentLogger });
  let lateWorker: InProcessWorker | undefined;
  try {
    const post = async (url: string, body: unknown, headers: Record<string, string> = {}) => {
      const res = await slowApi.fetch(url, { method: 'POST', body, headers });
      return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as { message?: string; queued?: string[]; outcome?: string } };
    };
    expect((await post('/webhooks/routing-events', event(id, 'CREATED', 0))).status).toBe(202);
    const key = { 'idempotency-key': `order-${id}` };
    const first = await post(`/conversations/${id}/attributes`, { attributes: { tier: 'gold' } }, key);
    // The update waited its share of the deadline; the same write was then recorded at the edge under
    // the caller's key, and the answer says where its outcome is read.
    const outcome = `/conversations/${id}/attribute-writes/order-${id}`;
    expect(first).toEqual({ status: 202, location: outcome, body: { conversationId: id, writeId: `order-${id}`, accepted: ['tier'], outcome } });

    lateWorker = await stack.startWorker({ taskQueue: idleQueue, activities: { logger: silentLogger } });
    // Kept by Temporal twice (the admitted update and the signal), applied once, without being sent again.
    await waitFor('the write to land', async () => (await call('GET', `/conversations/${id}/attributes/tier`)).body?.value === 'gold');
    expect((await call('GET', outcome)).body).toMatchObject({ status: 'applied' });
    // A later write is not undone by either copy of the first.
    expect((await post(`/conversations/${id}/attributes`, { attributes: { tier: 'platinum' } })).status).toBe(200);
    // The retry joins the first attempt's update and gets its answer.
    expect(await post(`/conversations/${id}/attributes`, { attributes: { tier: 'gold' } }, key)).toEqual({
      status: 200,
      location: null,
      body: { conversationId: id, queued: ['tier'] },
    });
    expect((await call('GET', `/conversations/${id}/attributes/tier`)).body?.value).toBe('platinum');
    const history = await client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
    const updateIds = (history.events ?? []).flatMap((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId ?? []);
    expect(updateIds.filter((u) => u.includes(`order-${id}`))).toHaveLength(1);
    expect((history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'acceptedAttributeWrite')).toHaveLength(1);
    await client.workflow.getHandle(workflowIdFor(id)).terminate('test done');
  } finally {
    await lateWorker?.stop();
    await slowApi.close();
  }
});

test('a retry with its Idempotency-Key after the conversation continued as new is not applied again', async () => {
  const id = uniqueId('retry-next-run');
  // A low threshold so a handful of events hands the conversation over to a new run.
  const handle = await sendEvent(client, taskQueue, routingEvent(id, 'CREATED', 0), { ...SETTINGS, continueAsNewAfterEvents: 20 });
  const key = { 'idempotency-key': `write-${id}` };
  const write = () => call('POST', `/conversations/${id}/attributes`, { attributes: { tier: 'silver' } }, key);
  expect(await write()).toEqual({ status: 200, body: { conversationId: id, queued: ['tier'] } });
  expect((await setAttributes(id, { tier: 'gold' })).status).toBe(200);

  const firstRun = (await handle.describe()).runId;
  let minute = 0;
  await waitFor('the conversation to continue as new', async () => {
    expect((await postEvent(event(id, 'QUEUED', ++minute))).status).toBe(202);
    return (await handle.describe()).runId !== firstRun;
  });

  // The retry reaches a run that has never seen its update id: it gets the same answer, and the
  // later write stays.
  expect(await write()).toEqual({ status: 200, body: { conversationId: id, queued: ['tier'] } });
  expect((await call('GET', `/conversations/${id}/attributes/tier`)).body).toEqual({ name: 'tier', value: 'gold', source: 'stored' });
  expect((await postEvent(event(id, 'CLOSED', ++minute))).status).toBe(202);
  await handle.result();
  expect((await store.listAttributes(id)).map((a) => [a.name, a.value])).toEqual([['tier', 'gold']]);
});
