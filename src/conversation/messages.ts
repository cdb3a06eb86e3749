// The contract between the workflow, the worker, the HTTP API and the tests: message definitions,
// their DTOs, error-type names and search attributes. Imported by workflow code too, so it must
// stay deterministic and free of Node APIs.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { CheckedCrmRequest, CrmExecuteResult, CrmExecutionRecord, CrmState } from './contracts/crm';
import type { DigitalState, StoredMessage } from './contracts/channels';
import type { Channel, RoutingEvent, RoutingEventType } from './routing-event';

// The routing vocabulary is defined with the routing event's schema, which is built from it.
export { CHANNELS, ROUTING_EVENT_TYPES } from './routing-event';
export type { Channel, RoutingEventType } from './routing-event';

export const DEFAULT_TASK_QUEUE = 'parley-conversations';


export type ConversationStatus = 'queued' | 'active' | 'closed';
/** `end-keyword` and `customer-abandoned`: the customer ended a digital conversation (src/channels). */
export type CloseReason = 'closed-event' | 'inactivity' | 'cancelled' | 'end-keyword' | 'customer-abandoned';

// A routing webhook's event: its JSON schema is its one definition (routing-event.ts).
export type { RoutingEvent };

export interface TransferRecord {
  eventId: string;
  occurredAt: string;
  fromAgentId?: string;
  fromQueue?: string;
  destination?: string;
}

export interface EventRecord {
  eventId: string;
  eventType: RoutingEventType;
  occurredAt: string;
  /**
   * false when, in its place in occurrence order, the event did not change the routing record: a
   * CREATED or QUEUED while routed, anything that occurred after the close. Its task context counts either way.
   */
  applied: boolean;
  note?: string;
}

/** Tunables that travel with the workflow so a run never depends on a worker's environment. */
export interface ConversationSettings {
  /** A conversation with no event and no attribute write for this long closes itself. */
  inactivityTimeoutMs: number;
  /** Continue-as-new once the run's history has this many events (or when the server suggests it). */
  continueAsNewAfterEvents: number;
  /**
   * How long a conversation closed by a CLOSED event keeps taking the events that occurred before
   * its close (folded into its record; writes stay refused) before its workflow completes. 0 or
   * absent: the workflow completes right after the final batch is written.
   */
  closedGracePeriodMs?: number;
}

export const DEFAULT_SETTINGS: ConversationSettings = {
  inactivityTimeoutMs: 30 * 60 * 1000,
  continueAsNewAfterEvents: 2000,
  closedGracePeriodMs: 2 * 60 * 1000,
};

/** Everything a run hands to the next one at continue-as-new. */
export interface ConversationState {
  conversationId: string;
  status: ConversationStatus;
  channel?: Channel;
  taskId?: string;
  queue?: string;
  agentId?: string;
  estimatedWaitTime?: number;
  /** The task context's values, by name in sorted order (recomputed from `ordering.context`). */
  taskContext: Record<string, string>;
  transfers: TransferRecord[];
  transferCount: number;
  recentEvents: EventRecord[];
  /** Queued participant data, written to the store in one batch. */
  pending: Record<string, string>;
  /** Names in `pending` whose values are secured ciphertexts. */
  pendingSecured: string[];
  /** Names already written to the store: the most recent STORED_NAMES_KEPT (state.ts), the latest written last. */
  storedNames: string[];
  /** true once older written names were left out of `storedNames` (the store holds every one). */
  storedNamesTruncated?: boolean;
  /** Sequence number of the last batch written; the next batch is lastBatchSeq + 1. */
  lastBatchSeq: number;
  /**
   * Bounded window of update ids whose attribute writes were applied, oldest first. Temporal
   * de-duplicates update ids only within a run, so a retry that reaches the next run is caught here.
   */
  appliedWriteIds: string[];
  /**
   * Writes sent with `Prefer: respond-async` (answered 202 before the workflow saw them) that the
   * workflow refused, the most recent REFUSED_WRITES_KEPT (state.ts): the caller reads their outcome
   * here. Absent until the first refusal (and in runs from before such writes existed).
   */
  refusedWrites?: RefusedWrite[];
  createdAt: string;
  closedAt?: string;
  closeReason?: CloseReason;
  dispositionCode?: string | number;
  runCount: number;
  /**
   * The events the record is computed from (record.ts): the routing fields above are recomputed
   * from it after every event, so the record is a function of the set of events received.
   */
  ordering: OrderingState;
  /** A close that is no event (inactivity, cancellation): it overrides the status the events give. */
  localClose?: { reason: Exclude<CloseReason, 'closed-event'>; at: string };
  /** CRM Workflow Execute: recent executions and the cacheKey cache. Absent until the conversation's first execution. */
  crm?: CrmState;
  /** Present once an inbound message (SMS, chat, email) reached the conversation. */
  digital?: DigitalState;
}

/**
 * Where an event sorts: its occurredAt instant, then its type's rank (CREATED < TRANSFERRED <
 * QUEUED < ROUTED < CLOSED), then its eventId (UTF-16 code-unit order).
 */
export type EventKey = [occurredAtMs: number, typeRank: number, eventId: string];

export interface ContextEntry {
  value: string;
  key: EventKey;
}

/** An event as the conversation holds it for re-ordering: its routing fields (its task context is merged at once). */
export type HeldEvent = Omit<RoutingEvent, 'conversationId' | 'taskContext'> & {
  /** occurredAt as an instant (ms), read once when the event was received: what it sorts by. */
  at: number;
  /** Task context variables of this event that did not fit in the conversation's bounds. */
  contextDropped?: number;
};

/** The routing part of the record, as folded from events in their order. */
export interface RoutingRecord {
  status: ConversationStatus;
  channel?: Channel;
  taskId?: string;
  queue?: string;
  agentId?: string;
  estimatedWaitTime?: number;
  transfers: TransferRecord[];
  transferCount: number;
  recentEvents: EventRecord[];
  closedAt?: string;
  closeReason?: CloseReason;
  dispositionCode?: string | number;
}

export interface OrderingState {
  /** The record folded from the events compacted out of `events`: all of them sort at or before `horizon`. */
  base: RoutingRecord;
  horizon?: EventKey;
  /** Distinct events after the horizon, in sort order; bounded in count and bytes. */
  events: HeldEvent[];
  /** JSON bytes of `events`. */
  eventBytes: number;
  /** Ids of the latest compacted events, so that with `events` the conversation knows its last 1,000 event ids. */
  compactedIds: string[];
  /**
   * The conversation's task context: each variable with the key of the event whose value it holds
   * (the latest-occurring one). `taskContext` is its values.
   */
  context: Record<string, ContextEntry>;
  /** Events received that sorted before the horizon and were not known: their task context was merged, nothing else. */
  outsideWindow: number;
}

export interface ConversationInput {
  conversationId: string;
  settings: ConversationSettings;
  /** Present after continue-as-new. */
  state?: ConversationState;
}

export interface ConversationResult {
  conversationId: string;
  closeReason: CloseReason;
  batchesWritten: number;
  /** The most recently written names (at most 100), sorted; the store holds every one. */
  storedNames: string[];
  /** Present (true) when older written names were left out of storedNames. */
  storedNamesTruncated?: boolean;
}

/** The state query's answer: attribute names only, never values. */
export interface ConversationView {
  conversationId: string;
  status: ConversationStatus;
  channel?: Channel;
  taskId?: string;
  queue?: string;
  agentId?: string;
  estimatedWaitTime?: number;
  taskContext: Record<string, string>;
  /**
   * `stored`: the most recently written names (at most 100), sorted; `storedTruncated` when older
   * ones were left out — GET /conversations/:id/attributes/:name reads any of them from the store.
   */
  attributeNames: { pending: string[]; stored: string[]; storedTruncated?: boolean };
  transfers: TransferRecord[];
  transferCount: number;
  recentEvents: EventRecord[];
  createdAt: string;
  closedAt?: string;
  closeReason?: CloseReason;
  dispositionCode?: string | number;
  runCount: number;
  /** Writes answered 202 (`Prefer: respond-async`) that the conversation then refused, most recent last. */
  refusedWrites?: RefusedWrite[];
  /** Events that occurred before the oldest event the conversation still holds for re-ordering: only their task context was taken. */
  eventsOutsideWindow?: number;
  /** Recent CRM workflow executions (outcomes, never payloads or results) and how many results are cached. */
  crm?: { executions: CrmExecutionRecord[]; cachedResults: number };
  /** Digital channels: the message count and the latest (masked) transcript lines; never the customer's address. */
  messages?: {
    channel: string;
    destination: string;
    count: number;
    recent: StoredMessage[];
    /** The routing task Parley creates: its script selector and how it was chosen, or `menu: "waiting"` for the customer's choice. */
    task?: { scriptSelector?: string; intent?: string; menu?: 'waiting' };
  };
}

export interface SetAttributesRequest {
  attributes: Record<string, string>;
  /**
   * Secured data (Genesys Architect's *Set Secured Data*): the values are ciphertexts the API made
   * with the customer's key before the request reached Temporal; the workflow and the store only
   * ever hold them encrypted.
   */
  secured?: boolean;
}
/**
 * A write confirmed at the edge (`Prefer: respond-async`): validated and encrypted by the API,
 * delivered as a signal, answered 202 once Temporal recorded it. The workflow applies or refuses it
 * with the update's rules and keeps the outcome under `writeId`.
 */
export interface AcceptedAttributeWrite extends SetAttributesRequest {
  /** The caller's Idempotency-Key, or an id the API chose; the outcome is read back under it. */
  writeId: string;
}

/** An accepted write the workflow refused: names and reason only, never values. */
export interface RefusedWrite {
  writeId: string;
  /** ErrorType of the refusal: ConversationClosed, StoreBacklog or InvalidAttributes. */
  reason: string;
  message: string;
  /** The write's first REFUSED_WRITE_NAMES_KEPT names (state.ts); `moreNames` counts the others. */
  names: string[];
  moreNames?: number;
}

/** What became of a write, by its id: `unknown` when the conversation has no record of it (never received, or older than the window kept). */
export type AttributeWriteOutcome =
  | { writeId: string; status: 'applied' }
  | ({ status: 'refused' } & RefusedWrite)
  | { writeId: string; status: 'unknown' };

export interface SetAttributesResult {
  /** Names now queued for the end-of-conversation batch. */
  queued: string[];
}

/** A secured value is returned as its ciphertext: only the API decrypts it, for a reader allowed the plaintext. */
export type PendingAttributeLookup = { pending: true; value: string; secured: boolean } | { pending: false };

export const routingEventSignal = defineSignal<[RoutingEvent]>('routingEvent');
export const setAttributesUpdate = defineUpdate<SetAttributesResult, [SetAttributesRequest]>('setAttributes');
/** The write confirmed at the edge; never refused by Temporal, so its outcome is kept (attributeWriteQuery). */
export const acceptedAttributeWriteSignal = defineSignal<[AcceptedAttributeWrite]>('acceptedAttributeWrite');
export const attributeWriteQuery = defineQuery<AttributeWriteOutcome, [string]>('attributeWrite');
export const conversationStateQuery = defineQuery<ConversationView>('conversationState');
export const pendingAttributeQuery = defineQuery<PendingAttributeLookup, [string]>('pendingAttribute');
/**
 * CRM Workflow Execute on a request checked by checkCrmRequest (whose ValidationError the sender
 * answers itself): answers exactly one outcome branch. Rejected when the conversation is closed
 * (ConversationClosed) or the request is not a checked one (InvalidCrmRequest).
 */
export const workflowExecuteUpdate = defineUpdate<CrmExecuteResult, [CheckedCrmRequest]>('workflowExecute');

/** ApplicationFailure types the workflow raises and the API maps to HTTP statuses. */
export const ErrorType = {
  InvalidAttributes: 'InvalidAttributes',
  ConversationClosed: 'ConversationClosed',
  /**
   * The conversation's batch has waited for the store so long (its history grew past the bound that
   * continue-as-new would otherwise keep) that new writes are refused until the store answers.
   * Nothing of the refused write was applied.
   */
  StoreBacklog: 'StoreBacklog',
  /** An inbound message the API should never have sent (its contract was not met). */
  InvalidMessage: 'InvalidMessage',
  /** A workflowExecute request that is not what checkCrmRequest makes; details[0] is its CrmErrorArgs. */
  InvalidCrmRequest: 'InvalidCrmRequest',
} as const;

/** ApplicationFailure types the flush activity fails with (visible in Temporal's history and UI). */
export const ActivityErrorType = {
  /** A batch key already stored with other content; non-retryable, the batch was not written. */
  BatchConflict: 'BatchConflict',
  /** The store did not answer within STORE_TIMEOUT; retryable, nothing was written. */
  StoreTimeout: 'StoreTimeout',
  /** The channel gateway or routing platform refused a delivery for good (4xx), or none is configured. */
  PeerRefused: 'PeerRefused',
} as const;

// Search attributes: plaintext on the server, so only routing facts — never customer data.
export const searchAttributes = {
  status: defineSearchAttributeKey('ParleyStatus', SearchAttributeType.KEYWORD),
  channel: defineSearchAttributeKey('ParleyChannel', SearchAttributeType.KEYWORD),
  queue: defineSearchAttributeKey('ParleyQueue', SearchAttributeType.KEYWORD),
  agent: defineSearchAttributeKey('ParleyAgent', SearchAttributeType.KEYWORD),
};
export const SEARCH_ATTRIBUTE_KEYS = Object.values(searchAttributes);

/**
 * The id an attribute write is de-duplicated by (Temporal's update id, and the conversation's
 * window of applied writes): one Idempotency-Key names one write, whichever route or mode carried it.
 */
export function attributeWriteKey(writeId: string): string {
  return `set-attributes:${writeId}`;
}

export function workflowIdFor(conversationId: string): string {
  return `conversation-${conversationId}`;
}
