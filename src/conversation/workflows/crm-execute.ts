// CRM Workflow Execute inside the conversation: the cacheKey cache, then the configuration's
// resolution (a local activity: one marker, in the same workflow task) and the CRM call (an activity
// bounded by the budget the resolution gave). The request arrives checked (checkCrmRequest, by the
// data action or the client), so the input rules are not applied again here. Every path ends in
// exactly one outcome, recorded in the conversation's state. Runs only for conversations that
// execute a CRM workflow, so the histories of the others are unchanged.
import { ApplicationFailure, isCancellation, log, patched, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  type CheckedCrmRequest,
  type CrmExecuteResult,
  type CrmState,
  CRM_RETRY,
  cacheResult,
  cachedResult,
  checkedRequestProblem,
  recordExecution,
} from '../contracts/crm';
import { ErrorType, type ConversationState } from '../messages';
import { PATCHES } from '../versions';
import { outcomeBeforeLastAttemptRule, outcomeOfLastAttempt } from './crm-failure-outcome';

/** Bound on the resolution step when the caller names no timeout (its default lives in the registry, which only the worker reads). */
const RESOLVE_TIMEOUT_MS = 10_000;

/** A worker killed during a CRM call is noticed after this long without a heartbeat, and the call retried elsewhere. */
const CRM_HEARTBEAT_TIMEOUT_MS = 3_000;

/**
 * The update's validator: a closed conversation takes no execution, and a request that is not what
 * checkCrmRequest makes is refused before anything is recorded (a shape check: nothing is parsed).
 */
export function validateWorkflowExecute(state: ConversationState, request: CheckedCrmRequest): void {
  if (state.status === 'closed') {
    throw ApplicationFailure.nonRetryable('the conversation is closed; it takes no more CRM workflow executions', ErrorType.ConversationClosed);
  }
  const problem = checkedRequestProblem(request);
  if (problem) throw ApplicationFailure.nonRetryable(problem.reason, ErrorType.InvalidCrmRequest, problem);
}

export async function workflowExecute(state: ConversationState, request: CheckedCrmRequest, requestId: string): Promise<CrmExecuteResult> {
  const crm: CrmState = (state.crm ??= { executions: [], cache: [] });
  const startedAt = Date.now();
  const finish = (result: CrmExecuteResult): CrmExecuteResult => {
    recordExecution(crm, {
      requestId,
      configurationId: request.configurationId,
      workflowId: request.workflowId,
      outcome: result.outcome,
      completedAt: new Date().toISOString(),
      ...(result.cached ? { cached: true } : {}),
      ...(result.errorArgs ? { reason: result.errorArgs.reason } : {}),
    });
    log.info('CRM workflow execute', { conversationId: state.conversationId, requestId, outcome: result.outcome, cached: result.cached === true });
    return result;
  };

  const hit = cachedResult(crm, request);
  if (hit) return finish({ outcome: 'Success', resultSet: hit.resultSet, cached: true });

  let budgetMs: number;
  // A local activity: the lookup is in the worker's memory, so it runs inside this workflow task and
  // leaves one marker, instead of a round trip through the activity task queue and another task.
  const { resolveCrmWorkflow } = proxyLocalActivities<Activities>({
    // Only matters when the lookup cannot run, and then it counts against the caller's budget like everything else.
    scheduleToCloseTimeout: Math.min(RESOLVE_TIMEOUT_MS, request.timeoutMs ?? RESOLVE_TIMEOUT_MS),
    startToCloseTimeout: '5 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '2 seconds' },
  });
  try {
    const resolution = await resolveCrmWorkflow({
      configurationId: request.configurationId,
      workflowId: request.workflowId,
      ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
    });
    if (!resolution.ok) return finish({ outcome: resolution.outcome, errorArgs: resolution.errorArgs });
    budgetMs = resolution.budgetMs - (Date.now() - startedAt);
  } catch (err) {
    if (isCancellation(err)) throw err;
    return finish({ outcome: 'Timeout', errorArgs: { reason: 'no worker resolved the CRM configuration in time' } });
  }
  if (budgetMs <= 0) return finish({ outcome: 'Timeout', errorArgs: { reason: 'the budget was spent before the CRM could be called' } });

  const { executeCrmWorkflow } = proxyActivities<Activities>({
    // The whole budget, retries included: Temporal itself ends the execution there.
    scheduleToCloseTimeout: budgetMs,
    heartbeatTimeout: Math.min(CRM_HEARTBEAT_TIMEOUT_MS, budgetMs),
    retry: { initialInterval: CRM_RETRY.initialIntervalMs, backoffCoefficient: CRM_RETRY.backoffCoefficient, maximumInterval: CRM_RETRY.maximumIntervalMs },
  });
  try {
    const answer = await executeCrmWorkflow({
      configurationId: request.configurationId,
      workflowId: request.workflowId,
      payload: request.payload,
      // Stable across retries, workers and continue-as-new: the CRM acts once per execution.
      idempotencyKey: `${workflowInfo().workflowId}/${requestId}`,
    });
    cacheResult(crm, request, answer.resultSet, new Date().toISOString());
    return finish({ outcome: 'Success', resultSet: answer.resultSet });
  } catch (err) {
    if (isCancellation(err)) throw err;
    // A marker on the first failure a run maps this way; a history without it replays the old mapping,
    // so its recorded outcomes stay what their callers were answered.
    const lastAttemptDecides = patched(PATCHES.crmOutcomeOfLastAttempt);
    return finish(lastAttemptDecides ? outcomeOfLastAttempt(err, budgetMs) : outcomeBeforeLastAttemptRule(err, budgetMs));
  }
}
