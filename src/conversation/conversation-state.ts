// The conversation's state machine as pure functions, so the rules of PRODUCT.md (de-duplication,
// late events, transfers) read in one place and the workflow only wires them to messages.
import type {
  CloseReason,
  ContextEntry,
  ConversationState,
  ConversationView,
  EventKey,
  EventRecord,
  HeldEvent,
  OrderingState,
  RoutingEvent,
  RoutingEventType,
  RoutingRecord,
  TransferRecord,
} from './messages';
import { searchAttributes } from './messages';
import type { ConversationRecord } from './contracts/export';
import { LIMITS, jsonBytes, utf8Length } from './validation';

/** Event ids remembered for de-duplication; a redelivery older than this window is unlikely. */
export const SEEN_EVENT_WINDOW = 1000;
export const RECENT_EVENTS_KEPT = 20;
export const TRANSFERS_KEPT = 50;
/** Attribute-write ids remembered across runs; a client retries within seconds, not hundreds of writes later. */
export const APPLIED_WRITE_WINDOW = 200;
/**
 * Names of written attributes the conversation remembers (the most recently written); the store
 * holds them all. Bounds the state that every continue-as-new input, the result and the query carry.
 */
export const STORED_NAMES_KEPT = 100;

/**
 * History events a run may add while its hand-over flush waits for the store before attribute writes
 * are refused: continue-as-new cannot happen mid-flush, so this is what bounds the run's history
 * (about 100 writes; the default continue-as-new threshold plus this stays far below Temporal's
 * 10,240-event warning). Far more than a flush that succeeds, even slowly, lets through.
 */
export const STUCK_FLUSH_HEADROOM_EVENTS = 500;

/**
 * Records keyed by user-chosen names (attributes, task context) have no prototype, so a name like
 * "__proto__" or "constructor" is just a name.
 */
export function dict(from?: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, from);
}

export function initialState(conversationId: string, nowIso: string): ConversationState {
  return {
    conversationId,
    status: 'queued',
    taskContext: dict(),
    transfers: [],
    transferCount: 0,
    recentEvents: [],
    seenEventIds: [],
    pending: dict(),
    pendingSecured: [],
    storedNames: [],
    lastBatchSeq: 0,
    appliedWriteIds: [],
    createdAt: nowIso,
    runCount: 1,
  };
}

/** The state a run continues with, from what the previous run handed over (a JSON payload). */
export function resumedState(handed: ConversationState): ConversationState {
  const state: ConversationState = {
    ...handed,
    pending: dict(handed.pending),
    taskContext: dict(handed.taskContext),
    // Runs recorded before write ids were carried hand over none.
    appliedWriteIds: handed.appliedWriteIds ?? [],
    runCount: handed.runCount + 1,
  };
  if (handed.ordering) {
    state.ordering = { ...handed.ordering, context: Object.assign(Object.create(null) as Record<string, ContextEntry>, handed.ordering.context) };
    // Under the ordered rule a hand-over carries the events, not the record computed from them.
    recompute(state);
  }
  return state;
}

export type EventOutcome = 'duplicate' | 'applied' | 'ignored';

/**
 * Rule changes made after conversations were already running. The workflow answers through
 * Temporal's patched(), so a run recorded under the old rule replays under it.
 */
export const PATCHES = {
  transferBeforeRouting: 'transfer-before-routing',
  flushNonCancellable: 'flush-non-cancellable',
  /** The record is a function of the set of events received (receiveRoutingEvent), not of their arrival order. */
  orderedRecord: 'ordered-record',
  /** A conversation closed by a CLOSED event waits out settings.closedGracePeriodMs before its workflow completes. */
  closedGracePeriod: 'closed-grace-period',
  /**
   * One inactivity timer per run that re-arms itself from the last activity (not one started and
   * cancelled per message), one timer for the grace window, and search attributes upserted once per
   * workflow task with what changed.
   */
  singleInactivityTimer: 'single-inactivity-timer',
  /** A batch whose key the store holds with other content is written under the next batchSeq (recorded only when it happens). */
  batchConflictNextSeq: 'batch-conflict-next-seq',
  /** An ended conversation starts its export workflow (workflows/export.ts) after its final batch. */
  exportOnEnd: 'export-on-end',
} as const;
export type IsPatched = (patchId: string) => boolean;

/**
 * The rule before PATCHES.orderedRecord, kept so that runs recorded under it replay under it.
 * Applies one routing event. Status moves queued → active on ROUTED, active → queued only on
 * TRANSFERRED, and to closed on CLOSED; an event that occurred before the one that set the current
 * state (a late delivery) is recorded but moves nothing back.
 */
export function applyRoutingEvent(state: ConversationState, event: RoutingEvent, isPatched: IsPatched = () => true): EventOutcome {
  if (state.seenEventIds.includes(event.eventId)) return 'duplicate';
  remember(state, event.eventId);

  const at = Date.parse(event.occurredAt);
  const notes: string[] = [];
  let applied = true;

  if (state.status === 'closed') {
    applied = false;
    notes.push('conversation already closed');
  } else {
    // Routing facts that do not move status are still taken from any in-order event.
    state.channel ??= event.channel;
    state.taskId ??= event.taskId;
    switch (event.eventType) {
      case 'CREATED':
      case 'QUEUED':
        if (state.status === 'active' || (state.transferredAtMs !== undefined && at < state.transferredAtMs)) {
          applied = false;
          notes.push('late: conversation already routed');
          break;
        }
        state.taskId = event.taskId;
        if (event.queue) state.queue = event.queue;
        if (event.eventType === 'QUEUED' || event.estimatedWaitTime !== undefined) {
          state.estimatedWaitTime =
            event.estimatedWaitTime === undefined || event.estimatedWaitTime < 0 ? undefined : event.estimatedWaitTime;
        }
        break;
      case 'ROUTED':
        if (state.status === 'active' && state.routedAtMs !== undefined && at < state.routedAtMs) {
          applied = false;
          notes.push('late: a later routing is in effect');
          break;
        }
        if (state.transferredAtMs !== undefined && at < state.transferredAtMs) {
          applied = false;
          notes.push('late: routing happened before the last transfer');
          break;
        }
        state.status = 'active';
        state.routedAtMs = at;
        state.taskId = event.taskId;
        state.agentId = event.agentId;
        if (event.queue) state.queue = event.queue;
        state.estimatedWaitTime = undefined;
        break;
      case 'TRANSFERRED': {
        const predatesCurrentState =
          (state.routedAtMs !== undefined && at < state.routedAtMs) || (state.transferredAtMs !== undefined && at < state.transferredAtMs);
        // Runs started before the transfer-before-routing rule keep treating a transfer while queued as stale.
        const oldRuleIgnoresIt = !predatesCurrentState && state.status !== 'active' && !isPatched(PATCHES.transferBeforeRouting);
        if (predatesCurrentState || oldRuleIgnoresIt) {
          // Still recorded as a transfer: it happened, it just no longer describes the present.
          recordTransfer(state, event, false);
          applied = false;
          notes.push('late: transfer predates the current routing');
          break;
        }
        // Not active: the routing this transfer ended has not arrived yet. The transfer is the newest
        // fact; its time keeps that routing, when it comes, from making the conversation active again.
        const endsKnownRouting = state.status === 'active';
        recordTransfer(state, event, endsKnownRouting);
        if (!endsKnownRouting) notes.push('transfer arrived before the routing it ended');
        state.status = 'queued';
        state.transferredAtMs = at;
        state.agentId = undefined;
        if (event.destination) state.queue = event.destination;
        break;
      }
      case 'CLOSED':
        state.status = 'closed';
        state.closeReason = 'closed-event';
        state.closedAt = event.occurredAt;
        state.dispositionCode = event.dispositionCode;
        break;
    }
    if (applied && event.taskContext) {
      const dropped = mergeTaskContext(state.taskContext, event.taskContext);
      if (dropped > 0) {
        const limit = `${LIMITS.conversationTaskContextEntriesMax} variables, ${LIMITS.conversationTaskContextBytesMax} bytes`;
        notes.push(`${dropped} taskContext variables not kept: a conversation holds at most ${limit}`);
      }
    }
  }

  const record: EventRecord = { eventId: event.eventId, eventType: event.eventType, occurredAt: event.occurredAt, applied };
  if (notes.length > 0) record.note = notes.join('; ');
  state.recentEvents.push(record);
  if (state.recentEvents.length > RECENT_EVENTS_KEPT) state.recentEvents.splice(0, state.recentEvents.length - RECENT_EVENTS_KEPT);
  return applied ? 'applied' : 'ignored';
}

// ---------------------------------------------------------------------------------------------
// The record as a function of the set of events received (PATCHES.orderedRecord).
//
// The conversation keeps its distinct events, sorted by eventKey, and recomputes its routing record
// by folding them in that order, so any arrival order of the same events gives the same record. To
// stay bounded it holds at most HELD_EVENTS_MAX events (and HELD_EVENT_BYTES_MAX of them): the
// earliest-sorting ones are folded into a snapshot (`base`) and only the key of the last one is
// kept (`horizon`). An event that sorts after the horizon is folded into its place; one that sorts
// at or before it (it occurred before the 1,000 latest events, or is a redelivery of one of those
// that were compacted) can no longer be placed: its task context is merged as always, nothing else.
// Task context does not need the events: each variable keeps the key of the event that set its
// value, and a value replaces it only if its event sorts later (last-writer-wins by occurrence).
// ---------------------------------------------------------------------------------------------

/** Distinct events a conversation holds for re-ordering: the documented de-duplication window. */
export const HELD_EVENTS_MAX = SEEN_EVENT_WINDOW;
/** ...and at most this many bytes of them (JSON), so large events shrink the window, not the payload limit. */
export const HELD_EVENT_BYTES_MAX = 256 * 1024;
/**
 * The continue-as-new input is one Temporal payload (2 MB hard limit). When the state is larger than
 * this at a hand-over, the earliest held events are compacted into the snapshot until it fits.
 */
export const HAND_OVER_STATE_BYTES_MAX = 1_500_000;

/**
 * Tie-break for events that occurred at the same instant (second-precision senders): the order in
 * which a platform emits them when they really share an instant. A conversation is created first
 * and closed last; a transfer comes before the QUEUED and ROUTED it leads to (a transfer to a queue
 * with an idle agent is queued and routed within the same second); a task is queued before it is
 * routed. The other reading — routed, then transferred within the same second — needs an agent who
 * transfers within a second of being assigned, far rarer. Then eventId, so the order is total.
 */
const TYPE_RANK: Record<RoutingEventType, number> = { CREATED: 0, TRANSFERRED: 1, QUEUED: 2, ROUTED: 3, CLOSED: 4 };

export function eventKey(event: Pick<RoutingEvent, 'occurredAt' | 'eventType' | 'eventId'>): EventKey {
  const at = Date.parse(event.occurredAt);
  // The API only sends instants Date.parse reads; anything else sorts first rather than breaking the order.
  return [Number.isFinite(at) ? at : 0, TYPE_RANK[event.eventType], event.eventId];
}

/** Total order: instant, then type rank, then eventId by UTF-16 code units (no locale). */
export function compareKeys(a: EventKey, b: EventKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

export type ReceiveOutcome = 'duplicate' | 'folded' | 'outside-window';

/**
 * Takes one routing event under the ordered rule: de-duplicates it by eventId, merges its task
 * context by occurrence, puts it in its place among the held events and recomputes the record.
 */
export function receiveRoutingEvent(state: ConversationState, event: RoutingEvent): ReceiveOutcome {
  const ordering = (state.ordering ??= orderingFrom(state));
  if (ordering.compactedIds.includes(event.eventId) || ordering.events.some((e) => e.eventId === event.eventId)) return 'duplicate';
  const key = eventKey(event);
  const contextDropped = event.taskContext ? mergeContextByKey(ordering.context, event.taskContext, key) : 0;
  if (ordering.horizon && compareKeys(key, ordering.horizon) <= 0) {
    ordering.outsideWindow++;
    recompute(state);
    return 'outside-window';
  }
  const held = heldEventOf(event, contextDropped);
  // Binary search for the first held event that sorts after this one.
  let lo = 0;
  let hi = ordering.events.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(eventKey(ordering.events[mid]), key) < 0) lo = mid + 1;
    else hi = mid;
  }
  ordering.events.splice(lo, 0, held);
  ordering.eventBytes += heldBytes(held);
  while (ordering.events.length > HELD_EVENTS_MAX || ordering.eventBytes > HELD_EVENT_BYTES_MAX) compactOne(ordering);
  trimCompactedIds(ordering);
  recompute(state);
  return 'folded';
}

/**
 * Recomputes the routing record and the task context from the snapshot and the held events. Also
 * run at the start of a run, since a hand-over carries only what it cannot recompute.
 */
export function recompute(state: ConversationState): void {
  const ordering = state.ordering;
  if (!ordering) return;
  const record = cloneRecord(ordering.base);
  for (const event of ordering.events) foldEvent(record, event);
  if (state.localClose && record.status !== 'closed') {
    record.status = 'closed';
    record.closeReason = state.localClose.reason;
    record.closedAt = state.localClose.at;
  }
  state.status = record.status;
  state.channel = record.channel;
  state.taskId = record.taskId;
  state.queue = record.queue;
  state.agentId = record.agentId;
  state.estimatedWaitTime = record.estimatedWaitTime;
  state.transfers = record.transfers;
  state.transferCount = record.transferCount;
  state.recentEvents = record.recentEvents;
  state.closedAt = record.closedAt;
  state.closeReason = record.closeReason;
  state.dispositionCode = record.dispositionCode;
  const taskContext = dict();
  for (const [name, entry] of Object.entries(ordering.context)) taskContext[name] = entry.value;
  state.taskContext = taskContext;
}

/**
 * A close that is no event (inactivity, cancellation). A conversation already closed by its CLOSED
 * event keeps that close (a cancel during its grace window ends the window, not the record).
 */
export function closeLocally(state: ConversationState, reason: Exclude<CloseReason, 'closed-event'>, at: string): void {
  if (state.status === 'closed' && (state.closeReason ?? 'closed-event') === 'closed-event') return;
  state.localClose = { reason, at };
  state.status = 'closed';
  state.closeReason = reason;
  state.closedAt = at;
}

/**
 * What the next run gets: under the ordered rule the record's derived fields are left out (the next
 * run recomputes them), and held events are compacted while the state would not fit one payload.
 */
export function handOverState(state: ConversationState): ConversationState {
  const ordering = state.ordering;
  if (!ordering) return state;
  const strip = (): ConversationState => ({ ...state, taskContext: dict(), transfers: [], recentEvents: [] });
  let handed = strip();
  while (ordering.events.length > 0 && utf8Length(JSON.stringify(handed)) > HAND_OVER_STATE_BYTES_MAX) {
    const count = Math.max(1, Math.ceil(ordering.events.length / 10));
    for (let i = 0; i < count; i++) compactOne(ordering);
    trimCompactedIds(ordering);
    handed = strip();
  }
  return handed;
}

/** One event folded into the record in its place. The rules of PRODUCT.md, applied in occurrence order. */
function foldEvent(record: RoutingRecord, event: HeldEvent): void {
  const notes: string[] = [];
  let applied = true;
  if (record.status === 'closed') {
    applied = false;
    notes.push('occurred after the close: recorded, changes nothing but the task context');
  } else {
    record.channel ??= event.channel;
    record.taskId ??= event.taskId;
    switch (event.eventType) {
      case 'CREATED':
      case 'QUEUED':
        if (record.status === 'active') {
          applied = false;
          notes.push('conversation already routed: only a transfer sends it back to a queue');
          break;
        }
        record.taskId = event.taskId;
        if (event.queue) record.queue = event.queue;
        if (event.eventType === 'QUEUED' || event.estimatedWaitTime !== undefined) {
          record.estimatedWaitTime =
            event.estimatedWaitTime === undefined || event.estimatedWaitTime < 0 ? undefined : event.estimatedWaitTime;
        }
        break;
      case 'ROUTED':
        record.status = 'active';
        record.taskId = event.taskId;
        record.agentId = event.agentId;
        if (event.queue) record.queue = event.queue;
        record.estimatedWaitTime = undefined;
        break;
      case 'TRANSFERRED': {
        const endsRouting = record.status === 'active';
        record.transferCount++;
        const transfer: TransferRecord = { eventId: event.eventId, occurredAt: event.occurredAt };
        if (endsRouting && record.agentId) transfer.fromAgentId = record.agentId;
        if (endsRouting && record.queue) transfer.fromQueue = record.queue;
        if (event.destination) transfer.destination = event.destination;
        record.transfers.push(transfer);
        if (record.transfers.length > TRANSFERS_KEPT) record.transfers.splice(0, record.transfers.length - TRANSFERS_KEPT);
        if (!endsRouting) notes.push('no routing precedes this transfer');
        record.status = 'queued';
        record.agentId = undefined;
        if (event.destination) record.queue = event.destination;
        break;
      }
      case 'CLOSED':
        record.status = 'closed';
        record.closeReason = 'closed-event';
        record.closedAt = event.occurredAt;
        record.dispositionCode = event.dispositionCode;
        break;
    }
  }
  if (event.contextDropped) {
    const limit = `${LIMITS.conversationTaskContextEntriesMax} variables, ${LIMITS.conversationTaskContextBytesMax} bytes`;
    notes.push(`${event.contextDropped} taskContext variables not kept: a conversation holds at most ${limit}`);
  }
  const entry: EventRecord = { eventId: event.eventId, eventType: event.eventType, occurredAt: event.occurredAt, applied };
  if (notes.length > 0) entry.note = notes.join('; ');
  record.recentEvents.push(entry);
  if (record.recentEvents.length > RECENT_EVENTS_KEPT) record.recentEvents.splice(0, record.recentEvents.length - RECENT_EVENTS_KEPT);
}

/**
 * Last-writer-wins by occurrence, within the conversation's bounds: a value replaces the held one
 * only if its event sorts later. Returns how many variables were left out for the bounds.
 */
function mergeContextByKey(context: Record<string, ContextEntry>, incoming: Record<string, string>, key: EventKey): number {
  const sizeOf = (name: string, value: string): number => jsonBytes(name) + jsonBytes(value);
  let bytes = 0;
  let count = 0;
  for (const [name, entry] of Object.entries(context)) {
    bytes += sizeOf(name, entry.value);
    count++;
  }
  let dropped = 0;
  for (const [name, value] of Object.entries(incoming)) {
    const held = Object.hasOwn(context, name) ? context[name] : undefined;
    if (held && compareKeys(key, held.key) <= 0) continue; // a value that occurred later is already held
    const growth = sizeOf(name, value) - (held ? sizeOf(name, held.value) : 0);
    if ((!held && count >= LIMITS.conversationTaskContextEntriesMax) || bytes + growth > LIMITS.conversationTaskContextBytesMax) {
      dropped++;
      continue;
    }
    if (!held) count++;
    bytes += growth;
    context[name] = { value, key };
  }
  return dropped;
}

function heldEventOf(event: RoutingEvent, contextDropped: number): HeldEvent {
  const { conversationId: _c, taskContext: _t, ...routing } = event;
  const held: HeldEvent = { ...routing };
  if (contextDropped > 0) held.contextDropped = contextDropped;
  return held;
}

function heldBytes(event: HeldEvent): number {
  return utf8Length(JSON.stringify(event));
}

function compactOne(ordering: OrderingState): void {
  const event = ordering.events.shift();
  if (!event) return;
  foldEvent(ordering.base, event);
  ordering.horizon = eventKey(event);
  ordering.compactedIds.push(event.eventId);
  ordering.eventBytes -= heldBytes(event);
}

/** Held and compacted ids together: the conversation's last HELD_EVENTS_MAX event ids, by occurrence. */
function trimCompactedIds(ordering: OrderingState): void {
  const keep = Math.max(0, HELD_EVENTS_MAX - ordering.events.length);
  if (ordering.compactedIds.length > keep) ordering.compactedIds.splice(0, ordering.compactedIds.length - keep);
}

function cloneRecord(record: RoutingRecord): RoutingRecord {
  return { ...record, transfers: [...record.transfers], recentEvents: [...record.recentEvents] };
}

/**
 * The ordered rule's state for a conversation that has none yet: a new one, or one that ran under
 * the arrival-order rule before this version (its record becomes the snapshot; its latest known
 * event is the horizon; its variables count as set at the horizon; the ids it remembers stay known).
 */
function orderingFrom(state: ConversationState): OrderingState {
  const base: RoutingRecord = {
    status: state.status,
    transfers: [...state.transfers],
    transferCount: state.transferCount,
    recentEvents: [...state.recentEvents],
  };
  if (state.channel !== undefined) base.channel = state.channel;
  if (state.taskId !== undefined) base.taskId = state.taskId;
  if (state.queue !== undefined) base.queue = state.queue;
  if (state.agentId !== undefined) base.agentId = state.agentId;
  if (state.estimatedWaitTime !== undefined) base.estimatedWaitTime = state.estimatedWaitTime;
  if (state.dispositionCode !== undefined) base.dispositionCode = state.dispositionCode;
  if (state.closeReason === 'closed-event') {
    base.closeReason = 'closed-event';
    if (state.closedAt !== undefined) base.closedAt = state.closedAt;
  } else if (state.closeReason && state.closedAt) {
    state.localClose ??= { reason: state.closeReason, at: state.closedAt };
  }
  let horizon: EventKey | undefined;
  for (const event of state.recentEvents) {
    const key = eventKey(event);
    if (!horizon || compareKeys(key, horizon) > 0) horizon = key;
  }
  const context: Record<string, ContextEntry> = Object.create(null);
  for (const [name, value] of Object.entries(state.taskContext)) context[name] = { value, key: horizon ?? [0, 0, ''] };
  const ordering: OrderingState = {
    base,
    events: [],
    eventBytes: 0,
    compactedIds: state.seenEventIds.slice(-HELD_EVENTS_MAX),
    context,
    outsideWindow: 0,
  };
  if (horizon) ordering.horizon = horizon;
  // The arrival-order rule's bookkeeping is replaced by the ordering state.
  state.seenEventIds = [];
  delete state.routedAtMs;
  delete state.transferredAtMs;
  return ordering;
}

/**
 * Queues an attribute write (last write wins) unless the same write id was already applied, in
 * this run or an earlier one: a retried write must not overwrite what was written after it.
 */
export function applyAttributeWrite(
  state: ConversationState,
  attributes: Record<string, string>,
  writeId: string | undefined,
  secured = false,
): 'applied' | 'duplicate' {
  if (writeId !== undefined) {
    if (state.appliedWriteIds.includes(writeId)) return 'duplicate';
    state.appliedWriteIds.push(writeId);
    if (state.appliedWriteIds.length > APPLIED_WRITE_WINDOW) state.appliedWriteIds.splice(0, state.appliedWriteIds.length - APPLIED_WRITE_WINDOW);
  }
  Object.assign(state.pending, attributes);
  // The last write decides whether a name holds secured data, as it decides the value.
  const securedNames = new Set(state.pendingSecured ?? []);
  for (const name of Object.keys(attributes)) {
    if (secured) securedNames.add(name);
    else securedNames.delete(name);
  }
  state.pendingSecured = [...securedNames];
  return 'applied';
}

/**
 * Remembers the names of a written batch: the most recent STORED_NAMES_KEPT distinct names, the
 * latest written last; `storedNamesTruncated` says older ones were left out (the store has them).
 */
export function rememberStored(state: ConversationState, names: string[]): void {
  const written = new Set(names);
  const kept = [...state.storedNames.filter((name) => !written.has(name)), ...written];
  if (kept.length > STORED_NAMES_KEPT) {
    kept.splice(0, kept.length - STORED_NAMES_KEPT);
    state.storedNamesTruncated = true;
  }
  state.storedNames = kept;
}

/** Removes names from the queue once their batch is written (their secured mark goes with them). */
export function dequeueWritten(state: ConversationState, written: Record<string, string>): void {
  for (const [name, value] of Object.entries(written)) {
    // A write that arrived while the batch was in flight stays queued for the next batch.
    if (state.pending[name] === value) delete state.pending[name];
  }
  state.pendingSecured = (state.pendingSecured ?? []).filter((name) => Object.hasOwn(state.pending, name));
}

/**
 * Merges an event's variables while the conversation's context stays within its bounds, so a
 * sender that invents new names, or grows values, on every event cannot push the state past what
 * continue-as-new can carry. Returns how many variables were left out.
 */
function mergeTaskContext(context: Record<string, string>, incoming: Record<string, string>): number {
  const sizeOf = (name: string, value: string): number => jsonBytes(name) + jsonBytes(value);
  let bytes = 0;
  for (const [name, value] of Object.entries(context)) bytes += sizeOf(name, value);
  let count = Object.keys(context).length;
  let dropped = 0;
  for (const [name, value] of Object.entries(incoming)) {
    const known = Object.hasOwn(context, name);
    const growth = sizeOf(name, value) - (known ? sizeOf(name, context[name]) : 0);
    if ((!known && count >= LIMITS.conversationTaskContextEntriesMax) || bytes + growth > LIMITS.conversationTaskContextBytesMax) {
      dropped++;
      continue;
    }
    if (!known) count++;
    bytes += growth;
    context[name] = value;
  }
  return dropped;
}

function remember(state: ConversationState, eventId: string): void {
  state.seenEventIds.push(eventId);
  if (state.seenEventIds.length > SEEN_EVENT_WINDOW) state.seenEventIds.splice(0, state.seenEventIds.length - SEEN_EVENT_WINDOW);
}

function recordTransfer(state: ConversationState, event: RoutingEvent, current: boolean): void {
  state.transferCount++;
  const record: TransferRecord = { eventId: event.eventId, occurredAt: event.occurredAt };
  // A stale transfer's origin is not today's agent and queue, so it is left unknown.
  if (current && state.agentId) record.fromAgentId = state.agentId;
  if (current && state.queue) record.fromQueue = state.queue;
  if (event.destination) record.destination = event.destination;
  state.transfers.push(record);
  if (state.transfers.length > TRANSFERS_KEPT) state.transfers.splice(0, state.transfers.length - TRANSFERS_KEPT);
}

export function viewOf(state: ConversationState): ConversationView {
  const {
    seenEventIds: _seen, appliedWriteIds: _w, pending, pendingSecured: _s, storedNames, storedNamesTruncated, routedAtMs: _r, transferredAtMs: _t,
    lastBatchSeq: _b, ordering, localClose: _l, crm, digital, ...rest
  } = state;
  const view: ConversationView = {
    ...rest,
    taskContext: { ...state.taskContext },
    transfers: [...state.transfers],
    recentEvents: [...state.recentEvents],
    attributeNames: { pending: Object.keys(pending).sort(), stored: [...storedNames].sort(), ...(storedNamesTruncated ? { storedTruncated: true } : {}) },
  };
  if (ordering && ordering.outsideWindow > 0) view.eventsOutsideWindow = ordering.outsideWindow;
  // Outcomes only: payloads and results may hold customer data.
  if (crm) view.crm = { executions: crm.executions.map((e) => ({ ...e })), cachedResults: crm.cache.length };
  if (digital) view.messages = { channel: digital.channel, destination: digital.destination, count: digital.messageCount, recent: [...digital.recent] };
  return view;
}

/**
 * The conversation's search attributes as a record gives them (routing facts only, never customer
 * data); null means unset.
 */
export function searchAttributesOf(state: Pick<ConversationState, 'status' | 'channel' | 'queue' | 'agentId'>): Array<{ key: (typeof searchAttributes)[keyof typeof searchAttributes]; value: string | null }> {
  return [
    { key: searchAttributes.status, value: state.status },
    { key: searchAttributes.channel, value: state.channel ?? null },
    { key: searchAttributes.queue, value: state.queue ?? null },
    { key: searchAttributes.agent, value: state.agentId ?? null },
  ];
}

/** What the export carries of the conversation itself: its routing record, no participant data (the export reads that from the store). */
export function exportRecordOf(state: ConversationState): ConversationRecord {
  const record: ConversationRecord = {
    status: state.status,
    taskContext: { ...state.taskContext },
    createdAt: state.createdAt,
    recentEvents: state.recentEvents.map((event) => ({ ...event })),
    transfers: state.transfers.map((transfer) => ({ ...transfer })),
    transferCount: state.transferCount,
    runCount: state.runCount,
  };
  // Absent fields stay absent rather than becoming explicit undefineds in the payload.
  if (state.channel !== undefined) record.channel = state.channel;
  if (state.taskId !== undefined) record.taskId = state.taskId;
  if (state.queue !== undefined) record.queue = state.queue;
  if (state.agentId !== undefined) record.agentId = state.agentId;
  if (state.closedAt !== undefined) record.closedAt = state.closedAt;
  if (state.closeReason !== undefined) record.closeReason = state.closeReason;
  if (state.dispositionCode !== undefined) record.dispositionCode = state.dispositionCode;
  return record;
}
