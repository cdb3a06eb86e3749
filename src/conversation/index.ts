// The workflow bundle's one public module: its messages, input rules, contracts, activity
// contracts, versions and workflow types. Code outside src/conversation imports the bundle through
// here; the workflow code itself is loaded only by the worker (workflows/index.ts).
export * from './messages';
export * from './validation';
export * from './contracts/crm';
export * from './contracts/channels';
export * from './end-phrase';
export * from './contracts/export';
export * from './activities';
export * from './versions';
export * from './workflow-types';
export * from './routing-event';
export * from './start-search-attributes';
export type * from './json-schema';
export { APPLIED_WRITE_WINDOW, REFUSED_WRITES_KEPT } from './state';
