// The HTTP API, composed: one Fastify app, its error answers and request metrics, and the route
// plugins (src/api/routes), which reach Temporal and the key services only through the gateway.
import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError } from 'fastify';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../platform/config';
import type { ConversationSettings } from '../conversation';
import { type AuthSettings, TokenAuthenticator, requireScope } from '../security/auth';
import { ReplayCache, WebhookVerifier } from '../security/webhook-signature';
import { DEFAULT_SIGN_IN_LIMITS, LocalWindowCounters, SignInLimiter, type SignInLimits } from '../security/sign-in-limit';
import { codecServer, type CodecServerOptions, operatorAccess } from '../security/codec-server';
import type { KeyServices } from '../security/key-services';
import { ApiMetrics } from '../platform/metrics';
import type { ParticipantDataStore, SharedState } from '../store';
import type { CrmRegistry } from '../crm/registry';
import type { DestinationDirectory } from '../channels/config';
import { ConversationGateway } from './gateway';
import { attributeRoutes } from './routes/attributes';
import { conversationRoutes } from './routes/conversations';
import { dataActions } from './routes/data-actions';
import { healthRoutes } from './routes/health';
import { metricsRoutes, observeRequests } from './routes/metrics';
import { traceRequests } from './request-spans';
import { serverTiming } from './server-timing';
import { webhookRoutes } from './routes/webhooks';
import { HttpError } from './temporal-errors';
import { ServingState } from './serving-state';

export interface ApiDeps {
  client: Client;
  store: ParticipantDataStore;
  logger: Logger;
  config: Pick<Config, 'taskQueue' | 'temporalRequestTimeoutMs'> & Partial<Pick<Config, 'temporalNamespace' | 'trustProxy'>> & { conversation: ConversationSettings };
  /** Webhook secrets and bearer tokens (src/security/secrets.ts loads them). */
  auth: AuthSettings;
  /**
   * `securedValues` encrypts secured values before they enter Temporal and decrypts them for agent
   * scripts only; `codec` is the namespace's payload codec, which the codec server runs for operators.
   */
  keys: Pick<KeyServices, 'securedValues' | 'codec' | 'kmsCalls'>;
  /** Which browser origins (the Temporal UI's) may call the codec server, and its session cookie's attributes. */
  codecSettings?: Pick<CodecServerOptions, 'corsOrigins' | 'cookieSecure' | 'cookieSameSite'>;
  /** The CRM integrations (CRM_INTEGRATIONS_FILE): the workflow-execute data action refuses an id a non-empty one lacks, and waits as long as the budget; the worker decides the other outcomes. */
  crm?: CrmRegistry;
  /** What each digital-channel destination gets (src/channels/config.ts); absent: every destination, everything. */
  destinations?: DestinationDirectory;
  /** A span per request (tracing on: OTEL_EXPORTER_OTLP_ENDPOINT); the client then carries its context to Temporal. */
  traceRequests?: boolean;
  /** The Server-Timing header on every answer (API_SERVER_TIMING=on). */
  serverTiming?: boolean;
  /**
   * What the API replicas on one PostgreSQL store share: the webhook deliveries taken and the sign-in
   * counters. Absent (SQLite, one process): this process's memory.
   */
  shared?: SharedState;
  /** Codec sign-in attempts allowed per window; default DEFAULT_SIGN_IN_LIMITS. */
  signInLimits?: SignInLimits;
  /** Set draining by the process's stop sequence (serving-state.ts); absent: never draining. */
  serving?: ServingState;
}

export function buildApi(deps: ApiDeps) {
  const { client, store, config, logger } = deps;
  const app = Fastify({
    // Fastify's request log lines carry method, url and status only; bodies (participant data) are never logged.
    loggerInstance: logger,
    bodyLimit: 1024 * 1024,
    // Fastify's default (100) answers 414 to a legal attribute name (255 characters, up to 12 URL
    // bytes each once percent-encoded) or a long conversation id.
    routerOptions: { maxParamLength: 4096 },
    // Only the proxies named: anyone else's X-Forwarded-For would pick the address the sign-in limit counts.
    ...(config.trustProxy === undefined ? {} : { trustProxy: config.trustProxy }),
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const gateway = new ConversationGateway({
    client,
    logger,
    keys: deps.keys,
    taskQueue: config.taskQueue,
    conversation: config.conversation,
    requestTimeoutMs: config.temporalRequestTimeoutMs,
  });
  const reader = { gateway, store, logger };
  const tokens = new TokenAuthenticator(deps.auth.tokens);
  /** Who may call what: a token needs one of the listed scopes. */
  const allow = {
    attributes: requireScope(tokens, ['flow', 'agent-script']),
    operator: requireScope(tokens, ['operator']),
    dataActionSchemas: requireScope(tokens, ['flow', 'agent-script', 'operator']),
  };

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if ('validation' in err && err.validation) {
      return reply.status(400).send({ error: 'bad_request', message: err.message });
    }
    const status = err.statusCode ?? 500;
    // Only what the API said on purpose reaches the caller; anything else is an internal error with an id to find it by.
    if (err instanceof HttpError && (status < 500 || status === 503 || status === 504 || err.errorId)) {
      if (err.headers) reply.headers(err.headers);
      return reply.status(status).send({ error: errorName(status), message: err.errorId ? `internal error; reference ${err.errorId}` : err.message, ...(err.errorId ? { errorId: err.errorId } : {}) });
    }
    if (status < 500) return reply.status(status).send({ error: errorName(status), message: err.message });
    const errorId = randomUUID();
    request.log.error({ err, errorId }, 'request failed');
    return reply.status(500).send({ error: 'internal_error', message: `internal error; reference ${errorId}`, errorId });
  });

  const metrics = new ApiMetrics({ kmsCalls: deps.keys.kmsCalls, openConversations: () => gateway.openConversations() });
  observeRequests(app, metrics);
  // Before any route is registered: the onRoute hook it adds sees only routes registered after it.
  if (deps.traceRequests) traceRequests(app);
  if (deps.serverTiming) serverTiming(app);

  void app.register(metricsRoutes, { metrics, allow: allow.operator });
  const serving = deps.serving ?? new ServingState();
  // While draining, keep-alive clients are told to reconnect, and so reach another replica.
  app.addHook('onSend', async (request, reply, payload) => {
    if (serving.draining && request.raw.httpVersionMajor === 1) void reply.header('connection', 'close');
    return payload;
  });
  void app.register(healthRoutes, { gateway, serving });
  // The Temporal UI's codec server: operators only, with its own CORS, sign-in cookie and error answers.
  void app.register(codecServer, {
    codec: deps.keys.codec,
    ...operatorAccess(tokens),
    corsOrigins: [],
    ...deps.codecSettings,
    namespace: config.temporalNamespace ?? 'default',
    signInLimiter: new SignInLimiter(deps.signInLimits ?? DEFAULT_SIGN_IN_LIMITS, deps.shared ?? new LocalWindowCounters()),
  });
  const shared = deps.shared;
  const verifier = new WebhookVerifier(
    deps.auth.webhookSecrets,
    new ReplayCache(),
    shared && { claim: (id, at, expiresAtMs) => shared.claimDelivery(id, at, expiresAtMs), release: (id, at) => shared.releaseDelivery(id, at) },
  );
  void app.register(webhookRoutes, { gateway, verifier, destinations: deps.destinations });
  void app.register(attributeRoutes, { reader, allow: allow.attributes });
  // Data actions for flow platforms; a flow may call them before the conversation's first webhook.
  void app.register(dataActions, {
    reader,
    temporalRequestTimeoutMs: config.temporalRequestTimeoutMs,
    crm: deps.crm,
    allow: { dataActions: allow.attributes, schemas: allow.dataActionSchemas },
  });
  void app.register(conversationRoutes, { gateway, allow: allow.operator });

  return app;
}

function errorName(status: number): string {
  return (
    { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 503: 'unavailable', 504: 'timeout' }[status] ??
    (status >= 500 ? 'internal_error' : 'bad_request')
  );
}
