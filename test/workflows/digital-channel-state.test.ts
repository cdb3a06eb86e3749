// The digital-channel rules as pure functions of the state: end keyword, callback acceptance, the
// message window, and what each routing event gives.
import { ALL_DESTINATIONS } from '../../src/channels/config';
import type { InboundMessage } from '../../src/conversation/contracts/channels';
import { DEFAULT_END_PHRASE, containsEndPhrase, endPhraseProblem } from '../../src/conversation/end-phrase';
import type { RoutingEvent } from '../../src/conversation/messages';
import { initialState, SEEN_EVENT_WINDOW } from '../../src/conversation/state';
import { receiveRoutingEvent } from '../../src/conversation/record';
import {
  RECENT_MESSAGES_KEPT,
  callbackClockRuns,
  callbackNumber,
  endsConversation,
  notifyRoutingEvent,
  offerCallback,
  receiveInboundMessage,
} from '../../src/conversation/digital-channel-state';

const NOW = '2026-11-27T10:00:00.000Z';
let n = 0;
const msg = (text: string, extra: Partial<InboundMessage> = {}): InboundMessage => ({
  eventId: `m${++n}`,
  channel: 'chat',
  from: 'user-1',
  text,
  attachmentCount: 0,
  sensitiveDataRemoved: false,
  destination: 'app',
  occurredAt: NOW,
  destinationSettings: ALL_DESTINATIONS.settingsFor('app', 'chat')!,
  ...extra,
});
const ev = (eventType: RoutingEvent['eventType'], minute: number, extra: Partial<RoutingEvent> = {}): RoutingEvent => ({
  eventId: `e${++n}`, eventType, conversationId: 'c', taskId: 't', channel: 'chat', occurredAt: new Date(Date.UTC(2026, 10, 27, 10, minute)).toISOString(), ...extra,
});

test.each([
  ['End Conversation', true],
  ['  end   conversation \n', true],
  ['END CONVERSATION', true],
  ['Thanks, please End Conversation now', true],
  ['end conversation please', true],
  ['end\tconversation', true],
  ['end\nconversation', true],
  ['end\u00a0conversation', true],
  ['(end conversation).', true],
  ['"End Conversation"!', true],
  ['how do I end conversation history?', true],
  ['endconversation', false],
  ['end conversations', false],
  ['weekend conversation', false],
  ['end_conversation', false],
  ['end-conversation', false],
  ['end conversation2', false],
  ['end conversationé', false],
  ['end, conversation', false],
  ['', false],
])('end phrase "End Conversation" searched in %j → %s', (text, expected) => expect(containsEndPhrase(text, DEFAULT_END_PHRASE)).toBe(expected));

test.each([
  ['Bye (for now)', 'ok bye  (FOR now) thanks', true],
  ['Bye (for now)', 'bye for now', false],
  ['a.b', 'a.b', true],
  ['a.b', 'axb', false],
  ['stop*', 'please stop* now', true],
  ['stop*', 'please stopp now', false],
  ['[done]', 'all [DONE]', true],
  ['$end^', 'x $end^ y', true],
  ['\\q', 'quit \\q', true],
  ['fin de la conversation', 'Merci, FIN DE LA\u00a0conversation', true],
])('a configured phrase %j is matched literally in %j → %s', (phrase, text, expected) => expect(containsEndPhrase(text, phrase)).toBe(expected));

test.each([
  ['End Conversation', undefined],
  ['  bye  ', undefined],
  ['', 'must hold at least one word (not only whitespace)'],
  [' \t\n ', 'must hold at least one word (not only whitespace)'],
  [42, 'must be a string'],
  ['x'.repeat(101), 'must be at most 100 characters'],
])('configured phrase %j: %s', (phrase, problem) => expect(endPhraseProblem(phrase)).toBe(problem));

test('the rule before the search (exact message) applies where the conversation says so, and the versions are asked only where they disagree', () => {
  const settings = ALL_DESTINATIONS.settingsFor('app', 'chat')!;
  let asked = 0;
  const before = { searchEndPhrase: () => (asked++, false) };
  const now = { searchEndPhrase: () => (asked++, true) };
  expect(endsConversation('  End conversation ', settings, before)).toBe(true);
  expect(endsConversation('hello', settings, before)).toBe(false);
  expect(asked).toBe(0);
  expect(endsConversation('Thanks, please End Conversation now', settings, before)).toBe(false);
  expect(endsConversation('Thanks, please End Conversation now', settings, now)).toBe(true);
  expect(asked).toBe(2);
  // A configured phrase replaces the default one: the old words alone no longer end it.
  expect(endsConversation('end conversation', { ...settings, endPhrase: 'goodbye' }, now)).toBe(false);
  expect(endsConversation('ok goodbye', { ...settings, endPhrase: 'goodbye' }, now)).toBe(true);
});

test('a message holding the destination\'s phrase ends the conversation; the phrase is fixed by the first message', () => {
  const state = initialState('c', NOW);
  const settings = { ...ALL_DESTINATIONS.settingsFor('app', 'chat')!, endPhrase: 'Bye now' };
  expect(receiveInboundMessage(state, msg('hello', { destinationSettings: settings }), NOW)).toBe('appended');
  expect(receiveInboundMessage(state, msg('End Conversation'), NOW)).toBe('appended');
  expect(receiveInboundMessage(state, msg('ok, BYE\tNOW.'), NOW)).toBe('ended');
  expect(state).toMatchObject({ status: 'closed', closeReason: 'end-keyword' });
});

test.each([
  ['callback +44 20 7946 0000', '+442079460000'],
  ['CALLBACK 0207 946 0000', '02079460000'],
  ['Call back: (555) 010-0199', '5550100199'],
  ['callback', undefined],
  ['callback 12345', undefined],
  ['callback +1 234 567 890 123 456 7', undefined],
  ['please callback 5550100199', undefined],
  ['callback **** **** 1111', undefined],
])('callback acceptance %j → %s', (text, expected) => expect(callbackNumber(text)).toBe(expected));

test('messages are de-duplicated by eventId in a window of the routing events\' size; the state keeps the last lines', () => {
  const state = initialState('c', NOW);
  const first = msg('hello');
  expect(receiveInboundMessage(state, first, NOW)).toBe('appended');
  expect(receiveInboundMessage(state, first, NOW)).toBe('duplicate');
  for (let i = 0; i < SEEN_EVENT_WINDOW; i++) receiveInboundMessage(state, msg(`line ${i}`), NOW);
  expect(state.digital!.seenMessageIds).toHaveLength(SEEN_EVENT_WINDOW);
  expect(state.digital!.recent).toHaveLength(RECENT_MESSAGES_KEPT);
  expect(state.digital!.messageCount).toBe(SEEN_EVENT_WINDOW + 1);
  // One transcript line queued per message, never two.
  expect(state.digital!.outbox.filter((op) => op.kind === 'transcript')).toHaveLength(SEEN_EVENT_WINDOW + 1);
});

test('a destination without a notification kind gets none of it; the callback clock runs only for a queued chat with a task and a threshold', () => {
  const state = initialState('c', NOW);
  receiveInboundMessage(state, msg('hi', { destinationSettings: { notifications: ['closed'] } }), NOW);
  const created = ev('CREATED', 0);
  receiveRoutingEvent(state, created);
  expect(notifyRoutingEvent(state, created, false)).toBe('created');
  expect(state.digital!.outbox.filter((op) => op.kind === 'notify')).toHaveLength(0);
  expect(callbackClockRuns(state)).toBe(false);

  const chat = initialState('d', NOW);
  receiveInboundMessage(chat, msg('hi'), NOW);
  expect(callbackClockRuns(chat)).toBe(false);
  receiveRoutingEvent(chat, ev('CREATED', 0));
  expect(callbackClockRuns(chat)).toBe(true);
  offerCallback(chat, NOW);
  expect(callbackClockRuns(chat)).toBe(false);
  // Accepted with a number: cancel, then the callback, then the confirmation; the CLOSED after it says nothing.
  expect(receiveInboundMessage(chat, msg('callback +44 20 7946 0000'), NOW)).toBe('callback-requested');
  const ops = chat.digital!.outbox.filter((op) => op.kind !== 'transcript').map((op) => (op.kind === 'routing' ? op.request.operation : op.request.kind));
  expect(ops).toEqual(['callback-offer', 'cancel-task', 'request-callback', 'callback-requested']);
  const closed = ev('CLOSED', 5);
  receiveRoutingEvent(chat, closed);
  expect(notifyRoutingEvent(chat, closed, false)).toBeUndefined();
});

test('a late event (in occurrence order it changed nothing) tells the customer nothing', () => {
  const state = initialState('late', NOW);
  receiveInboundMessage(state, msg('hi'), NOW);
  for (const e of [ev('CREATED', 0), ev('ROUTED', 2, { agentId: 'a' })]) {
    receiveRoutingEvent(state, e);
    notifyRoutingEvent(state, e, false);
  }
  const lateQueued = ev('QUEUED', 1, { estimatedWaitTime: 120 });
  receiveRoutingEvent(state, lateQueued);
  expect(notifyRoutingEvent(state, lateQueued, false)).toBeUndefined();
  // A ROUTED that occurred before a transfer already taken: the customer waits in a queue, no agent is joining.
  const transferred = ev('TRANSFERRED', 4, { destination: 'q2' });
  receiveRoutingEvent(state, transferred);
  expect(notifyRoutingEvent(state, transferred, false)).toBe('transferred');
  const lateRouted = ev('ROUTED', 3, { agentId: 'b' });
  receiveRoutingEvent(state, lateRouted);
  expect(notifyRoutingEvent(state, lateRouted, false)).toBeUndefined();
  const kinds = state.digital!.outbox.flatMap((op) => (op.kind === 'notify' ? [op.request.kind] : []));
  expect(kinds).toEqual(['created', 'routed', 'transferred']);
});
