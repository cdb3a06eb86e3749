// Where the workflow half of tracing comes from. The workflow interceptors run inside the workflow
// sandbox, so they are bundled with the workflows, the way the Temporal SDK prescribes: named as a
// workflow interceptor module (bundleWorkflowCode's workflowInterceptorModules, or the worker's
// interceptors.workflowModules when it bundles at start), never imported by src/conversation. The
// module is the SDK's own: it creates spans and hands them to the worker through a sink; it sees
// signal, update and activity names and headers, never their arguments.
import path from 'node:path';

export const TRACING_WORKFLOW_INTERCEPTORS: readonly string[] = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

/**
 * The traced twin of a prebuilt bundle: `dist/workflow-bundle.js` → `dist/workflow-bundle.traced.js`.
 * An untraced worker keeps loading the plain bundle, so tracing off adds nothing to a workflow task.
 */
export function tracedBundlePath(bundlePath: string): string {
  const ext = path.extname(bundlePath);
  return path.join(path.dirname(bundlePath), `${path.basename(bundlePath, ext)}.traced${ext || '.js'}`);
}
