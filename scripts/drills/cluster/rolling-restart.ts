// A rolling deploy of a patched workflow change while conversations run: every worker first runs
// the release before the patches (each patched() answering false, as the code before them did), then
// conversations start and the workers are replaced one at a time by the current release (SIGTERM:
// each drains, its conversations continue on the other), then the API replicas one at a time behind
// nginx. The audit is the same exact one as every cluster drill's.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../../../src/security/payload-codec';
import { DIST } from '../../../rigs/project';
import { sleep } from '../../../rigs/wait';
import { randomBetween } from '../util';
import type { ClusterDrill } from './faults';
import { withTraffic } from './run';

/** The current workflow code bundled with an SDK whose patched() is always false: the release before the patches. */
async function prePatchBundle(dir: string): Promise<string> {
  const shim = path.join(dir, 'pre-patch-workflow-sdk.js');
  // The real SDK by its absolute path: the alias below matches the bare package name only.
  fs.writeFileSync(shim, `'use strict';\nmodule.exports = { ...require(${JSON.stringify(require.resolve('@temporalio/workflow'))}), patched: () => false };\n`);
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../../src/conversation/workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    webpackConfigHook: (config) => ({ ...config, resolve: { ...config.resolve, alias: { ...(config.resolve?.alias as Record<string, string> | undefined), '@temporalio/workflow$': shim } } }),
    logger: { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) },
  });
  const out = path.join(dir, 'workflow-bundle-pre-patch.js');
  fs.writeFileSync(out, code);
  return out;
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
    return withTraffic(ctx, {
      prefix: 'crr',
      conversations: 20,
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
  },
};
