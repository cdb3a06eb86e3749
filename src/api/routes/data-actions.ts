// Data actions for flow platforms (a Genesys Cloud custom Data Action's contract): POST a body
// `{inputs, context, settings}`, get `{outputs}` or `{errors: [{message}]}`. A flow runs before the
// routing platform's first webhook, so a write to a conversation that does not exist yet starts it
// (update-with-start, the same workflow id and start arguments as the webhook's signal-with-start).
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { type CrmExecuteResult, type CrmOutcome, checkCrmRequest, crmBudgetMs } from '../../conversation';
import { type CrmRegistry, unknownConfiguration } from '../../crm/registry';
import type { AuthHook } from '../../security/auth';
import { attributeNameProblem, attributeProblem } from '../../conversation';
import { readAttribute, type AttributeReader } from '../attribute-read';
import { DATA_ACTIONS, DATA_ACTION_NAMES } from '../data-action-schemas';
import type { SchemaTypes } from '../schema-types';
import { setAttributesHeaders } from '../schemas';
import { HttpError } from '../temporal-errors';

/** What the data actions need from the API around them (src/api/server.ts builds it). */
export interface DataActionDeps {
  /** The conversation gateway, the store and the logger: the GET attributes route's read, so the same rule for secured values (plaintext to an agent script, or to a flow's explicit secured read). */
  reader: AttributeReader;
  temporalRequestTimeoutMs: number;
  crm?: CrmRegistry;
  allow: { dataActions: AuthHook; schemas: AuthHook };
}

/**
 * HTTP status of each outcome on the data action, as the Genesys data-action contract answers: bad
 * input 400; an answer from the CRM that is not a success, or no connection to it, 502; no answer
 * within the budget 504.
 */
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
  const { gateway } = deps.reader;
  const routes = app.withTypeProvider<SchemaTypes>();

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

  routes.post(
    '/data-actions/workflow-execute',
    { schema: { body: DATA_ACTIONS['workflow-execute'].body, headers: setAttributesHeaders }, onRequest: deps.allow.dataActions },
    async (request, reply) => {
      const { inputs } = request.body;
      const { conversationId, ...crmRequest } = inputs;
      // Bad input is answered before Temporal is touched, and changes nothing.
      const check = checkCrmRequest(crmRequest);
      if (!check.ok) return sendOutcome(reply, { outcome: 'ValidationError', errorArgs: check.errorArgs });
      // An id this API's registry does not hold is bad input, answered here like the other input
      // rules. An empty registry is not authoritative (a deployment may give the file to the workers
      // only): the worker answers then, NotConfigured from an empty registry of its own.
      const configuration = deps.crm?.get(check.request.configurationId);
      if (deps.crm && !deps.crm.isEmpty && !configuration) {
        const unknown = unknownConfiguration(deps.crm, check.request.configurationId);
        return sendOutcome(reply, { outcome: unknown.outcome, errorArgs: unknown.errorArgs });
      }
      const idempotencyKey = request.headers['idempotency-key'];
      const updateId = idempotencyKey ? `workflow-execute:${idempotencyKey}` : `workflow-execute:${randomUUID()}`;
      // Only how long this request waits: the other outcomes (NotConfigured, InvalidWorkflow, the budget) are the worker's.
      const budgetMs = configuration ? crmBudgetMs(check.request.timeoutMs, configuration) : (check.request.timeoutMs ?? deps.temporalRequestTimeoutMs);
      // The checked request: the workflow applies no input rule again.
      const result: CrmExecuteResult = await gateway.workflowExecute(conversationId, check.request, { updateId, waitMs: budgetMs + OUTCOME_MARGIN_MS, idempotencyKey });
      return sendOutcome(reply, result);
    },
  );

  routes.post(
    '/data-actions/participant-data/set',
    { schema: { body: DATA_ACTIONS['participant-data/set'].body, headers: setAttributesHeaders }, onRequest: deps.allow.dataActions },
    async (request) => {
      const { inputs } = request.body;
      const { conversationId, attributes, secured } = inputs;
      const problem = attributeProblem(attributes);
      if (problem) throw new HttpError(400, problem);
      const queued = await gateway.setAttributesStarting(conversationId, attributes, { secured, idempotencyKey: request.headers['idempotency-key'] });
      return { outputs: { conversationId, queued, secured: secured === true } };
    },
  );

  routes.post('/data-actions/participant-data/get', { schema: { body: DATA_ACTIONS['participant-data/get'].body }, onRequest: deps.allow.dataActions }, async (request) => {
    const { inputs } = request.body;
    const problem = attributeNameProblem(inputs.name);
    if (problem) throw new HttpError(400, problem);
    // A read starts nothing: a conversation that does not exist yet simply holds no value.
    const read = await readAttribute(deps.reader, inputs.conversationId, inputs.name, { scopes: request.parleyScopes, caller: request.parleyCaller?.name, secured: inputs.secured === true });
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
