// What one run of a conversation hands to the next at continue-as-new, and how the next run takes
// it up: the events and the snapshot travel, the record computed from them does not.
import type { ContextEntry, ConversationState } from './messages';
import { HAND_OVER_STATE_BYTES_MAX, dict, sortedByName } from './state';
import { compactOne, recompute, trimCompactedIds } from './record';
import { utf8Length } from './validation';

/**
 * What the next run gets: the record's derived fields are left out (the next run recomputes them),
 * and held events are compacted while the state would not fit one payload.
 */
export function handOverState(state: ConversationState): ConversationState {
  const { ordering } = state;
  const strip = (): ConversationState => ({
    ...state,
    taskContext: dict(),
    transfers: [],
    recentEvents: [],
    // In name order, so the same events hand over the same bytes whatever order they arrived in.
    ordering: { ...ordering, context: sortedByName(ordering.context) },
  });
  let handed = strip();
  while (ordering.events.length > 0 && utf8Length(JSON.stringify(handed)) > HAND_OVER_STATE_BYTES_MAX) {
    const count = Math.max(1, Math.ceil(ordering.events.length / 10));
    for (let i = 0; i < count; i++) compactOne(ordering);
    trimCompactedIds(ordering);
    handed = strip();
  }
  return handed;
}

/** The state a run continues with, from what the previous run handed over (a JSON payload). */
export function resumedState(handed: ConversationState): ConversationState {
  const state: ConversationState = {
    ...handed,
    pending: dict(handed.pending),
    taskContext: dict(),
    ordering: { ...handed.ordering, context: Object.assign(Object.create(null) as Record<string, ContextEntry>, handed.ordering.context) },
    runCount: handed.runCount + 1,
  };
  recompute(state);
  return state;
}
