// Webex Connect's end phrase end to end over real HTTP: signed inbound messages into the API, a real
// dev server and worker, real HTTP peers for the channel gateway and the routing platform. The flow
// "checks whether a customer wants to end an interaction by searching for the 'End Conversation'
// phrase in the text message": the phrase ends the conversation wherever it stands in the message,
// in any case, as a whole phrase, per destination.
import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { parseDestinations } from '../../src/channels/config';
import { PATCHES } from '../../src/conversation';
import { type ConversationView, DEFAULT_SETTINGS, workflowIdFor } from '../../src/conversation/messages';
import type { ParticipantDataStore } from '../../src/store';
import type { ApiStack } from '../../rigs/api-stack';
import type { RunningApi } from '../../rigs/api';
import type { ChannelPeer } from '../../rigs/channel-peer';
import { type ChannelStack, startChannelStack } from '../support/channel-stack';
import { testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { captureLogs } from '../../rigs/logs';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { historyPayloads, recordHistory } from '../support/histories';
import { patchIdsIn } from '../../scripts/history-manifest';

const PEER_TOKEN = 'peer-token-end-phrase-4c1d';
const CUSTOMER = '+447700900456';
const CARD = '4111 1111 1111 1111';

let stack: ApiStack;
let client: Client;
let store: ParticipantDataStore;
let gateway: ChannelPeer;
let routing: ChannelPeer;
const { logger, lines: logLines } = captureLogs('debug');
const credentials = testCredentials();

const destinations = parseDestinations(
  {
    destinations: [
      { id: '+15550100', channel: 'sms' },
      { id: 'sms-custom', channel: 'sms', endPhrase: '  Bye (for now) ' },
      { id: 'chat-fr', channel: 'chat', endPhrase: 'Fin de la conversation', callbackThresholdSeconds: null },
    ],
  },
  'end-phrase test destinations',
);

let channels: ChannelStack;

beforeAll(async () => {
  channels = await startChannelStack({ name: 'end-phrase', peerToken: PEER_TOKEN, destinations, logger, credentials: credentials, });
  ({ stack, gateway, routing } = channels);
  ({ client, store } = stack);
});

afterAll(() => channels?.stop());

let seq = 0;
const at = (second: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, second)).toISOString();

function message(conversationId: string, text: string, destination = '+15550100', channel = 'sms') {
  return { eventId: `msg-${++seq}`, conversationId, channel, from: CUSTOMER, text, destination, occurredAt: at(seq % 60) };
}
function event(conversationId: string, eventType: string, channel = 'sms', extra: Record<string, unknown> = {}) {
  return { eventId: `evt-${++seq}`, eventType, conversationId, taskId: `task-${conversationId}`, channel, occurredAt: at(seq % 60), ...extra };
}
const send = (m: Record<string, unknown>, api: RunningApi = stack) => api.call('POST', '/webhooks/inbound-messages', m);
const post = (e: Record<string, unknown>, api: RunningApi = stack) => api.call('POST', '/webhooks/routing-events', e);
const view = async (id: string) => (await stack.call('GET', `/conversations/${id}`)).body as ConversationView;
const completed = (id: string) => client.workflow.getHandle(workflowIdFor(id)).result();
const outcomeOf = async (m: Record<string, unknown>, api?: RunningApi) => {
  const answer = await send(m, api);
  expect(answer.status).toBeLessThan(300);
  return (answer.body as { outcome: string }).outcome;
};

async function delivered(peer: ChannelPeer, conversationId: string, what: string) {
  await waitFor(`${what} for ${conversationId}`, () => peer.of(conversationId, what).length >= 1, { timeoutMs: 30_000 });
  return peer.of(conversationId, what);
}

/** The patch ids the current run's history holds markers for. */
async function patchIds(conversationId: string): Promise<string[]> {
  return patchIdsIn(await client.workflow.getHandle(workflowIdFor(conversationId)).fetchHistory());
}

test("Webex Connect end phrase: 'Thanks, please End Conversation now' ends the conversation and its task; card data in the same message is masked first", async () => {
  const id = uniqueId('end-phrase');
  expect(await outcomeOf(message(id, 'Hello, my bill is wrong'))).toBe('appended');
  await post(event(id, 'CREATED'));
  await post(event(id, 'ROUTED', 'sms', { agentId: 'agent-1' }));
  await delivered(gateway, id, 'routed');
  const end = message(id, 'Thanks, please End Conversation now');
  expect((await send(end)).body).toMatchObject({ accepted: true, conversationId: id, outcome: 'ended' });
  const [op] = await delivered(routing, id, 'end-task');
  expect(op.body).toMatchObject({ operation: 'end-task', mode: 'close', taskId: `task-${id}` });
  expect((await completed(id)).closeReason).toBe('end-keyword');
  // The customer ended it: no "conversation closed" notice; the sentence is in the transcript.
  expect(gateway.of(id).map((d) => d.body.kind)).toEqual(['created', 'routed']);
  expect((await store.listMessages(id)).filter((m) => m.direction === 'inbound').map((m) => m.text)).toEqual(['Hello, my bill is wrong', 'Thanks, please End Conversation now']);
  // The first message created the routing task (Create Task); the end phrase found in a sentence then ended it.
  expect((await patchIds(id)).sort()).toEqual([PATCHES.digitalCreateTask, PATCHES.endPhraseSearch].sort());
  await recordHistory(client.workflow.getHandle(workflowIdFor(id)), 'digital-sms-end-phrase-in-sentence');
  // A redelivery is the closed conversation's duplicate; the next message starts a new conversation.
  expect((await send(end)).body).toMatchObject({ conversationId: id, outcome: 'duplicate' });
  expect((await send(message(id, 'Hi again'))).body).toMatchObject({ conversationId: `${id}:2`, outcome: 'appended' });

  // Queued, with a card in the sentence, the phrase split by a tab and a no-break space, any case:
  // the masked text is what the flow searches and what is kept, and the task is abandoned.
  const queued = uniqueId('end-phrase-queued');
  await send(message(queued, 'Hello'));
  await post(event(queued, 'CREATED'));
  expect(await outcomeOf(message(queued, `card ${CARD}, ok thanks. end\tCONVERSATION\u00a0please`))).toBe('ended');
  expect((await delivered(routing, queued, 'end-task'))[0].body).toMatchObject({ mode: 'abandon', taskId: `task-${queued}` });
  await delivered(gateway, queued, 'sensitive-data-removed');
  expect((await completed(queued)).closeReason).toBe('end-keyword');
  const lines = await store.listMessages(queued);
  expect(lines.map((m) => m.text)).toContain('card **** **** **** 1111, ok thanks. end\tCONVERSATION\u00a0please');
  expect(JSON.stringify(lines)).not.toContain(CARD);
  const raw = await client.workflow.getHandle(workflowIdFor(queued)).fetchHistory();
  const decoded = await testKeyServices().codec.decodeForNamespace(historyPayloads(raw) as Payload[], 'default');
  expect(decoded.map((p) => Buffer.from(p.data ?? []).toString()).join('\n')).not.toContain(CARD);
  expect(logLines.join('\n')).not.toContain(CARD);
});

test('Webex Connect end phrase: words that do not hold the phrase whole ("endconversation", "end conversations", "weekend conversation", "end-conversation") keep the conversation open', async () => {
  const id = uniqueId('end-phrase-open');
  await send(message(id, 'Hello'));
  await post(event(id, 'CREATED'));
  for (const text of ['endconversation', 'end conversations', 'weekend conversation', 'end-conversation', 'End, conversation over?']) {
    expect(await outcomeOf(message(id, text))).toBe('appended');
  }
  const state = await view(id);
  expect(state.status).toBe('queued');
  expect(state.messages?.count).toBe(6);
  // Nothing was ended: the only routing operation is the task the first message created.
  expect(routing.of(id).map((d) => d.body.operation)).toEqual(['create-task']);
  // The exact keyword was all it took before: the words inside a sentence now do it too.
  expect(await outcomeOf(message(id, 'how do I end conversation history?'))).toBe('ended');
  expect((await delivered(routing, id, 'end-task'))[0].body.mode).toBe('abandon');
  await completed(id);
});

test('Webex Connect end phrase per destination: a configured phrase (regex characters taken literally, any case) ends it; the default phrase no longer does there; it holds across continue-as-new', async () => {
  const id = uniqueId('end-phrase-custom');
  await send(message(id, 'Hello', 'sms-custom'));
  await post(event(id, 'CREATED'));
  expect(await outcomeOf(message(id, 'End Conversation', 'sms-custom'))).toBe('appended');
  expect(await outcomeOf(message(id, 'bye for now', 'sms-custom'))).toBe('appended');
  expect(await outcomeOf(message(id, 'Bye (for)now', 'sms-custom'))).toBe('appended');
  expect(await outcomeOf(message(id, 'ok, BYE\t(for now)!', 'sms-custom'))).toBe('ended');
  expect((await delivered(routing, id, 'end-task'))[0].body).toMatchObject({ mode: 'abandon', destination: 'sms-custom' });
  expect((await completed(id)).closeReason).toBe('end-keyword');

  // Continue-as-new after a few dozen events: the destination's phrase travels with the
  // conversation into its next run, so only the French phrase ends this chat there too.
  const shortRuns = await stack.startApi({ conversation: { ...DEFAULT_SETTINGS, closedGracePeriodMs: 500, continueAsNewAfterEvents: 40 } });
  const chat = uniqueId('end-phrase-fr');
  await send(message(chat, 'Bonjour', 'chat-fr', 'chat'), shortRuns);
  await post(event(chat, 'CREATED', 'chat'), shortRuns);
  for (let i = 0; (await view(chat)).runCount === 1 && i < 40; i++) {
    expect(await outcomeOf(message(chat, `End Conversation ${i}`, 'chat-fr', 'chat'), shortRuns)).toBe('appended');
  }
  expect((await view(chat)).runCount).toBeGreaterThan(1);
  expect(await outcomeOf(message(chat, 'end conversation', 'chat-fr', 'chat'), shortRuns)).toBe('appended');
  expect(await outcomeOf(message(chat, 'Merci, FIN DE LA\u00a0conversation.', 'chat-fr', 'chat'), shortRuns)).toBe('ended');
  expect((await completed(chat)).closeReason).toBe('end-keyword');
});

test('an end phrase that is empty, only whitespace or too long is refused when the destinations are loaded, naming the entry', () => {
  expect(() => parseDestinations({ destinations: [{ id: 'x', channel: 'sms', endPhrase: '   ' }] }, 'destinations.json')).toThrow(
    'destinations.json: destinations[0] (id "x"): field "endPhrase" must hold at least one word (not only whitespace)',
  );
  expect(() => parseDestinations({ destinations: [{ id: 'x', channel: 'chat', endPhrase: 'e'.repeat(101) }] }, 'destinations.json')).toThrow('field "endPhrase" must be at most 100 characters');
});
