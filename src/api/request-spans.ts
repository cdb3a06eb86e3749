// One SERVER span per HTTP request, the root of the trace that Temporal's client interceptors carry
// into the workflow and its activities. Named and labelled by the route pattern, never the raw URL:
// a query string or a path segment may hold what must stay out of telemetry. Installed only when
// tracing is on (src/platform/tracing-switch.ts).
import { type Span, ROOT_CONTEXT, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { FastifyBaseLogger, FastifyInstance, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';

const spans = new WeakMap<FastifyRequest, Span>();

/** Path parameters that are ids, copied onto the span; any other parameter (an attribute name) stays out. */
const ID_PARAMS: Record<string, string> = { conversationId: 'parley.conversation_id' };

/** Probes and scrapes: a span every few seconds per replica, none of them about a conversation. */
const UNTRACED_ROUTES = new Set(['/livez', '/healthz', '/metrics']);

export function traceRequests<L extends FastifyBaseLogger>(app: FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, L>): void {
  const tracer = trace.getTracer('parley-api');

  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url;
    if (route !== undefined && UNTRACED_ROUTES.has(route)) return done();
    // A caller that sends W3C trace context (traceparent) gets this request in its own trace.
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const span = tracer.startSpan(
      `${request.method} ${route ?? 'unmatched'}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': request.method, ...(route ? { 'http.route': route } : {}) } },
      parent,
    );
    spans.set(request, span);
    done();
  });

  // Hooks do not wrap the handler, so the span is made active around it here: the gateway's
  // Temporal calls, made inside the handler, then find it and pass it on in their headers.
  app.addHook('onRoute', (routeOptions) => {
    const handler = routeOptions.handler;
    routeOptions.handler = function tracedHandler(this: unknown, request, reply) {
      const span = spans.get(request);
      return span ? context.with(trace.setSpan(context.active(), span), () => handler.call(this as never, request, reply)) : handler.call(this as never, request, reply);
    };
  });

  const end = (request: FastifyRequest, statusCode: number | undefined): void => {
    const span = spans.get(request);
    if (!span) return;
    spans.delete(request);
    const params = (request.params ?? {}) as Record<string, unknown>;
    for (const [param, attribute] of Object.entries(ID_PARAMS)) {
      if (typeof params[param] === 'string') span.setAttribute(attribute, params[param]);
    }
    if (statusCode === undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted' });
    } else {
      span.setAttribute('http.response.status_code', statusCode);
      // As OpenTelemetry's HTTP conventions say for a server: only a 5xx is the server's error.
      if (statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };
  app.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    end(request, undefined);
    done();
  });
}
