// The HTTP API: routing webhooks, participant data, conversation read, health.
import { randomUUID } from 'node:crypto';
import Fastify, { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Client, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Logger } from 'pino';
import type { Config } from '../platform/config';
import {
  ConversationSettings,
  ErrorType,
  RoutingEvent,
  conversationStateQuery,
  pendingAttributeQuery,
  routingEventSignal,
  setAttributesUpdate,
  workflowIdFor,
} from '../conversation';
import { AuthSettings, TokenAuthenticator, requireScope } from '../security/auth';
import { WebhookSignatureError, WebhookVerifier } from '../security/webhook-signature';
import { codecServer, CodecServerOptions, operatorAccess } from '../security/codec-server';
import type { KeyServices } from '../security/key-services';
import { ApiMetrics, METRICS_CONTENT_TYPE } from '../platform/metrics';
import { StoreTimeoutError, StoreUnavailableError, type ParticipantDataStore } from '../store';
import { attributeNameProblem, attributeProblem, instantOf, routingTextProblem, taskContextProblem } from '../conversation';
import { conversationWorkflow } from '../conversation/workflows/conversation';
import { startSearchAttributes } from '../conversation/conversation-state';
import type { CrmRegistry } from '../crm/registry';
import { AttributeRead, dataActions } from './data-actions';
import { ALL_DESTINATIONS, type DestinationDirectory } from '../channels/config';
import { inboundMessageSeenQuery, inboundMessageUpdate, type InboundMessage } from '../conversation';
import { prepareInbound, type InboundBody } from '../channels/ingress';
import { attributeParams, conversationParams, inboundMessageBody, routingEventBody, setAttributesBody, setAttributesHeaders } from './schemas';
import { classifyTemporalError, grpcCodeOf, grpcStatusOf, HttpError, isNotFound, keyServiceFailure, keyServiceFailureDuring, unavailable, unconfirmedWrite, updateRejectionType } from './temporal-errors';

export interface ApiDeps {
  client: Client;
  store: ParticipantDataStore;
  logger: Logger;
  config: Pick<Config, 'taskQueue' | 'temporalRequestTimeoutMs'> & Partial<Pick<Config, 'temporalNamespace'>> & { conversation: ConversationSettings };
  /** Webhook secrets and bearer tokens (src/security/secrets.ts loads them). */
  auth: AuthSettings;
  /**
   * `securedValues` encrypts secured values before they enter Temporal and decrypts them for agent
   * scripts only; `codec` is the namespace's payload codec, which the codec server runs for operators.
   */
  keys: Pick<KeyServices, 'securedValues' | 'codec' | 'kmsCalls'>;
  /** Which browser origins (the Temporal UI's) may call the codec server, and its session cookie's attributes. */
  codecSettings?: Pick<CodecServerOptions, 'corsOrigins' | 'cookieSecure' | 'cookieSameSite'>;
  /** The CRM integrations (CRM_INTEGRATIONS_FILE), for the workflow-execute data action's wait; the worker decides the outcome. */
  crm?: CrmRegistry;
  /** What each digital-channel destination gets (src/channels/config.ts); absent: every destination, everything. */
  destinations?: DestinationDirectory;
}

/**
 * How many successors a conversation id may have (`<id>:2` … `<id>:100`): a customer who starts this
 * many conversations under one channel conversation id is refused rather than walked through forever.
 */
const MAX_SUCCESSORS = 100;
const ALREADY_EXISTS = 6;

declare module 'fastify' {
  interface FastifyRequest {
    /** The body exactly as received, for the webhook signature (set for JSON bodies). */
    rawBody?: string;
  }
}

/**
 * Retry-After of a write refused while the conversation's batch waits for the store: the flush
 * activity retries at most once a minute, so a retry sooner than this is unlikely to be taken.
 */
const STORE_BACKLOG_RETRY_AFTER_S = 30;

const ROUTING_EVENT_FIELDS = [
  'eventId', 'eventType', 'conversationId', 'taskId', 'channel', 'occurredAt', 'queue', 'agentId',
  'destination', 'estimatedWaitTime', 'dispositionCode', 'taskContext',
] as const;

export function buildApi(deps: ApiDeps) {
  const { client, store, config } = deps;
  const app = Fastify({
    // Fastify's request log lines carry method, url and status only; bodies (participant data) are never logged.
    loggerInstance: deps.logger,
    bodyLimit: 1024 * 1024,
    // Fastify's default (100) answers 414 to a legal attribute name (255 characters, up to 12 URL
    // bytes each once percent-encoded) or a long conversation id.
    routerOptions: { maxParamLength: 4096 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const tokens = new TokenAuthenticator(deps.auth.tokens);
  const webhooks = new WebhookVerifier(deps.auth.webhookSecrets);
  /** Who may call what: a token needs one of the listed scopes. */
  const allow = {
    attributes: requireScope(tokens, ['flow', 'agent-script']),
    operator: requireScope(tokens, ['operator']),
  };

  // The webhook signature covers the bytes as sent, so JSON bodies keep their text next to the
  // parsed value; parsing itself is Fastify's own (same 400s, same prototype-poisoning refusal).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    request.rawBody = body as string;
    parseJson(request, body as string, done);
  });

  /** Every Temporal call gets a deadline so an unreachable cluster becomes a 503, not a hung request. */
  const withDeadline = <T>(fn: () => Promise<T>): Promise<T> =>
    client.withDeadline(Date.now() + config.temporalRequestTimeoutMs, fn);

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

  // Route patterns, not URLs, label the metrics: no conversation id or attribute name reaches them.
  const metrics = new ApiMetrics({
    kmsCalls: deps.keys.kmsCalls,
    openConversations: async () => {
      try {
        const { count } = await withDeadline(() => client.workflow.count(`WorkflowType = "conversationWorkflow" AND ExecutionStatus = "Running"`));
        return count;
      } catch {
        return undefined;
      }
    },
  });
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.routeOptions.url ?? 'unmatched', request.method, reply.statusCode, reply.elapsedTime / 1000);
  });
  app.get('/metrics', { onRequest: allow.operator }, async (_request, reply) =>
    reply.type(METRICS_CONTENT_TYPE).send(await metrics.registry.metrics()),
  );

  // Liveness: the process answers. Kept apart from /healthz (readiness: Temporal reachable), so an
  // orchestrator stops routing to a replica during a Temporal outage instead of restarting it.
  app.get('/livez', async () => ({ status: 'ok' }));

  // The Temporal UI's codec server: operators only, with its own CORS, sign-in cookie and error answers.
  void app.register(codecServer, {
    codec: deps.keys.codec,
    ...operatorAccess(tokens),
    corsOrigins: [],
    ...deps.codecSettings,
    namespace: config.temporalNamespace ?? 'default',
  });

  app.get('/healthz', async (_request, reply) => {
    try {
      await withDeadline(() => client.workflowService.getSystemInfo({}));
      return { status: 'ok', temporal: 'reachable' };
    } catch {
      return reply.status(503).send({ status: 'degraded', temporal: 'unreachable' });
    }
  });

  // The signature is checked before the schema, so an unsigned request learns nothing about its body.
  const verifyWebhook = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const raw = request.rawBody ?? (typeof request.body === 'string' ? request.body : undefined);
    try {
      if (raw === undefined) throw new WebhookSignatureError('the body could not be read for its signature');
      const delivery = webhooks.verify(raw, request.headers);
      // A delivery we failed to record (5xx) may be retried as is: it changed nothing, so it is not a replay.
      reply.raw.once('finish', () => {
        if (reply.statusCode >= 500) webhooks.replays.forget(delivery.id, delivery.timestampSeconds);
      });
    } catch (err) {
      if (!(err instanceof WebhookSignatureError)) throw err;
      request.log.info({ webhookId: typeof request.headers['webhook-id'] === 'string' ? request.headers['webhook-id'].slice(0, 200) : undefined, reason: err.message }, 'webhook refused');
      return reply.code(401).send({ error: 'unauthorized', message: err.message });
    }
    return undefined;
  };

  app.post('/webhooks/routing-events', { schema: { body: routingEventBody }, preValidation: verifyWebhook }, async (request, reply) => {
    const body = request.body as Record<string, unknown>;
    const event = Object.fromEntries(ROUTING_EVENT_FIELDS.filter((f) => body[f] !== undefined).map((f) => [f, body[f]])) as unknown as RoutingEvent;
    // The schema let these arrive as text or numbers; the conversation keeps one form.
    if (typeof event.estimatedWaitTime === 'string') event.estimatedWaitTime = Number(event.estimatedWaitTime);
    if (event.taskContext) event.taskContext = Object.fromEntries(Object.entries(event.taskContext).map(([name, value]) => [name, String(value)]));
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
    const workflowId = workflowIdFor(event.conversationId);
    try {
      await withDeadline(() =>
        client.workflow.signalWithStart(conversationWorkflow, {
          workflowId,
          taskQueue: config.taskQueue,
          args: [{ conversationId: event.conversationId, settings: config.conversation }],
          signal: routingEventSignal,
          signalArgs: [event],
          // Taken only when this event starts the conversation: its first workflow task then upserts nothing.
          typedSearchAttributes: startSearchAttributes(event),
          // A closed conversation stays closed: a late or redelivered event must not start a new one.
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        }),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // 2xx so the sender stops redelivering: the event is deliberately not applied.
        return reply.status(200).send({ accepted: false, conversationId: event.conversationId, reason: 'conversation is closed' });
      }
      if (!keyServiceFailure(err) && classifyTemporalError(err) === 'deadline') {
        deps.logger.warn({ what: 'signal-with-start', error: errorText(err) }, 'webhook not confirmed');
        // The server may have recorded it: a redelivery is harmless, the eventId makes it change nothing.
        throw new HttpError(503, 'the event was not confirmed in time and may have been recorded; deliver it again (its eventId makes a redelivery change nothing)');
      }
      throw temporalFailure(err, 'signal-with-start');
    }
    return reply.status(202).send({ accepted: true, conversationId: event.conversationId, workflowId });
  });

  // Inbound SMS, chat and email: signed like the routing webhook, masked here before anything
  // reaches Temporal, a log line or the store.
  app.post('/webhooks/inbound-messages', { schema: { body: inboundMessageBody }, preValidation: verifyWebhook }, async (request, reply) => {
    const body = request.body as InboundBody;
    const message = prepareInbound(body, deps.destinations ?? ALL_DESTINATIONS);
    const answer = await deliverInbound(body.conversationId, message);
    return reply.status(answer.outcome === 'duplicate' ? 200 : 202).send({ accepted: answer.outcome !== 'duplicate', ...answer });
  });

  /**
   * Update-with-start onto the conversation; when it is closed, onto its successor `<id>:2`, then
   * `<id>:3`… The closed conversation answers (its validator, or the refused start of a completed
   * run) before anything is applied, so two deliveries racing a close both land on the same
   * successor, and a redelivery of a message a closed conversation took is answered as a duplicate.
   */
  async function deliverInbound(conversationId: string, message: InboundMessage): Promise<{ conversationId: string; workflowId: string; outcome: string }> {
    for (let n = 1; n <= MAX_SUCCESSORS; n++) {
      const id = n === 1 ? conversationId : `${conversationId}:${n}`;
      const workflowId = workflowIdFor(id);
      try {
        const { outcome } = await withDeadline(() =>
          client.workflow.executeUpdateWithStart(inboundMessageUpdate, {
            args: [message],
            // No update id from the eventId: Temporal would answer a redelivery with the first
            // delivery's outcome; the workflow's window answers it as the duplicate it is, in any run.
            startWorkflowOperation: new WithStartWorkflowOperation(conversationWorkflow, {
              workflowId,
              taskQueue: config.taskQueue,
              args: [{ conversationId: id, settings: config.conversation }],
              workflowIdConflictPolicy: 'USE_EXISTING',
              // A completed conversation is never reopened: its successor takes the message.
              workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
            }),
          }),
        );
        return { conversationId: id, workflowId, outcome };
      } catch (err) {
        const rejection = updateRejectionType(err);
        if (rejection?.type === ErrorType.ConversationClosed) continue;
        if (rejection) throw new HttpError(400, rejection.message);
        if (err instanceof WorkflowExecutionAlreadyStartedError || grpcCodeOf(err) === ALREADY_EXISTS) {
          if (await completedConversationTook(workflowId, message.eventId)) return { conversationId: id, workflowId, outcome: 'duplicate' };
          continue;
        }
        // The answer is decrypted after the worker took (or refused) the message: its outcome is unknown.
        if (keyServiceFailureDuring(err) === 'decrypt') {
          deps.logger.warn({ what: 'inboundMessage update-with-start', error: errorText(err) }, 'inbound message not confirmed: its answer could not be decrypted');
          throw new HttpError(503, 'the message may have been recorded but its answer could not be read; deliver it again (its eventId makes a redelivery change nothing)');
        }
        if (keyServiceFailure(err)) throw temporalFailure(err, 'inboundMessage update-with-start');
        const trouble = err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? 'deadline' : classifyTemporalError(err);
        if (trouble === 'precondition') throw new HttpError(503, 'the message was not taken: the conversation was changing state; deliver it again');
        if (trouble === 'deadline' || trouble === 'unreachable') {
          deps.logger.warn({ what: 'inboundMessage update-with-start', error: errorText(err) }, 'inbound message not confirmed');
          throw new HttpError(503, 'the message was not confirmed in time and may have been recorded; deliver it again (its eventId makes a redelivery change nothing)');
        }
        throw temporalFailure(err, 'inboundMessage update-with-start');
      }
    }
    throw new HttpError(409, `conversation ${conversationId} has had ${MAX_SUCCESSORS} conversations already; use a new conversationId`);
  }

  /** Asked of a completed conversation (its run replays on a worker): did it take this message? */
  async function completedConversationTook(workflowId: string, eventId: string): Promise<boolean> {
    try {
      return await withDeadline(() => client.workflow.getHandle(workflowId).query(inboundMessageSeenQuery, eventId));
    } catch (err) {
      // Runs from before digital channels have no such query: they took no message.
      if (/inboundMessageSeen/.test(errorText(err)) && classifyTemporalError(err) === 'permanent') return false;
      throw temporalFailure(err, 'inboundMessageSeen query');
    }
  }

  app.post(
    '/conversations/:conversationId/attributes',
    { schema: { params: conversationParams, body: setAttributesBody, headers: setAttributesHeaders }, onRequest: allow.attributes },
    async (request) => {
      const { conversationId } = request.params as { conversationId: string };
      const { attributes, secured } = request.body as { attributes: Record<string, string>; secured?: boolean };
      const idempotencyKey = request.headers['idempotency-key'] as string | undefined;
      // The plaintext is held to the value rules before it is encrypted; the workflow then sees only ciphertext.
      const problem = attributeProblem(attributes);
      if (problem) throw new HttpError(400, problem);
      const values = secured ? await encryptAll(conversationId, attributes) : attributes;
      const handle = client.workflow.getHandle(workflowIdFor(conversationId));
      try {
        // Temporal de-duplicates updates by id within a run: a retry carrying the same key joins the
        // first attempt (which may still be waiting for a worker) instead of writing a second time.
        const updateId = idempotencyKey ? `set-attributes:${idempotencyKey}` : undefined;
        const update = secured ? { attributes: values, secured: true } : { attributes: values };
        const send = () => withDeadline(() => handle.executeUpdate(setAttributesUpdate, { args: [update], updateId }));
        const result = await send().catch(async (err: unknown) => {
          // Refused, not applied, because the workflow task it landed in failed (typically the one
          // closing the conversation, which also writes the final batch): sent once more, it meets
          // the conversation's next state — taken, or refused as closed.
          if (classifyTemporalError(err) !== 'precondition' || updateRejectionType(err)) throw err;
          return send();
        });
        return secured ? { conversationId, queued: result.queued, secured: true } : { conversationId, queued: result.queued };
      } catch (err) {
        const rejection = updateRejectionType(err);
        if (rejection?.type === ErrorType.ConversationClosed) throw new HttpError(409, rejection.message);
        if (rejection?.type === ErrorType.InvalidAttributes) throw new HttpError(400, rejection.message);
        // The store, not the caller, is behind: 503 (429 would blame the caller's rate). Nothing was applied.
        if (rejection?.type === ErrorType.StoreBacklog) {
          throw new HttpError(503, `the write was not applied: ${rejection.message}`, undefined, { 'retry-after': String(STORE_BACKLOG_RETRY_AFTER_S) });
        }
        if (isNotFound(err)) throw await notFoundOrClosed(conversationId);
        // The update's answer is decrypted after the worker applied (or refused) it: a key service
        // outage then leaves the outcome unknown, and "nothing was changed" would be false.
        if (keyServiceFailureDuring(err) === 'decrypt') {
          deps.logger.warn({ what: 'setAttributes update', error: errorText(err) }, 'write not confirmed: its answer could not be decrypted');
          throw unconfirmedWrite(idempotencyKey !== undefined);
        }
        if (keyServiceFailure(err)) throw temporalFailure(err, 'setAttributes update');
        const trouble = err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? 'deadline' : classifyTemporalError(err);
        // The server refused the update while the conversation was changing state (typically closing
        // at that very moment): it was not applied. Closed now: 409 like any write after close.
        if (trouble === 'precondition') {
          const now = await notFoundOrClosed(conversationId);
          if (now.statusCode !== 404) throw now;
          // Still running: the close can be in the conversation's record while the workflow's final
          // task is being retried (the race that refused the write). The record says.
          if (await recordSaysClosed(conversationId)) throw new HttpError(409, `conversation ${conversationId} is closed; its participant data can no longer change`);
          throw new HttpError(503, 'the write was not applied: the conversation was changing state; retry it');
        }
        // Once an update may have been submitted, "nothing was changed" cannot be promised.
        if (trouble === 'deadline' || trouble === 'unreachable') {
          deps.logger.warn({ what: 'setAttributes update', error: errorText(err) }, 'write not confirmed');
          throw unconfirmedWrite(idempotencyKey !== undefined);
        }
        throw temporalFailure(err, 'setAttributes update');
      }
    },
  );

  app.get('/conversations/:conversationId/attributes/:name', { schema: { params: attributeParams }, onRequest: allow.attributes }, async (request) => {
    const { conversationId, name } = request.params as { conversationId: string; name: string };
    const nameProblem = attributeNameProblem(name);
    if (nameProblem) throw new HttpError(400, nameProblem);
    const read = await readAttribute(conversationId, name, request.parleyScopes);
    if (!read) throw new HttpError(404, `conversation ${conversationId} has no attribute named "${name}"`);
    return read;
  });

  /** The queued value, else the stored one; a secured value in plaintext only for an agent script. */
  async function readAttribute(conversationId: string, name: string, scopes: ReadonlySet<string> | undefined): Promise<AttributeRead | undefined> {
    // Only an agent script reads a secured value in plaintext; other callers learn that it exists.
    const answer = async (value: string, source: 'pending' | 'stored', secured: boolean): Promise<AttributeRead> => {
      if (!secured) return { name, value, source };
      if (!scopes?.has('agent-script')) return { name, source, secured: true };
      return { name, value: await decrypt(conversationId, name, value), source, secured: true };
    };
    const handle = client.workflow.getHandle(workflowIdFor(conversationId));
    try {
      const lookup = await withDeadline(() => handle.query(pendingAttributeQuery, name));
      // `secured` is absent from runs that started before secured data existed.
      if (lookup.pending) return await answer(lookup.value, 'pending', lookup.secured === true);
    } catch (err) {
      // Past the server's retention the workflow is gone but its flushed data is in the store.
      if (!isNotFound(err)) throw temporalFailure(err, 'pendingAttribute query');
    }
    const stored = await store.getAttribute(conversationId, name).catch((err: unknown) => {
      if (err instanceof StoreTimeoutError) throw new HttpError(504, `the participant-data store gave no answer within ${err.timeoutMs} ms (STORE_TIMEOUT); nothing was changed, retry`);
      if (err instanceof StoreUnavailableError) {
        deps.logger.warn({ what: 'getAttribute', error: err.message }, 'participant-data store unreachable');
        throw new HttpError(503, 'the participant-data store is unreachable right now; nothing was changed, retry later');
      }
      throw err;
    });
    return stored ? answer(stored.value, 'stored', stored.secured) : undefined;
  }

  // Data actions for flow platforms; a flow may call them before the conversation's first webhook.
  void app.register(dataActions, {
    client,
    logger: deps.logger,
    taskQueue: config.taskQueue,
    conversation: config.conversation,
    temporalRequestTimeoutMs: config.temporalRequestTimeoutMs,
    crm: deps.crm,
    allow: { dataActions: allow.attributes, schemas: requireScope(tokens, ['flow', 'agent-script', 'operator']) },
    encryptAll,
    readAttribute,
    temporalFailure,
  });

  app.get('/conversations/:conversationId', { schema: { params: conversationParams }, onRequest: allow.operator }, async (request) => {
    const { conversationId } = request.params as { conversationId: string };
    try {
      return await withDeadline(() => client.workflow.getHandle(workflowIdFor(conversationId)).query(conversationStateQuery));
    } catch (err) {
      if (isNotFound(err)) throw new HttpError(404, `conversation ${conversationId} not found`);
      throw temporalFailure(err, 'conversationState query');
    }
  });

  /** Whether the conversation's own record is closed (false when it cannot be read in time). */
  async function recordSaysClosed(conversationId: string): Promise<boolean> {
    try {
      const view = await withDeadline(() => client.workflow.getHandle(workflowIdFor(conversationId)).query(conversationStateQuery));
      return view.status === 'closed';
    } catch {
      return false;
    }
  }

  /** 409 when the conversation is closed, else 404 (an HttpError for why neither could be told). */
  async function notFoundOrClosed(conversationId: string): Promise<HttpError> {
    try {
      const description = await withDeadline(() => client.workflow.getHandle(workflowIdFor(conversationId)).describe());
      if (description.status.name !== 'RUNNING') {
        return new HttpError(409, `conversation ${conversationId} is closed; its participant data can no longer change`);
      }
    } catch (err) {
      if (!isNotFound(err)) return temporalFailure(err, 'describe');
    }
    return new HttpError(404, `conversation ${conversationId} not found`);
  }

  async function encryptAll(conversationId: string, attributes: Record<string, string>): Promise<Record<string, string>> {
    try {
      const entries = await Promise.all(
        Object.entries(attributes).map(async ([name, value]) => [name, await deps.keys.securedValues.encrypt(conversationId, name, value)] as const),
      );
      return Object.fromEntries(entries);
    } catch (err) {
      throw keyFailure(err, 'encrypt secured value');
    }
  }

  async function decrypt(conversationId: string, name: string, ciphertext: string): Promise<string> {
    try {
      return await deps.keys.securedValues.decrypt(conversationId, name, ciphertext);
    } catch (err) {
      throw keyFailure(err, 'decrypt secured value');
    }
  }

  /** The key service's errors name keys and operations, never values, so they may be logged. */
  function keyFailure(err: unknown, what: string): HttpError {
    if (keyServiceFailure(err)) {
      deps.logger.warn({ what, error: errorText(err) }, 'key service unavailable');
      return new HttpError(503, 'the key service (KMS) is unreachable right now; nothing was changed, retry later');
    }
    const errorId = randomUUID();
    deps.logger.error({ what, errorId, error: errorText(err) }, 'key service refused');
    return new HttpError(500, 'internal error', errorId);
  }

  /** For calls that change nothing by failing (reads, describe) or whose callers were told otherwise above. */
  function temporalFailure(err: unknown, what: string): HttpError {
    // The payload codec encrypts and decrypts every Temporal payload: a key service outage surfaces here too.
    if (keyServiceFailure(err)) return keyFailure(err, what);
    switch (classifyTemporalError(err)) {
      case 'unreachable':
        deps.logger.warn({ what, error: errorText(err) }, 'temporal unavailable');
        return unavailable();
      case 'deadline':
        // Temporal is up but the answer (a query needs a worker to replay the conversation) came too late.
        deps.logger.warn({ what, error: errorText(err) }, 'temporal answered too late');
        return new HttpError(504, `no answer within ${config.temporalRequestTimeoutMs} ms (the conversation's worker is busy or being replaced); nothing was changed, retry`);
      default:
        return internalError(err, what);
    }
  }

  function internalError(err: unknown, what: string): HttpError {
    const errorId = randomUUID();
    deps.logger.error({ what, errorId, error: errorText(err), grpcCode: grpcCodeOf(err) }, 'temporal refused the request');
    return new HttpError(500, 'internal error', errorId);
  }

  return app;
}

/** Error text for a log line: the SDK's messages name calls and ids, never payloads (those are encrypted). */
/** The error for the log: with the gRPC status under it, which says what "Failed to query Workflow" was. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const status = grpcStatusOf(err);
  return status ? `${text} (gRPC ${status.code}: ${status.details.slice(0, 300)})` : text;
}

function errorName(status: number): string {
  return (
    { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 409: 'conflict', 413: 'payload_too_large', 415: 'unsupported_media_type', 503: 'unavailable', 504: 'timeout' }[status] ??
    (status >= 500 ? 'internal_error' : 'bad_request')
  );
}
