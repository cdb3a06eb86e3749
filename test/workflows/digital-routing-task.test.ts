// Creating the routing task and the welcome menu as pure functions of the state: when create-task is
// queued and under which key, the re-submission on a transfer, and which option a reply picks.
import { parseDestinations } from '../../src/channels/config';
import type { DestinationSettings, InboundMessage, RoutingRequest, WelcomeMenu } from '../../src/conversation/contracts/channels';
import type { RoutingEvent } from '../../src/conversation/messages';
import { initialState } from '../../src/conversation/state';
import { receiveRoutingEvent } from '../../src/conversation/record';
import { type DigitalFlowVersions, menuTimedOut, menuWaits, notifyRoutingEvent, receiveInboundMessage } from '../../src/conversation/digital-channel-state';
import { menuChoice, menuText } from '../../src/conversation/welcome-menu';
import type { ConversationState } from '../../src/conversation/messages';

const NOW = '2026-11-27T10:00:00.000Z';
const FLOW: DigitalFlowVersions = { createsTask: () => true, resubmitsTask: () => true, asksMenu: () => true, chainId: 'run-1' };
const directory = parseDestinations(
  {
    destinations: [
      { id: '+15550100', channel: 'sms', scriptSelector: 'SMS_General' },
      {
        id: '+15550199',
        channel: 'sms',
        scriptSelector: 'SMS_General',
        welcomeMenu: {
          text: 'Welcome to Acme.',
          options: [
            { label: 'Sales', keywords: ['buy'], scriptSelector: 'SMS_Sales' },
            { label: 'Billing', keywords: ['invoice', 'my bill'], scriptSelector: 'SMS_Billing' },
          ],
          maxUnrecognisedReplies: 2,
          timeoutSeconds: 60,
        },
      },
      { id: 'sms-platform', channel: 'sms', createTask: false },
    ],
  },
  'test',
);
const settings = (id: string): DestinationSettings => directory.settingsFor(id, 'sms')!;
let n = 0;
const sms = (text: string, destination = '+15550100', extra: Partial<InboundMessage> = {}): InboundMessage => ({
  eventId: `m${++n}`, channel: 'sms', from: '+447700900123', text, attachmentCount: 0, sensitiveDataRemoved: false, destination, occurredAt: NOW, destinationSettings: settings(destination), ...extra,
});
const ev = (eventType: RoutingEvent['eventType'], minute: number, extra: Partial<RoutingEvent> = {}): RoutingEvent => ({
  eventId: `e${++n}`, eventType, conversationId: 'c', taskId: 'task-1', channel: 'sms', occurredAt: new Date(Date.UTC(2026, 10, 27, 10, minute)).toISOString(), ...extra,
});
const routingOps = (state: ConversationState): RoutingRequest[] => state.digital!.outbox.flatMap((op) => (op.kind === 'routing' ? [op.request] : []));
const notices = (state: ConversationState) => state.digital!.outbox.flatMap((op) => (op.kind === 'notify' ? [op.request] : []));

test('Create Task: the first message queues create-task once, keyed by the conversation chain, with the destination\'s selector; later and repeated messages do not', () => {
  const state = initialState('c', NOW);
  const first = sms('Hi');
  expect(receiveInboundMessage(state, first, NOW, FLOW)).toBe('appended');
  expect(receiveInboundMessage(state, first, NOW, FLOW)).toBe('duplicate');
  receiveInboundMessage(state, sms('Still there?'), NOW, FLOW);
  expect(routingOps(state)).toEqual([
    { key: 'c:run-1:create-task', conversationId: 'c', channel: 'sms', destination: '+15550100', operation: 'create-task', scriptSelector: 'SMS_General', intent: 'default' },
  ]);
  expect(routingOps(state)[0].taskId).toBeUndefined();
});

test('no task is created by a conversation on the old flow, for a destination whose platform creates tasks, after the platform\'s CREATED, or by an end keyword', () => {
  const legacy = initialState('c', NOW);
  receiveInboundMessage(legacy, sms('Hi'), NOW);
  const platform = initialState('c', NOW);
  receiveInboundMessage(platform, sms('Hi', 'sms-platform'), NOW, FLOW);
  const createdFirst = initialState('c', NOW);
  receiveRoutingEvent(createdFirst, ev('CREATED', 0));
  receiveInboundMessage(createdFirst, sms('Hi'), NOW, FLOW);
  const ended = initialState('c', NOW);
  expect(receiveInboundMessage(ended, sms('end conversation'), NOW, FLOW)).toBe('ended');
  for (const state of [legacy, platform, createdFirst, ended]) expect(routingOps(state)).toEqual([]);
});

test('Re-submit Task: a TRANSFERRED of the task Parley created re-submits it under its taskId before the customer is told; not on the old flow', () => {
  const state = initialState('c', NOW);
  receiveInboundMessage(state, sms('Hi'), NOW, FLOW);
  for (const e of [ev('CREATED', 1), ev('ROUTED', 2, { agentId: 'a' })]) {
    receiveRoutingEvent(state, e);
    notifyRoutingEvent(state, e, false, FLOW);
  }
  const transfer = ev('TRANSFERRED', 3, { destination: 'q2' });
  receiveRoutingEvent(state, transfer);
  expect(notifyRoutingEvent(state, transfer, false, FLOW)).toBe('transferred');
  const ops = state.digital!.outbox.filter((op) => op.kind !== 'transcript').map((op) => (op.kind === 'routing' ? op.request.operation : op.request.kind));
  expect(ops).toEqual(['create-task', 'created', 'routed', 'resubmit-task', 'transferred']);
  expect(routingOps(state)[1]).toMatchObject({ key: `c:${transfer.eventId}:resubmit-task`, taskId: 'task-1', scriptSelector: 'SMS_General' });

  const old = initialState('c', NOW);
  receiveInboundMessage(old, sms('Hi'), NOW, FLOW);
  receiveRoutingEvent(old, ev('CREATED', 1));
  const oldTransfer = ev('TRANSFERRED', 3);
  receiveRoutingEvent(old, oldTransfer);
  notifyRoutingEvent(old, oldTransfer, false, { ...FLOW, resubmitsTask: () => false });
  expect(routingOps(old).map((r) => r.operation)).toEqual(['create-task']);
});

describe('welcome menu', () => {
  const menu = settings('+15550199').welcomeMenu!;

  test('the first message gets the welcome and the options; the reply "2" creates the task with the billing selector', () => {
    const state = initialState('c', NOW);
    receiveInboundMessage(state, sms('Hello', '+15550199'), NOW, FLOW);
    expect(menuWaits(state)).toBe(true);
    expect(routingOps(state)).toEqual([]);
    expect(notices(state).map((r) => [r.kind, r.text])).toEqual([['welcome-menu', 'Welcome to Acme.\n1. Sales\n2. Billing']]);
    receiveInboundMessage(state, sms(' 2. ', '+15550199'), NOW, FLOW);
    expect(menuWaits(state)).toBe(false);
    expect(routingOps(state)).toMatchObject([{ operation: 'create-task', scriptSelector: 'SMS_Billing', intent: 'Billing', key: 'c:run-1:create-task' }]);
    // The choice is made: later messages are ordinary.
    receiveInboundMessage(state, sms('1', '+15550199'), NOW, FLOW);
    expect(routingOps(state)).toHaveLength(1);
  });

  test('unrecognised replies are told the options again, and after maxUnrecognisedReplies the default selector is taken', () => {
    const state = initialState('c', NOW);
    receiveInboundMessage(state, sms('Hello', '+15550199'), NOW, FLOW);
    receiveInboundMessage(state, sms('what?', '+15550199'), NOW, FLOW);
    expect(notices(state).map((r) => r.kind)).toEqual(['welcome-menu', 'menu-not-understood']);
    expect(notices(state)[1].text).toBe(`${menu.retryText}\n1. Sales\n2. Billing`);
    receiveInboundMessage(state, sms('7', '+15550199'), NOW, FLOW);
    expect(routingOps(state)).toMatchObject([{ operation: 'create-task', scriptSelector: 'SMS_General', intent: 'unrecognised' }]);
  });

  test('a CREATED from the platform while the menu waits: the menu stops and Parley creates no task, nor re-submits the platform\'s', () => {
    const state = initialState('c', NOW);
    receiveInboundMessage(state, sms('Hello', '+15550199'), NOW, FLOW);
    receiveRoutingEvent(state, ev('CREATED', 1));
    receiveInboundMessage(state, sms('2', '+15550199'), NOW, FLOW);
    expect(menuWaits(state)).toBe(false);
    const transfer = ev('TRANSFERRED', 2);
    receiveRoutingEvent(state, transfer);
    notifyRoutingEvent(state, transfer, false, FLOW);
    expect(routingOps(state)).toEqual([]);
  });

  test('no choice before the timeout: the default selector; the old flow asks no menu', () => {
    const state = initialState('c', NOW);
    receiveInboundMessage(state, sms('Hello', '+15550199'), NOW, FLOW);
    menuTimedOut(state, FLOW);
    expect(routingOps(state)).toMatchObject([{ scriptSelector: 'SMS_General', intent: 'timeout' }]);
    const before = initialState('c', NOW);
    receiveInboundMessage(before, sms('Hello', '+15550199'), NOW, { ...FLOW, asksMenu: () => false });
    expect(routingOps(before)).toMatchObject([{ scriptSelector: 'SMS_General', intent: 'default' }]);
  });

  test.each([
    ['2', 'Billing'],
    ['2)', 'Billing'],
    ['billing', 'Billing'],
    ['I want to BUY a phone', 'Sales'],
    ['question about my   bill', 'Billing'],
    ['invoices', undefined],
    ['I have 2 questions', undefined],
    ['sales or billing?', undefined],
    ['3', undefined],
    ['**** **** **** 1111', undefined],
    ['', undefined],
  ])('reply %j picks %s', (reply, label) => expect(menuChoice(menu as WelcomeMenu, reply)?.label).toBe(label));

  test('menu text lists the options after the lead', () => expect(menuText('Hi', menu)).toBe('Hi\n1. Sales\n2. Billing'));
});

test('destinations file: the welcome menu and the selector are checked, errors name the field', () => {
  const bad = (entry: Record<string, unknown>) => () => parseDestinations({ destinations: [{ id: 'x', channel: 'sms', ...entry }] }, 'd.json');
  expect(settings('sms-platform').scriptSelector).toBeUndefined();
  expect(directory.settingsFor('nowhere', 'sms')).toBeUndefined();
  expect(parseDestinations({ destinations: [{ id: 'x', channel: 'chat' }] }, 'd.json').settingsFor('x', 'chat')?.scriptSelector).toBe('x');
  expect(bad({ scriptSelector: '' })).toThrow('d.json: destinations[0] (id "x"): field "scriptSelector" must be a non-empty string');
  expect(bad({ createTask: false, welcomeMenu: {} })).toThrow('need "createTask"');
  expect(bad({ welcomeMenu: { text: 'Hi', options: [] } })).toThrow('field "welcomeMenu.options" must be an array of 1 to 9 options');
  expect(bad({ welcomeMenu: { text: 'Hi', options: [{ label: 'A', scriptSelector: 'a' }, { number: 1, label: 'B', scriptSelector: 'b' }] } })).toThrow('1 is already another option\'s number');
  expect(bad({ welcomeMenu: { text: 'Hi', options: [{ label: 'A', keywords: ['x'], scriptSelector: 'a' }, { label: 'B', keywords: ['X'], scriptSelector: 'b' }] } })).toThrow('"x" already picks options[0]');
  expect(bad({ welcomeMenu: { text: 'Hi', options: [{ label: 'A' }] } })).toThrow('field "welcomeMenu.options[0].scriptSelector"');
  expect(bad({ welcomeMenu: { text: 'Hi', options: [{ label: 'A', scriptSelector: 'a' }], timeoutSeconds: 0 } })).toThrow('"welcomeMenu.timeoutSeconds" must be a whole number from 1 to 86400');
  expect(bad({ welcomeMenu: { text: 'Hi', colour: 'red', options: [{ label: 'A', scriptSelector: 'a' }] } })).toThrow('field "welcomeMenu.colour" is not known');
});
