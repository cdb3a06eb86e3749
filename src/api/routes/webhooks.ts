// The signed webhooks: routing events from the routing platform, inbound SMS, chat and email from
// the channel platforms. Each reaches the conversation through the gateway; an inbound message is
// masked here before anything reaches Temporal, a log line or the store.
import type { FastifyInstance } from 'fastify';
import { routingEventSchema, ROUTING_EVENT_FIELDS, type RoutingEventBody } from '../../conversation';
import type { RoutingEvent } from '../../conversation';
import { instantOf, routingTextProblem, taskContextProblem } from '../../conversation';
import type { WebhookVerifier } from '../../security/webhook-signature';
import { ALL_DESTINATIONS, type DestinationDirectory } from '../../channels/config';
import { prepareInbound } from '../inbound-message';
import type { ConversationGateway } from '../gateway';
import type { SchemaTypes } from '../schema-types';
import { inboundMessageBody } from '../schemas';
import { HttpError } from '../temporal-errors';
import { verifySignedBodies } from '../webhook-body';

export interface WebhookRouteOptions {
  gateway: ConversationGateway;
  verifier: WebhookVerifier;
  /** What each digital-channel destination gets; absent: every destination, everything. */
  destinations?: DestinationDirectory;
}

export async function webhookRoutes(app: FastifyInstance, opts: WebhookRouteOptions): Promise<void> {
  const { gateway } = opts;
  verifySignedBodies(app, opts.verifier);
  const routes = app.withTypeProvider<SchemaTypes>();

  routes.post('/webhooks/routing-events', { schema: { body: routingEventSchema } }, async (request, reply) => {
    const event = routingEventOf(request.body);
    const sent = await gateway.sendRoutingEvent(event);
    // 2xx so the sender stops redelivering: the event is deliberately not applied.
    if (!sent.accepted) return reply.status(200).send({ accepted: false, conversationId: event.conversationId, reason: sent.reason });
    return reply.status(202).send({ accepted: true, conversationId: event.conversationId, workflowId: sent.workflowId });
  });

  routes.post('/webhooks/inbound-messages', { schema: { body: inboundMessageBody } }, async (request, reply) => {
    const body = request.body;
    const message = prepareInbound(body, opts.destinations ?? ALL_DESTINATIONS);
    const answer = await gateway.deliverInbound(body.conversationId, message);
    return reply.status(answer.outcome === 'duplicate' ? 200 : 202).send({ accepted: answer.outcome !== 'duplicate', ...answer });
  });
}

/** The event the conversation receives: the known fields only, each in the one form the conversation keeps. */
export function routingEventOf(body: RoutingEventBody): RoutingEvent {
  const { estimatedWaitTime, taskContext, ...fields } = knownFields(body);
  const event: RoutingEvent = fields;
  // The schema let these arrive as text or numbers; the conversation keeps one form.
  if (estimatedWaitTime !== undefined) event.estimatedWaitTime = Number(estimatedWaitTime);
  if (taskContext) event.taskContext = Object.fromEntries(Object.entries(taskContext).map(([name, value]) => [name, String(value)]));
  const instant = instantOf(event.occurredAt);
  if (!Number.isFinite(instant)) throw new HttpError(400, `occurredAt "${event.occurredAt}" is not a date that exists`);
  // The workflow orders events with Date.parse; a form it cannot read travels as the same instant in UTC.
  if (Date.parse(event.occurredAt) !== instant) event.occurredAt = new Date(instant).toISOString();
  const textProblem = routingTextProblem({
    eventId: event.eventId, taskId: event.taskId, queue: event.queue, agentId: event.agentId,
    destination: event.destination, dispositionCode: event.dispositionCode,
  });
  if (textProblem) throw new HttpError(400, textProblem);
  if (event.taskContext) {
    const problem = taskContextProblem(event.taskContext);
    if (problem) throw new HttpError(400, problem);
  }
  return event;
}

/** The schema's fields, without whatever else the platform sent (it may add fields over time). */
function knownFields(body: RoutingEventBody): RoutingEventBody {
  const known: Partial<Record<(typeof ROUTING_EVENT_FIELDS)[number], unknown>> = {};
  for (const field of ROUTING_EVENT_FIELDS) if (body[field] !== undefined) known[field] = body[field];
  // Every required field is present: the schema checked the body they were copied from.
  return known as RoutingEventBody;
}
