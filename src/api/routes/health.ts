// Liveness (the process answers) kept apart from readiness (Temporal reachable, not stopping), so an
// orchestrator stops routing to a replica during a Temporal outage instead of restarting it, and
// stops routing to one that is draining before it closes.
import type { FastifyInstance } from 'fastify';
import type { ConversationGateway } from '../gateway';
import type { ServingState } from '../serving-state';

export async function healthRoutes(app: FastifyInstance, opts: { gateway: ConversationGateway; serving: ServingState }): Promise<void> {
  app.get('/livez', async () => ({ status: 'ok' }));

  app.get('/healthz', async (_request, reply) => {
    if (opts.serving.draining) return reply.status(503).send({ status: 'draining' });
    if (await opts.gateway.temporalReachable()) return { status: 'ok', temporal: 'reachable' };
    return reply.status(503).send({ status: 'degraded', temporal: 'unreachable' });
  });
}
