// The digital-channel flows end to end over real HTTP: signed inbound messages into the API, a real
// dev server and worker, and real HTTP peers for the channel gateway and the routing platform that
// count what they receive. Each test is named after the vendor flow it covers.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { parseDestinations } from '../../src/channels/config';
import { type ConversationView, DEFAULT_SETTINGS, workflowIdFor } from '../../src/conversation/messages';
import type { ParticipantDataStore } from '../../src/store';
import { generateWebhookSecret } from '../../src/security/webhook-signature';
import type { ApiStack } from '../../rigs/api-stack';
import type { ChannelPeer } from '../../rigs/channel-peer';
import { type ChannelStack, startChannelStack } from '../support/channel-stack';
import { signedHeaders, testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { captureLogs } from '../../rigs/logs';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { historyPayloads, recordHistory } from '../support/histories';

const PEER_TOKEN = 'peer-token-7f3a9c2e5b1d';
const CUSTOMER = '+447700900123';
const CARD = '4111 1111 1111 1111';

let stack: ApiStack;
let client: Client;
let store: ParticipantDataStore;
let baseUrl: string;
let gateway: ChannelPeer;
let routing: ChannelPeer;
const { logger, lines: logLines } = captureLogs('debug');
const credentials = testCredentials();
const SETTINGS = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 500 };

const destinations = parseDestinations(
  {
    destinations: [
      { id: 'chat-callback', channel: 'chat', callbackThresholdSeconds: 2 },
      { id: 'chat-plain', channel: 'chat', callbackThresholdSeconds: null },
      { id: '+15550100', channel: 'sms' },
      { id: 'sms-quiet', channel: 'sms', notifications: ['closed'] },
      { id: 'email-billing', channel: 'email' },
    ],
  },
  'test destinations',
);

let channels: ChannelStack;

beforeAll(async () => {
  channels = await startChannelStack({ name: 'channels', peerToken: PEER_TOKEN, destinations, logger, credentials: credentials,
    conversation: SETTINGS, });
  ({ stack, gateway, routing } = channels);
  ({ client, store, baseUrl } = stack);
});

afterAll(() => channels?.stop());

const call = (method: string, url: string, body?: unknown) => stack.call(method, url, body);

let seq = 0;
const at = (second: number) => new Date(Date.UTC(2026, 10, 27, 12, 0, second)).toISOString();

function message(conversationId: string, text: string, extra: Record<string, unknown> = {}) {
  return { eventId: `msg-${++seq}`, conversationId, channel: 'chat', from: CUSTOMER, text, destination: 'chat-plain', occurredAt: at(seq % 60), ...extra };
}
function event(conversationId: string, eventType: string, extra: Record<string, unknown> = {}) {
  return { eventId: `evt-${++seq}`, eventType, conversationId, taskId: `task-${conversationId}`, channel: 'chat', occurredAt: at(seq % 60), ...extra };
}
const send = (m: Record<string, unknown>) => call('POST', '/webhooks/inbound-messages', m);
const post = (e: Record<string, unknown>) => call('POST', '/webhooks/routing-events', e);
const view = async (id: string) => (await call('GET', `/conversations/${id}`)).body as ConversationView;
const completed = (id: string) => client.workflow.getHandle(workflowIdFor(id)).result();

/** Waits until the peer has exactly `count` accepted deliveries matching, then gives them. */
async function delivered(peer: ChannelPeer, conversationId: string, what: string, count = 1) {
  await waitFor(`${count} ${what} for ${conversationId}`, () => peer.of(conversationId, what).length >= count, { timeoutMs: 30_000 });
  return peer.of(conversationId, what);
}

/** Every delivery the peers received for this conversation, repeats included: each key exactly once. */
function expectEachKeyOnce(conversationId: string): void {
  for (const peer of [gateway, routing]) {
    const keys = peer.deliveries.filter((d) => d.body.conversationId === conversationId).map((d) => d.key);
    expect(keys.length).toBe(new Set(keys).size);
    for (const d of peer.deliveries.filter((x) => x.body.conversationId === conversationId)) {
      expect(d.authorization).toBe(`Bearer ${PEER_TOKEN}`);
      expect(d.key).toBe(d.body.key);
    }
  }
}

test('SMS inbound: the first message starts the conversation, a redelivery changes nothing, the transcript has it once; a message after the close starts a successor', async () => {
  const id = uniqueId('sms');
  const first = message(id, 'Hi, I need help with my bill', { channel: 'sms', destination: '+15550100' });
  expect(await send(first)).toEqual({ status: 202, body: { accepted: true, conversationId: id, workflowId: workflowIdFor(id), outcome: 'appended' } });
  expect(await send(first)).toEqual({ status: 200, body: { accepted: false, conversationId: id, workflowId: workflowIdFor(id), outcome: 'duplicate' } });
  expect((await send(message(id, 'Account 1234', { channel: 'sms', destination: '+15550100' }))).status).toBe(202);
  expect((await post(event(id, 'CREATED', { channel: 'sms' }))).status).toBe(202);
  const [created] = await delivered(gateway, id, 'created');
  expect(created.body).toMatchObject({ channel: 'sms', destination: '+15550100', audience: 'customer', to: CUSTOMER, kind: 'created' });

  const state = await view(id);
  expect(state.messages).toMatchObject({ channel: 'sms', destination: '+15550100', count: 2 });
  expect(state.messages?.recent.map((m) => m.text)).toEqual(['Hi, I need help with my bill', 'Account 1234']);
  expect(JSON.stringify(state)).not.toContain(CUSTOMER);

  expect((await post(event(id, 'CLOSED', { channel: 'sms' }))).status).toBe(202);
  await completed(id);
  await delivered(gateway, id, 'closed');
  const transcript = await store.listMessages(id);
  expect(transcript.filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Hi, I need help with my bill', 'Account 1234']);
  expect(transcript.filter((m) => m.direction === 'outbound').map((m) => m.text)).toHaveLength(2);
  expect(JSON.stringify(transcript)).not.toContain(CUSTOMER);

  // Closed: the next message starts a new conversation, reported in the answer; a redelivery lands there too.
  const later = message(id, 'Hello again', { channel: 'sms', destination: '+15550100' });
  const successor = await send(later);
  expect(successor).toEqual({ status: 202, body: { accepted: true, conversationId: `${id}:2`, workflowId: workflowIdFor(`${id}:2`), outcome: 'appended' } });
  expect((await send(later)).body).toMatchObject({ conversationId: `${id}:2`, outcome: 'duplicate' });
  // A redelivery of a message the closed conversation took is still a duplicate there, not a new message.
  expect((await send(first)).body).toMatchObject({ conversationId: id, outcome: 'duplicate' });
  expect((await view(`${id}:2`)).messages?.count).toBe(1);
  expectEachKeyOnce(id);
});

test('live chat inbound: messages appended while queued and active, attachments counted, the state keeps the latest lines', async () => {
  const id = uniqueId('chat');
  expect((await send(message(id, 'Hello', { attachments: [{ filename: 'photo.png', contentType: 'image/png' }] }))).status).toBe(202);
  await post(event(id, 'CREATED'));
  await post(event(id, 'ROUTED', { agentId: 'agent-1' }));
  for (let i = 0; i < 22; i++) expect((await send(message(id, `line ${i}`))).status).toBe(202);
  const state = await view(id);
  expect(state.status).toBe('active');
  expect(state.messages?.count).toBe(23);
  // The state keeps the last 20; the store has them all.
  expect(state.messages?.recent).toHaveLength(20);
  expect(state.messages?.recent.at(-1)?.text).toBe('line 21');
  await waitFor('23 inbound lines stored', async () => (await store.listMessages(id)).filter((m) => m.direction === 'inbound').length === 23);
  const stored = await store.listMessages(id);
  expect(stored.find((m) => m.text === 'Hello')?.attachmentCount).toBe(1);
  await post(event(id, 'CLOSED'));
  await completed(id);
  expectEachKeyOnce(id);
});

test('email inbound: the subject is kept in the transcript and on every reply', async () => {
  const id = uniqueId('email');
  const first = message(id, 'Please see my invoice question', { channel: 'email', destination: 'email-billing', from: 'jane.doe@example.com', subject: 'Invoice 42' });
  expect((await send(first)).status).toBe(202);
  await post(event(id, 'CREATED', { channel: 'email' }));
  const [ack] = await delivered(gateway, id, 'created');
  expect(ack.body).toMatchObject({ channel: 'email', subject: 'Invoice 42', to: 'jane.doe@example.com' });
  await post(event(id, 'CLOSED', { channel: 'email' }));
  await completed(id);
  const stored = await store.listMessages(id);
  expect(stored[0]).toMatchObject({ direction: 'inbound', subject: 'Invoice 42', text: 'Please see my invoice question', channel: 'email' });
  // A subject on an SMS, or a message without text, is refused and changes nothing.
  expect((await send(message(uniqueId('bad'), 'x', { channel: 'sms', destination: '+15550100', subject: 'no' }))).status).toBe(400);
  expect((await send({ ...message(uniqueId('bad'), 'x'), text: undefined })).status).toBe(400);
  expect((await send(message(uniqueId('bad'), 'x', { destination: 'unknown-asset' }))).status).toBe(400);
});

test('CREATED: one acknowledgement per task creation, also when the event is delivered twice; none for a destination that does not want it', async () => {
  const id = uniqueId('created');
  await send(message(id, 'Hello'));
  const created = event(id, 'CREATED');
  await post(created);
  await post(created);
  const [ack] = await delivered(gateway, id, 'created');
  expect(ack.key).toBe(`${id}:${created.eventId}:created`);
  expect(ack.body.text).toMatch(/connecting you with an agent/);

  const quiet = uniqueId('created-quiet');
  await send(message(quiet, 'Hello', { channel: 'sms', destination: 'sms-quiet' }));
  await post(event(quiet, 'CREATED', { channel: 'sms' }));
  await post(event(quiet, 'CLOSED', { channel: 'sms' }));
  await completed(quiet);
  await delivered(gateway, quiet, 'closed');
  expect(gateway.of(quiet).map((d) => d.body.kind)).toEqual(['closed']);
  await post(event(id, 'CLOSED'));
  await completed(id);
  expect(gateway.of(id, 'created')).toHaveLength(1);
  expectEachKeyOnce(id);
});

test('QUEUED with EWT: each estimate is relayed once, in minutes', async () => {
  const id = uniqueId('ewt');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  const queued = event(id, 'QUEUED', { estimatedWaitTime: 180 });
  await post(queued);
  await post(queued);
  await post(event(id, 'QUEUED', { estimatedWaitTime: '30' }));
  const notices = await delivered(gateway, id, 'queued', 2);
  expect(notices.map((d) => [d.body.estimatedWaitSeconds, d.body.text])).toEqual([
    [180, 'All our agents are busy. Your estimated wait time is about 3 minutes.'],
    [30, 'All our agents are busy. Your estimated wait time is less than a minute.'],
  ]);
  await post(event(id, 'CLOSED'));
  await completed(id);
  expect(gateway.of(id, 'queued')).toHaveLength(2);
  expectEachKeyOnce(id);
});

test('QUEUED without EWT: the first QUEUED (no estimate, or -1) tells the customer nothing', async () => {
  const id = uniqueId('no-ewt');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  await post(event(id, 'QUEUED'));
  await post(event(id, 'QUEUED', { estimatedWaitTime: -1 }));
  await post(event(id, 'CLOSED'));
  await completed(id);
  await delivered(gateway, id, 'closed');
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'closed']);
});

test('ROUTED: the customer is told an agent is joining, once', async () => {
  const id = uniqueId('routed');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  const routed = event(id, 'ROUTED', { agentId: 'agent-7' });
  await post(routed);
  await post(routed);
  const [notice] = await delivered(gateway, id, 'routed');
  expect(notice.body.text).toBe('An agent is joining the conversation.');
  await post(event(id, 'CLOSED'));
  await completed(id);
  expect(gateway.of(id, 'routed')).toHaveLength(1);
  expectEachKeyOnce(id);
});

test('TRANSFERRED: the customer hears of the transfer; a transfer the platform could not complete (closed right after) is a failed-transfer notice instead of the plain close', async () => {
  const id = uniqueId('transfer');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  await post(event(id, 'ROUTED', { agentId: 'agent-1' }));
  await post(event(id, 'TRANSFERRED', { destination: 'retention' }));
  await post(event(id, 'ROUTED', { agentId: 'agent-2' }));
  await post(event(id, 'CLOSED'));
  await completed(id);
  await delivered(gateway, id, 'closed');
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'routed', 'transferred', 'routed', 'closed']);

  const failed = uniqueId('transfer-failed');
  await send(message(failed, 'Hello'));
  await post(event(failed, 'CREATED'));
  await post(event(failed, 'ROUTED', { agentId: 'agent-1' }));
  await post(event(failed, 'TRANSFERRED', { destination: 'retention' }));
  await post(event(failed, 'CLOSED', { dispositionCode: 28 }));
  await completed(failed);
  await delivered(gateway, failed, 'transfer-failed');
  expect(gateway.of(failed).map((d) => d.body.kind)).toEqual(['created', 'routed', 'transferred', 'transfer-failed']);
  expectEachKeyOnce(id);
  expectEachKeyOnce(failed);
});

test('CLOSED: the customer is told once; events after the close tell nothing', async () => {
  const id = uniqueId('closed');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  const closed = event(id, 'CLOSED');
  await post(closed);
  await post(closed);
  // Within the grace window: taken into the record, but no notification for an event after the close.
  await post({ ...event(id, 'QUEUED', { estimatedWaitTime: 60 }), occurredAt: new Date(Date.parse(closed.occurredAt) + 1000).toISOString() });
  await completed(id);
  const [notice] = await delivered(gateway, id, 'closed');
  expect(notice.body.text).toMatch(/has been closed/);
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'closed']);
  expectEachKeyOnce(id);
});

test('customer abandon: a queued chat the customer closes ends its task (abandon) and no close notice follows; an active one tells the agent', async () => {
  const queued = uniqueId('abandon-queued');
  await send(message(queued, 'Hello'));
  await post(event(queued, 'CREATED'));
  const closedByCustomer = { ...message(queued, ''), closedByCustomer: true };
  expect((await send(closedByCustomer)).body).toMatchObject({ conversationId: queued, outcome: 'abandoned' });
  const [end] = await delivered(routing, queued, 'end-task');
  expect(end.body).toMatchObject({ taskId: `task-${queued}`, mode: 'abandon', channel: 'chat' });
  const result = await completed(queued);
  expect(result.closeReason).toBe('customer-abandoned');
  // The platform's CLOSED for the abandoned task finds the conversation over: nothing is sent.
  expect((await post(event(queued, 'CLOSED'))).status).toBe(200);
  expect(gateway.of(queued).map((d) => d.body.kind)).toEqual(['created']);

  const active = uniqueId('abandon-active');
  await send(message(active, 'Hello'));
  await post(event(active, 'CREATED'));
  await post(event(active, 'ROUTED', { agentId: 'agent-3' }));
  expect((await send({ ...message(active, ''), closedByCustomer: true })).body).toMatchObject({ outcome: 'customer-left' });
  const [left] = await delivered(gateway, active, 'customer-left');
  expect(left.body).toMatchObject({ audience: 'agent', text: 'The customer has left the chat.' });
  expect(left.body.to).toBeUndefined();
  // The task Parley created at the first message, and no end: the agent closes it.
  expect(routing.of(active).map((d) => d.body.operation)).toEqual(['create-task']);
  expect((await view(active)).status).toBe('active');
  // The agent wraps up and closes: the customer, gone, is not told.
  await post(event(active, 'CLOSED'));
  await completed(active);
  expect(routing.of(active).map((d) => d.body.operation)).toEqual(['create-task']);
  expect(gateway.of(active).map((d) => d.body.kind)).toEqual(['created', 'routed', 'customer-left']);
  expect((await send({ ...message(uniqueId('bad'), ''), channel: 'sms', destination: '+15550100', closedByCustomer: true })).status).toBe(400);
  expectEachKeyOnce(queued);
  expectEachKeyOnce(active);
});

test('end phrase: "End Conversation" in any case with surrounding spaces closes the conversation and ends its task; a sentence with the words apart does not', async () => {
  const id = uniqueId('end');
  await send(message(id, 'Hello', { channel: 'sms', destination: '+15550100' }));
  await post(event(id, 'CREATED', { channel: 'sms' }));
  await post(event(id, 'ROUTED', { channel: 'sms', agentId: 'agent-1' }));
  expect((await send(message(id, 'how do I end this conversation?', { channel: 'sms', destination: '+15550100' }))).body.outcome).toBe('appended');
  const end = message(id, '   eNd   CONVERSATION \n', { channel: 'sms', destination: '+15550100' });
  expect((await send(end)).body).toMatchObject({ conversationId: id, outcome: 'ended' });
  const [op] = await delivered(routing, id, 'end-task');
  expect(op.body).toMatchObject({ mode: 'close', taskId: `task-${id}` });
  expect((await completed(id)).closeReason).toBe('end-keyword');
  await recordHistory(client.workflow.getHandle(workflowIdFor(id)), 'digital-sms-end-keyword');
  // Redelivered after the conversation completed: still its duplicate, not a second ending elsewhere.
  expect((await send(end)).body).toMatchObject({ conversationId: id, outcome: 'duplicate' });
  // The customer starts over: a new conversation.
  expect((await send(message(id, 'Hi again', { channel: 'sms', destination: '+15550100' }))).body).toMatchObject({ conversationId: `${id}:2`, outcome: 'appended' });

  const queued = uniqueId('end-queued');
  await send(message(queued, 'Hello'));
  await post(event(queued, 'CREATED'));
  expect((await send(message(queued, 'end conversation'))).body.outcome).toBe('ended');
  expect((await delivered(routing, queued, 'end-task'))[0].body.mode).toBe('abandon');
  await completed(queued);
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'routed']);
  expectEachKeyOnce(id);
  expectEachKeyOnce(queued);
});

test('chat with web callback: queued past the threshold, the customer is offered a callback; accepting cancels the chat task, requests a voice callback to the given number, and the CLOSED that follows says nothing', async () => {
  const id = uniqueId('callback');
  await send(message(id, 'Hello', { destination: 'chat-callback' }));
  await post(event(id, 'CREATED'));
  await post(event(id, 'QUEUED'));
  const [offer] = await delivered(gateway, id, 'callback-offer');
  expect(offer.body.text).toMatch(/reply CALLBACK followed by your phone number/);
  const accept = message(id, 'Callback +44 (20) 7946-0000', { destination: 'chat-callback' });
  expect((await send(accept)).body).toMatchObject({ outcome: 'callback-requested' });
  await send(accept);
  const [cancel] = await delivered(routing, id, 'cancel-task');
  const [callback] = await delivered(routing, id, 'request-callback');
  expect(cancel.body).toMatchObject({ taskId: `task-${id}` });
  expect(callback.body).toMatchObject({ taskId: `task-${id}`, phoneNumber: '+442079460000', channel: 'chat', destination: 'chat-callback' });
  expect(routing.accepted().filter((d) => d.body.conversationId === id).map((d) => d.body.operation)).toEqual(['create-task', 'cancel-task', 'request-callback']);
  await delivered(gateway, id, 'callback-requested');
  // The platform closes the cancelled chat task: the customer, waiting for the call, is not told the conversation ended.
  await post(event(id, 'CLOSED', { dispositionCode: 'cancelled' }));
  await completed(id);
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'callback-offer', 'callback-requested']);
  await recordHistory(client.workflow.getHandle(workflowIdFor(id)), 'digital-chat-web-callback');

  // Routed before the threshold: no offer.
  const quick = uniqueId('callback-routed');
  await send(message(quick, 'Hello', { destination: 'chat-callback' }));
  await post(event(quick, 'CREATED'));
  await post(event(quick, 'ROUTED', { agentId: 'agent-1' }));
  await new Promise((r) => setTimeout(r, 3_000));
  await post(event(quick, 'CLOSED'));
  await completed(quick);
  expect(gateway.of(quick, 'callback-offer')).toHaveLength(0);
  expectEachKeyOnce(id);
});

test('the customer address and a card number are in no log line, no history as the server stores it, no search attribute or workflow id', async () => {
  const address = 'sms-privacy-+447700900999';
  const id = uniqueId('privacy');
  await send(message(id, `my card is ${CARD} exp 12/29`, { channel: 'sms', destination: '+15550100', from: address }));
  await post(event(id, 'CREATED', { channel: 'sms' }));
  // Masked at ingress: the customer is told, the transcript and the state hold the masked text.
  const [notice] = await delivered(gateway, id, 'sensitive-data-removed');
  expect(notice.body).toMatchObject({ to: address, text: expect.stringMatching(/sensitive data such as card numbers was removed/) });
  expect((await view(id)).messages?.recent[0].text).toBe('my card is **** **** **** 1111 exp **/**');
  await post(event(id, 'CLOSED', { channel: 'sms' }));
  await completed(id);
  await delivered(gateway, id, 'closed');
  const logs = logLines.join('\n');
  expect(logs).toContain(id);
  expect(logs).not.toContain(address);
  expect(logs).not.toContain(CUSTOMER);
  expect(logs).not.toContain(CARD);
  const raw = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: workflowIdFor(id) }, maximumPageSize: 10_000 });
  const bytes = Buffer.from(temporal.api.history.v1.History.encode(raw.history ?? {}).finish());
  expect(bytes.includes(address)).toBe(false);
  expect(bytes.includes(CARD)).toBe(false);
  const description = await client.workflow.getHandle(workflowIdFor(id)).describe();
  expect(JSON.stringify(description.searchAttributes)).not.toContain(address);
  // Decoded (what an operator sees through the codec): the address rides in the payloads, the card number never does.
  const decoded = await testKeyServices().codec.decodeForNamespace(historyPayloads(raw.history) as Payload[], 'default');
  const decodedText = decoded.map((p) => Buffer.from(p.data ?? []).toString()).join('\n');
  expect(decodedText).toContain(address);
  expect(decodedText).not.toContain(CARD);
  expect(JSON.stringify(await store.listMessages(id))).not.toContain(CARD);
  expect(JSON.stringify(await store.listMessages(id))).not.toContain(address);
  expect((await store.listMessages(id)).map((m) => m.text)).toContain('my card is **** **** **** 1111 exp **/**');

  // Email: the subject is masked too, an attachment the sender flags as sensitive is dropped.
  const mail = uniqueId('privacy-email');
  await send(message(mail, 'see attached', {
    channel: 'email',
    destination: 'email-billing',
    from: 'jane@example.com',
    subject: `card ${CARD}`,
    attachments: [{ filename: 'statement.pdf', sensitive: true }, { filename: 'photo.png' }],
  }));
  await delivered(gateway, mail, 'sensitive-data-removed');
  const [line] = await store.listMessages(mail);
  expect(line).toMatchObject({ subject: 'card **** **** **** 1111', attachmentCount: 1, text: 'see attached' });
  // A message without card data tells the customer nothing about it.
  const clean = uniqueId('privacy-clean');
  await send(message(clean, 'order 4111-2222 shipped on 12/11/2026?', { channel: 'sms', destination: '+15550100' }));
  await post(event(clean, 'CLOSED', { channel: 'sms' }));
  await completed(clean);
  expect(gateway.of(clean).map((d) => d.body.kind)).toEqual(['closed']);
});

test('the inbound-messages webhook is signed like the routing one: unsigned, wrongly signed or tampered is 401 and starts nothing', async () => {
  const id = uniqueId('unsigned');
  const body = JSON.stringify(message(id, 'Hello'));
  const post = (headers: Record<string, string>, text = body) =>
    fetch(`${baseUrl}/webhooks/inbound-messages`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: text });
  expect((await post({})).status).toBe(401);
  expect((await post(signedHeaders(generateWebhookSecret(), body))).status).toBe(401);
  expect((await post(signedHeaders(credentials.webhookSecret, body), body.replace('Hello', 'HELLO'))).status).toBe(401);
  await expect(client.workflow.getHandle(workflowIdFor(id)).describe()).rejects.toThrow(/not found/i);
  expect((await post(signedHeaders(credentials.webhookSecret, body))).status).toBe(202);
});
