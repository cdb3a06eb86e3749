// Which outcome branch a failed CRM call takes. Two mappings: the one a conversation runs today, in
// which the branch follows the last attempt, and the one it ran before (every failure that outlived
// the budget was a Timeout), kept for the conversations whose history took it (PATCHES in versions.ts).
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import type { CrmFailureDetails } from '../activities';
import { type CrmErrorArgs, type CrmExecuteResult, CrmFailureType } from '../contracts/crm';

const UNEXPECTED: CrmExecuteResult = { outcome: 'InternalError', errorArgs: { reason: 'the CRM call failed unexpectedly' } };

function detailsOf(failure: unknown): CrmFailureDetails | undefined {
  return failure instanceof ApplicationFailure ? (failure.details?.[0] as CrmFailureDetails | undefined) : undefined;
}

function withDetails(errorArgs: CrmErrorArgs, details: CrmFailureDetails | undefined): CrmErrorArgs {
  return {
    ...errorArgs,
    ...(details?.httpStatus !== undefined ? { httpStatus: details.httpStatus } : {}),
    ...(details?.attempts !== undefined ? { attempts: details.attempts } : {}),
  };
}

/**
 * When the budget ends, the branch follows the last attempt, as the Genesys data-action contract and
 * CXone's Workflow Execute draw the line: an answer (a 5xx, 408 or 429, a refused or reset
 * connection) is an InternalError naming its status and the attempts made; only an attempt still
 * waiting for the CRM when the budget ran out is a Timeout (no answer within timeoutMilliSec).
 */
export function outcomeOfLastAttempt(err: unknown, budgetMs: number): CrmExecuteResult {
  if (!(err instanceof ActivityFailure)) return UNEXPECTED;
  const cause = err.cause;
  const timeout = `no answer within the budget of ${budgetMs} ms, retries included`;
  if (cause instanceof TimeoutFailure) {
    // Temporal ended the attempt (schedule-to-close, or a worker that stopped heartbeating with no
    // time left for another attempt): it was still waiting. The SDK hands the workflow no earlier
    // attempt's failure here, hence no status and no count; an answer is final before the budget
    // ends (CRM_RETRY), so it never arrives this way.
    return { outcome: 'Timeout', errorArgs: { reason: timeout } };
  }
  if (!(cause instanceof ApplicationFailure)) return UNEXPECTED;
  const details = detailsOf(cause);
  switch (cause.type) {
    case CrmFailureType.NoAnswer:
      return { outcome: 'Timeout', errorArgs: withDetails({ reason: timeout }, { attempts: details?.attempts ?? 1 }) };
    case CrmFailureType.UnknownWorkflow:
      return { outcome: 'InvalidWorkflow', errorArgs: withDetails({ field: 'workflowId', reason: cause.message }, details) };
    case CrmFailureType.NotConfigured:
      return { outcome: 'NotConfigured', errorArgs: withDetails({ field: 'configurationId', reason: cause.message }, details) };
    case CrmFailureType.UnknownConfiguration:
      return { outcome: 'ValidationError', errorArgs: withDetails({ field: 'configurationId', reason: cause.message }, details) };
    case CrmFailureType.Unavailable: {
      // Retried until no further attempt fitted in the budget: the last answer is the outcome.
      const attempts = details?.attempts ?? 1;
      const reason = `${cause.message}; ${attempts} attempt${attempts === 1 ? '' : 's'} within the budget of ${budgetMs} ms`;
      return { outcome: 'InternalError', errorArgs: withDetails({ reason }, { ...details, attempts }) };
    }
    default:
      return { outcome: 'InternalError', errorArgs: withDetails({ reason: cause.message }, details) };
  }
}

/** Before the branch followed the last attempt: whatever outlived the budget was a Timeout. */
export function outcomeBeforeLastAttemptRule(err: unknown, budgetMs: number): CrmExecuteResult {
  if (!(err instanceof ActivityFailure)) return UNEXPECTED;
  const cause = err.cause;
  // A schedule-to-close timeout carries the last attempt's failure as its own cause.
  const last = cause instanceof TimeoutFailure ? cause.cause : cause;
  const details = detailsOf(last);
  if (cause instanceof TimeoutFailure || err.retryState === RetryState.TIMEOUT) {
    const lastReason = last instanceof ApplicationFailure ? `; last attempt: ${last.message}` : '';
    return { outcome: 'Timeout', errorArgs: withDetails({ reason: `no outcome within the budget of ${budgetMs} ms, retries included${lastReason}` }, details) };
  }
  if (cause instanceof ApplicationFailure) {
    switch (cause.type) {
      case CrmFailureType.UnknownWorkflow:
        return { outcome: 'InvalidWorkflow', errorArgs: withDetails({ field: 'workflowId', reason: cause.message }, details) };
      case CrmFailureType.NotConfigured:
        return { outcome: 'NotConfigured', errorArgs: withDetails({ field: 'configurationId', reason: cause.message }, details) };
      default:
        return { outcome: 'InternalError', errorArgs: withDetails({ reason: cause.message }, details) };
    }
  }
  return UNEXPECTED;
}
