// CRM Workflow Execute (NICE CXone Studio's *Workflow Execute*): what a caller sends, the six
// outcome branches, the input rules and the per-conversation result cache. Imported by the workflow
// bundle, so deterministic and Node-free; the registry and the HTTP call live in src/crm/registry.ts
// and activities/crm.ts.
import { utf8Length } from '../validation';

export const CRM_OUTCOMES = ['Success', 'Timeout', 'ValidationError', 'InvalidWorkflow', 'NotConfigured', 'InternalError'] as const;
export type CrmOutcome = (typeof CRM_OUTCOMES)[number];

export interface CrmExecuteRequest {
  configurationId: string;
  workflowId: string;
  /** A JSON object, or text that parses as one (Studio passes `{searchInput.asjson()}`). */
  payload: unknown;
  /** The whole budget, retries included. Absent: read from the payload's own `timeoutMilliSec`, else the configuration's default. */
  timeoutMilliSec?: number | string;
  /** A Success with a cacheKey is kept; the same key (same configuration and workflow) is answered from it without a CRM call. */
  cacheKey?: string;
}

/** Details of a non-Success outcome. Never a secret, never the CRM's answer body (it may hold customer data). */
export interface CrmErrorArgs {
  reason: string;
  /** The field a ValidationError is about. */
  field?: string;
  /** The CRM's HTTP status of the last attempt, when there was an answer. */
  httpStatus?: number;
  /** CRM calls made for this execution (retries included). */
  attempts?: number;
}

export interface CrmExecuteResult {
  outcome: CrmOutcome;
  /** Success only: the CRM's JSON answer. */
  resultSet?: unknown;
  errorArgs?: CrmErrorArgs;
  /** Success answered from the conversation's cache: no CRM call was made. */
  cached?: boolean;
}

/** One execution as the conversation records it (no payload, no result: those stay in the cache and the update's own payloads). */
export interface CrmExecutionRecord {
  /** The update id (the idempotency key sent to the CRM is `<workflow id>/<requestId>`). */
  requestId: string;
  configurationId?: string;
  workflowId?: string;
  outcome: CrmOutcome;
  completedAt: string;
  cached?: boolean;
  reason?: string;
}

export interface CrmCacheEntry {
  configurationId: string;
  workflowId: string;
  cacheKey: string;
  resultSet: unknown;
  /** JSON size of resultSet. */
  bytes: number;
  storedAt: string;
}

/** What a conversation holds of its CRM executions; absent until its first one, so other conversations' state is unchanged. */
export interface CrmState {
  executions: CrmExecutionRecord[];
  cache: CrmCacheEntry[];
}

export const CRM_LIMITS = {
  idPattern: /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/,
  cacheKeyMaxChars: 200,
  /** JSON size of a payload sent to the CRM. */
  payloadBytesMax: 64 * 1024,
  /** JSON size of a CRM answer kept as resultSet; a larger answer is an InternalError. */
  resultBytesMax: 128 * 1024,
  /** timeoutMilliSec outside this range is a ValidationError; within it, a configuration's maximum clamps it. */
  timeoutMsMin: 100,
  timeoutMsMax: 300_000,
  /** Recent executions a conversation keeps in its state (oldest dropped first). */
  executionsKept: 50,
  /** Cached results a conversation keeps, by count and total JSON size (oldest evicted first). */
  cacheEntriesMax: 20,
  cacheBytesMax: 256 * 1024,
} as const;

/**
 * A request that passed the input rules: the payload as an object and the timeout it asked for, if
 * any. What the workflowExecute update takes: the rules are applied once, by whoever sends it (the
 * data action, or any Temporal client through checkCrmRequest).
 */
export interface CheckedCrmRequest {
  configurationId: string;
  workflowId: string;
  payload: Record<string, unknown>;
  timeoutMs?: number;
  cacheKey?: string;
}

export type CrmCheck = { ok: true; request: CheckedCrmRequest } | { ok: false; errorArgs: CrmErrorArgs };

/** The ValidationError rules, checked before any call: ids, payload, timeout, cacheKey. */
export function checkCrmRequest(input: unknown): CrmCheck {
  const fail = (field: string, reason: string): CrmCheck => ({ ok: false, errorArgs: { field, reason } });
  if (!isPlainObject(input)) return fail('request', 'the request must be an object with configurationId, workflowId and payload');
  const { configurationId, workflowId, cacheKey } = input;
  if (typeof configurationId !== 'string' || !CRM_LIMITS.idPattern.test(configurationId)) {
    return fail('configurationId', 'configurationId must be 1-128 letters, digits or . _ : - (starting with a letter or digit)');
  }
  if (typeof workflowId !== 'string' || !CRM_LIMITS.idPattern.test(workflowId)) {
    return fail('workflowId', 'workflowId must be 1-128 letters, digits or . _ : - (starting with a letter or digit)');
  }
  let payload: unknown = input.payload;
  if (typeof payload === 'string') {
    try {
      payload = JSON.parse(payload);
    } catch {
      return fail('payload', 'payload is not valid JSON');
    }
  }
  if (!isPlainObject(payload)) return fail('payload', 'payload must be a JSON object (or text holding one)');
  if (utf8Length(JSON.stringify(payload)) > CRM_LIMITS.payloadBytesMax) {
    return fail('payload', `payload is larger than ${CRM_LIMITS.payloadBytesMax} bytes of JSON`);
  }
  // Studio's way: `timeoutMilliSec = "6000"` inside the payload; the request's own field wins.
  const rawTimeout = input.timeoutMilliSec ?? payload.timeoutMilliSec;
  let timeoutMs: number | undefined;
  if (rawTimeout !== undefined && rawTimeout !== null && rawTimeout !== '') {
    timeoutMs = typeof rawTimeout === 'number' ? rawTimeout : typeof rawTimeout === 'string' && /^\s*\d{1,9}\s*$/.test(rawTimeout) ? Number(rawTimeout) : NaN;
    if (!Number.isInteger(timeoutMs) || timeoutMs < CRM_LIMITS.timeoutMsMin || timeoutMs > CRM_LIMITS.timeoutMsMax) {
      return fail('timeoutMilliSec', `timeoutMilliSec must be a whole number of milliseconds from ${CRM_LIMITS.timeoutMsMin} to ${CRM_LIMITS.timeoutMsMax}`);
    }
  }
  if (cacheKey !== undefined && (typeof cacheKey !== 'string' || cacheKey.length === 0 || cacheKey.length > CRM_LIMITS.cacheKeyMaxChars)) {
    return fail('cacheKey', `cacheKey must be text of 1 to ${CRM_LIMITS.cacheKeyMaxChars} characters`);
  }
  const request: CheckedCrmRequest = { configurationId, workflowId, payload };
  if (timeoutMs !== undefined) request.timeoutMs = timeoutMs;
  if (typeof cacheKey === 'string') request.cacheKey = cacheKey;
  return { ok: true, request };
}

const CHECKED_FIELDS: ReadonlySet<string> = new Set(['configurationId', 'workflowId', 'payload', 'timeoutMs', 'cacheKey']);

/**
 * Whether a value is what checkCrmRequest makes, without parsing anything: the workflow's update
 * validator refuses a malformed one with this, so a raw request (payload as JSON text,
 * timeoutMilliSec) sent to the update is refused rather than run without its timeout.
 */
export function checkedRequestProblem(request: unknown): CrmErrorArgs | undefined {
  const problem = (field: string, reason: string): CrmErrorArgs => ({ field, reason });
  if (!isPlainObject(request)) return problem('request', 'the request must be an object made by checkCrmRequest');
  const unknown = Object.keys(request).find((key) => !CHECKED_FIELDS.has(key));
  if (unknown !== undefined) {
    return problem(unknown, `"${unknown}" is not a field of a checked request (configurationId, workflowId, payload, timeoutMs, cacheKey): send what checkCrmRequest makes`);
  }
  const { configurationId, workflowId, payload, timeoutMs, cacheKey } = request;
  if (typeof configurationId !== 'string' || !CRM_LIMITS.idPattern.test(configurationId)) return problem('configurationId', 'configurationId is malformed');
  if (typeof workflowId !== 'string' || !CRM_LIMITS.idPattern.test(workflowId)) return problem('workflowId', 'workflowId is malformed');
  if (!isPlainObject(payload)) return problem('payload', 'payload must be a JSON object (checkCrmRequest parses JSON text)');
  if (utf8Length(JSON.stringify(payload)) > CRM_LIMITS.payloadBytesMax) return problem('payload', `payload is larger than ${CRM_LIMITS.payloadBytesMax} bytes of JSON`);
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < CRM_LIMITS.timeoutMsMin || timeoutMs > CRM_LIMITS.timeoutMsMax)) {
    return problem('timeoutMs', `timeoutMs must be a whole number of milliseconds from ${CRM_LIMITS.timeoutMsMin} to ${CRM_LIMITS.timeoutMsMax}`);
  }
  if (cacheKey !== undefined && (typeof cacheKey !== 'string' || cacheKey.length === 0 || cacheKey.length > CRM_LIMITS.cacheKeyMaxChars)) {
    return problem('cacheKey', `cacheKey must be text of 1 to ${CRM_LIMITS.cacheKeyMaxChars} characters`);
  }
  return undefined;
}

/** The budget for one execution: the asked timeout, else the default, clamped to the configuration's maximum. */
export function crmBudgetMs(askedMs: number | undefined, configuration: { defaultTimeoutMs: number; maxTimeoutMs: number }): number {
  return Math.min(askedMs ?? configuration.defaultTimeoutMs, configuration.maxTimeoutMs);
}

export function cachedResult(crm: CrmState | undefined, request: CheckedCrmRequest): CrmCacheEntry | undefined {
  if (!crm || request.cacheKey === undefined) return undefined;
  return crm.cache.find(
    (e) => e.cacheKey === request.cacheKey && e.configurationId === request.configurationId && e.workflowId === request.workflowId,
  );
}

/**
 * Keeps a Success under its cacheKey, replacing an older entry for the same key, and evicts the
 * oldest entries past CRM_LIMITS. A result larger than the whole cache is not kept.
 */
export function cacheResult(crm: CrmState, request: CheckedCrmRequest, resultSet: unknown, at: string): boolean {
  if (request.cacheKey === undefined) return false;
  const bytes = utf8Length(JSON.stringify(resultSet ?? null));
  if (bytes > CRM_LIMITS.cacheBytesMax) return false;
  const same = (e: CrmCacheEntry) =>
    e.cacheKey === request.cacheKey && e.configurationId === request.configurationId && e.workflowId === request.workflowId;
  crm.cache = crm.cache.filter((e) => !same(e));
  crm.cache.push({ configurationId: request.configurationId, workflowId: request.workflowId, cacheKey: request.cacheKey, resultSet, bytes, storedAt: at });
  let total = crm.cache.reduce((sum, e) => sum + e.bytes, 0);
  while (crm.cache.length > CRM_LIMITS.cacheEntriesMax || total > CRM_LIMITS.cacheBytesMax) {
    const evicted = crm.cache.shift();
    total -= evicted?.bytes ?? 0;
  }
  return true;
}

export function recordExecution(crm: CrmState, record: CrmExecutionRecord): void {
  crm.executions.push(record);
  if (crm.executions.length > CRM_LIMITS.executionsKept) crm.executions.splice(0, crm.executions.length - CRM_LIMITS.executionsKept);
}

/**
 * How a CRM call is retried within its budget: Temporal's retry policy for the call, and the least
 * time a retry must have before the budget ends. A retry that would start later is not made, so the
 * attempt that just failed is the last one and its answer the outcome; otherwise the budget would end
 * on a retry still queued (Temporal's retry timers can fire a second late), and an answer would read
 * as no answer.
 */
export const CRM_RETRY = {
  initialIntervalMs: 200,
  backoffCoefficient: 2,
  maximumIntervalMs: 2_000,
  lastRetryWindowMs: 1_500,
} as const;

/** The back-off Temporal waits after failed attempt `attempt` (1 = the first call), under CRM_RETRY. */
export function crmRetryDelayMs(attempt: number): number {
  return Math.min(CRM_RETRY.maximumIntervalMs, CRM_RETRY.initialIntervalMs * CRM_RETRY.backoffCoefficient ** Math.max(0, attempt - 1));
}

/** ApplicationFailure types the CRM activities fail with; the workflow maps them to outcomes. */
export const CrmFailureType = {
  /** This worker has no CRM integration at all (a worker other than the one that resolved the call). Non-retryable. */
  NotConfigured: 'CrmNotConfigured',
  /** The CRM answered 404: it does not know the workflow. Non-retryable. */
  UnknownWorkflow: 'CrmUnknownWorkflow',
  /** The CRM refused the call (another 4xx). Non-retryable. */
  Rejected: 'CrmRejected',
  /** A 2xx whose body is not JSON, or too large. Non-retryable. */
  MalformedAnswer: 'CrmMalformedAnswer',
  /** Connection refused or reset, 5xx, 408, 429: retried with back-off while a retry fits in the budget (CRM_RETRY), then final: InternalError. */
  Unavailable: 'CrmUnavailable',
  /** The attempt was still waiting for the CRM when the budget ended (the activity's own deadline, racing Temporal's): Timeout. Non-retryable. */
  NoAnswer: 'CrmNoAnswer',
  /** The configuration id is not in this worker's registry, which holds others: a ValidationError. Non-retryable. */
  UnknownConfiguration: 'CrmUnknownConfiguration',
} as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
