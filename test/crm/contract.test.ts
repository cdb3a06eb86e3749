// The pure rules of CRM Workflow Execute: what is a ValidationError, where the timeout comes from,
// how the budget is clamped, the shape check the update applies to a checked request, and the
// bounds of the cacheKey cache.
import { CRM_LIMITS, type CrmState, cacheResult, cachedResult, checkCrmRequest, checkedRequestProblem, crmBudgetMs, recordExecution } from '../../src/conversation/contracts/crm';
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
