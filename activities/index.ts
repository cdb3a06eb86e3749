// createActivities(deps): the worker passes real peers; tests pass real local ones.
import type { Logger } from 'pino';
import type { FlushMetrics } from '../src/metrics';
import type { ParticipantDataStore } from '../src/store';
import type { CrmRegistry } from '../src/crm/registry';
import { createCrmActivities } from './crm';
import { createParticipantDataActivities } from './participant-data';

export interface ActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** Flush outcomes for the worker's /metrics; tests may leave it out. */
  metrics?: FlushMetrics;
  /** The CRM integrations (CRM_INTEGRATIONS_FILE); absent: none, every configuration is NotConfigured. */
  crm?: CrmRegistry;
}

export function createActivities(deps: ActivityDeps) {
  return { ...createParticipantDataActivities(deps), ...createCrmActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
