// Liveness (the process answers) kept apart from readiness (Temporal reachable), so an orchestrator
// stops routing to a replica during a Temporal outage instead of restarting it.
import type { FastifyInstance } from 'fastify';
import type { ConversationGateway } from '../gateway';

export async function healthRoutes(app: FastifyInstance, opts: { gateway: ConversationGateway }): Promise<void> {
  app.get('/livez', async () => ({ status: 'ok' }));

  app.get('/healthz', async (_request, reply) => {
    if (await opts.gateway.temporalReachable()) return { status: 'ok', temporal: 'reachable' };
    return reply.status(503).send({ status: 'degraded', temporal: 'unreachable' });
  });
}
