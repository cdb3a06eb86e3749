// Parley's workflow bundle: every workflow, the tracing interceptors and the failure converter. Built
// the same way by `npm run build` (the prebuilt bundle), by a worker started without one, and by the
// tests, so a history recorded on one replays on the others.
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from '../security/payload-codec';
import { TRACING_WORKFLOW_INTERCEPTORS } from './workflow-tracing';

const WORKFLOWS_PATH = require.resolve('../conversation/workflows');

export function bundleParleyWorkflows(logger?: BundleOptions['logger']): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    // The SDK's shared sandbox otherwise evaluates every module a workflow imports once per
    // conversation it starts or replays (its module cache is per workflow): Parley's modules, again
    // for each conversation a worker takes back into its cache. Preloaded, they are evaluated once
    // per workflow thread and shared. That is safe only because they keep no state of their own:
    // a conversation's state lives in its workflow function and is passed down as arguments, and
    // the lint forbids module-level `let`, `var` and writable collections in src/conversation. The
    // tracing interceptors are not preloaded: they hold each workflow's OpenTelemetry.
    preloadModules: [WORKFLOWS_PATH],
    workflowInterceptorModules: [...TRACING_WORKFLOW_INTERCEPTORS],
    failureConverterPath: FAILURE_CONVERTER_PATH,
    ...(logger ? { logger } : {}),
  });
}
