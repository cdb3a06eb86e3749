// createActivities(deps): the worker passes real peers; tests pass real local ones.
import type { Logger } from 'pino';
import type { ChannelPeers } from '../src/channels/peers';
import type { FlushMetrics } from '../src/metrics';
import type { ParticipantDataStore } from '../src/store';
import { createChannelActivities } from './channels';
import { createParticipantDataActivities } from './participant-data';

export interface ActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** Flush outcomes for the worker's /metrics; tests may leave it out. */
  metrics?: FlushMetrics;
  /** The channel gateway and routing platform (digital channels); tests that need none leave it out. */
  channels?: ChannelPeers;
}

export function createActivities(deps: ActivityDeps) {
  return { ...createParticipantDataActivities(deps), ...createChannelActivities(deps) };
}

export type Activities = ReturnType<typeof createActivities>;
