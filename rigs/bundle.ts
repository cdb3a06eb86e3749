// The workflow bundle, built once per process (a jest test file has a process-wide module registry of
// its own, so once per file): webpack takes seconds, and every worker of a file runs the same code.
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleParleyWorkflows } from '../src/worker/workflow-bundle';

let bundling: Promise<WorkflowBundleWithSourceMap> | undefined;

export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  // The build's bundle, built the same way: the code a history is recorded and replayed on.
  bundling ??= bundleParleyWorkflows(quietBundlerLogger).catch(
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
