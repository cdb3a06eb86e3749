// A rolling deploy of a patched workflow change while conversations run: every worker first runs
// the release before the patches (each patched() answering false, as the code before them did), then
// conversations start and the workers are replaced one at a time by the current release (SIGTERM:
// each drains, its conversations continue on the other), then the API replicas one at a time behind
// nginx. Each conversation also executes a CRM workflow the CRM fails on every call (NICE CXone
// Studio's Workflow Execute), which takes the crm-outcome-of-last-attempt patch: the old release
// answers Timeout when the budget ends, the current one InternalError (the last attempt's answer).
// The audit is the same exact one as every cluster drill's, plus exactly one outcome per execution.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../../src/security/payload-codec';
import { DIST } from '../../../rigs/project';
import { sleep } from '../../../rigs/wait';
import { randomBetween } from '../util';
import type { ClusterDrill } from './faults';
import { CRM_CONFIGURATION, CRM_FAILING_WORKFLOW, withTraffic } from './run';
import { mapLimit, type Ledger } from '../traffic';
import { workflowIdFor } from '../../../src/conversation';

/** The marker the SDK records where patched() first answers true. */
const PATCH_MARKER = 'core_patch';

/** The current workflow code bundled with an SDK whose patched() is always false: the release before the patches. */
async function prePatchBundle(dir: string): Promise<string> {
  const shim = path.join(dir, 'pre-patch-workflow-sdk.js');
  // The real SDK by its absolute path: the alias below matches the bare package name only.
  fs.writeFileSync(shim, `'use strict';\nmodule.exports = { ...require(${JSON.stringify(require.resolve('@temporalio/workflow'))}), patched: () => false };\n`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../../src/conversation/workflows'),
    preloadModules: [require.resolve('../../../src/conversation/workflows')],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as Record<string, string> | undefined), '@temporalio/workflow$': shim } } }),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) },
  });
  const out = path.join(dir, 'workflow-bundle-pre-patch.js');
  fs.writeFileSync(out, code);
  return out;
}

interface CrmTally {
  outcomes: Record<string, number>;
  violations: string[];
  ids: string[];
}

/** The standard conversation with a failing CRM execution after its ROUTED, then its CLOSED. */
async function conversationWithCrm(ledger: Ledger, id: string, tally: CrmTally): Promise<void> {
  tally.ids.push(id);
  await ledger.standardConversation(id, { close: false });
  const body = JSON.stringify({ inputs: { conversationId: id, configurationId: CRM_CONFIGURATION, workflowId: CRM_FAILING_WORKFLOW, payload: '{}' }, context: {}, settings: {} });
  const until = Date.now() + 180_000;
  for (;;) {
    const answer = await ledger.api.request('workflow-execute', 'POST', '/data-actions/workflow-execute', { body, scope: 'flow', headers: { 'idempotency-key': `${id}-crm` } });
    const code = (answer.body?.errors as Array<{ code?: string }> | undefined)?.[0]?.code;
    const outcome = (answer.body?.outputs as { outcome?: string } | undefined)?.outcome ?? (code && /^[A-Z]/.test(code) ? code : undefined);
    if (outcome) {
      tally.outcomes[outcome] = (tally.outcomes[outcome] ?? 0) + 1;
      if (outcome !== 'InternalError' && outcome !== 'Timeout') tally.violations.push(`${id}: the failing CRM workflow ended ${outcome}`);
      break;
    }
    // No outcome in time (503/504) or no answer: retried with the same key, as the API tells a flow to.
    if ((answer.status !== 0 && answer.status < 500) || Date.now() > until) {
      tally.violations.push(`${id}: the CRM execution got no outcome (${answer.status} ${JSON.stringify(answer.body).slice(0, 160)})`);
      break;
    }
    await sleep(500);
  }
  const c = ledger.conversation(id);
  await ledger.deliver(c, ledger.event(c, 'CLOSED', { dispositionCode: 'done' }));
}

export const clusterRollingRestart: ClusterDrill = {
  name: 'cluster-rolling-restart',
  summary: 'a rolling deploy of a patched workflow change (workers from the pre-patch release to the current one, then the API replicas), one process at a time, while conversations run',
  async run(ctx) {
    const { stack, log } = ctx;
    const oldBundle = await prePatchBundle(stack.opts.workDir);
    const current = path.join(DIST, 'workflow-bundle.js');
    // The release running before the deploy, on every worker; no conversation of this drill yet.
    for (let i = 0; i < stack.workers.length; i++) await stack.replaceWorker(i, { WORKFLOW_BUNDLE_PATH: oldBundle });
    log(`every worker on the pre-patch release (${path.basename(oldBundle)})`);
    const tally: CrmTally = { outcomes: {}, violations: [], ids: [] };
    const audit = await withTraffic(ctx, {
      prefix: 'crr',
      conversations: 20,
      conversation: (ledger, id) => conversationWithCrm(ledger, id, tally),
      faults: async () => {
        const took: string[] = [];
        for (let i = 0; i < stack.workers.length; i++) {
          await sleep(randomBetween(2_000, 4_000));
          const t = Date.now();
          await stack.replaceWorker(i, { WORKFLOW_BUNDLE_PATH: current });
          took.push(`worker ${i + 1} ${Date.now() - t} ms`);
          log(`worker ${i + 1} drained and back on the current release`);
        }
        for (let i = 0; i < stack.apis.length; i++) {
          await sleep(randomBetween(1_000, 2_000));
          const t = Date.now();
          await stack.replaceApi(i, {});
          took.push(`API ${i + 1} ${Date.now() - t} ms`);
          log(`API ${i + 1} stopped and back`);
        }
        return { 'processes replaced one at a time': took.length, 'stop to serving (each)': took.join(', ') };
      },
    });
    audit.facts['CRM outcomes'] = Object.entries(tally.outcomes).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
    // Which release handled each failing execution: the current one records the patch's marker, the old one none.
    let marked = 0;
    await mapLimit(tally.ids, 8, async (id) => {
      const history = await stack.client.workflow.getHandle(workflowIdFor(id)).fetchHistory();
      if ((history.events ?? []).some((e) => e.markerRecordedEventAttributes?.markerName === PATCH_MARKER)) marked++;
    });
    audit.facts['CRM failures handled by the current release (patch marker) / by the old one'] = `${marked} / ${tally.ids.length - marked}`;
    audit.violations = [...(audit.violations ?? []), ...tally.violations];
    return audit;
  },
};
