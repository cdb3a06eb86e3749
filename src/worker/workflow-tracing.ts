// Where the workflow half of tracing comes from: tracing-workflow-interceptors.ts, named to the
// bundler as a workflow interceptor module (bundleWorkflowCode's workflowInterceptorModules, or the
// worker's interceptors.workflowModules when it bundles at start), never imported by src/conversation.
// Every bundle carries it, traced worker or not: it traces only the calls whose Temporal header
// carries trace context, and lets the others through untouched, so one bundle replays every history.
export const TRACING_WORKFLOW_INTERCEPTORS: readonly string[] = [require.resolve('./tracing-workflow-interceptors')];
