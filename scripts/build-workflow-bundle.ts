// Bundles the workflow code once at build time (as in the `production` sample), so a worker
// started with WORKFLOW_BUNDLE_PATH skips webpack at start-up: faster starts, less memory, and
// every worker of a deployment runs byte-identical workflow code.
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/security/payload-codec';
import { TRACING_WORKFLOW_INTERCEPTORS } from '../src/worker/workflow-tracing';

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'workflow-bundle.js'));
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/conversation/workflows'),
    failureConverterPath: FAILURE_CONVERTER_PATH,
    workflowInterceptorModules: [...TRACING_WORKFLOW_INTERCEPTORS],
  });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, code);
  console.log(`workflow bundle: ${out} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
