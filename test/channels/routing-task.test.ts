// The digital flows drive the routing platform themselves, end to end over real HTTP: signed inbound
// messages and routing webhooks into the API, a real dev server and worker, and real HTTP peers for
// the channel gateway and the routing platform (Cisco CCE Digital Routing) that record what they
// receive. Named after Webex Connect's flows: Create Task, Re-submit Task, the welcome menu.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { parseDestinations } from '../../src/channels/config';
import { type ConversationView, workflowIdFor } from '../../src/conversation/messages';
import type { ParticipantDataStore } from '../../src/store';
import type { ApiStack } from '../../rigs/api-stack';
import type { ChannelPeer } from '../../rigs/channel-peer';
import { type ChannelStack, startChannelStack } from '../support/channel-stack';
import { testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { captureLogs } from '../../rigs/logs';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { historyPayloads, recordHistory } from '../support/histories';

const PEER_TOKEN = 'peer-token-routing-task-4c1e';
const CUSTOMER = '+447700900321';
const CARD = '4111 1111 1111 1111';
const MENU = {
  text: 'Welcome to Example Co. How can we help?',
  options: [
    { label: 'Sales', keywords: ['buy'], scriptSelector: 'SMS_Sales' },
    { label: 'Billing', keywords: ['invoice'], scriptSelector: 'SMS_Billing' },
  ],
};

let stack: ApiStack;
let client: Client;
let store: ParticipantDataStore;
let gateway: ChannelPeer;
let routing: ChannelPeer;
const { logger, lines: logLines } = captureLogs('debug');

const destinations = parseDestinations(
  {
    destinations: [
      { id: '+15550100', channel: 'sms', scriptSelector: 'SMS_General' },
      { id: 'chat-support', channel: 'chat', scriptSelector: 'Chat_Support', callbackThresholdSeconds: null },
      { id: '+15550199', channel: 'sms', scriptSelector: 'SMS_General', welcomeMenu: { ...MENU, maxUnrecognisedReplies: 2, timeoutSeconds: 600 } },
      { id: '+15550177', channel: 'sms', scriptSelector: 'SMS_General', welcomeMenu: { ...MENU, timeoutSeconds: 2 } },
    ],
  },
  'test destinations',
);

let channels: ChannelStack;

beforeAll(async () => {
  channels = await startChannelStack({ name: 'routing-task', peerToken: PEER_TOKEN, destinations, logger, credentials: testCredentials(), });
  ({ stack, gateway, routing } = channels);
  ({ client, store } = stack);
});

afterAll(() => channels?.stop());

let seq = 0;
const at = () => new Date(Date.UTC(2026, 10, 28, 12, 0, ++seq % 60)).toISOString();
const sms = (conversationId: string, text: string, destination = '+15550100', extra: Record<string, unknown> = {}) => ({
  eventId: `msg-${++seq}`, conversationId, channel: 'sms', from: CUSTOMER, text, destination, occurredAt: at(), ...extra,
});
const event = (conversationId: string, eventType: string, extra: Record<string, unknown> = {}) => ({
  eventId: `evt-${++seq}`, eventType, conversationId, taskId: `cce-task-${conversationId}`, channel: 'sms', occurredAt: at(), ...extra,
});
const send = (m: Record<string, unknown>) => stack.call('POST', '/webhooks/inbound-messages', m);
const post = (e: Record<string, unknown>) => stack.call('POST', '/webhooks/routing-events', e);
const view = async (id: string) => (await stack.call('GET', `/conversations/${id}`)).body as ConversationView;
const handle = (id: string) => client.workflow.getHandle(workflowIdFor(id));

async function delivered(peer: ChannelPeer, conversationId: string, what: string, count = 1) {
  await waitFor(`${count} ${what} for ${conversationId}`, () => peer.of(conversationId, what).length >= count, { timeoutMs: 30_000 });
  return peer.of(conversationId, what);
}

/** Every request the routing platform received for the conversation: each key's repeats carry the same body. */
function expectRepeatsIdentical(conversationId: string): void {
  const received = routing.deliveries.filter((d) => d.body.conversationId === conversationId);
  for (const d of received) {
    expect(d.authorization).toBe(`Bearer ${PEER_TOKEN}`);
    expect(d.key).toBe(d.body.key);
    expect(d.body).toEqual(received.find((first) => first.key === d.key)!.body);
  }
}

test("Create Task: the first inbound message creates the CCE task once with the destination's ScriptSelector; a duplicate webhook and a worker retry do not create a second task", async () => {
  const id = uniqueId('create-task');
  // The platform takes the first request but its answer is lost: the activity is retried under the same key.
  const lost = routing.answerNext((body) => body.conversationId === id && body.operation === 'create-task', 503);
  const first = sms(id, 'Hi, I have a question about my order');
  expect((await send(first)).body).toMatchObject({ accepted: true, conversationId: id, outcome: 'appended' });
  expect((await send(first)).body).toMatchObject({ accepted: false, outcome: 'duplicate' });
  expect((await send(sms(id, 'Are you there?'))).status).toBe(202);
  const attempt = await lost;
  await waitFor('the retried create-task', () => routing.deliveries.filter((d) => d.key === attempt.key).length >= 2, { timeoutMs: 30_000 });

  const [created] = await delivered(routing, id, 'create-task');
  // One run so far: its id is the chain's.
  const chainId = (await handle(id).describe()).runId;
  expect(created.key).toBe(`${id}:${chainId}:create-task`);
  expect(created.body).toEqual({
    key: created.key, conversationId: id, operation: 'create-task', channel: 'sms', destination: '+15550100', scriptSelector: 'SMS_General', intent: 'default',
  });
  // Acted on once: one task at the platform, whatever the repeats.
  expect(routing.of(id, 'create-task')).toHaveLength(1);
  expect((await view(id)).messages?.task).toEqual({ scriptSelector: 'SMS_General', intent: 'default' });

  // The platform's CREATED (for the task Parley asked for) then drives the conversation as before.
  expect((await post(event(id, 'CREATED'))).status).toBe(202);
  expect((await delivered(gateway, id, 'created'))[0].body.text).toMatch(/connecting you with an agent/);
  await post(event(id, 'ROUTED', { agentId: 'agent-7' }));
  expect((await view(id)).taskId).toBe(`cce-task-${id}`);
  expect((await send(sms(id, 'end conversation'))).body.outcome).toBe('ended');
  expect((await delivered(routing, id, 'end-task'))[0].body).toMatchObject({ taskId: `cce-task-${id}`, mode: 'close' });
  await handle(id).result();
  expect(routing.of(id).map((d) => d.body.operation)).toEqual(['create-task', 'end-task']);
  expectRepeatsIdentical(id);
  // Parley's own retry is the only repeat: the duplicate webhook added no request.
  expect(routing.deliveries.filter((d) => d.body.conversationId === id)).toHaveLength(3);
});

test('Re-submit Task on TRANSFERRED with the same taskId, before the customer is told; a redelivered TRANSFERRED re-submits nothing more', async () => {
  const id = uniqueId('resubmit');
  const chat = (text: string) => sms(id, text, 'chat-support', { channel: 'chat', from: 'chat-user-5' });
  const chatEvent = (type: string, extra: Record<string, unknown> = {}) => event(id, type, { channel: 'chat', ...extra });
  await send(chat('Hello'));
  expect((await delivered(routing, id, 'create-task'))[0].body).toMatchObject({ scriptSelector: 'Chat_Support', channel: 'chat', destination: 'chat-support' });
  await post(chatEvent('CREATED'));
  await post(chatEvent('ROUTED', { agentId: 'agent-1' }));
  const transferred = chatEvent('TRANSFERRED', { destination: 'billing-queue' });
  expect((await post(transferred)).status).toBe(202);
  // Redelivered: accepted again (a signal), de-duplicated by the conversation on its eventId.
  expect((await post(transferred)).status).toBe(202);
  const [resubmit] = await delivered(routing, id, 'resubmit-task');
  expect(resubmit.key).toBe(`${id}:${transferred.eventId}:resubmit-task`);
  expect(resubmit.body).toMatchObject({ operation: 'resubmit-task', taskId: `cce-task-${id}`, scriptSelector: 'Chat_Support', channel: 'chat' });
  const [notice] = await delivered(gateway, id, 'transferred');
  expect(notice.receivedAt).toBeGreaterThanOrEqual(resubmit.receivedAt);
  await post(chatEvent('ROUTED', { agentId: 'agent-2' }));
  await post(chatEvent('CLOSED'));
  await handle(id).result();
  expect(routing.of(id).map((d) => d.body.operation)).toEqual(['create-task', 'resubmit-task']);
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'routed', 'transferred', 'routed', 'closed']);
  expectRepeatsIdentical(id);
  await recordHistory(handle(id), 'digital-create-and-resubmit-task');
});

test("welcome menu: reply '2' chooses the billing ScriptSelector; a reply with card data is masked like every message and picks nothing", async () => {
  const id = uniqueId('menu');
  await send(sms(id, 'Hello', '+15550199'));
  const [welcome] = await delivered(gateway, id, 'welcome-menu');
  expect(welcome.body).toMatchObject({ to: CUSTOMER, audience: 'customer', text: 'Welcome to Example Co. How can we help?\n1. Sales\n2. Billing' });
  expect((await view(id)).messages?.task).toEqual({ menu: 'waiting' });
  expect(routing.of(id)).toHaveLength(0);

  expect((await send(sms(id, `card ${CARD}`, '+15550199'))).body.outcome).toBe('appended');
  await delivered(gateway, id, 'sensitive-data-removed');
  const [retry] = await delivered(gateway, id, 'menu-not-understood');
  expect(retry.body.text).toMatch(/^Sorry, we did not understand your reply\..*\n1\. Sales\n2\. Billing$/s);
  expect(routing.of(id)).toHaveLength(0);

  expect((await send(sms(id, '2', '+15550199'))).body.outcome).toBe('appended');
  const [created] = await delivered(routing, id, 'create-task');
  expect(created.body).toMatchObject({ scriptSelector: 'SMS_Billing', intent: 'Billing', destination: '+15550199' });
  expect((await view(id)).messages?.task).toEqual({ scriptSelector: 'SMS_Billing', intent: 'Billing' });
  // Chosen: a later "1" is an ordinary message.
  await send(sms(id, '1', '+15550199'));
  await post(event(id, 'CREATED'));
  await post(event(id, 'CLOSED'));
  await handle(id).result();
  expect(routing.of(id).map((d) => d.body.operation)).toEqual(['create-task']);
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['welcome-menu', 'sensitive-data-removed', 'menu-not-understood', 'created', 'closed']);

  // The replies are in the transcript masked, with the menu's words; the card number is nowhere.
  const transcript = await store.listMessages(id);
  expect(transcript.filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Hello', 'card **** **** **** 1111', '2', '1']);
  expect(transcript.some((m) => m.direction === 'outbound' && m.text.startsWith('Welcome to Example Co.'))).toBe(true);
  const raw = await client.workflowService.getWorkflowExecutionHistory({ namespace: 'default', execution: { workflowId: workflowIdFor(id) }, maximumPageSize: 10_000 });
  const decoded = await testKeyServices().codec.decodeForNamespace(historyPayloads(raw.history) as Payload[], 'default');
  expect(decoded.map((p) => Buffer.from(p.data ?? []).toString()).join('\n')).not.toContain(CARD);
  expect(JSON.stringify(transcript)).not.toContain(CARD);
  expect(logLines.join('\n')).not.toContain(CARD);
  expect(JSON.stringify(routing.deliveries)).not.toContain(CARD);
  await recordHistory(handle(id), 'digital-welcome-menu');
});

test('welcome menu: no reply within the timeout → default selector (a durable timer)', async () => {
  const id = uniqueId('menu-timeout');
  await send(sms(id, 'Hello', '+15550177'));
  await delivered(gateway, id, 'welcome-menu');
  const [created] = await delivered(routing, id, 'create-task');
  expect(created.body).toMatchObject({ scriptSelector: 'SMS_General', intent: 'timeout' });
  // A reply after the timeout is an ordinary message: the choice was made.
  await send(sms(id, '2', '+15550177'));
  await post(event(id, 'CREATED'));
  await post(event(id, 'CLOSED'));
  await handle(id).result();
  expect(routing.of(id).map((d) => [d.body.operation, d.body.scriptSelector])).toEqual([['create-task', 'SMS_General']]);
  await recordHistory(handle(id), 'digital-welcome-menu-timeout');
});

test('welcome menu: unrecognised replies N times → default selector', async () => {
  const id = uniqueId('menu-unrecognised');
  await send(sms(id, 'Hello', '+15550199'));
  await delivered(gateway, id, 'welcome-menu');
  await send(sms(id, 'I have 2 questions', '+15550199'));
  await delivered(gateway, id, 'menu-not-understood');
  expect(routing.of(id)).toHaveLength(0);
  await send(sms(id, 'sales or billing?', '+15550199'));
  const [created] = await delivered(routing, id, 'create-task');
  expect(created.body).toMatchObject({ scriptSelector: 'SMS_General', intent: 'unrecognised' });
  // Told once that the reply was not understood; the second such reply took the default instead.
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['welcome-menu', 'menu-not-understood']);
  await post(event(id, 'CLOSED'));
  await handle(id).result();
});
