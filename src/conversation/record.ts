// The conversation's routing record as a function of the set of events it received, not of their
// arrival order.
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
import type {
  CloseReason,
  ContextEntry,
  ConversationState,
  EventKey,
  EventRecord,
  HeldEvent,
  OrderingState,
  RoutingEvent,
  RoutingEventType,
  RoutingRecord,
  TransferRecord,
} from './messages';
import { LIMITS, jsonBytes, utf8Length } from './validation';
import { HELD_EVENTS_MAX, HELD_EVENT_BYTES_MAX, RECENT_EVENTS_KEPT, TRANSFERS_KEPT, dict } from './state';

/**
 * Tie-break for events that occurred at the same instant (second-precision senders): the order in
 * which a platform emits them when they really share an instant. A conversation is created first
 * and closed last; a transfer comes before the QUEUED and ROUTED it leads to (a transfer to a queue
 * with an idle agent is queued and routed within the same second); a task is queued before it is
 * routed. The other reading — routed, then transferred within the same second — needs an agent who
 * transfers within a second of being assigned, far rarer. Then eventId, so the order is total.
 */
const TYPE_RANK: Record<RoutingEventType, number> = { CREATED: 0, TRANSFERRED: 1, QUEUED: 2, ROUTED: 3, CLOSED: 4 };

/** The instant an event occurred (ms), read once when the event is received and kept with it. */
export function occurredInstant(occurredAt: string): number {
  const at = Date.parse(occurredAt);
  // The API only sends instants Date.parse reads; anything else sorts first rather than breaking the order.
  return Number.isFinite(at) ? at : 0;
}

export function eventKey(event: Pick<HeldEvent, 'at' | 'eventType' | 'eventId'>): EventKey {
  return [event.at, TYPE_RANK[event.eventType], event.eventId];
}

/** Total order: instant, then type rank, then eventId by UTF-16 code units (no locale). */
export function compareKeys(a: EventKey, b: EventKey): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] - b[1];
  return a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;
}

export type ReceiveOutcome = 'duplicate' | 'folded' | 'outside-window';

/**
 * Takes one routing event: de-duplicates it by eventId, merges its task context by occurrence, puts
 * it in its place among the held events and recomputes the record.
 */
export function receiveRoutingEvent(state: ConversationState, event: RoutingEvent): ReceiveOutcome {
  const { ordering } = state;
  if (ordering.compactedIds.includes(event.eventId) || ordering.events.some((e) => e.eventId === event.eventId)) return 'duplicate';
  const at = occurredInstant(event.occurredAt);
  const key = eventKey({ at, eventType: event.eventType, eventId: event.eventId });
  const contextDropped = event.taskContext ? mergeContextByKey(ordering.context, event.taskContext, key) : 0;
  if (ordering.horizon && compareKeys(key, ordering.horizon) <= 0) {
    ordering.outsideWindow++;
    recompute(state);
    return 'outside-window';
  }
  const held = heldEventOf(event, at, contextDropped);
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
  const { ordering } = state;
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
  // In name order, not in the order the variables first arrived: the same events give the same bytes.
  const taskContext = dict();
  for (const name of Object.keys(ordering.context).sort()) taskContext[name] = ordering.context[name].value;
  state.taskContext = taskContext;
}

/**
 * A close that is no event (inactivity, cancellation, the customer's end of a digital
 * conversation). A conversation already closed by its CLOSED event keeps that close (a cancel
 * during its grace window ends the window, not the record).
 */
export function closeLocally(state: ConversationState, reason: Exclude<CloseReason, 'closed-event'>, at: string): void {
  if (state.status === 'closed' && (state.closeReason ?? 'closed-event') === 'closed-event') return;
  state.localClose = { reason, at };
  state.status = 'closed';
  state.closeReason = reason;
  state.closedAt = at;
}

/** Folds the earliest held event into the snapshot; its key becomes the horizon. */
export function compactOne(ordering: OrderingState): void {
  const event = ordering.events.shift();
  if (!event) return;
  foldEvent(ordering.base, event);
  ordering.horizon = eventKey(event);
  ordering.compactedIds.push(event.eventId);
  ordering.eventBytes -= heldBytes(event);
}

/** Held and compacted ids together: the conversation's last HELD_EVENTS_MAX event ids, by occurrence. */
export function trimCompactedIds(ordering: OrderingState): void {
  const keep = Math.max(0, HELD_EVENTS_MAX - ordering.events.length);
  if (ordering.compactedIds.length > keep) ordering.compactedIds.splice(0, ordering.compactedIds.length - keep);
}

/**
 * One event folded into the record in its place. Status moves queued → active on ROUTED, active →
 * queued only on TRANSFERRED, and to closed on CLOSED; what occurred after the close changes nothing
 * but the task context.
 */
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

function heldEventOf(event: RoutingEvent, at: number, contextDropped: number): HeldEvent {
  const { conversationId: _c, taskContext: _t, ...routing } = event;
  const held: HeldEvent = { ...routing, at };
  if (contextDropped > 0) held.contextDropped = contextDropped;
  return held;
}

function heldBytes(event: HeldEvent): number {
  return utf8Length(JSON.stringify(event));
}

function cloneRecord(record: RoutingRecord): RoutingRecord {
  return { ...record, transfers: [...record.transfers], recentEvents: [...record.recentEvents] };
}
