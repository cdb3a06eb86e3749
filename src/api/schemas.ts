// JSON schemas for the routes. Fastify validates before a handler runs, so a bad body is answered
// 400 with a message naming the field, and Temporal is never touched. The routing event's schema is
// its one definition, in src/conversation/routing-event.ts.
import { LIMITS } from '../conversation';

const conversationId = { type: 'string', pattern: LIMITS.conversationIdPattern.source } as const;
const identifier = { type: 'string', minLength: 1, maxLength: 200 } as const;
const shortText = { type: 'string', minLength: 1, maxLength: 200 } as const;

export const conversationParams = {
  type: 'object',
  required: ['conversationId'],
  properties: { conversationId },
} as const;

export const attributeParams = {
  type: 'object',
  required: ['conversationId', 'name'],
  properties: { conversationId, name: { type: 'string', minLength: 1 } },
} as const;

/**
 * `?secured=true` is the explicit secured read (Genesys Architect's Get Secured Data): it gives a
 * flow a secured value's plaintext. Query values are text, hence the two spellings and no others.
 */
export const attributeQuery = {
  type: 'object',
  properties: { secured: { type: 'string', enum: ['true', 'false'] } },
} as const;

export const setAttributesBody = {
  type: 'object',
  required: ['attributes'],
  additionalProperties: false,
  properties: {
    attributes: {
      type: 'object',
      minProperties: 1,
      maxProperties: LIMITS.attributesPerCall,
      additionalProperties: { type: 'string' },
    },
    /** Set Secured Data: the values are encrypted with the customer's key before they enter Temporal. */
    secured: { type: 'boolean' },
  },
} as const;

/** An optional `Idempotency-Key` names a write, so a retry after an unconfirmed answer (503) is applied at most once. */
export const IDEMPOTENCY_KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export const setAttributesHeaders = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
    /** RFC 7240; `respond-async` asks for the write confirmed at the edge (202). Other preferences are ignored, as the RFC says. */
    prefer: { type: 'string', maxLength: 1000 },
  },
} as const;

/** A write's outcome is read under the id its 202 gave: the caller's Idempotency-Key, or one the API chose. */
export const attributeWriteParams = {
  type: 'object',
  required: ['conversationId', 'writeId'],
  properties: { conversationId, writeId: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source } },
} as const;

/**
 * An inbound SMS, chat message or email. A conversation's successors take `<id>:2`, `<id>:3`…, so
 * the id leaves room for that suffix within the conversation-id limit.
 */
export const inboundMessageBody = {
  type: 'object',
  required: ['eventId', 'conversationId', 'channel', 'from', 'destination', 'occurredAt'],
  // Channel platforms add fields over time; unknown ones are ignored rather than refused.
  additionalProperties: true,
  properties: {
    eventId: identifier,
    conversationId: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,119}$' },
    channel: { type: 'string', enum: ['sms', 'chat', 'email'] },
    from: { type: 'string', minLength: 1, maxLength: 320 },
    text: { type: 'string', maxLength: 65_536 },
    subject: { type: 'string', maxLength: 998 },
    attachments: {
      type: 'array',
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: true,
        properties: { filename: { type: 'string', maxLength: 255 }, contentType: { type: 'string', maxLength: 255 }, sensitive: { type: 'boolean' } },
      },
    },
    destination: shortText,
    occurredAt: { type: 'string', format: 'date-time' },
    closedByCustomer: { type: 'boolean' },
  },
} as const;
