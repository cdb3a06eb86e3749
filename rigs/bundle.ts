// The workflow bundle, built once per process (a jest test file has a process-wide module registry of
// its own, so once per file): webpack takes seconds, and every worker of a file runs the same code.
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/security/payload-codec';
import { TRACING_WORKFLOW_INTERCEPTORS } from '../src/worker/workflow-tracing';

let bundling: Promise<WorkflowBundleWithSourceMap> | undefined;

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  // With the tracing interceptors, as the build's bundle: the code a history is recorded and replayed on.
  bundling ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../src/conversation/workflows'),
    workflowInterceptorModules: [...TRACING_WORKFLOW_INTERCEPTORS],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    logger: quietBundlerLogger,
  }).catch(
    (err: unknown) => {
      // A failed bundle is not kept: the next caller tries again.
      bundling = undefined;
      throw err;
    },
  );
  return bundling;
}

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => console.warn(message),
  error: (message: string) => console.error(message),
};
