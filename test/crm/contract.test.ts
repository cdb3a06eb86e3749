// The pure rules of CRM Workflow Execute: what is a ValidationError, where the timeout comes from,
// how the budget is clamped, the shape check the update applies to a checked request, and the
// bounds of the cacheKey cache.
import { CRM_LIMITS, type CrmState, cacheResult, cachedResult, checkCrmRequest, checkedRequestProblem, crmBudgetMs, crmRetryDelayMs, recordExecution } from '../../src/conversation/contracts/crm';
import { ActivityFailure, ApplicationFailure, RetryState, TimeoutFailure, TimeoutType } from '@temporalio/common';
import { outcomeBeforeLastAttemptRule, outcomeOfLastAttempt } from '../../src/conversation/workflows/crm-failure-outcome';
import { retryAfter } from '../../activities/crm';

const base = { configurationId: 'crm', workflowId: 'search', payload: {} };

test('a payload given as JSON text is parsed; its timeoutMilliSec is read, the request field wins', () => {
  expect(checkCrmRequest({ ...base, payload: '{"a":1,"timeoutMilliSec":"6000"}' })).toEqual({
    ok: true,
    request: { configurationId: 'crm', workflowId: 'search', payload: { a: 1, timeoutMilliSec: '6000' }, timeoutMs: 6000 },
  });
  expect(checkCrmRequest({ ...base, payload: { timeoutMilliSec: 6000 }, timeoutMilliSec: '2500' })).toMatchObject({ ok: true, request: { timeoutMs: 2500 } });
  expect(checkCrmRequest({ ...base, cacheKey: 'k' })).toMatchObject({ ok: true, request: { cacheKey: 'k' } });
});

test.each<[string, Record<string, unknown>, string]>([
  ['payload not JSON', { ...base, payload: '{nope' }, 'payload'],
  ['payload JSON but not an object', { ...base, payload: '"text"' }, 'payload'],
  ['payload missing', { configurationId: 'crm', workflowId: 'search' }, 'payload'],
  ['payload too large', { ...base, payload: { big: 'x'.repeat(CRM_LIMITS.payloadBytesMax) } }, 'payload'],
  ['configurationId missing', { workflowId: 'search', payload: {} }, 'configurationId'],
  ['workflowId with a slash', { ...base, workflowId: 'a/b' }, 'workflowId'],
  ['timeout below the minimum', { ...base, timeoutMilliSec: 99 }, 'timeoutMilliSec'],
  ['timeout above the maximum', { ...base, timeoutMilliSec: CRM_LIMITS.timeoutMsMax + 1 }, 'timeoutMilliSec'],
  ['timeout not a number', { ...base, payload: { timeoutMilliSec: '6s' } }, 'timeoutMilliSec'],
  ['timeout fractional', { ...base, timeoutMilliSec: 1500.5 }, 'timeoutMilliSec'],
  ['empty cacheKey', { ...base, cacheKey: '' }, 'cacheKey'],
])('ValidationError: %s', (_case, request, field) => {
  expect(checkCrmRequest(request)).toMatchObject({ ok: false, errorArgs: { field } });
});

test('what checkCrmRequest makes passes the update\'s shape check, also after a JSON round trip (as Temporal carries it)', () => {
  const requests = [
    { ...base, payload: '{"a":1,"timeoutMilliSec":"6000"}' },
    { ...base, payload: { nested: { list: [1, 'é', null] } }, timeoutMilliSec: '2500', cacheKey: 'k' },
    { ...base, payload: { big: 'x'.repeat(CRM_LIMITS.payloadBytesMax - 20) } },
  ];
  for (const raw of requests) {
    const check = checkCrmRequest(raw);
    if (!check.ok) throw new Error(check.errorArgs.reason);
    expect(checkedRequestProblem(check.request)).toBeUndefined();
    expect(checkedRequestProblem(JSON.parse(JSON.stringify(check.request)))).toBeUndefined();
  }
});

test.each<[string, unknown, string]>([
  ['not an object', 'configurationId=crm', 'request'],
  ['payload as JSON text (a raw request)', { ...base, payload: '{"a":1}' }, 'payload'],
  ['timeoutMilliSec (a raw request)', { ...base, timeoutMilliSec: 3000 }, 'timeoutMilliSec'],
  ['payload an array', { ...base, payload: [1] }, 'payload'],
  ['payload too large', { ...base, payload: { big: 'x'.repeat(CRM_LIMITS.payloadBytesMax) } }, 'payload'],
  ['malformed configurationId', { ...base, configurationId: 'a b' }, 'configurationId'],
  ['malformed workflowId', { ...base, workflowId: 'a/b' }, 'workflowId'],
  ['timeoutMs as text', { ...base, timeoutMs: '3000' }, 'timeoutMs'],
  ['timeoutMs out of range', { ...base, timeoutMs: CRM_LIMITS.timeoutMsMax + 1 }, 'timeoutMs'],
  ['empty cacheKey', { ...base, cacheKey: '' }, 'cacheKey'],
])('not a checked request: %s', (_case, request, field) => {
  expect(checkedRequestProblem(request)).toMatchObject({ field });
});

test('the budget: the asked timeout or the default, never above the maximum', () => {
  const configuration = { defaultTimeoutMs: 6000, maxTimeoutMs: 10_000 };
  expect(crmBudgetMs(undefined, configuration)).toBe(6000);
  expect(crmBudgetMs(2000, configuration)).toBe(2000);
  expect(crmBudgetMs(60_000, configuration)).toBe(10_000);
});

test('the cache keeps the newest entries within its count and byte bounds; a key names one (configuration, workflow)', () => {
  const crm: CrmState = { executions: [], cache: [] };
  const request = (cacheKey: string, workflowId = 'search') => ({ configurationId: 'crm', workflowId, payload: {}, cacheKey });
  for (let i = 0; i < CRM_LIMITS.cacheEntriesMax + 5; i++) cacheResult(crm, request(`k${i}`), { i }, 't');
  expect(crm.cache).toHaveLength(CRM_LIMITS.cacheEntriesMax);
  expect(cachedResult(crm, request('k0'))).toBeUndefined();
  expect(cachedResult(crm, request(`k${CRM_LIMITS.cacheEntriesMax + 4}`))?.resultSet).toEqual({ i: CRM_LIMITS.cacheEntriesMax + 4 });
  expect(cachedResult(crm, request(`k${CRM_LIMITS.cacheEntriesMax + 4}`, 'other'))).toBeUndefined();
  // Large results push out older ones by size.
  const big = 'x'.repeat(100 * 1024);
  cacheResult(crm, request('big1'), big, 't');
  cacheResult(crm, request('big2'), big, 't');
  cacheResult(crm, request('big3'), big, 't');
  expect(crm.cache.reduce((sum, e) => sum + e.bytes, 0)).toBeLessThanOrEqual(CRM_LIMITS.cacheBytesMax);
  expect(cachedResult(crm, request('big1'))).toBeUndefined();
  expect(cachedResult(crm, request('big3'))).toBeDefined();
  // A result larger than the whole cache is not kept.
  expect(cacheResult(crm, request('huge'), 'y'.repeat(CRM_LIMITS.cacheBytesMax + 1), 't')).toBe(false);
});

test('recent executions are bounded', () => {
  const crm: CrmState = { executions: [], cache: [] };
  for (let i = 0; i < CRM_LIMITS.executionsKept + 10; i++) recordExecution(crm, { requestId: `r${i}`, outcome: 'Success', completedAt: 't' });
  expect(crm.executions).toHaveLength(CRM_LIMITS.executionsKept);
  expect(crm.executions[0].requestId).toBe('r10');
});

test('Retry-After: seconds or an HTTP date, capped at a minute', () => {
  const now = Date.parse('2026-11-27T10:00:00Z');
  expect(retryAfter('2', now)).toBe(2000);
  expect(retryAfter('Fri, 27 Nov 2026 10:00:05 GMT', now)).toBe(5000);
  expect(retryAfter('3600', now)).toBe(60_000);
  expect(retryAfter('soon', now)).toBeUndefined();
  expect(retryAfter(null, now)).toBeUndefined();
});

test('the back-off after each failed attempt: 200 ms doubling, at most 2 s', () => {
  expect([1, 2, 3, 4, 5, 6].map(crmRetryDelayMs)).toEqual([200, 400, 800, 1600, 2000, 2000]);
});

describe('which branch a failed CRM call takes', () => {
  const activityFailure = (retryState: RetryState, cause: Error) => new ActivityFailure('activity failed', 'executeCrmWorkflow', '2', retryState, 'worker', cause);
  const crmFailure = (type: string, message: string, details: Record<string, unknown>) => ApplicationFailure.create({ type, message, nonRetryable: true, details: [details] });
  const answered500 = activityFailure(RetryState.NON_RETRYABLE_FAILURE, crmFailure('CrmUnavailable', 'External service returned status 500', { httpStatus: 500, attempts: 3 }));
  const refused = activityFailure(RetryState.NON_RETRYABLE_FAILURE, crmFailure('CrmUnavailable', 'Unable to connect to external service (ECONNREFUSED)', { attempts: 2 }));
  const stillWaiting = activityFailure(RetryState.TIMEOUT, new TimeoutFailure('activity ScheduleToClose timeout', undefined, TimeoutType.SCHEDULE_TO_CLOSE));
  const cutOffByTheWorker = activityFailure(RetryState.NON_RETRYABLE_FAILURE, crmFailure('CrmNoAnswer', 'no answer before the budget ended', { attempts: 2 }));
  const unknownId = activityFailure(RetryState.NON_RETRYABLE_FAILURE, crmFailure('CrmUnknownConfiguration', 'configurationId "x" is not a configured CRM integration', { attempts: 1 }));

  test('the last attempt decides: an answer or a refused connection is InternalError with its status and attempts; no answer is Timeout', () => {
    expect(outcomeOfLastAttempt(answered500, 6000)).toEqual({
      outcome: 'InternalError',
      errorArgs: { reason: 'External service returned status 500; 3 attempts within the budget of 6000 ms', httpStatus: 500, attempts: 3 },
    });
    expect(outcomeOfLastAttempt(refused, 6000)).toEqual({
      outcome: 'InternalError',
      errorArgs: { reason: 'Unable to connect to external service (ECONNREFUSED); 2 attempts within the budget of 6000 ms', attempts: 2 },
    });
    expect(outcomeOfLastAttempt(stillWaiting, 6000)).toEqual({ outcome: 'Timeout', errorArgs: { reason: 'no answer within the budget of 6000 ms, retries included' } });
    expect(outcomeOfLastAttempt(cutOffByTheWorker, 6000)).toEqual({ outcome: 'Timeout', errorArgs: { reason: 'no answer within the budget of 6000 ms, retries included', attempts: 2 } });
    expect(outcomeOfLastAttempt(unknownId, 6000)).toMatchObject({ outcome: 'ValidationError', errorArgs: { field: 'configurationId' } });
  });

  test('before the patch, whatever outlived the budget was a Timeout (the mapping a history from then replays)', () => {
    const retriedTo500 = activityFailure(RetryState.TIMEOUT, crmFailure('CrmUnavailable', 'the CRM answered 500', { httpStatus: 500, attempts: 4 }));
    expect(outcomeBeforeLastAttemptRule(retriedTo500, 6000)).toMatchObject({ outcome: 'Timeout', errorArgs: { httpStatus: 500, attempts: 4 } });
    expect(outcomeBeforeLastAttemptRule(stillWaiting, 6000).outcome).toBe('Timeout');
    expect(outcomeOfLastAttempt(retriedTo500, 6000).outcome).toBe('InternalError');
  });
});
