// CRM Workflow Execute end to end: a real dev server, an in-process worker with the CRM activities,
// the HTTP API, and a real HTTP CRM on 127.0.0.1 that answers as scripted. Every outcome branch is
// reached through the data action (HTTP status per branch) and through the workflowExecute update;
// retries, Retry-After and idempotency keys are counted at the CRM; the cacheKey cache answers with
// no CRM call, also after a transfer and after continue-as-new; data actions start a conversation
// that no webhook has started yet; the served schemas validate real requests and answers; the CRM's
// credential appears in no log line, answer or history.
import fs from 'node:fs';
import path from 'node:path';
import Ajv from 'ajv';
import { type Client, WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { DATA_ACTION_NAMES } from '../../src/api/data-action-schemas';
import { checkCrmRequest, type CheckedCrmRequest, type CrmExecuteResult } from '../../src/conversation/contracts/crm';
import { CrmRegistry, crmRegistryFromFile } from '../../src/crm/registry';
import { type ConversationSettings, type ConversationView, DEFAULT_SETTINGS, workflowExecuteUpdate, workflowIdFor } from '../../src/conversation/messages';
import { conversationWorkflow } from '../../src/conversation/workflows/conversation';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { testKeyServices } from '../../rigs/keys';
import { CrmPeer } from '../../rigs/crm-peer';
import { captureLogs } from '../../rigs/logs';
import { freePort } from '../../rigs/ports';
import { tempDir, uniqueId } from '../../rigs/temp';
import { routingEvent, sendEvent } from '../support/conversation';
import { historyPayloads, recordHistory } from '../support/histories';

const CRM_SECRET = 'crm-secret-Zq8vP3xL0wT7nK2m';
/** Customer data in a payload and in a CRM result: encrypted in history by the payload codec, readable once decoded. */
const PAYLOAD_CANARY = '+33612345678';
const RESULT_CANARY = 'Ada-Lovelace-Canary-81';
const ENABLED = ['search', 'slow', 'flaky', 'throttled', 'garbage', 'rejecting', 'unknownAtCrm', 'dropper', 'cached', 'huge', 'failing', 'failThenHang'];
/** The budget of the always-failing CRMs: room for a retry or two (each needs 1.5 s left after its back-off). */
const FAILING_BUDGET_MS = 3000;

let stack: ApiStack;
let client: Client;
let baseUrl: string;
let taskQueue: string;
let registry: CrmRegistry;
const peer = new CrmPeer();
const { logger, lines: logLines } = captureLogs('debug');
const answers: string[] = [];
const credentials = testCredentials();
const SETTINGS: ConversationSettings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };

beforeAll(async () => {
  const dir = tempDir('crm');
  const deadPort = await freePort();
  await peer.start();
  const registryFile = path.join(dir, 'crm-integrations.json');
  fs.writeFileSync(
    registryFile,
    JSON.stringify({
      configurations: {
        'crm-a': {
          baseUrl: peer.url,
          auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: 'CRM_TEST_SECRET' },
          workflows: ENABLED,
          defaultTimeoutMs: 4000,
          maxTimeoutMs: 6000,
        },
        // Nothing listens there: every attempt is a refused connection.
        'crm-down': {
          baseUrl: `http://127.0.0.1:${deadPort}`,
          auth: { header: 'X-Api-Key', secretEnv: 'CRM_TEST_SECRET' },
          workflows: ['search'],
          defaultTimeoutMs: FAILING_BUDGET_MS,
          maxTimeoutMs: FAILING_BUDGET_MS,
        },
      },
    }),
  );
  registry = crmRegistryFromFile(registryFile, { CRM_TEST_SECRET: CRM_SECRET }, dir);
  stack = await startApiStack({ name: 'crm-tests', dir, logger, credentials, conversation: SETTINGS, crm: registry, activities: { crm: registry } });
  ({ client, baseUrl, taskQueue } = stack);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await peer.stop();
});

async function call(method: string, url: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await stack.fetch(url, { method, body, headers });
  const text = await res.text();
  answers.push(text);
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const dataAction = (name: string, inputs: Record<string, unknown>, headers: Record<string, string> = {}) =>
  call('POST', `/data-actions/${name}`, { inputs, context: { sessionId: 'flow-session-1' }, settings: {} }, headers);

/** The workflowExecute update as any Temporal client sends it (the request checked first), starting the conversation if needed. */
function viaUpdate(conversationId: string, request: Record<string, unknown>, updateId = uniqueId('upd')): Promise<CrmExecuteResult> {
  const check = checkCrmRequest(request);
  if (!check.ok) throw new Error(`the test sent a request checkCrmRequest refuses: ${check.errorArgs.reason}`);
  return sendUpdate(conversationId, check.request, updateId);
}

/** The update with whatever argument, checked or not. */
function sendUpdate(conversationId: string, request: CheckedCrmRequest, updateId = uniqueId('upd')): Promise<CrmExecuteResult> {
  return client.workflow.executeUpdateWithStart(workflowExecuteUpdate, {
    args: [request],
    updateId,
    startWorkflowOperation: new WithStartWorkflowOperation(conversationWorkflow, {
      workflowId: workflowIdFor(conversationId),
      taskQueue,
      args: [{ conversationId, settings: SETTINGS }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    }),
  });
}

/** Both entry points, each on a conversation of its own: the update's outcome, and the data action's status and body. */
async function bothWays(request: Record<string, unknown>, script?: Parameters<CrmPeer['script']>[1]) {
  const workflowId = String(request.workflowId);
  const before = peer.callsFor(workflowId).length;
  if (script) peer.script(workflowId, script);
  const updateId = uniqueId('upd');
  const updated = await viaUpdate(uniqueId('via-update'), request, updateId);
  const afterUpdate = peer.callsFor(workflowId).length;
  if (script) peer.script(workflowId, script);
  const conversationId = uniqueId('via-action');
  const action = await dataAction('workflow-execute', { conversationId, ...request });
  return { updated, action, updateCalls: afterUpdate - before, actionCalls: peer.callsFor(workflowId).length - afterUpdate, conversationId, updateId };
}

const stateOf = async (id: string) => (await call('GET', `/conversations/${id}`, undefined, { authorization: `Bearer ${credentials.tokens.operator}` })).body as ConversationView;

describe('every outcome branch, through the update and the data action', () => {
  test('Success: 2xx with the resultSet; the CRM got the credential, the payload and one Idempotency-Key', async () => {
    const { updated, action, updateCalls, actionCalls, conversationId } = await bothWays(
      { configurationId: 'crm-a', workflowId: 'search', payload: '{"phone":"+33612345678"}' },
      [{ status: 200, body: { contactId: 'C-77', name: RESULT_CANARY } }],
    );
    expect(updated).toEqual({ outcome: 'Success', resultSet: { contactId: 'C-77', name: RESULT_CANARY } });
    expect(action).toEqual({ status: 200, body: { outputs: { outcome: 'Success', resultSet: { contactId: 'C-77', name: RESULT_CANARY }, resultSetJson: `{"contactId":"C-77","name":"${RESULT_CANARY}"}`, cached: false } } });
    expect([updateCalls, actionCalls]).toEqual([1, 1]);
    const last = peer.callsFor('search').at(-1)!;
    expect(last.authorization).toBe(`Bearer ${CRM_SECRET}`);
    expect(last.payload).toEqual({ phone: '+33612345678' });
    expect(last.idempotencyKey).toMatch(new RegExp(`^${workflowIdFor(conversationId)}/workflow-execute:`));
    const state = await stateOf(conversationId);
    expect(state.crm?.executions).toEqual([expect.objectContaining({ configurationId: 'crm-a', workflowId: 'search', outcome: 'Success' })]);
    // The operator's view holds outcomes, never results.
    expect(JSON.stringify(state)).not.toContain('C-77');
  });

  test('a CRM that never answers within timeoutMilliSec (also given inside the payload) ends as Timeout / 504', async () => {
    const { updated, action } = await bothWays({ configurationId: 'crm-a', workflowId: 'slow', payload: { timeoutMilliSec: '1000', q: 1 } }, [{ delayMs: 4000 }]);
    expect(updated.outcome).toBe('Timeout');
    expect(updated.errorArgs?.reason).toMatch(/^no answer within the budget of \d+ ms, retries included$/);
    expect(updated.errorArgs?.httpStatus).toBeUndefined();
    expect(action.status).toBe(504);
    expect(action.body.errors[0]).toMatchObject({ code: 'Timeout' });
  });

  test('a CRM answering 500 on every attempt ends as InternalError / 502 with the status and attempts', async () => {
    const started = Date.now();
    const request = { configurationId: 'crm-a', workflowId: 'failing', payload: {}, timeoutMilliSec: FAILING_BUDGET_MS };
    const { updated, action, updateCalls, actionCalls } = await bothWays(request, [{ status: 500 }]);
    // Retried within the budget as before, then the last attempt's answer decides.
    expect(updateCalls).toBeGreaterThanOrEqual(2);
    expect(updated).toEqual({
      outcome: 'InternalError',
      errorArgs: { reason: expect.stringMatching(new RegExp(`^External service returned status 500; ${updateCalls} attempts within the budget of \\d+ ms$`)), httpStatus: 500, attempts: updateCalls },
    });
    expect(action.status).toBe(502);
    expect(action.body.errors[0]).toEqual({
      code: 'InternalError',
      message: expect.stringMatching(/^External service returned status 500; \d+ attempts within the budget of \d+ ms$/),
      errorArgs: { reason: expect.any(String), httpStatus: 500, attempts: actionCalls },
    });
    // Generous margin for a busy machine: the budget bounds it, not a wait for the CRM.
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  test('a CRM refusing the connection ends as InternalError / 502 (Unable to connect), with the attempts', async () => {
    const updated = await viaUpdate(uniqueId('refused'), { configurationId: 'crm-down', workflowId: 'search', payload: {} });
    expect(updated).toEqual({
      outcome: 'InternalError',
      errorArgs: { reason: expect.stringMatching(/^Unable to connect to external service \(ECONNREFUSED\); \d+ attempts within the budget of \d+ ms$/), attempts: expect.any(Number) },
    });
    expect(updated.errorArgs?.attempts).toBeGreaterThanOrEqual(2);
    const action = await dataAction('workflow-execute', { conversationId: uniqueId('refused'), configurationId: 'crm-down', workflowId: 'search', payload: {} });
    expect([action.status, action.body.errors[0].code, action.body.errors[0].message]).toEqual([502, 'InternalError', expect.stringMatching(/^Unable to connect to external service/)]);
    expect(action.body.errors[0].errorArgs.httpStatus).toBeUndefined();
  });

  test('a CRM that answered 500 and then never answers ends as Timeout / 504: the last attempt decides', async () => {
    const { updated, action, updateCalls } = await bothWays({ configurationId: 'crm-a', workflowId: 'failThenHang', payload: {}, timeoutMilliSec: 4000 }, [{ status: 500 }, { delayMs: 8000 }]);
    expect(updateCalls).toBe(2);
    // Two ends race at the budget's close: Temporal's schedule-to-close (no attempt count reaches the
    // workflow) or the activity's own give-up (which counts the attempts: 2 here). Both are Timeout.
    const reason = expect.stringMatching(/^no answer within the budget of \d+ ms, retries included$/);
    expect([{ outcome: 'Timeout', errorArgs: { reason } }, { outcome: 'Timeout', errorArgs: { reason, attempts: 2 } }]).toContainEqual(updated);
    expect([action.status, action.body.errors[0].code]).toEqual([504, 'Timeout']);
  });

  test('ValidationError: payload not JSON, malformed id, timeout out of range; no CRM call; 400 on the data action, which records nothing', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ configurationId: 'crm-a', workflowId: 'search', payload: '{"phone": ' }, 'payload'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: '[1,2]' }, 'payload'],
      [{ configurationId: 'crm a', workflowId: 'search', payload: {} }, 'configurationId'],
      [{ configurationId: 'crm-a', workflowId: 'se/arch', payload: {} }, 'workflowId'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: {}, timeoutMilliSec: 20 }, 'timeoutMilliSec'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: { timeoutMilliSec: 'soon' } }, 'timeoutMilliSec'],
    ];
    const callsBefore = peer.calls.length;
    for (const [request, field] of cases) {
      expect(checkCrmRequest(request)).toEqual({ ok: false, errorArgs: expect.objectContaining({ field }) });
      const conversationId = uniqueId('invalid-action');
      const action = await dataAction('workflow-execute', { conversationId, ...request });
      expect([action.status, action.body.errors[0].code, action.body.errors[0].errorArgs.field]).toEqual([400, 'ValidationError', field]);
      // Bad input changes nothing: not even a conversation was started.
      expect((await call('GET', `/conversations/${conversationId}`, undefined, { authorization: `Bearer ${credentials.tokens.operator}` })).status).toBe(404);
    }
    expect(peer.calls.length).toBe(callsBefore);
  });

  test('the update takes a checked request: one that checkCrmRequest did not make is refused by its shape, records nothing, calls nothing', async () => {
    const unchecked: Array<[Record<string, unknown>, string]> = [
      // Raw requests as a flow writes them: the payload as JSON text, timeoutMilliSec.
      [{ configurationId: 'crm-a', workflowId: 'search', payload: '{"phone":"+33600000000"}' }, 'payload'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: {}, timeoutMilliSec: 3000 }, 'timeoutMilliSec'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: [1, 2] }, 'payload'],
      [{ configurationId: 'crm a', workflowId: 'search', payload: {} }, 'configurationId'],
      [{ configurationId: 'crm-a', workflowId: 'se/arch', payload: {} }, 'workflowId'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: {}, timeoutMs: 20 }, 'timeoutMs'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: {}, timeoutMs: '3000' }, 'timeoutMs'],
      [{ configurationId: 'crm-a', workflowId: 'search', payload: {}, cacheKey: '' }, 'cacheKey'],
    ];
    const conversationId = uniqueId('unchecked');
    const callsBefore = peer.calls.length;
    for (const [request, field] of unchecked) {
      const refused = await sendUpdate(conversationId, request as unknown as CheckedCrmRequest).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidCrmRequest', details: [expect.objectContaining({ field })] });
    }
    expect(peer.calls.length).toBe(callsBefore);
    expect((await stateOf(conversationId)).crm).toBeUndefined();
  });

  test('InvalidWorkflow: not enabled for the configuration (no call), or unknown to the CRM (404, not retried)', async () => {
    const notEnabled = await bothWays({ configurationId: 'crm-a', workflowId: 'deleteEverything', payload: {} });
    expect(notEnabled.updated).toMatchObject({ outcome: 'InvalidWorkflow', errorArgs: { field: 'workflowId' } });
    expect([notEnabled.action.status, notEnabled.action.body.errors[0].code]).toEqual([400, 'InvalidWorkflow']);
    expect([notEnabled.updateCalls, notEnabled.actionCalls]).toEqual([0, 0]);

    const unknown = await bothWays({ configurationId: 'crm-a', workflowId: 'unknownAtCrm', payload: {} }, [{ status: 404 }]);
    expect(unknown.updated).toMatchObject({ outcome: 'InvalidWorkflow', errorArgs: { httpStatus: 404 } });
    expect([unknown.action.status, unknown.action.body.errors[0].code]).toEqual([400, 'InvalidWorkflow']);
    expect([unknown.updateCalls, unknown.actionCalls]).toEqual([1, 1]);
  });

  test('an unknown configurationId is a ValidationError naming the field: at the edge nothing is started, from the worker the same answer', async () => {
    const callsBefore = peer.calls.length;
    const conversationId = uniqueId('unknown-config');
    const action = await dataAction('workflow-execute', { conversationId, configurationId: 'no-such-crm', workflowId: 'search', payload: {} });
    const errorArgs = { field: 'configurationId', reason: 'configurationId "no-such-crm" is not a configured CRM integration' };
    expect(action).toEqual({ status: 400, body: { errors: [{ code: 'ValidationError', message: errorArgs.reason, errorArgs }] } });
    // Answered by the API from its registry, like the other input rules: no conversation was started.
    expect((await call('GET', `/conversations/${conversationId}`, undefined, { authorization: `Bearer ${credentials.tokens.operator}` })).status).toBe(404);

    // Where the sender cannot know the registry (a Temporal client, an API without the file), the worker answers alike.
    const viaClient = uniqueId('unknown-config-update');
    expect(await viaUpdate(viaClient, { configurationId: 'no-such-crm', workflowId: 'search', payload: {} })).toEqual({ outcome: 'ValidationError', errorArgs });
    expect((await stateOf(viaClient)).crm?.executions).toEqual([expect.objectContaining({ configurationId: 'no-such-crm', outcome: 'ValidationError', reason: errorArgs.reason })]);
    const apiWithoutFile = await stack.startApi({ crm: CrmRegistry.empty() });
    const passedOn = await apiWithoutFile.fetch('/data-actions/workflow-execute', {
      method: 'POST',
      body: { inputs: { conversationId: uniqueId('unknown-config-worker'), configurationId: 'no-such-crm', workflowId: 'search', payload: {} }, context: {}, settings: {} },
    });
    expect([passedOn.status, await passedOn.json()]).toEqual([400, { errors: [{ code: 'ValidationError', message: errorArgs.reason, errorArgs }] }]);
    expect(peer.calls.length).toBe(callsBefore);
  });

  test('no CRM configured at all is NotConfigured (no CRM_INTEGRATIONS_FILE: an empty registry in the API and the worker)', async () => {
    const bare = uniqueId('no-crm');
    await stack.startWorker({ taskQueue: bare, activities: { crm: CrmRegistry.empty() } });
    const api = await stack.startApi({ taskQueue: bare, crm: CrmRegistry.empty() });
    const conversationId = uniqueId('no-crm');
    const res = await api.fetch('/data-actions/workflow-execute', {
      method: 'POST',
      body: { inputs: { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: {} }, context: {}, settings: {} },
    });
    const errorArgs = { field: 'configurationId', reason: 'no CRM integration is configured in this deployment (CRM_INTEGRATIONS_FILE)' };
    expect([res.status, await res.json()]).toEqual([400, { errors: [{ code: 'NotConfigured', message: errorArgs.reason, errorArgs }] }]);
    expect((await stateOf(conversationId)).crm?.executions).toEqual([expect.objectContaining({ outcome: 'NotConfigured' })]);
  });

  test('InternalError: a 2xx that is not JSON, a 4xx refusal — each not retried', async () => {
    const garbage = await bothWays({ configurationId: 'crm-a', workflowId: 'garbage', payload: {} }, [{ status: 200, raw: '<html>oops' }]);
    expect(garbage.updated).toMatchObject({ outcome: 'InternalError', errorArgs: { httpStatus: 200, attempts: 1 } });
    expect([garbage.action.status, garbage.action.body.errors[0].code]).toEqual([502, 'InternalError']);
    expect([garbage.updateCalls, garbage.actionCalls]).toEqual([1, 1]);

    const refused = await bothWays({ configurationId: 'crm-a', workflowId: 'rejecting', payload: {} }, [{ status: 422, body: { detail: 'card 4111 1111 1111 1111 invalid' } }]);
    expect(refused.updated).toMatchObject({ outcome: 'InternalError', errorArgs: { httpStatus: 422 } });
    expect([refused.action.status, refused.action.body.errors[0].code]).toEqual([502, 'InternalError']);
    expect([refused.updateCalls, refused.actionCalls]).toEqual([1, 1]);
    // The CRM's error body (which may quote customer data) is not carried into the outcome.
    expect(JSON.stringify([refused.updated, refused.action.body])).not.toContain('4111');
  });
});

test('a failing CRM takes the branch of its last attempt in a running conversation too; its history is kept for replay', async () => {
  const conversationId = uniqueId('crm-last-attempt');
  await sendEvent(client, taskQueue, routingEvent(conversationId, 'CREATED', 0), SETTINGS);
  peer.script('failing', [{ status: 503 }]);
  const answered = await viaUpdate(conversationId, { configurationId: 'crm-a', workflowId: 'failing', payload: {}, timeoutMilliSec: FAILING_BUDGET_MS });
  const refused = await viaUpdate(conversationId, { configurationId: 'crm-down', workflowId: 'search', payload: {} });
  peer.script('slow', [{ delayMs: 3000 }]);
  const waiting = await viaUpdate(conversationId, { configurationId: 'crm-a', workflowId: 'slow', payload: {}, timeoutMilliSec: 1000 });
  expect([answered.outcome, answered.errorArgs?.httpStatus, refused.outcome, waiting.outcome]).toEqual(['InternalError', 503, 'InternalError', 'Timeout']);
  expect((await stateOf(conversationId)).crm?.executions.map((e) => e.outcome)).toEqual(['InternalError', 'InternalError', 'Timeout']);
  const handle = await sendEvent(client, taskQueue, routingEvent(conversationId, 'CLOSED', 1), SETTINGS);
  await handle.result();
  await recordHistory(handle, 'crm-outcome-of-last-attempt');
});

/** The activity type a local-activity marker records (the SDK's plain-JSON `data` detail). */
function localActivityType(event: temporal.api.history.v1.IHistoryEvent): string | undefined {
  const marker = event.markerRecordedEventAttributes;
  const data = marker?.markerName === 'core_local_activity' ? marker.details?.data?.payloads?.[0]?.data : undefined;
  return data ? (JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string }).activity_type : undefined;
}

describe('what one execution costs in history', () => {
  test('the update carries the checked request; the resolution is one local-activity marker, the call one activity; 15 events in all', async () => {
    const conversationId = uniqueId('events');
    peer.script('search', [{ status: 200, body: { hit: 1 } }]);
    const action = await dataAction('workflow-execute', { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: '{"q":"x","timeoutMilliSec":"3000"}', cacheKey: 'k' });
    expect(action.status).toBe(200);
    const events = (await client.workflow.getHandle(workflowIdFor(conversationId)).fetchHistory()).events ?? [];

    // What the data action sent: the request as checkCrmRequest made it, not the flow's raw one.
    const accepted = events.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)?.workflowExecutionUpdateAcceptedEventAttributes;
    const sent = accepted?.acceptedRequest?.input?.args?.payloads ?? [];
    const [decoded] = await testKeyServices().codec.decodeForNamespace(sent.map((p) => ({ metadata: p.metadata ?? {}, data: p.data ?? undefined })), 'default');
    expect(JSON.parse(Buffer.from(decoded.data ?? []).toString('utf8'))).toEqual({
      configurationId: 'crm-a',
      workflowId: 'search',
      payload: { q: 'x', timeoutMilliSec: '3000' },
      timeoutMs: 3000,
      cacheKey: 'k',
    });

    const scheduled = events.flatMap((e) => (e.activityTaskScheduledEventAttributes ? [e.activityTaskScheduledEventAttributes.activityType?.name] : []));
    expect(scheduled).toEqual(['executeCrmWorkflow']);
    expect(events.map(localActivityType).filter((type) => type !== undefined)).toEqual(['resolveCrmWorkflow']);
    // A conversation started by its one execution, before its close: 22 events when the resolution
    // was an activity of its own (scheduled, started, completed, and the workflow task after it) and
    // the run recorded a patch marker; 17 with the local activity and the marker; 15 on the baseline.
    expect(events).toHaveLength(15);
  });
});

describe('retries within the budget, one idempotency key', () => {
  test('5xx, 5xx, then 2xx: Success after three calls with the same key', async () => {
    const { updated, action, updateCalls, actionCalls } = await bothWays(
      { configurationId: 'crm-a', workflowId: 'flaky', payload: { n: 1 } },
      [{ status: 503 }, { status: 502 }, { status: 200, body: { done: true } }],
    );
    expect(updated).toEqual({ outcome: 'Success', resultSet: { done: true } });
    expect(action.status).toBe(200);
    expect([updateCalls, actionCalls]).toEqual([3, 3]);
    const calls = peer.callsFor('flaky');
    const keysOfLastSix = calls.slice(-6).map((c) => c.idempotencyKey);
    expect(new Set(keysOfLastSix.slice(0, 3)).size).toBe(1);
    expect(new Set(keysOfLastSix.slice(3)).size).toBe(1);
    expect(keysOfLastSix[0]).not.toBe(keysOfLastSix[3]);
  });

  test('a dropped connection is retried under the same key', async () => {
    const { updated, updateCalls } = await bothWays({ configurationId: 'crm-a', workflowId: 'dropper', payload: {} }, [{ drop: true }, { status: 200, body: { ok: 1 } }]);
    expect(updated.outcome).toBe('Success');
    expect(updateCalls).toBe(2);
    const [first, second] = peer.callsFor('dropper').slice(0, 2);
    expect(first.idempotencyKey).toBe(second.idempotencyKey);
  });

  test("429 with Retry-After: the next call waits what the CRM asked, not the default back-off", async () => {
    peer.script('throttled', [{ status: 429, retryAfter: '2' }, { status: 200, body: { ok: true } }]);
    const updated = await viaUpdate(uniqueId('throttled'), { configurationId: 'crm-a', workflowId: 'throttled', payload: {}, timeoutMilliSec: 6000 });
    expect(updated.outcome).toBe('Success');
    const [first, second] = peer.callsFor('throttled');
    // The default first retry comes after 200 ms; Retry-After asked for 2 s.
    expect(second.at - first.at).toBeGreaterThanOrEqual(1_900);
    expect(second.idempotencyKey).toBe(first.idempotencyKey);
  });

  test('the same update id (a retried request with its Idempotency-Key) returns the same outcome and the CRM acts once', async () => {
    const conversationId = uniqueId('same-key');
    peer.script('search', [{ status: 200, body: { n: 1 } }]);
    const inputs = { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: {} };
    const first = await dataAction('workflow-execute', inputs, { 'idempotency-key': 'flow-call-1' });
    const second = await dataAction('workflow-execute', inputs, { 'idempotency-key': 'flow-call-1' });
    expect(first).toEqual(second);
    const key = `${workflowIdFor(conversationId)}/workflow-execute:flow-call-1`;
    expect(peer.calls.filter((c) => c.idempotencyKey === key)).toHaveLength(1);
    expect(peer.acted.get(key)).toBe(1);
  });
});

describe('cacheKey', () => {
  test('a cached Success is answered with zero CRM calls, also after a transfer and after continue-as-new', async () => {
    const conversationId = uniqueId('cache');
    // A low threshold so the conversation continues as new within the test.
    const settings: ConversationSettings = { ...SETTINGS, continueAsNewAfterEvents: 100 };
    await sendEvent(client, taskQueue, routingEvent(conversationId, 'CREATED', 0), settings);
    await sendEvent(client, taskQueue, routingEvent(conversationId, 'ROUTED', 1, { agentId: 'agent-1' }), settings);
    peer.script('cached', [{ status: 200, body: { balance: 42 } }]);
    const inputs = { conversationId, configurationId: 'crm-a', workflowId: 'cached', payload: { account: 'A-1' }, cacheKey: 'balance-A-1' };
    const first = await dataAction('workflow-execute', inputs);
    expect(first.body.outputs).toMatchObject({ outcome: 'Success', cached: false, resultSet: { balance: 42 } });
    expect(peer.callsFor('cached')).toHaveLength(1);

    const again = await dataAction('workflow-execute', inputs);
    expect(again.body.outputs).toMatchObject({ outcome: 'Success', cached: true, resultSet: { balance: 42 } });
    const viaTheUpdate = await client.workflow.getHandle(workflowIdFor(conversationId)).executeUpdate(workflowExecuteUpdate, {
      args: [{ configurationId: 'crm-a', workflowId: 'cached', payload: {}, cacheKey: 'balance-A-1' }],
    });
    expect(viaTheUpdate).toEqual({ outcome: 'Success', resultSet: { balance: 42 }, cached: true });
    expect(peer.callsFor('cached')).toHaveLength(1);

    await sendEvent(client, taskQueue, routingEvent(conversationId, 'TRANSFERRED', 2, { destination: 'billing' }), settings);
    expect((await dataAction('workflow-execute', inputs)).body.outputs.cached).toBe(true);

    // Events until the run hands over to the next one.
    for (let i = 0; (await stateOf(conversationId)).runCount < 2; i++) {
      if (i > 200) throw new Error('the conversation never continued as new');
      await sendEvent(client, taskQueue, routingEvent(conversationId, 'QUEUED', 3 + i / 100, { queue: 'billing' }), settings);
    }
    const afterHandOver = await dataAction('workflow-execute', inputs);
    expect(afterHandOver.body.outputs).toMatchObject({ outcome: 'Success', cached: true, resultSet: { balance: 42 } });
    expect(peer.callsFor('cached')).toHaveLength(1);
    // Another cacheKey is a new call.
    peer.script('cached', [{ status: 200, body: { balance: 7 } }]);
    expect((await dataAction('workflow-execute', { ...inputs, cacheKey: 'balance-A-2' })).body.outputs).toMatchObject({ cached: false, resultSet: { balance: 7 } });
    expect(peer.callsFor('cached')).toHaveLength(2);
    expect((await stateOf(conversationId)).crm).toMatchObject({ cachedResults: 2 });
  });
});

describe('data actions before the first webhook (update-with-start)', () => {
  test('participant-data/set starts the conversation; the first webhook then reaches the same run; get reads it back', async () => {
    const conversationId = uniqueId('flow-first');
    const set = await dataAction('participant-data/set', { conversationId, attributes: { Intent: 'refund', Lang: 'fr' } });
    expect(set).toEqual({ status: 200, body: { outputs: { conversationId, queued: ['Intent', 'Lang'], secured: false } } });
    const runBefore = (await client.workflow.getHandle(workflowIdFor(conversationId)).describe()).runId;
    expect((await call('POST', '/webhooks/routing-events', { eventId: uniqueId('e'), eventType: 'CREATED', conversationId, taskId: 't-1', channel: 'voice', occurredAt: new Date().toISOString() })).status).toBe(202);
    expect((await client.workflow.getHandle(workflowIdFor(conversationId)).describe()).runId).toBe(runBefore);
    expect(await stateOf(conversationId)).toMatchObject({ status: 'queued', channel: 'voice', attributeNames: { pending: ['Intent', 'Lang'] } });
    const got = await dataAction('participant-data/get', { conversationId, name: 'Intent' });
    expect(got).toEqual({ status: 200, body: { outputs: { found: true, name: 'Intent', value: 'refund', secured: false, source: 'pending' } } });
    expect(await dataAction('participant-data/get', { conversationId, name: 'Nope' })).toEqual({ status: 200, body: { outputs: { found: false, name: 'Nope', secured: false } } });
  });

  test('workflow-execute starts the conversation too', async () => {
    const conversationId = uniqueId('crm-first');
    peer.script('search', [{ status: 200, body: { hit: 1 } }]);
    expect((await dataAction('workflow-execute', { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: {} })).status).toBe(200);
    expect(await stateOf(conversationId)).toMatchObject({ status: 'queued', crm: { executions: [expect.objectContaining({ outcome: 'Success' })] } });
  });

  test('a secured value: set by a flow, read back in plaintext only with the agent-script scope', async () => {
    const conversationId = uniqueId('secured');
    const card = 'Card-5500-0000-0000-0004';
    expect((await dataAction('participant-data/set', { conversationId, attributes: { Card: card }, secured: true })).body.outputs).toEqual({ conversationId, queued: ['Card'], secured: true });
    const asFlow = await dataAction('participant-data/get', { conversationId, name: 'Card' });
    expect(asFlow.body.outputs).toEqual({ found: true, name: 'Card', secured: true, source: 'pending' });
    const asAgent = await dataAction('participant-data/get', { conversationId, name: 'Card' }, { authorization: `Bearer ${credentials.tokens['agent-script']}` });
    expect(asAgent.body.outputs).toEqual({ found: true, name: 'Card', value: card, secured: true, source: 'pending' });
  });

  test('a closed conversation is not started again: 409', async () => {
    const conversationId = uniqueId('closed');
    const handle = await sendEvent(client, taskQueue, routingEvent(conversationId, 'CREATED', 0), SETTINGS);
    await sendEvent(client, taskQueue, routingEvent(conversationId, 'CLOSED', 1), SETTINGS);
    await handle.result();
    const action = await dataAction('workflow-execute', { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: {} });
    expect([action.status, action.body.errors[0].message]).toEqual([409, expect.stringMatching(/closed/)]);
    expect((await dataAction('participant-data/set', { conversationId, attributes: { A: 'b' } })).status).toBe(409);
  });

  test('bad bodies: 400 in the data action format; no token 401, an operator token 403', async () => {
    const bad = await dataAction('participant-data/set', { conversationId: 'x', attributes: {} });
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ errors: [{ message: expect.any(String), code: 'bad_request' }] });
    const noToken = await fetch(`${baseUrl}/data-actions/workflow-execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect([noToken.status, await noToken.json()]).toEqual([401, { errors: [{ message: expect.any(String), code: 'unauthorized' }] }]);
    const operator = await dataAction('participant-data/get', { conversationId: 'x', name: 'y' }, { authorization: `Bearer ${credentials.tokens.operator}` });
    expect([operator.status, operator.body.errors[0].code]).toEqual([403, 'forbidden']);
  });
});

describe('served schemas', () => {
  test('each data action serves the schemas its route validates with; they accept the real requests and answers of this file', async () => {
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const name of DATA_ACTION_NAMES) {
      const served = await call('GET', `/data-actions/${name}/schema`);
      expect(served.status).toBe(200);
      expect(served.body).toMatchObject({ name, input: { type: 'object' }, output: { type: 'object' } });
      const validInput = ajv.compile(served.body.input);
      const validOutput = ajv.compile(served.body.output);
      const conversationId = uniqueId('schema');
      const inputs =
        name === 'workflow-execute'
          ? { conversationId, configurationId: 'crm-a', workflowId: 'search', payload: '{"q":"x"}', timeoutMilliSec: '3000', cacheKey: 'k' }
          : name === 'participant-data/set'
            ? { conversationId, attributes: { Intent: 'refund' } }
            : { conversationId, name: 'Intent' };
      expect(validInput(inputs)).toBe(true);
      peer.script('search', [{ status: 200, body: { any: ['json'] } }]);
      const answer = await dataAction(name, inputs);
      expect(answer.status).toBe(200);
      expect([validOutput(answer.body.outputs), validOutput.errors]).toEqual([true, null]);
      // What the schema refuses, the route refuses.
      const refused = { ...inputs, unexpected: true };
      expect(validInput(refused)).toBe(false);
      expect((await dataAction(name, refused)).status).toBe(400);
    }
    const errorSchema = ajv.compile((await import('../../src/api/data-action-schemas')).dataActionErrorBody);
    const failures = answers.map((text) => { try { return JSON.parse(text) as Record<string, unknown>; } catch { return undefined; } }).filter((b) => b && 'errors' in b);
    expect(failures.length).toBeGreaterThan(5);
    for (const body of failures) expect([errorSchema(body), errorSchema.errors]).toEqual([true, null]);
  });
});

test("the CRM's credential is in no log line, answer, or decoded history; payloads and results are encrypted in history", async () => {
  // A conversation with several outcomes and a cache hit, recorded for the replay test.
  const conversationId = uniqueId('crm-history');
  peer.script('search', [{ status: 503 }, { status: 200, body: { id: 1 } }]);
  await viaUpdate(conversationId, { configurationId: 'crm-a', workflowId: 'search', payload: {}, cacheKey: 'c1' });
  await viaUpdate(conversationId, { configurationId: 'crm-a', workflowId: 'search', payload: {}, cacheKey: 'c1' });
  await viaUpdate(conversationId, { configurationId: 'crm-a', workflowId: 'deleteEverything', payload: {} });
  await viaUpdate(conversationId, { configurationId: 'other', workflowId: 'search', payload: {} });
  const handle = await sendEvent(client, taskQueue, routingEvent(conversationId, 'CLOSED', 5), SETTINGS);
  await handle.result();
  await recordHistory(handle, 'crm-workflow-execute');

  expect(logLines.length).toBeGreaterThan(0);
  expect(logLines.filter((l) => l.includes(CRM_SECRET))).toEqual([]);
  expect(answers.filter((a) => a.includes(CRM_SECRET))).toEqual([]);
  // Every conversation this file touched: raw history and every payload decoded.
  const ids: string[] = [];
  for await (const execution of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) ids.push(execution.workflowId);
  expect(ids.length).toBeGreaterThan(0);
  let decodedCanaries = 0;
  for (const workflowId of ids) {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const payloads = historyPayloads(history);
    const decoded = await testKeyServices().codec.decodeForNamespace(payloads.map((p) => ({ metadata: p.metadata ?? {}, data: p.data ?? undefined })), 'default');
    const text = decoded.map((p) => Buffer.from(p.data ?? []).toString('utf8')).join('\n');
    expect(text.includes(CRM_SECRET)).toBe(false);
    if (text.includes(RESULT_CANARY) && text.includes(PAYLOAD_CANARY)) decodedCanaries++;
    const raw = Buffer.from(temporal.api.history.v1.History.encode(history).finish());
    expect([workflowId, raw.includes(CRM_SECRET), raw.includes(PAYLOAD_CANARY), raw.includes(RESULT_CANARY)]).toEqual([workflowId, false, false, false]);
  }
  // The search above sees customer data where the codec lets an operator see it (the Success test's conversations).
  expect(decodedCanaries).toBeGreaterThan(0);
});
