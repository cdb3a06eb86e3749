// createActivities(deps): the worker passes real peers; tests pass real local ones.
import type { Logger } from 'pino';
import type { ChannelPeers } from '../src/channels/peers';
import type { FlushMetrics } from '../src/metrics';
import type { ParticipantDataStore } from '../src/store';
import type { CrmRegistry } from '../src/crm/registry';
import { createCrmActivities } from './crm';
import { createChannelActivities } from './channels';
import { createParticipantDataActivities } from './participant-data';

export interface ActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** Flush outcomes for the worker's /metrics; tests may leave it out. */
  metrics?: FlushMetrics;
  /** The CRM integrations (CRM_INTEGRATIONS_FILE); absent: none, every configuration is NotConfigured. */
  crm?: CrmRegistry;
  /** The channel gateway and routing platform (digital channels); tests that need none leave it out. */
  channels?: ChannelPeers;
}

export function createActivities(deps: ActivityDeps) {
  return { ...createParticipantDataActivities(deps), ...createCrmActivities(deps), ...createChannelActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
