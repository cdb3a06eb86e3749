// The search attributes a conversation gets from the routing event that starts it, given at the
// signal-with-start so its first workflow task upserts nothing. Read from the event alone: a first
// event meets a new conversation (queued, nothing routed yet), so what it sets is what it carries.
import type { SearchAttributePair } from '@temporalio/common';
import { searchAttributes, type ConversationStatus, type RoutingEvent, type RoutingEventType } from './messages';

const STATUS_AFTER: Record<RoutingEventType, ConversationStatus> = {
  CREATED: 'queued',
  QUEUED: 'queued',
  ROUTED: 'active',
  // A transfer sends the task back to a queue (its destination's, when it names one).
  TRANSFERRED: 'queued',
  CLOSED: 'closed',
};

/** Only routing facts, never customer data: search attributes are plaintext on the server. */
export function startSearchAttributes(event: RoutingEvent): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [
    { key: searchAttributes.status, value: STATUS_AFTER[event.eventType] },
    { key: searchAttributes.channel, value: event.channel },
  ];
  const queue = queueAfter(event);
  if (queue) pairs.push({ key: searchAttributes.queue, value: queue });
  if (event.eventType === 'ROUTED' && event.agentId !== undefined) pairs.push({ key: searchAttributes.agent, value: event.agentId });
  return pairs;
}

function queueAfter(event: RoutingEvent): string | undefined {
  switch (event.eventType) {
    case 'CREATED':
    case 'QUEUED':
    case 'ROUTED':
      return event.queue;
    case 'TRANSFERRED':
      return event.destination;
    case 'CLOSED':
      // A conversation that starts closed was never queued anywhere.
      return undefined;
  }
}
