// Moved to rigs/ (shared with the bench and the drills). This re-export only lets branches written
// against the old path merge and build; import from rigs/ instead, and delete this file once nothing
// imports it.
export { bundleWorkflows } from '../../rigs/bundle';
export { silentLogger } from '../../rigs/logs';
export { freePort } from '../../rigs/ports';
export { tempDir, uniqueId } from '../../rigs/temp';
export { createTimeSkippingEnv } from '../../rigs/time-skipping';

import { startHeadlessDevServer } from '../../rigs/dev-server';
export const startTestDevServer = (dbFile: string, port?: number) => startHeadlessDevServer(dbFile, { port });
