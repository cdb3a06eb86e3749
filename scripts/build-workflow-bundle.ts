// Bundles the workflow code once at build time (as in the `production` sample), so a worker
// started with WORKFLOW_BUNDLE_PATH skips webpack at start-up: faster starts, less memory, and
// every worker of a deployment runs byte-identical workflow code. Two bundles: the plain one, and
// its traced twin with OpenTelemetry's workflow interceptors, which only a worker with tracing on
// loads (src/worker/workflow-tracing.ts).
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/security/payload-codec';
import { TRACING_WORKFLOW_INTERCEPTORS, tracedBundlePath } from '../src/worker/workflow-tracing';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const workflowsPath = require.resolve('../src/conversation/workflows');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  for (const [file, workflowInterceptorModules] of [
    [out, []],
    [tracedBundlePath(out), [...TRACING_WORKFLOW_INTERCEPTORS]],
  ] as const) {
    const { code } = await bundleWorkflowCode({ workflowsPath, failureConverterPath: FAILURE_CONVERTER_PATH, workflowInterceptorModules: [...workflowInterceptorModules] });
    fs.writeFileSync(file, code);
    console.log(`workflow bundle: ${file} (${(code.length / 1024).toFixed(0)} KiB)`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
