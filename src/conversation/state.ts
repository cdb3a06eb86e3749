// A conversation's state at its start, and the bounds that keep it small enough for every
// continue-as-new input, workflow result and state query to carry.
import type { ConversationState, ContextEntry, OrderingState } from './messages';

/** Event ids remembered for de-duplication; a redelivery older than this window is unlikely. */
export const SEEN_EVENT_WINDOW = 1000;
export const RECENT_EVENTS_KEPT = 20;
export const TRANSFERS_KEPT = 50;
/** Attribute-write ids remembered across runs; a client retries within seconds, not hundreds of writes later. */
export const APPLIED_WRITE_WINDOW = 200;
/**
 * Refused accepted writes (`Prefer: respond-async`) whose outcome the conversation keeps for their
 * callers to read, and the names kept of each: at most 20 × 20 names of 255 characters (about
 * 100 KB) in every continue-as-new input and state query, whatever a flow sends.
 */
export const REFUSED_WRITES_KEPT = 20;
export const REFUSED_WRITE_NAMES_KEPT = 20;
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
 * Records keyed by user-chosen names (attributes, task context) have no prototype, so a name like
 * "__proto__" or "constructor" is just a name.
 */
export function dict(from?: Record<string, string>): Record<string, string> {
  return Object.assign(Object.create(null) as Record<string, string>, from);
}

/**
 * A copy of `from` with its names inserted in sorted order (UTF-16 code units, no locale), so two
 * records holding the same names serialize to the same bytes whatever order the names arrived in.
 */
export function sortedByName<T>(from: Record<string, T>): Record<string, T> {
  const sorted = Object.create(null) as Record<string, T>;
  for (const name of Object.keys(from).sort()) sorted[name] = from[name];
  return sorted;
}

export function emptyOrdering(): OrderingState {
  return {
    base: { status: 'queued', transfers: [], transferCount: 0, recentEvents: [] },
    events: [],
    eventBytes: 0,
    compactedIds: [],
    context: Object.create(null) as Record<string, ContextEntry>,
    outsideWindow: 0,
  };
}

export function initialState(conversationId: string, nowIso: string): ConversationState {
  return {
    conversationId,
    status: 'queued',
    taskContext: dict(),
    transfers: [],
    transferCount: 0,
    recentEvents: [],
    pending: dict(),
    pendingSecured: [],
    storedNames: [],
    lastBatchSeq: 0,
    appliedWriteIds: [],
    createdAt: nowIso,
    runCount: 1,
    ordering: emptyOrdering(),
  };
}
