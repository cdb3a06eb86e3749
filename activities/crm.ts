// CRM Workflow Execute's side effects: resolving a configuration in this worker's registry (a local
// activity: the workflow needs its answer, the budget, before it can schedule the call), and the
// HTTP call to the CRM. The call carries an Idempotency-Key made by the workflow (the same for every
// retry and for a retry on another worker after a crash), so a CRM that honours it acts once.
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import {
  CrmFailureType,
  CRM_LIMITS,
  CRM_RETRY,
  crmBudgetMs,
  crmRetryDelayMs,
  type Activities,
  type CrmCallInput,
  type CrmCallResult,
  type CrmFailureDetails,
  type CrmResolution,
  type CrmResolveInput,
} from '../src/conversation';
import { CrmRegistry, unknownConfiguration } from '../src/crm/registry';
import { recordCrmOutcome } from './crm-span';

/** The longest Retry-After honoured; a longer one still ends at the budget (schedule-to-close). */
const RETRY_AFTER_MAX_MS = 60_000;
const HEARTBEAT_EVERY_MS = 1_000;

export function createCrmActivities(deps: { crm?: CrmRegistry; logger: Logger }): Pick<Activities, 'resolveCrmWorkflow' | 'executeCrmWorkflow'> {
  const registry = deps.crm ?? CrmRegistry.empty();
  const activities: Pick<Activities, 'resolveCrmWorkflow' | 'executeCrmWorkflow'> = {
    /**
     * Which branch a request takes before any call, and its budget (the configuration's default and
     * maximum). Run as a local activity: the workflow sets the call's schedule-to-close timeout from it.
     */
    async resolveCrmWorkflow(input: CrmResolveInput): Promise<CrmResolution> {
      const configuration = registry.get(input.configurationId);
      if (!configuration) return unknownConfiguration(registry, input.configurationId);
      if (!configuration.workflows.has(input.workflowId)) {
        return {
          ok: false,
          outcome: 'InvalidWorkflow',
          errorArgs: { field: 'workflowId', reason: `workflow "${input.workflowId}" is not enabled for configuration "${input.configurationId}"` },
        };
      }
      return { ok: true, budgetMs: crmBudgetMs(input.timeoutMs, configuration) };
    },

    /**
     * One attempt of the CRM call. Transient failures (connection refused or reset, 408, 429, 5xx)
     * are retried by Temporal while a retry fits in the budget, after the CRM's Retry-After when it
     * sent one; the others, and no answer when the budget ends, fail for good with a CrmFailureType.
     */
    async executeCrmWorkflow(input: CrmCallInput): Promise<CrmCallResult> {
      const context = Context.current();
      const { info } = context;
      const attempts = info.attempt;
      const about = { configurationId: input.configurationId, workflowId: input.workflowId, idempotencyKey: input.idempotencyKey, attempt: attempts };
      const fail = (type: string, message: string, nonRetryable: boolean, details: CrmFailureDetails, nextRetryDelayMs?: number): ApplicationFailure =>
        ApplicationFailure.create({ type, message, nonRetryable, details: [details], ...(nextRetryDelayMs !== undefined ? { nextRetryDelay: nextRetryDelayMs } : {}) });

      const configuration = registry.get(input.configurationId);
      if (!configuration) {
        // Another worker resolved the call; this one's registry differs (a deploy in progress): the same two answers as the resolution.
        const { outcome, errorArgs } = unknownConfiguration(registry, input.configurationId);
        throw fail(outcome === 'NotConfigured' ? CrmFailureType.NotConfigured : CrmFailureType.UnknownConfiguration, errorArgs.reason, true, { attempts });
      }

      // This attempt may use what is left of the whole budget; Temporal ends the activity there anyway.
      const budgetEnd = info.scheduledTimestampMs + (info.scheduleToCloseTimeoutMs || 30_000);
      /**
       * A transient failure: retried when the retry would still start CRM_RETRY.lastRetryWindowMs
       * before the budget ends, else final (non-retryable), so the outcome is this answer and not a
       * Timeout on a retry that had no time left.
       */
      const unavailable = (message: string, details: CrmFailureDetails, retryAfterMs?: number): ApplicationFailure => {
        const nextMs = retryAfterMs ?? crmRetryDelayMs(attempts);
        const final = Date.now() + nextMs + CRM_RETRY.lastRetryWindowMs > budgetEnd;
        deps.logger.warn({ ...about, reason: message, final }, final ? 'CRM call failed; no retry fits in the budget' : 'CRM call failed; retried within the budget');
        return fail(CrmFailureType.Unavailable, message, final, details, final ? undefined : retryAfterMs);
      };
      const remainingMs = Math.max(1, budgetEnd - Date.now());
      // One signal for both ends of an attempt: the budget's end, and Temporal cancelling the activity
      // (AbortSignal.any would do it from Node 20.3; package.json allows any Node 20).
      const controller = new AbortController();
      const timer = { aborted: false };
      const budgetTimer = setTimeout(() => {
        timer.aborted = true;
        controller.abort(new Error('the budget ended'));
      }, remainingMs);
      const onCancel = () => controller.abort(context.cancellationSignal.reason);
      if (context.cancellationSignal.aborted) onCancel();
      else context.cancellationSignal.addEventListener('abort', onCancel, { once: true });
      const signal = controller.signal;
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        let response: Response;
        try {
          response = await fetch(configuration.executeUrl(input.workflowId), {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              accept: 'application/json',
              'idempotency-key': input.idempotencyKey,
              [configuration.authHeader]: configuration.authValue(),
            },
            body: JSON.stringify(input.payload),
            // A redirect would carry the credential header to wherever it points.
            redirect: 'manual',
            signal,
          });
        } catch (err) {
          if (context.cancellationSignal.aborted) throw err;
          if (timer.aborted) {
            deps.logger.warn(about, 'CRM call still waiting when the budget ended');
            throw fail(CrmFailureType.NoAnswer, 'no answer before the budget ended', true, { attempts });
          }
          // The wording of the Genesys data-action contract for a connection error (refused, reset, dropped).
          throw unavailable(`Unable to connect to external service (${networkCode(err)})`, { attempts });
        }
        const httpStatus = response.status;
        if (httpStatus >= 200 && httpStatus < 300) {
          const text = await readLimited(response, CRM_LIMITS.resultBytesMax, signal).catch((err: unknown) => {
            if (context.cancellationSignal.aborted) throw err;
            if (err instanceof AnswerTooLarge) throw fail(CrmFailureType.MalformedAnswer, `the CRM's answer is larger than ${CRM_LIMITS.resultBytesMax} bytes`, true, { httpStatus, attempts });
            if (timer.aborted) throw fail(CrmFailureType.NoAnswer, 'the answer was still arriving when the budget ended', true, { httpStatus, attempts });
            throw unavailable(`the CRM's answer was cut off (${networkCode(err)})`, { httpStatus, attempts });
          });
          let resultSet: unknown = {};
          if (text.trim() !== '') {
            try {
              resultSet = JSON.parse(text);
            } catch {
              deps.logger.warn({ ...about, httpStatus }, 'CRM answered with a body that is not JSON');
              throw fail(CrmFailureType.MalformedAnswer, `the CRM answered ${httpStatus} with a body that is not JSON`, true, { httpStatus, attempts });
            }
          }
          deps.logger.info({ ...about, httpStatus }, 'CRM workflow executed');
          return { resultSet, httpStatus, attempts };
        }
        // The body of an error answer is never read into a failure: it may quote customer data.
        await response.body?.cancel().catch(() => undefined);
        if (httpStatus === 408 || httpStatus === 429 || httpStatus >= 500) {
          const retryAfterMs = retryAfter(response.headers.get('retry-after'));
          // The wording of the Genesys data-action contract for a non-2xx answer.
          throw unavailable(`External service returned status ${httpStatus}`, { httpStatus, attempts }, retryAfterMs);
        }
        deps.logger.warn({ ...about, httpStatus }, 'CRM answered with an error');
        if (httpStatus === 404) throw fail(CrmFailureType.UnknownWorkflow, `the CRM does not know workflow "${input.workflowId}" (404)`, true, { httpStatus, attempts });
        throw fail(CrmFailureType.Rejected, `the CRM refused the call (${httpStatus})`, true, { httpStatus, attempts });
      } finally {
        clearInterval(beat);
        clearTimeout(budgetTimer);
        context.cancellationSignal.removeEventListener('abort', onCancel);
      }
    },
  };
  const execute = activities.executeCrmWorkflow;
  return { ...activities, executeCrmWorkflow: (input) => recordCrmOutcome(() => execute(input)) };
}

class AnswerTooLarge extends Error {}

async function readLimited(response: Response, maxBytes: number, signal: AbortSignal): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    if (signal.aborted) throw signal.reason;
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new AnswerTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfter(header: string | null, nowMs = Date.now()): number | undefined {
  if (!header) return undefined;
  const trimmed = header.trim();
  const ms = /^\d{1,7}$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - nowMs;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(RETRY_AFTER_MAX_MS, Math.max(0, ms));
}

/** The system error code of a failed fetch (ECONNREFUSED, ECONNRESET…): never its message, which could quote a URL. */
function networkCode(err: unknown): string {
  // Duck-typed, not instanceof: fetch's errors come from Node's own realm, which differs from a test sandbox's.
  for (let e: unknown = err, depth = 0; typeof e === 'object' && e !== null && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  const name = typeof err === 'object' && err !== null ? (err as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : 'error';
}
