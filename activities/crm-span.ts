// The CRM call's outcome on its activity span (tracing on: the activity interceptor made the span
// active): the failure type the workflow maps to an outcome branch, and the CRM's HTTP status.
// Never the payload, the result set or the CRM's error text. Tracing off: no active span, nothing done.
import { trace } from '@opentelemetry/api';
import { ApplicationFailure } from '@temporalio/common';
import type { CrmCallResult, CrmFailureDetails } from '../src/conversation';

export async function recordCrmOutcome(call: () => Promise<CrmCallResult>): Promise<CrmCallResult> {
  const span = trace.getActiveSpan();
  try {
    const result = await call();
    span?.setAttributes({ 'parley.crm.outcome': 'Success', 'http.response.status_code': result.httpStatus, 'parley.crm.attempt': result.attempts });
    return result;
  } catch (err) {
    if (err instanceof ApplicationFailure) {
      const details = err.details?.[0] as CrmFailureDetails | undefined;
      span?.setAttributes({
        'parley.crm.failure_type': err.type ?? 'unknown',
        ...(typeof details?.httpStatus === 'number' ? { 'http.response.status_code': details.httpStatus } : {}),
        ...(typeof details?.attempts === 'number' ? { 'parley.crm.attempt': details.attempts } : {}),
      });
    }
    throw err;
  }
}
