// Data actions for flow platforms (a Genesys Cloud custom Data Action's contract): POST a body
// `{inputs, context, settings}`, get `{outputs}` or `{errors: [{message}]}`. A flow runs before the
// routing platform's first webhook, so a write to a conversation that does not exist yet starts it
// (update-with-start, the same workflow id and start arguments as the webhook's signal-with-start).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Client, WithStartWorkflowOperation, WorkflowExecutionAlreadyStartedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import { WorkflowIdReusePolicy, type UpdateDefinition } from '@temporalio/common';
import type { Logger } from 'pino';
import { CrmExecuteResult, CrmOutcome, checkCrmRequest, crmBudgetMs } from '../conversation';
import type { CrmRegistry } from '../crm/registry';
import { ConversationSettings, ErrorType, setAttributesUpdate, workflowExecuteUpdate, workflowIdFor } from '../conversation';
import { AuthHook } from '../security/auth';
import { attributeNameProblem, attributeProblem } from '../conversation';
import { conversationWorkflow } from '../conversation/workflows/conversation';
import { DATA_ACTIONS, DATA_ACTION_NAMES } from './data-action-schemas';
import { setAttributesHeaders } from './schemas';
import { HttpError, classifyTemporalError, keyServiceFailure, unconfirmedWrite, updateRejectionType } from './temporal-errors';

/** What the data actions need from the API around them (src/api/server.ts builds it). */
export interface DataActionDeps {
  client: Client;
  logger: Logger;
  taskQueue: string;
  conversation: ConversationSettings;
  temporalRequestTimeoutMs: number;
  crm?: CrmRegistry;
  allow: { dataActions: AuthHook; schemas: AuthHook };
  encryptAll(conversationId: string, attributes: Record<string, string>): Promise<Record<string, string>>;
  /** The GET attributes route's read: the same rule for secured values (plaintext only to agent-script). */
  readAttribute(conversationId: string, name: string, scopes: ReadonlySet<string> | undefined): Promise<AttributeRead | undefined>;
  /** The API's mapping of a failed Temporal call that changed nothing. */
  temporalFailure(err: unknown, what: string): HttpError;
}

export interface AttributeRead {
  name: string;
  value?: string;
  source: 'pending' | 'stored';
  secured?: boolean;
}

/** HTTP status of each outcome on the data action: bad input 400, the CRM's failure 502, its timeout 504. */
export const OUTCOME_STATUS: Record<CrmOutcome, number> = {
  Success: 200,
  ValidationError: 400,
  NotConfigured: 400,
  InvalidWorkflow: 400,
  InternalError: 502,
  Timeout: 504,
};

/** Time the API waits beyond the CRM budget for the resolution step and task scheduling. */
const OUTCOME_MARGIN_MS = 5_000;

export async function dataActions(app: FastifyInstance, deps: DataActionDeps): Promise<void> {
  const { client } = deps;

  // Errors raised anywhere on these routes (authentication, schema, handlers) answer in the data
  // action contract: {errors: [{message, code}]}.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (reply.statusCode < 400 || typeof payload !== 'string') return payload;
    try {
      const body = JSON.parse(payload) as Record<string, unknown>;
      if (Array.isArray(body.errors) || typeof body.message !== 'string') return payload;
      const entry: Record<string, unknown> = { message: body.message };
      if (typeof body.error === 'string') entry.code = body.error;
      if (typeof body.errorId === 'string') entry.errorId = body.errorId;
      return JSON.stringify({ errors: [entry] });
    } catch {
      return payload;
    }
  });

  for (const name of DATA_ACTION_NAMES) {
    const { input, output, summary } = DATA_ACTIONS[name];
    app.get(`/data-actions/${name}/schema`, { onRequest: deps.allow.schemas }, async () => ({ name, summary, input, output }));
  }

  /** Update-with-start: the conversation is started (as by its first webhook) if it does not exist. */
  const updateWithStart = <Ret, Args extends unknown[]>(conversationId: string, update: UpdateDefinition<Ret, Args>, args: Args, updateId: string, waitMs: number) => {
    const startWorkflowOperation = new WithStartWorkflowOperation(conversationWorkflow, {
      workflowId: workflowIdFor(conversationId),
      taskQueue: deps.taskQueue,
      args: [{ conversationId, settings: deps.conversation }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      // A closed conversation stays closed, as for webhooks.
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    });
    return client.withDeadline(Date.now() + waitMs, () => client.workflow.executeUpdateWithStart(update, { args, updateId, startWorkflowOperation }));
  };

  /** The errors every update-with-start shares; undefined when the caller must decide. */
  const commonFailure = (err: unknown, conversationId: string): HttpError | undefined => {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return new HttpError(409, `conversation ${conversationId} is closed`);
    const rejection = updateRejectionType(err);
    if (rejection?.type === ErrorType.ConversationClosed) return new HttpError(409, rejection.message);
    if (rejection?.type === ErrorType.InvalidAttributes) return new HttpError(400, rejection.message);
    if (keyServiceFailure(err)) return deps.temporalFailure(err, 'data action');
    return undefined;
  };

  const idempotencyKeyOf = (headers: Record<string, unknown>): string | undefined => headers['idempotency-key'] as string | undefined;

  app.post(
    '/data-actions/workflow-execute',
    { schema: { body: DATA_ACTIONS['workflow-execute'].body, headers: setAttributesHeaders }, onRequest: deps.allow.dataActions },
    async (request, reply) => {
      const { inputs } = request.body as { inputs: { conversationId: string; configurationId: string; workflowId: string; payload: unknown; timeoutMilliSec?: number | string; cacheKey?: string } };
      const { conversationId, ...crmRequest } = inputs;
      // Bad input is answered before Temporal is touched, and changes nothing.
      const check = checkCrmRequest(crmRequest);
      if (!check.ok) return sendOutcome(reply, { outcome: 'ValidationError', errorArgs: check.errorArgs });
      const idempotencyKey = idempotencyKeyOf(request.headers);
      const updateId = idempotencyKey ? `workflow-execute:${idempotencyKey}` : `workflow-execute:${randomUUID()}`;
      const configuration = deps.crm?.get(check.request.configurationId);
      const budgetMs = configuration ? crmBudgetMs(check.request.timeoutMs, configuration) : (check.request.timeoutMs ?? deps.temporalRequestTimeoutMs);
      let result: CrmExecuteResult;
      try {
        result = await updateWithStart(conversationId, workflowExecuteUpdate, [crmRequest], updateId, budgetMs + OUTCOME_MARGIN_MS);
      } catch (err) {
        const known = commonFailure(err, conversationId);
        if (known) throw known;
        const trouble = err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? 'deadline' : classifyTemporalError(err);
        // Refused while the conversation was changing state: not applied, nothing was called.
        if (trouble === 'precondition') throw new HttpError(503, 'the execution was not started: the conversation was changing state; retry it');
        if (trouble === 'deadline' || trouble === 'unreachable') {
          deps.logger.warn({ what: 'workflowExecute update', conversationId, trouble }, 'CRM workflow execute not confirmed');
          throw new HttpError(
            504,
            idempotencyKey
              ? 'no outcome in time; the execution may still run: retry with the same Idempotency-Key to get its one outcome'
              : 'no outcome in time; the execution may still run (send an Idempotency-Key so a retry returns its outcome instead of executing again)',
          );
        }
        throw deps.temporalFailure(err, 'workflowExecute update');
      }
      return sendOutcome(reply, result);
    },
  );

  app.post(
    '/data-actions/participant-data/set',
    { schema: { body: DATA_ACTIONS['participant-data/set'].body, headers: setAttributesHeaders }, onRequest: deps.allow.dataActions },
    async (request) => {
      const { inputs } = request.body as { inputs: { conversationId: string; attributes: Record<string, string>; secured?: boolean } };
      const { conversationId, attributes, secured } = inputs;
      const problem = attributeProblem(attributes);
      if (problem) throw new HttpError(400, problem);
      const values = secured ? await deps.encryptAll(conversationId, attributes) : attributes;
      const idempotencyKey = idempotencyKeyOf(request.headers);
      // The same id space as the attributes route: one key names one write, whichever route carried it.
      const updateId = idempotencyKey ? `set-attributes:${idempotencyKey}` : `set-attributes:${randomUUID()}`;
      try {
        const update = secured ? { attributes: values, secured: true } : { attributes: values };
        const result = await updateWithStart(conversationId, setAttributesUpdate, [update], updateId, deps.temporalRequestTimeoutMs);
        return { outputs: { conversationId, queued: result.queued, secured: secured === true } };
      } catch (err) {
        const known = commonFailure(err, conversationId);
        if (known) throw known;
        const trouble = err instanceof WorkflowUpdateRPCTimeoutOrCancelledError ? 'deadline' : classifyTemporalError(err);
        if (trouble === 'precondition') throw new HttpError(503, 'the write was not applied: the conversation was changing state; retry it');
        if (trouble === 'deadline' || trouble === 'unreachable') {
          deps.logger.warn({ what: 'setAttributes update-with-start', conversationId, trouble }, 'write not confirmed');
          throw unconfirmedWrite(idempotencyKey !== undefined);
        }
        throw deps.temporalFailure(err, 'setAttributes update-with-start');
      }
    },
  );

  app.post('/data-actions/participant-data/get', { schema: { body: DATA_ACTIONS['participant-data/get'].body }, onRequest: deps.allow.dataActions }, async (request) => {
    const { inputs } = request.body as { inputs: { conversationId: string; name: string } };
    const problem = attributeNameProblem(inputs.name);
    if (problem) throw new HttpError(400, problem);
    // A read starts nothing: a conversation that does not exist yet simply holds no value.
    const read = await deps.readAttribute(inputs.conversationId, inputs.name, request.parleyScopes);
    if (!read) return { outputs: { found: false, name: inputs.name, secured: false } };
    return { outputs: { found: true, name: read.name, secured: read.secured === true, source: read.source, ...(read.value !== undefined ? { value: read.value } : {}) } };
  });
}

function sendOutcome(reply: FastifyReply, result: CrmExecuteResult): FastifyReply {
  if (result.outcome === 'Success') {
    const resultSet = result.resultSet ?? {};
    return reply.status(200).send({ outputs: { outcome: 'Success', resultSet, resultSetJson: JSON.stringify(resultSet), cached: result.cached === true } });
  }
  const errorArgs = result.errorArgs ?? { reason: result.outcome };
  return reply.status(OUTCOME_STATUS[result.outcome]).send({ errors: [{ message: errorArgs.reason, code: result.outcome, errorArgs }] });
}
