// The digital-channel rules as pure functions of the state: end keyword, callback acceptance, the
// message window, and what each routing event gives.
import { ALL_DESTINATIONS } from '../../src/channels/config';
import type { InboundMessage } from '../../src/conversation/contracts/channels';
import type { RoutingEvent } from '../../src/conversation/messages';
import { initialState, SEEN_EVENT_WINDOW } from '../../src/conversation/state';
import { receiveRoutingEvent } from '../../src/conversation/record';
import {
  RECENT_MESSAGES_KEPT,
  callbackClockRuns,
  callbackNumber,
  isEndKeyword,
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
  ['end conversation please', false],
  ['how do I end conversation history?', false],
  ['endconversation', false],
])('end keyword %j → %s', (text, expected) => expect(isEndKeyword(text)).toBe(expected));

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
