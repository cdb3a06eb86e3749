// The workflow bundle, built once per process (a jest test file has a process-wide module registry of
// its own, so once per file): webpack takes seconds, and every worker of a file runs the same code.
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../src/security/payload-codec';

let bundling: Promise<WorkflowBundleWithSourceMap> | undefined;

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  bundling ??= bundleWorkflowCode({ workflowsPath: require.resolve('../src/conversation/workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quietBundlerLogger }).catch(
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
