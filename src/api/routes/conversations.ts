// A conversation's record as operators read it (routing facts and attribute names, never values).
import type { FastifyInstance } from 'fastify';
import type { AuthHook } from '../../security/auth';
import type { ConversationGateway } from '../gateway';
import type { SchemaTypes } from '../schema-types';
import { conversationParams } from '../schemas';

export interface ConversationRouteOptions {
  gateway: ConversationGateway;
  /** Operators. */
  allow: AuthHook;
}

export async function conversationRoutes(app: FastifyInstance, opts: ConversationRouteOptions): Promise<void> {
  app.withTypeProvider<SchemaTypes>().get('/conversations/:conversationId', { schema: { params: conversationParams }, onRequest: opts.allow }, async (request) =>
    opts.gateway.conversationState(request.params.conversationId),
  );
}
