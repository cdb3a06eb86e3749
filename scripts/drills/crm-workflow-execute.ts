// Conversations each executing a CRM workflow through POST /data-actions/workflow-execute (the
// flow's way, before any routing webhook) against a real HTTP CRM that fails transiently at random
// and is sometimes slow, while the worker is SIGKILLed and restarted several times. A flow retries
// a request that got no outcome in time with the same Idempotency-Key, as the API tells it to.
// Audit: every request answered with exactly one outcome, recorded once in its conversation; at the
// CRM, each conversation's execution reached it under one key only, acted on once (the CRM
// de-duplicates by key like a real one; the repeated keys it saw are a fact, not a fault).
import fs from 'node:fs';
import path from 'node:path';
import { workflowIdFor, type ConversationView } from '../../src/conversation';
import { CrmPeer, type PeerAction } from '../../rigs/crm-peer';
import type { Drill, DrillAudit } from './drill';
import { Stack } from './stack';
import { ApiClient } from './traffic';
import { sleep } from '../../rigs/wait';
import { driveThrough, randomBetween, repeatedOutages, scaled } from './util';

const CONFIGURATION = 'drill-crm';
const WORKFLOW = 'lookupCustomer';
/** Long enough to outlast a worker kill (3 s without heartbeat, then a restart) plus transient failures. */
const BUDGET_MS = 45_000;
/** How long a flow keeps retrying a request that got no outcome in time. */
const RETRY_FOR_MS = 180_000;

/** The CRM's behaviour per call: mostly fine, a share of transient failures, some slow answers. */
function randomAction(): PeerAction {
  const roll = Math.random();
  if (roll < 0.15) return { status: 503 };
  if (roll < 0.22) return { drop: true };
  if (roll < 0.28) return { status: 429, retryAfter: '1' };
  if (roll < 0.43) return { delayMs: Math.round(randomBetween(1_000, 4_000)) };
  return {};
}

interface Execution {
  conversationId: string;
  key: string;
  /** The outcome branch of the final answer, or undefined if none came. */
  outcome?: string;
  attempts: number;
  statuses: number[];
}

export const crmWorkflowExecute: Drill = {
  name: 'crm-workflow-execute',
  summary: 'CRM workflow executes through the data action against a CRM failing transiently and slow at times, while the worker is SIGKILLed and restarted; each request gets one outcome and the CRM acts once per execution',
  fast: true,
  async run({ scale, workDir, log }) {
    const peer = await new CrmPeer().start();
    peer.respond = randomAction;
    const secret = `drill-crm-secret-${Date.now().toString(36)}`;
    const registryFile = path.join(workDir, 'crm-integrations.json');
    fs.writeFileSync(
      registryFile,
      JSON.stringify({
        configurations: {
          [CONFIGURATION]: {
            baseUrl: peer.url,
            auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: 'DRILL_CRM_SECRET' },
            workflows: [WORKFLOW],
            defaultTimeoutMs: BUDGET_MS,
            maxTimeoutMs: BUDGET_MS,
          },
        },
      }),
    );
    let stack: Stack | undefined;
    try {
      stack = await Stack.start({ workDir, log, env: { CRM_INTEGRATIONS_FILE: registryFile, DRILL_CRM_SECRET: secret } });
      const running = stack;
      const api = new ApiClient(() => running.apiBase, running.credentials);
      const conversations = scaled(120, scale, 12);
      const concurrency = Math.min(20, conversations);
      const kills = scaled(4, scale, 2);
      const run = Date.now().toString(36);
      const executions: Execution[] = [];
      const violations: string[] = [];

      const executeOne = async (i: number): Promise<void> => {
        const execution: Execution = { conversationId: `crm-${run}-${i}`, key: `drill-${run}-${i}`, attempts: 0, statuses: [] };
        executions.push(execution);
        const body = JSON.stringify({
          inputs: { conversationId: execution.conversationId, configurationId: CONFIGURATION, workflowId: WORKFLOW, payload: JSON.stringify({ customer: i }) },
          context: {},
          settings: {},
        });
        const until = Date.now() + RETRY_FOR_MS;
        while (Date.now() < until) {
          execution.attempts++;
          const answer = await api.request('workflow-execute', 'POST', '/data-actions/workflow-execute', { body, scope: 'flow', headers: { 'idempotency-key': execution.key } });
          execution.statuses.push(answer.status);
          const errors = answer.body?.errors as Array<{ code?: string }> | undefined;
          const outputs = answer.body?.outputs as { outcome?: string } | undefined;
          if (answer.status === 200 && outputs?.outcome) {
            execution.outcome = outputs.outcome;
            return;
          }
          // An outcome branch (Timeout, InternalError…) is an answer; "no outcome in time" (code timeout) or no answer is retried.
          const code = errors?.[0]?.code;
          if (code && /^[A-Z]/.test(code)) {
            execution.outcome = code;
            return;
          }
          if (answer.status !== 0 && answer.status !== 503 && answer.status !== 504) {
            violations.push(`${execution.conversationId}: answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 200)}`);
            return;
          }
          await sleep(500);
        }
      };

      let faultsDone = false;
      const traffic = driveThrough(conversations, concurrency, () => faultsDone, executeOne);
      const worker = running.workers[0];
      // Kill while calls are in flight: wait for the CRM to be busy.
      const downtimes = await repeatedOutages(kills, { upMs: [2_000, 6_000], downMs: [200, 2_000] }, () => worker.kill(), () => worker.start(), (n, ms) =>
        log(`worker killed and back (${n}/${kills}) after ${ms} ms; CRM calls so far ${peer.calls.length}`),
      );
      faultsDone = true;
      const started = await traffic;
      log(`${started} executions sent; auditing`);

      // Audit against the conversations' recorded state and the CRM's own record.
      const keysByConversation = new Map<string, Set<string>>();
      for (const call of peer.calls) {
        const conversationId = call.idempotencyKey?.split('/')[0];
        if (!conversationId || !call.idempotencyKey) continue;
        const keys = keysByConversation.get(conversationId) ?? new Set<string>();
        keys.add(call.idempotencyKey);
        keysByConversation.set(conversationId, keys);
      }
      const outcomes: Record<string, number> = {};
      let answered = 0;
      let reflected = 0;
      let lost = 0;
      let doubled = 0;
      for (const execution of executions) {
        if (!execution.outcome) {
          lost++;
          violations.push(`${execution.conversationId}: no outcome after ${execution.attempts} requests (${execution.statuses.join(', ')})`);
          continue;
        }
        answered++;
        outcomes[execution.outcome] = (outcomes[execution.outcome] ?? 0) + 1;
        const state = await api.request('read', 'GET', `/conversations/${encodeURIComponent(execution.conversationId)}`, { scope: 'operator' });
        const view = state.body as unknown as ConversationView | undefined;
        const recorded = (view?.crm?.executions ?? []).filter((e) => e.requestId === `workflow-execute:${execution.key}`);
        const crmKey = `${workflowIdFor(execution.conversationId)}/workflow-execute:${execution.key}`;
        const keys = keysByConversation.get(workflowIdFor(execution.conversationId)) ?? new Set<string>();
        const acts = peer.acted.get(crmKey) ?? 0;
        if (recorded.length > 1 || keys.size > 1 || acts > 1) doubled++;
        if (recorded.length === 0 || (execution.outcome === 'Success' && acts === 0)) lost++;
        if (recorded.length === 1 && recorded[0].outcome !== execution.outcome) {
          violations.push(`${execution.conversationId}: answered ${execution.outcome} but recorded ${recorded[0].outcome}`);
        }
        if (recorded.length === 1 && keys.size <= 1 && acts <= 1 && (execution.outcome !== 'Success' || acts === 1)) reflected++;
      }
      const logs = [path.join(workDir, 'api.log'), ...running.workers.map((w) => w.logFile)].filter((f) => fs.existsSync(f));
      for (const file of logs) if (fs.readFileSync(file, 'utf8').includes(secret)) violations.push(`${path.basename(file)} holds the CRM credential`);

      const audit: DrillAudit = {
        accepted: { executions: answered },
        reflected: { executions: reflected },
        lost,
        doubled,
        facts: {
          'executions sent': started,
          'concurrent flows': concurrency,
          'worker SIGKILLs': downtimes.length,
          'worker down ms (each, to serving again)': downtimes.join(', '),
          'unexpected worker exits': worker.unexpectedExits.join(', ') || 'none',
          outcomes: Object.entries(outcomes).map(([o, n]) => `${o} ${n}`).join(', '),
          'CRM calls': peer.calls.length,
          'CRM calls that failed transiently or dropped': peer.calls.filter((c) => c.answer === 'failed' || c.answer === 'dropped').length,
          'CRM repeated keys answered from the first act (retries after a lost answer)': peer.duplicatesSeen,
          'requests retried by the flow (no outcome in time)': executions.reduce((sum, e) => sum + e.attempts - 1, 0),
          ...Object.fromEntries(Object.entries(api.statuses).map(([k, v]) => [`answers ${k}`, v])),
        },
        violations,
      };
      return audit;
    } finally {
      await stack?.stop();
      await peer.stop();
    }
  },
};
