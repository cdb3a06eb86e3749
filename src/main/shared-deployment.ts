// What an API or worker process shares with the other processes of its deployment when the store is
// PostgreSQL: the shared state (the webhook replay record, the sign-in counters) and its row in the
// settings agreement, which refuses (ConfigError) a process whose CRM registry or keys differ from
// the running ones'. With the SQLite store (one process) there is nothing to share.
import type { Logger } from 'pino';
import type { Config, ConfigParts } from '../config';
import type { CrmRegistry } from '../crm/registry';
import { joinDeployment, settingsFingerprints, settingsGeneration } from '../config/settings-agreement';
import { createSharedState, type SharedState } from '../store';

export interface DeploymentMembership {
  /** Absent with the SQLite store. */
  shared?: SharedState;
  /** Removes this process from the agreement and closes the shared state. */
  leave(): Promise<void>;
}

export async function joinSharedDeployment(config: Config & Pick<ConfigParts, 'keys'>, crm: CrmRegistry, role: 'api' | 'worker', logger: Logger): Promise<DeploymentMembership> {
  const shared = createSharedState(config);
  await shared?.init();
  const registration =
    shared &&
    (await joinDeployment(shared, {
      deployment: `${config.temporalNamespace}/${config.taskQueue}`,
      role,
      generation: settingsGeneration(process.env),
      groups: settingsFingerprints({ crm, keys: config.keys, role }),
      onBeatFailed: (err) => logger.warn({ err: { type: err instanceof Error ? err.name : typeof err } }, 'could not refresh this process in the shared settings record'),
    }));
  return {
    shared,
    async leave() {
      await registration?.leave();
      await shared?.close();
    },
  };
}
