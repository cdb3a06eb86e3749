// The one bundle entry for the worker: every workflow Parley runs is exported here.
export { conversationWorkflow } from './conversation';
export { exportWorkflow } from './export';
