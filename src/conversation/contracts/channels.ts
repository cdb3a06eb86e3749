// Digital channels (SMS, live chat, email): the messages, settings and outbound operations the
// workflow, the worker's adapters, the API and the tests share. Imported by workflow code, so it
// stays deterministic and free of Node APIs.
import { defineQuery, defineUpdate } from '@temporalio/workflow';

export const MESSAGE_CHANNELS = ['sms', 'chat', 'email'] as const;
export type MessageChannel = (typeof MESSAGE_CHANNELS)[number];

/**
 * What Parley may tell someone through the channel gateway. The customer hears all but
 * `customer-left`, which goes to the agent (Webex Engage's *Append Conversation* on abandon).
 */
export const NOTIFICATION_KINDS = [
  'created',
  'queued',
  'routed',
  'transferred',
  'closed',
  'transfer-failed',
  'sensitive-data-removed',
  'callback-offer',
  'callback-requested',
  'customer-left',
] as const;
/** What Parley tells of the conversation's own steps, in its own words (NOTIFICATION_TEXT). */
export type StepNotificationKind = (typeof NOTIFICATION_KINDS)[number];

/**
 * The welcome menu's own messages: sent whenever a destination has a menu (the menu is the opt-in),
 * so a destination's `notifications` list does not name them.
 */
export const MENU_NOTIFICATION_KINDS = ['welcome-menu', 'menu-not-understood'] as const;
export type NotificationKind = StepNotificationKind | (typeof MENU_NOTIFICATION_KINDS)[number];

/**
 * The task operations Parley asks of the routing platform (Cisco CCE Digital Routing's task API):
 * `create-task` and `resubmit-task` are CCE *Create Task* (a new task; the transferred task again,
 * under its taskId), `end-task` is *End Task*.
 */
export const ROUTING_OPERATIONS = ['create-task', 'resubmit-task', 'end-task', 'cancel-task', 'request-callback'] as const;
export type RoutingOperation = (typeof ROUTING_OPERATIONS)[number];

/**
 * What one destination (the vendor's *asset*: a chat or email app id, an SMS number) gets. Resolved
 * by the API from the destinations file and carried in the conversation, so a run never depends on
 * a worker's environment.
 */
export interface DestinationSettings {
  notifications: StepNotificationKind[];
  /** Chat only: a chat queued this long is offered a voice callback. Absent: never offered. */
  callbackThresholdMs?: number;
  /** The phrase that, found in a customer's message, ends the conversation. Absent: DEFAULT_END_PHRASE. */
  endPhrase?: string;
  /**
   * The CCE script selector Parley creates the routing task with when no menu choice names another.
   * Absent: Parley creates no task (the routing platform creates it, and its CREATED starts the flow).
   */
  scriptSelector?: string;
  /** Asked before the task is created: the customer's reply picks the script selector. */
  welcomeMenu?: WelcomeMenu;
}

/** One choice of a welcome menu: its number, the words that also pick it, and the task's script selector. */
export interface MenuOption {
  number: number;
  label: string;
  /** Besides the number and the label, words or phrases that pick it (any case, as whole words). */
  keywords: string[];
  scriptSelector: string;
}

/**
 * The welcome menu (Webex Connect's SMS inbound flow: a welcome message followed by a couple of
 * options; the reply picks the intent, the intent the ScriptSelector).
 */
export interface WelcomeMenu {
  /** Sent first, followed by one line per option ("1. Sales"). */
  text: string;
  /** Sent after a reply that picks no option, followed by the options again. */
  retryText: string;
  options: MenuOption[];
  /** This many replies that pick no option: the task is created with the default selector. */
  maxUnrecognised: number;
  /** No choice this long after the welcome: the task is created with the default selector (a durable timer). */
  timeoutMs: number;
}

export const DEFAULT_CALLBACK_THRESHOLD_MS = 60_000;

/** One transcript line as the participant-data store keeps it (`from` is never stored). */
export interface StoredMessage {
  eventId: string;
  channel: MessageChannel;
  direction: 'inbound' | 'outbound';
  occurredAt: string;
  /** Already masked (inbound) or Parley's own words (outbound). */
  text: string;
  subject?: string;
  attachmentCount: number;
}

/** An inbound message as it reaches the workflow: masked, its sensitive attachments dropped. */
export interface InboundMessage {
  eventId: string;
  channel: MessageChannel;
  /** The customer's address (number, chat user, e-mail): personal data, payload only. */
  from: string;
  text: string;
  subject?: string;
  /** Attachments kept (those flagged sensitive are dropped before this point). */
  attachmentCount: number;
  /** True when the masker changed the text or subject, or dropped an attachment. */
  sensitiveDataRemoved: boolean;
  destination: string;
  occurredAt: string;
  /** Live chat: the customer closed the chat window (Live_Chat_Customer_Abandon_Close_Flow). */
  closedByCustomer?: boolean;
  destinationSettings: DestinationSettings;
}

export type InboundOutcome = 'appended' | 'duplicate' | 'ended' | 'abandoned' | 'customer-left' | 'callback-requested';

export interface InboundAnswer {
  outcome: InboundOutcome;
}

export const inboundMessageUpdate = defineUpdate<InboundAnswer, [InboundMessage]>('inboundMessage');
/** Whether this conversation took the message with this eventId (asked of a closed conversation by a redelivery). */
export const inboundMessageSeenQuery = defineQuery<boolean, [string]>('inboundMessageSeen');

/** A message to a customer (or, for `customer-left`, the agent) through the channel gateway. */
export interface NotificationRequest {
  /** Idempotency key: the gateway de-duplicates on it (Idempotency-Key header). */
  key: string;
  conversationId: string;
  channel: MessageChannel;
  destination: string;
  audience: 'customer' | 'agent';
  kind: NotificationKind;
  text: string;
  /** The customer's address, from the conversation's payload; absent for the agent. */
  to?: string;
  /** Email: the reply keeps the thread's subject. */
  subject?: string;
  estimatedWaitSeconds?: number;
  /** When the event that caused it occurred (or the workflow's time for a timer). */
  occurredAt: string;
}

export interface RoutingRequest {
  key: string;
  conversationId: string;
  operation: RoutingOperation;
  /** Absent on create-task only: the platform names the new task, and its CREATED tells Parley. */
  taskId?: string;
  channel: MessageChannel;
  destination: string;
  /** create-task, resubmit-task: which CCE script routes the task. */
  scriptSelector?: string;
  /** create-task: how the selector was chosen (the menu option's label, or why the default). */
  intent?: string;
  /** end-task: `abandon` when no agent was assigned yet, `close` otherwise (CCE End Task). */
  mode?: 'abandon' | 'close';
  /** request-callback: the number the customer gave (personal data, payload only). */
  phoneNumber?: string;
}

/** Work the conversation hands to its activities, in order, one at a time. */
export type OutboundOp =
  | { kind: 'notify'; request: NotificationRequest }
  | { kind: 'routing'; request: RoutingRequest }
  | { kind: 'transcript'; conversationId: string; messages: StoredMessage[] };

/** The digital-channel part of a conversation's state; absent until its first inbound message. */
export interface DigitalState {
  channel: MessageChannel;
  destination: string;
  settings: DestinationSettings;
  /** Personal data: only ever in payloads, which the codec encrypts. */
  from: string;
  subject?: string;
  /** The last RECENT_MESSAGES_KEPT transcript lines; the full transcript is in the store. */
  recent: StoredMessage[];
  messageCount: number;
  /** Bounded window of inbound eventIds already taken, oldest first. */
  seenMessageIds: string[];
  /** Operations not yet performed, oldest first; the head is the one running. */
  outbox: OutboundOp[];
  callback?: { offered?: boolean; requested?: boolean };
  /** Set when the customer ended or abandoned the conversation: no CLOSED notification follows. */
  endedByCustomer?: boolean;
  /** The routing task Parley creates (absent when the destination has no script selector, or before it is decided). */
  task?: DigitalTask;
}

/** The task Parley creates for a digital conversation, and the welcome menu that chooses its selector. */
export interface DigitalTask {
  /** Set once create-task is queued: the selector it carries, which a transfer re-submits. */
  scriptSelector?: string;
  /** How the selector was chosen: a menu option's label, `default` (no menu), `unrecognised` or `timeout`. */
  intent?: string;
  /** The welcome menu was sent at this time and waits for the customer's choice. */
  menuSince?: string;
  /** Replies that picked no option so far. */
  unrecognised?: number;
}

/** The default words of each notification; `{ewt}` is the wait in minutes. */
export const NOTIFICATION_TEXT: Record<StepNotificationKind, string> = {
  created: 'Thank you for contacting us. We are connecting you with an agent.',
  queued: 'All our agents are busy. Your estimated wait time is {ewt}.',
  routed: 'An agent is joining the conversation.',
  transferred: 'You are being transferred to another agent. Please wait.',
  closed: 'This conversation has been closed. Send us a new message any time.',
  'transfer-failed': 'We could not transfer your conversation and it has been closed. Please send us a new message.',
  'sensitive-data-removed': 'For your security, sensitive data such as card numbers was removed from your message.',
  'callback-offer': 'All our agents are still busy. To be called back instead, reply CALLBACK followed by your phone number, e.g. "CALLBACK +44 20 7946 0000".',
  'callback-requested': 'Thank you. This chat is closed and an agent will call you back shortly.',
  'customer-left': 'The customer has left the chat.',
};
