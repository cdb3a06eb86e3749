// Parley's workflow bundle: every workflow, the tracing interceptors and the failure converter. Built
// the same way by `npm run build` (the prebuilt bundle), by a worker started without one, and by the
// tests, so a history recorded on one replays on the others.
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../security/payload-codec';
import { TRACING_WORKFLOW_INTERCEPTORS } from './workflow-tracing';

export function bundleParleyWorkflows(logger?: BundleOptions['logger']): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: require.resolve('../conversation/workflows'),
    workflowInterceptorModules: [...TRACING_WORKFLOW_INTERCEPTORS],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(logger ? { logger } : {}),
  });
}
