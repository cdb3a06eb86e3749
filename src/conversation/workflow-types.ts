// The workflows the worker registers, by name and by signature, for code that starts, signals or
// counts them without loading workflow code (the API, activities, scripts): import the types with
// `import type` and pass `typeof conversationWorkflow` where the client asks for a workflow type.
export type { conversationWorkflow } from './workflows/conversation';
export type { exportWorkflow } from './workflows/export';

/** Workflow type names: the exported function names of workflows/index.ts. */
export const WORKFLOW_TYPES = {
  conversation: 'conversationWorkflow',
  export: 'exportWorkflow',
} as const;
