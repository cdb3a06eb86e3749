// Only the API's signal-with-start imports this module: the search attributes a conversation's
// first event gives it. It goes once the API takes them from start-search-attributes.ts.
import type { SearchAttributePair } from '@temporalio/common';
import type { RoutingEvent } from './messages';
import { initialState } from './state';
import { receiveRoutingEvent } from './record';
import { searchAttributesOf } from './projections';

/**
 * The search attributes the conversation's first event gives it, for the signal-with-start that may
 * create it: set at start, they need no upsert in the first workflow task.
 */
export function startSearchAttributes(event: RoutingEvent): SearchAttributePair[] {
  const state = initialState(event.conversationId, event.occurredAt);
  receiveRoutingEvent(state, event);
  return searchAttributesOf(state).flatMap(({ key, value }) => (value === null ? [] : [{ key, value } as SearchAttributePair]));
}
