// Prometheus metrics of the API process, for operators. Route patterns, not URLs, label the
// requests: no conversation id or attribute name reaches a metric.
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { AuthHook } from '../../security/auth';
import { METRICS_CONTENT_TYPE, type ApiMetrics } from '../../platform/metrics';

/** Counts every request the app answers; added where the app is composed, so every route is seen. */
export function observeRequests<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L>,
  metrics: ApiMetrics,
): void {
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
}

export async function metricsRoutes(app: FastifyInstance, opts: { metrics: ApiMetrics; allow: AuthHook }): Promise<void> {
  app.get('/metrics', { onRequest: opts.allow }, async (_request, reply) => reply.type(METRICS_CONTENT_TYPE).send(await opts.metrics.registry.metrics()));
}
