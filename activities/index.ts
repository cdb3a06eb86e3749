// createActivities(deps): the worker passes real peers; tests pass real local ones.
import type { Logger } from 'pino';
import type { ChannelPeers } from '../src/channels/peers';
import type { ExportSink } from '../src/export';
import type { ExportMetrics, FlushMetrics } from '../src/platform/metrics';
import type { ParticipantDataStore } from '../src/store';
import type { CrmRegistry } from '../src/crm/registry';
import type { Activities } from '../src/conversation';
import { createCrmActivities } from './crm';
import { createChannelActivities } from './channels';
import { createExportActivities } from './export';
import { createParticipantDataActivities } from './participant-data';

export interface ActivityDeps {
  store: ParticipantDataStore;
  logger: Logger;
  /** Flush and export outcomes for the worker's /metrics; tests may leave it out. */
  metrics?: FlushMetrics & ExportMetrics;
  /** The CRM integrations (CRM_INTEGRATIONS_FILE); absent: none, every configuration is NotConfigured. */
  crm?: CrmRegistry;
  /** The channel gateway and routing platform (digital channels); tests that need none leave it out. */
  channels?: ChannelPeers;
  /** Where ended conversations are exported. Absent (tests that do not look at exports): ended conversations start no export. */
  exportSink?: ExportSink;
  /** How long an export may take inline before its own workflow takes it over; 0: always its workflow. Default 5 s. */
  exportInlineWriteMs?: number;
}

/** The worker's implementation of every activity the workflows proxy (src/conversation/activities.ts). */
export function createActivities(deps: ActivityDeps): Activities {
  const exports = createExportActivities(deps);
  return { ...createParticipantDataActivities({ ...deps, startExport: exports.startExport }), ...createCrmActivities(deps), ...createChannelActivities(deps), ...exports };
}

export type { Activities };
