// The search attributes a starting webhook sets are read from its event alone; they must be what
// the record rules give a conversation whose first event it is, for every event type and field.
import fc from 'fast-check';
import { CHANNELS, ROUTING_EVENT_TYPES, type RoutingEvent } from '../../src/conversation/messages';
import { startSearchAttributes } from '../../src/conversation/start-search-attributes';
import { initialState } from '../../src/conversation/state';
import { receiveRoutingEvent } from '../../src/conversation/record';
import { searchAttributesOf } from '../../src/conversation/projections';

const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });

const firstEvent = (eventType: RoutingEvent['eventType']): fc.Arbitrary<RoutingEvent> =>
  fc
    .record({
      eventId: fc.constantFrom('e-1', 'e-2'),
      taskId: fc.constantFrom('task-1', 'task-2'),
      channel: fc.constantFrom(...CHANNELS),
      occurredAt: fc.integer({ min: 0, max: 86_400 }).map((s) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString()),
      queue: optional(fc.constantFrom('billing', 'sales')),
      agentId: optional(fc.constantFrom('agent-a', 'agent-b')),
      destination: optional(fc.constantFrom('retention', 'agent-z')),
      estimatedWaitTime: optional(fc.integer({ min: -1, max: 300 })),
      dispositionCode: optional(fc.oneof(fc.constant('RESOLVED'), fc.integer({ min: 0, max: 9 }))),
      taskContext: optional(fc.dictionary(fc.constantFrom('cv_1', 'user_lang'), fc.string({ maxLength: 4 }), { minKeys: 1, maxKeys: 2 })),
    })
    .map((fields) => {
      const event: RoutingEvent = { ...fields, eventType, conversationId: 'c-1' };
      for (const key of Object.keys(event) as Array<keyof RoutingEvent>) if (event[key] === undefined) delete event[key];
      return event;
    });

/** What the record rules give after this one event, as the pairs signal-with-start takes. */
function fromRecord(event: RoutingEvent) {
  const state = initialState(event.conversationId, event.occurredAt);
  receiveRoutingEvent(state, event);
  return searchAttributesOf(state).flatMap(({ key, value }) => (value === null ? [] : [{ key, value }]));
}

const byName = (pairs: Array<{ key: { name: string }; value: unknown }>) => Object.fromEntries(pairs.map(({ key, value }) => [key.name, value]));

test.each(ROUTING_EVENT_TYPES)('a first %s event: the same search attributes as the record rules give', (eventType) => {
  fc.assert(
    fc.property(firstEvent(eventType), (event) => {
      const pairs = startSearchAttributes(event);
      expect(byName(pairs)).toEqual(byName(fromRecord(event)));
      // One pair per key, so signal-with-start gets no duplicate.
      expect(new Set(pairs.map((p) => p.key.name)).size).toBe(pairs.length);
    }),
    { numRuns: 300 },
  );
});

test('examples: the queue of a transfer is its destination, the agent only of a ROUTED event', () => {
  const base = { eventId: 'e', conversationId: 'c', taskId: 't', channel: 'voice', occurredAt: '2026-01-01T00:00:00.000Z' } as const;
  expect(byName(startSearchAttributes({ ...base, eventType: 'TRANSFERRED', queue: 'billing', destination: 'retention', agentId: 'a' }))).toEqual({
    ParleyStatus: 'queued',
    ParleyChannel: 'voice',
    ParleyQueue: 'retention',
  });
  expect(byName(startSearchAttributes({ ...base, eventType: 'ROUTED', queue: 'billing', agentId: 'a' }))).toEqual({
    ParleyStatus: 'active',
    ParleyChannel: 'voice',
    ParleyQueue: 'billing',
    ParleyAgent: 'a',
  });
  expect(byName(startSearchAttributes({ ...base, eventType: 'CLOSED', queue: 'billing', agentId: 'a' }))).toEqual({ ParleyStatus: 'closed', ParleyChannel: 'voice' });
});
