// Digital-channel rules as pure functions of the conversation's state: what an inbound message does,
// which notification a routing event gives, when a web callback is due. The workflow wiring
// (digital-channel.ts) only performs the operations these functions queue.
import type { ConversationState, RoutingEvent } from './messages';
import {
  type DestinationSettings,
  type DigitalState,
  type InboundMessage,
  type InboundOutcome,
  NOTIFICATION_TEXT,
  MENU_NOTIFICATION_KINDS,
  type NotificationKind,
  type RoutingRequest,
  type StoredMessage,
} from './contracts/channels';
import { SEEN_EVENT_WINDOW } from './state';
import { closeLocally } from './record';
import { DEFAULT_END_PHRASE, containsEndPhrase, isExactEndKeyword } from './end-phrase';
import { menuChoice, menuText } from './welcome-menu';

/** Transcript lines the state keeps; the store keeps them all (listMessages). */
export const RECENT_MESSAGES_KEPT = 20;

/** Which version of a rule a conversation follows, asked only where the versions disagree. */
export interface InboundRules {
  /**
   * True: the destination's end phrase is searched for in the message; false: only a message that
   * is exactly "End Conversation" ends it (the rule a conversation recorded before the search follows).
   */
  searchEndPhrase(): boolean;
}

export const CURRENT_INBOUND_RULES: InboundRules = { searchEndPhrase: () => true };

/** Whether the message ends the conversation: the phrase searched for, or the exact keyword before. */
export function endsConversation(text: string, settings: DestinationSettings, rules: InboundRules): boolean {
  const found = containsEndPhrase(text, settings.endPhrase ?? DEFAULT_END_PHRASE);
  const exact = isExactEndKeyword(text);
  return found === exact ? found : rules.searchEndPhrase() ? found : exact;
}

/**
 * Accepting a web callback: CALLBACK (any case) then a phone number of 7 to 15 digits, optionally
 * with a leading +, spaces, dashes, dots or parentheses. Returns the number as +digits or digits.
 */
export function callbackNumber(text: string): string | undefined {
  const match = /^\s*call\s?back\b[\s:,-]*(\+?[0-9(][0-9 ().-]*[0-9])\s*$/i.exec(text);
  if (!match) return undefined;
  const digits = match[1].replace(/[^0-9]/g, '');
  if (digits.length < 7 || digits.length > 15) return undefined;
  return match[1].trim().startsWith('+') ? `+${digits}` : digits;
}

/**
 * Which versioned digital-flow behaviours this conversation runs. The workflow answers each with
 * patched(), asked only when the behaviour would apply, so a conversation that started before it
 * replays without it.
 */
export interface DigitalFlowVersions {
  /** The first inbound message creates the routing task (CCE Create Task). */
  createsTask(): boolean;
  /** A TRANSFERRED re-submits the task Parley created. */
  resubmitsTask(): boolean;
  /** A destination's welcome menu is asked before the task is created. */
  asksMenu(): boolean;
  /** The conversation chain (its first run id): create-task's idempotency key holds it, so a conversation id used again after retention creates its own task. */
  chainId: string;
}

/** The flow before Parley created routing tasks: the platform's CREATED starts everything. */
export const LEGACY_DIGITAL_FLOW: DigitalFlowVersions = { createsTask: () => false, resubmitsTask: () => false, asksMenu: () => false, chainId: '' };

function newDigitalState(message: InboundMessage): DigitalState {
  const digital: DigitalState = {
    channel: message.channel,
    destination: message.destination,
    settings: message.destinationSettings,
    from: message.from,
    recent: [],
    messageCount: 0,
    seenMessageIds: [],
    outbox: [],
  };
  if (message.subject !== undefined) digital.subject = message.subject;
  return digital;
}

/**
 * Takes one inbound message: de-duplicates it by eventId (its own window, the size of the routing
 * events' one: message and event ids come from different senders), queues its transcript line, the
 * sensitive-data notice, and applies the end phrase, customer abandon, callback acceptance, the
 * welcome menu and the routing task's creation. The caller has already refused messages for a
 * closed conversation.
 */
export function receiveInboundMessage(
  state: ConversationState,
  message: InboundMessage,
  nowIso: string,
  flow: DigitalFlowVersions = LEGACY_DIGITAL_FLOW,
  rules: InboundRules = CURRENT_INBOUND_RULES,
): InboundOutcome {
  const first = state.digital === undefined;
  const digital = (state.digital ??= newDigitalState(message));
  if (digital.seenMessageIds.includes(message.eventId)) return 'duplicate';
  digital.seenMessageIds.push(message.eventId);
  if (digital.seenMessageIds.length > SEEN_EVENT_WINDOW) digital.seenMessageIds.splice(0, digital.seenMessageIds.length - SEEN_EVENT_WINDOW);

  if (!message.closedByCustomer) {
    const line: StoredMessage = {
      eventId: message.eventId,
      channel: message.channel,
      direction: 'inbound',
      occurredAt: message.occurredAt,
      text: message.text,
      attachmentCount: message.attachmentCount,
    };
    if (message.subject !== undefined) line.subject = message.subject;
    digital.messageCount++;
    keepRecent(digital, line);
    digital.outbox.push({ kind: 'transcript', conversationId: state.conversationId, messages: [line] });
  }
  if (message.sensitiveDataRemoved) notify(state, 'sensitive-data-removed', message.eventId, message.occurredAt);

  if (message.closedByCustomer) {
    digital.endedByCustomer = true;
    if (state.status === 'active') {
      // The agent wraps up and closes the task; the customer, gone, is not told of the close.
      notify(state, 'customer-left', message.eventId, message.occurredAt, 'agent');
      return 'customer-left';
    }
    endTask(state, message.eventId, 'abandon');
    closeLocally(state, 'customer-abandoned', nowIso);
    return 'abandoned';
  }
  if (endsConversation(message.text, digital.settings, rules)) {
    endTask(state, message.eventId, state.status === 'active' ? 'close' : 'abandon');
    digital.endedByCustomer = true;
    closeLocally(state, 'end-keyword', nowIso);
    return 'ended';
  }
  if (menuWaits(state)) {
    takeMenuReply(state, message, flow);
    return 'appended';
  }
  const number = digital.callback?.offered && !digital.callback.requested && state.status === 'queued' ? callbackNumber(message.text) : undefined;
  if (number && state.taskId) {
    digital.callback = { ...digital.callback, requested: true };
    routing(state, message.eventId, { operation: 'cancel-task', taskId: state.taskId });
    routing(state, message.eventId, { operation: 'request-callback', taskId: state.taskId, phoneNumber: number });
    notify(state, 'callback-requested', message.eventId, message.occurredAt);
    return 'callback-requested';
  }
  if (first) startTask(state, message, nowIso, flow);
  return 'appended';
}

/**
 * The first message of a conversation whose destination has a script selector: ask the welcome
 * menu, or create the task at once with the destination's selector. Not when the platform already
 * created a task (its CREATED came first).
 */
function startTask(state: ConversationState, message: InboundMessage, nowIso: string, flow: DigitalFlowVersions): void {
  const digital = state.digital!;
  const selector = digital.settings.scriptSelector;
  if (selector === undefined || state.taskId !== undefined || !flow.createsTask()) return;
  const menu = digital.settings.welcomeMenu;
  if (menu && flow.asksMenu()) {
    digital.task = { menuSince: nowIso, unrecognised: 0 };
    notify(state, 'welcome-menu', message.eventId, message.occurredAt, 'customer', undefined, menuText(menu.text, menu));
    return;
  }
  createTask(state, flow, selector, 'default');
}

/** A reply to the welcome menu: an option creates the task with its selector; too many replies that pick none, the default. */
function takeMenuReply(state: ConversationState, message: InboundMessage, flow: DigitalFlowVersions): void {
  const digital = state.digital!;
  const menu = digital.settings.welcomeMenu!;
  const task = digital.task!;
  const choice = menuChoice(menu, message.text);
  if (choice) return createTask(state, flow, choice.scriptSelector, choice.label);
  task.unrecognised = (task.unrecognised ?? 0) + 1;
  if (task.unrecognised >= menu.maxUnrecognised) return createTask(state, flow, digital.settings.scriptSelector!, 'unrecognised');
  notify(state, 'menu-not-understood', message.eventId, message.occurredAt, 'customer', undefined, menuText(menu.retryText, menu));
}

/** Whether the welcome menu waits for the customer's choice (and its timer runs). */
export function menuWaits(state: ConversationState): boolean {
  return state.digital?.task?.menuSince !== undefined && state.status !== 'closed';
}

/** When the waiting menu gives up on a choice (ms since the epoch). */
export function menuDeadlineMs(state: ConversationState): number {
  const digital = state.digital!;
  return Date.parse(digital.task!.menuSince!) + digital.settings.welcomeMenu!.timeoutMs;
}

/** No choice within the menu's timeout: the task is created with the destination's default selector. */
export function menuTimedOut(state: ConversationState, flow: DigitalFlowVersions): void {
  if (!menuWaits(state)) return;
  createTask(state, flow, state.digital!.settings.scriptSelector!, 'timeout');
}

/**
 * Queues CCE Create Task once per conversation chain (the key holds the chain, not a message: a
 * redelivered or later message cannot make a second task). A task the platform created meanwhile
 * (its CREATED came during the menu) is not created again.
 */
function createTask(state: ConversationState, flow: DigitalFlowVersions, scriptSelector: string, intent: string): void {
  const digital = state.digital!;
  if (state.taskId !== undefined) {
    // Not Parley's task: a transfer of it is the platform's to re-submit.
    delete digital.task;
    return;
  }
  digital.task = { scriptSelector, intent };
  routing(state, flow.chainId, { operation: 'create-task', scriptSelector, intent });
}

/**
 * The notification a routing event gives, queued once per distinct event (the caller skips
 * duplicates), and for a TRANSFERRED of a task Parley created, its re-submission first. Nothing for
 * a conversation that has no digital channel, for an event that arrives after the conversation
 * closed, or for one that, in its place in occurrence order, changed nothing.
 */
export function notifyRoutingEvent(state: ConversationState, event: RoutingEvent, wasClosed: boolean, flow: DigitalFlowVersions = LEGACY_DIGITAL_FLOW): NotificationKind | undefined {
  const digital = state.digital;
  if (!digital || wasClosed) return undefined;
  // A late event (it occurred before what the record already shows: a QUEUED or CREATED after the
  // routing, a ROUTED before a transfer that already arrived) would tell the customer something no
  // longer true: only an event that changed the record, and whose status still holds, is told.
  const recorded = state.recentEvents.find((e) => e.eventId === event.eventId);
  if (!recorded || !recorded.applied) return undefined;
  const holds = event.eventType === 'ROUTED' ? state.status === 'active' : event.eventType === 'CLOSED' ? state.status === 'closed' : state.status === 'queued';
  if (!holds) return undefined;
  let kind: NotificationKind | undefined;
  switch (event.eventType) {
    case 'CREATED':
      kind = 'created';
      break;
    case 'QUEUED':
      // The first QUEUED comes before the routing script ran: no estimate yet (absent or -1).
      kind = event.estimatedWaitTime !== undefined && event.estimatedWaitTime >= 0 ? 'queued' : undefined;
      break;
    case 'ROUTED':
      kind = 'routed';
      break;
    case 'TRANSFERRED':
      // Webex Connect's TRANSFERRED flow: the task goes back to CCE (Create Task with the same
      // taskId) for the next agent, then the customer is told.
      if (digital.task?.scriptSelector !== undefined && flow.resubmitsTask()) {
        routing(state, event.eventId, { operation: 'resubmit-task', taskId: event.taskId, scriptSelector: digital.task.scriptSelector });
      }
      kind = 'transferred';
      break;
    case 'CLOSED':
      // The chat cancelled for a web callback is closed by the platform: the customer was already told.
      if (digital.callback?.requested || digital.endedByCustomer) kind = undefined;
      else kind = closedAfterTransfer(state, event.eventId) ? 'transfer-failed' : 'closed';
      break;
  }
  if (kind) notify(state, kind, event.eventId, event.occurredAt, 'customer', event.estimatedWaitTime);
  return kind;
}

/**
 * A transfer that is followed, in occurrence order, directly by the close never reached another
 * queue or agent: the platform closed the task because the transfer failed.
 */
function closedAfterTransfer(state: ConversationState, closedEventId: string): boolean {
  const events = state.recentEvents;
  const at = events.findIndex((e) => e.eventId === closedEventId);
  return at > 0 && events[at - 1].eventType === 'TRANSFERRED';
}

/** Whether the web-callback clock runs: a chat with a threshold, waiting in a queue for an agent, not yet offered. */
export function callbackClockRuns(state: ConversationState): boolean {
  const digital = state.digital;
  return (
    digital !== undefined &&
    digital.channel === 'chat' &&
    digital.settings.callbackThresholdMs !== undefined &&
    !digital.callback?.offered &&
    state.status === 'queued' &&
    state.taskId !== undefined
  );
}

/** The threshold passed with the chat still queued: offer the callback, once. */
export function offerCallback(state: ConversationState, nowIso: string): void {
  const digital = state.digital;
  if (!digital) return;
  digital.callback = { ...digital.callback, offered: true };
  notify(state, 'callback-offer', 'web-callback', nowIso);
}

function notify(
  state: ConversationState,
  kind: NotificationKind,
  causeId: string,
  occurredAt: string,
  audience: 'customer' | 'agent' = 'customer',
  estimatedWaitSeconds?: number,
  menuWords?: string,
): void {
  const digital = state.digital;
  if (!digital) return;
  let text: string;
  if ((MENU_NOTIFICATION_KINDS as readonly string[]).includes(kind)) {
    // The menu's own words, sent whenever the destination has a menu.
    text = menuWords ?? '';
  } else {
    const step = kind as Exclude<NotificationKind, (typeof MENU_NOTIFICATION_KINDS)[number]>;
    if (!digital.settings.notifications.includes(step)) return;
    text = step === 'queued' && estimatedWaitSeconds !== undefined ? NOTIFICATION_TEXT.queued.replace('{ewt}', waitText(estimatedWaitSeconds)) : NOTIFICATION_TEXT[step];
  }
  digital.outbox.push({
    kind: 'notify',
    request: {
      key: `${state.conversationId}:${causeId}:${kind}`,
      conversationId: state.conversationId,
      channel: digital.channel,
      destination: digital.destination,
      audience,
      kind,
      text,
      ...(audience === 'customer' ? { to: digital.from } : {}),
      ...(digital.subject !== undefined ? { subject: digital.subject } : {}),
      ...(kind === 'queued' && estimatedWaitSeconds !== undefined ? { estimatedWaitSeconds } : {}),
      occurredAt,
    },
  });
}

function endTask(state: ConversationState, causeId: string, mode: 'abandon' | 'close'): void {
  // No CREATED yet: the routing platform has no task to end.
  if (state.taskId) routing(state, causeId, { operation: 'end-task', taskId: state.taskId, mode });
}

function routing(state: ConversationState, causeId: string, op: Pick<RoutingRequest, 'operation' | 'taskId' | 'mode' | 'phoneNumber' | 'scriptSelector' | 'intent'>): void {
  const digital = state.digital;
  if (!digital) return;
  digital.outbox.push({
    kind: 'routing',
    request: {
      key: `${state.conversationId}:${causeId}:${op.operation}`,
      conversationId: state.conversationId,
      channel: digital.channel,
      destination: digital.destination,
      ...op,
    },
  });
}

function keepRecent(digital: DigitalState, line: StoredMessage): void {
  digital.recent.push(line);
  if (digital.recent.length > RECENT_MESSAGES_KEPT) digital.recent.splice(0, digital.recent.length - RECENT_MESSAGES_KEPT);
}

function waitText(seconds: number): string {
  if (seconds < 60) return 'less than a minute';
  const minutes = Math.round(seconds / 60);
  return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
}
