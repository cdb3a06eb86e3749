// createActivities(deps): the worker passes real peers; tests pass real local ones.
import type { Logger } from 'pino';
import type { FlushMetrics } from '../src/metrics';
import type { ParticipantDataStore } from '../src/store';
import { createParticipantDataActivities } from './participant-data';

export interface ActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** Flush outcomes for the worker's /metrics; tests may leave it out. */
  metrics?: FlushMetrics;
}

export function createActivities(deps: ActivityDeps) {
  return { ...createParticipantDataActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
