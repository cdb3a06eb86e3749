// Participant data of a conversation, for flows and agent scripts: the Genesys Architect Set/Get
// Participant Data and Set/Get Secured Data actions, over plain HTTP.
import type { FastifyInstance } from 'fastify';
import { attributeNameProblem, attributeProblem } from '../../conversation';
import type { AuthHook } from '../../security/auth';
import { readAttribute, type AttributeReader } from '../attribute-read';
import type { SchemaTypes } from '../schema-types';
import { attributeParams, attributeQuery, conversationParams, setAttributesBody, setAttributesHeaders } from '../schemas';
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
    async (request) => {
      const { conversationId } = request.params;
      const { attributes, secured } = request.body;
      // The plaintext is held to the value rules before it is encrypted; the workflow then sees only ciphertext.
      const problem = attributeProblem(attributes);
      if (problem) throw new HttpError(400, problem);
      const queued = await gateway.setAttributes(conversationId, attributes, { secured, idempotencyKey: request.headers['idempotency-key'] });
      return secured ? { conversationId, queued, secured: true } : { conversationId, queued };
    },
  );

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
