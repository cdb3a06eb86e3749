// Participant data of a conversation, for flows and agent scripts: the Genesys Architect Set/Get
// Participant Data and Set/Get Secured Data actions, over plain HTTP.
import type { FastifyInstance } from 'fastify';
import { APPLIED_WRITE_WINDOW, REFUSED_WRITES_KEPT, attributeNameProblem, attributeProblem } from '../../conversation';
import type { AuthHook } from '../../security/auth';
import { readAttribute, type AttributeReader } from '../attribute-read';
import type { SchemaTypes } from '../schema-types';
import { attributeParams, attributeQuery, attributeWriteParams, conversationParams, setAttributesBody, setAttributesHeaders } from '../schemas';
import { HttpError } from '../temporal-errors';

export interface AttributeRouteOptions {
  reader: AttributeReader;
  /** Flows and agent scripts. */
  allow: AuthHook;
}

export async function attributeRoutes(app: FastifyInstance, opts: AttributeRouteOptions): Promise<void> {
  const { gateway } = opts.reader;
  const routes = app.withTypeProvider<SchemaTypes>();

  routes.post(
    '/conversations/:conversationId/attributes',
    { schema: { params: conversationParams, body: setAttributesBody, headers: setAttributesHeaders }, onRequest: opts.allow },
    async (request, reply) => {
      const { conversationId } = request.params;
      const { attributes, secured } = request.body;
      // The plaintext is held to the value rules before it is encrypted; the workflow then sees only ciphertext.
      const problem = attributeProblem(attributes);
      if (problem) throw new HttpError(400, problem);
      // A write kept at the edge is answered 202: recorded by Temporal, applied (or refused by the same
      // rules) by the conversation after this answer; the Location names where the outcome is read.
      const kept = (writeId: string, headers: Record<string, string>) => {
        const outcome = `/conversations/${encodeURIComponent(conversationId)}/attribute-writes/${encodeURIComponent(writeId)}`;
        void reply.status(202).headers({ ...headers, location: outcome });
        return { conversationId, writeId, accepted: Object.keys(attributes), outcome, ...(secured ? { secured: true } : {}) };
      };
      if (prefersAsync(request.headers.prefer)) {
        const writeId = await gateway.setAttributesAccepted(conversationId, attributes, { secured, idempotencyKey: request.headers['idempotency-key'] });
        return kept(writeId, { 'preference-applied': 'respond-async' });
      }
      const answer = await gateway.setAttributes(conversationId, attributes, { secured, idempotencyKey: request.headers['idempotency-key'] });
      if (answer.confirmed) return secured ? { conversationId, queued: answer.queued, secured: true } : { conversationId, queued: answer.queued };
      // No worker confirmed it in time, and it was kept at the edge instead. Not a preference applied:
      // the caller did not ask for it, so no Preference-Applied.
      return kept(answer.writeId, {});
    },
  );

  // The outcome of a write answered 202: applied, or refused with the reason (the conversation closed
  // meanwhile, its queue was full, the store was behind). 404 when the conversation has no record of it.
  routes.get('/conversations/:conversationId/attribute-writes/:writeId', { schema: { params: attributeWriteParams }, onRequest: opts.allow }, async (request) => {
    const { conversationId, writeId } = request.params;
    const outcome = await gateway.attributeWrite(conversationId, writeId);
    if (outcome.status === 'unknown') {
      throw new HttpError(404, `conversation ${conversationId} has no record of write ${writeId} (it keeps the last ${APPLIED_WRITE_WINDOW} applied and ${REFUSED_WRITES_KEPT} refused)`);
    }
    return { conversationId, ...outcome };
  });

  routes.get('/conversations/:conversationId/attributes/:name', { schema: { params: attributeParams, querystring: attributeQuery }, onRequest: opts.allow }, async (request) => {
    const { conversationId, name } = request.params;
    const nameProblem = attributeNameProblem(name);
    if (nameProblem) throw new HttpError(400, nameProblem);
    const secured = request.query.secured === 'true';
    const read = await readAttribute(opts.reader, conversationId, name, { scopes: request.parleyScopes, caller: request.parleyCaller?.name, secured });
    if (!read) throw new HttpError(404, `conversation ${conversationId} has no attribute named "${name}"`);
    return read;
  });
}

/** Whether an RFC 7240 `Prefer` header asks for `respond-async` (preferences are comma-separated, may carry parameters). */
function prefersAsync(prefer: string | undefined): boolean {
  if (!prefer) return false;
  return prefer.split(',').some((preference) => preference.split(';')[0].trim().toLowerCase() === 'respond-async');
}
