// A webhook from the routing platform (Webex Connect / Cisco CCE Digital Routing notifications),
// written once: the JSON schema the API validates every delivery with, from which the event's
// TypeScript type is derived.
import type { FromSchema, Simplify } from './json-schema';
import { LIMITS } from './validation';

const identifier = { type: 'string', minLength: 1, maxLength: 200 } as const;
const shortText = { type: 'string', minLength: 1, maxLength: 200 } as const;

export const CHANNELS = ['voice', 'sms', 'chat', 'email'] as const;
export type Channel = (typeof CHANNELS)[number];

export const ROUTING_EVENT_TYPES = ['CREATED', 'QUEUED', 'ROUTED', 'TRANSFERRED', 'CLOSED'] as const;
export type RoutingEventType = (typeof ROUTING_EVENT_TYPES)[number];

export const routingEventSchema = {
  type: 'object',
  required: ['eventId', 'eventType', 'conversationId', 'taskId', 'channel', 'occurredAt'],
  // Routing platforms add fields over time; unknown ones are ignored rather than refused.
  additionalProperties: true,
  properties: {
    eventId: identifier,
    eventType: { type: 'string', enum: ROUTING_EVENT_TYPES },
    conversationId: { type: 'string', pattern: LIMITS.conversationIdPattern.source },
    taskId: identifier,
    channel: { type: 'string', enum: CHANNELS },
    occurredAt: { type: 'string', format: 'date-time', description: 'When the routing platform produced the event; orders late deliveries' },
    queue: shortText,
    agentId: shortText,
    destination: { ...shortText, description: 'TRANSFERRED: the queue or agent the task goes to' },
    // Platforms send numbers as numbers or as text (Cisco CCE's DispositionCode is an integer):
    // both are accepted. A numeric text wait time is read as its number; a disposition code is kept as sent.
    estimatedWaitTime: {
      anyOf: [{ type: 'integer', minimum: -1 }, { type: 'string', pattern: '^\\s*(-1|\\d{1,9})\\s*$' }],
      description: 'Seconds; -1 or absent means no estimate (Cisco CCE EstimatedWaitTime)',
    },
    dispositionCode: { anyOf: [{ type: 'string', maxLength: 200 }, { type: 'integer' }] },
    // Variables are text; a number or true/false travels as its text, so its size limit counts that text.
    taskContext: { type: 'object', additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] } },
  },
} as const;

/** The fields of a routing event: what the API keeps of a delivery (anything else the platform sent is dropped). */
export const ROUTING_EVENT_FIELDS = Object.keys(routingEventSchema.properties) as ReadonlyArray<keyof typeof routingEventSchema.properties>;

/** A routing event as the platform sends it. */
export type RoutingEventBody = FromSchema<typeof routingEventSchema>;

/** A routing event as the conversation receives it: a wait time as its number, every variable as text. */
export type RoutingEvent = Simplify<
  Omit<RoutingEventBody, 'estimatedWaitTime' | 'taskContext'> & { estimatedWaitTime?: number; taskContext?: Record<string, string> }
>;
