// The conversation's state machine as pure functions, so the rules of PRODUCT.md (de-duplication,
// late events, transfers) read in one place and the workflow only wires them to messages.
import type {
  ConversationState,
  ConversationView,
  EventRecord,
  RoutingEvent,
  TransferRecord,
} from '../src/shared';
import { LIMITS, jsonBytes } from '../src/validation';

/** Event ids remembered for de-duplication; a redelivery older than this window is unlikely. */
export const SEEN_EVENT_WINDOW = 1000;
export const RECENT_EVENTS_KEPT = 20;
export const TRANSFERS_KEPT = 50;
/** Attribute-write ids remembered across runs; a client retries within seconds, not hundreds of writes later. */
export const APPLIED_WRITE_WINDOW = 200;

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

export type EventOutcome = 'duplicate' | 'applied' | 'ignored';

/**
 * Rule changes made after conversations were already running. The workflow answers through
 * Temporal's patched(), so a run recorded under the old rule replays under it.
 */
export const PATCHES = {
  transferBeforeRouting: 'transfer-before-routing',
  flushNonCancellable: 'flush-non-cancellable',
} as const;
export type IsPatched = (patchId: string) => boolean;

/**
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
  const { seenEventIds: _seen, appliedWriteIds: _w, pending, pendingSecured: _s, storedNames, routedAtMs: _r, transferredAtMs: _t, lastBatchSeq: _b, ...rest } = state;
  return {
    ...rest,
    taskContext: { ...state.taskContext },
    transfers: [...state.transfers],
    recentEvents: [...state.recentEvents],
    attributeNames: { pending: Object.keys(pending).sort(), stored: [...storedNames].sort() },
  };
}
