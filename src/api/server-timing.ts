// Where a request's time went, for whoever measures the API from outside (the bench, an operator
// chasing a slow tail): the W3C Server-Timing header, `temporal;dur=…` for the time spent in
// Temporal calls (the payload codec included, since the client encodes inside the call) and
// `app;dur=…` for the whole request in this process. The rest of what the caller measured is the
// network and the caller's own queueing. Off unless API_SERVER_TIMING=on: durations are nobody
// else's business, and a header costs a few bytes on every answer.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { FastifyBaseLogger, FastifyInstance, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import { ConfigError, type Env } from '../platform/env';

interface RequestTiming {
  temporalMs: number;
}

const timings = new AsyncLocalStorage<RequestTiming>();

/** Runs one Temporal call, adding its duration to the request it serves (if the header is on). */
export async function timedTemporalCall<T>(call: () => Promise<T>): Promise<T> {
  const timing = timings.getStore();
  if (!timing) return call();
  const t0 = performance.now();
  try {
    return await call();
  } finally {
    timing.temporalMs += performance.now() - t0;
  }
}

export function serverTimingRequested(env: Env): boolean {
  const raw = (env.API_SERVER_TIMING ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'off') return false;
  if (raw === 'on') return true;
  throw new ConfigError(`API_SERVER_TIMING must be on or off, got "${env.API_SERVER_TIMING}"`);
}

/** Installs the header; before any route is registered, as the onRoute hook sees only later routes. */
export function serverTiming<L extends FastifyBaseLogger>(app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L>): void {
  const byRequest = new WeakMap<object, RequestTiming>();
  // Hooks do not wrap the handler, so the store is entered around it here: the gateway's calls,
  // made inside the handler, find it.
  app.addHook('onRoute', (routeOptions) => {
    const handler = routeOptions.handler;
    routeOptions.handler = function timedHandler(this: unknown, request, reply) {
      const timing: RequestTiming = { temporalMs: 0 };
      byRequest.set(request, timing);
      return timings.run(timing, () => handler.call(this as never, request, reply));
    };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const timing = byRequest.get(request);
    const temporal = timing ? `temporal;dur=${timing.temporalMs.toFixed(1)}, ` : '';
    void reply.header('server-timing', `${temporal}app;dur=${reply.elapsedTime.toFixed(1)}`);
    return payload;
  });
}
