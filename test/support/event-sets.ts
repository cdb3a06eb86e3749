// Generated routing-event sets for the ordering property tests: any of the five types, equal
// timestamps, task context on any event, CLOSED anywhere; and deliveries of such a set in any
// order, each event up to twice.
import fc from 'fast-check';
import { CHANNELS, type ConversationView, ROUTING_EVENT_TYPES, type RoutingEvent } from '../../src/conversation/messages';
import { compareKeys, eventKey, occurredInstant } from '../../src/conversation/record';

const BASE_MS = Date.UTC(2026, 10, 22, 9, 0, 0);

/** Events of one conversation, without conversationId (each test gives its own). Distinct eventIds. */
export type GeneratedEvent = Omit<RoutingEvent, 'conversationId'>;

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

const generatedEvent = (eventId: string): fc.Arbitrary<GeneratedEvent> =>
  fc
    .record({
      eventType: fc.constantFrom(...ROUTING_EVENT_TYPES),
      // Few distinct instants, whole seconds: equal timestamps are common, as with second-precision senders.
      second: fc.integer({ min: 0, max: 8 }),
      taskId: fc.constantFrom('task-1', 'task-2'),
      channel: fc.constantFrom(...CHANNELS),
      queue: optional(fc.constantFrom('billing', 'sales', 'support')),
      agentId: optional(fc.constantFrom('agent-a', 'agent-b', 'agent-c')),
      destination: optional(fc.constantFrom('retention', 'support', 'agent-z')),
      estimatedWaitTime: optional(fc.integer({ min: -1, max: 300 })),
      dispositionCode: optional(fc.oneof(fc.constantFrom('RESOLVED', 'ABANDONED'), fc.integer({ min: 0, max: 9 }))),
      taskContext: optional(
        fc.dictionary(fc.constantFrom('cv_1', 'cv_2', 'user_lang', 'user_tier', 'ext.note', '__proto__'), fc.string({ maxLength: 6 }), {
          minKeys: 1,
          maxKeys: 4,
        }),
      ),
    })
    .map(({ second, ...rest }) => {
      const event: GeneratedEvent = { eventId, ...rest, occurredAt: new Date(BASE_MS + second * 1000).toISOString() } as GeneratedEvent;
      for (const key of Object.keys(event) as Array<keyof GeneratedEvent>) if (event[key] === undefined) delete event[key];
      return event;
    });

/** A set of distinct events; ids are short random text so the eventId tie-break is exercised too. */
export const eventSet = (maxEvents = 10): fc.Arbitrary<GeneratedEvent[]> =>
  fc
    .uniqueArray(fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom('a', 'b', 'c', 'Z', '1', '-') }), { minLength: 1, maxLength: maxEvents })
    .chain((ids) => fc.tuple(...ids.map((id) => generatedEvent(`evt-${id}`))));

/** A delivery of `events`: every event at least once, some twice, in any order. */
export const delivery = (events: GeneratedEvent[]): fc.Arbitrary<GeneratedEvent[]> =>
  fc
    .tuple(
      fc.array(fc.boolean(), { minLength: events.length, maxLength: events.length }),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: events.length * 2, maxLength: events.length * 2 }),
    )
    .map(([twice, weights]) => {
      const sent = events.flatMap((event, i) => (twice[i] ? [event, event] : [event]));
      return sent
        .map((event, i) => ({ event, weight: weights[i] }))
        .sort((a, b) => a.weight - b.weight)
        .map(({ event }) => event);
    });

export const eventSetAndDelivery = (maxEvents = 10) => eventSet(maxEvents).chain((events) => fc.tuple(fc.constant(events), delivery(events)));

/** In-order delivery: each event once, in the documented order. */
export function inOrder<T extends Pick<RoutingEvent, 'occurredAt' | 'eventType' | 'eventId'>>(events: T[]): T[] {
  const keyOf = (e: T) => eventKey({ at: occurredInstant(e.occurredAt), eventType: e.eventType, eventId: e.eventId });
  return [...events].sort((a, b) => compareKeys(keyOf(a), keyOf(b)));
}

/** The parts of a view that depend on the events: not the workflow's start time or the conversation's id. */
export function recordOf(view: ConversationView): Omit<ConversationView, 'createdAt' | 'conversationId'> {
  const { createdAt: _c, conversationId: _id, ...record } = view;
  // Through a JSON round trip, as a query answer travels: undefined fields disappear.
  return JSON.parse(JSON.stringify(record));
}
