// Every process of one deployment (the processes on one Temporal namespace and task queue, sharing
// one PostgreSQL store) must run with the same CRM registry and the same keys: a CRM id the API
// accepts but a worker lacks, or a payload one process encrypts under a key another cannot read,
// fails conversations at run time. Each process therefore records, at start-up, a fingerprint of each
// such settings group (a SHA-256 over the settings, never a secret) and refuses to start when a
// running process recorded another one, naming the groups that differ, not their values.
//
// The rolling-change rule: PARLEY_SETTINGS_GENERATION (default 0). A process may start with
// settings that differ from a running process's only when its generation is higher: it is the new
// generation rolling in while the old one drains. A process of the same or a lower generation than
// a running one that differs is refused, so neither a stray misconfigured replica nor an old one
// restarting mid-rollout joins. A process is running while it refreshes its row (every 10 s).
import crypto from 'node:crypto';
import os from 'node:os';
import type { CrmRegistry } from '../crm/registry';
import { ConfigError, type Env, integerInRange } from '../platform/env';
import { type KeyConfig, type KeySourceConfig, readLocalKeys } from '../security/keys';
import type { RegisteredProcess, SharedState } from '../store';

/** The groups, with what to look at when one differs. */
export const SETTINGS_GROUPS = {
  'crm-integrations': 'the CRM integrations registry (CRM_INTEGRATIONS_FILE: ids, base URLs, workflows, budgets, auth header)',
  'secured-data-key': 'the secured-data key (KMS_KEY_ID and KMS_DECRYPT_KEY_IDS, or the local key file PARLEY_KEY_FILE)',
  'payload-codec-key': 'the payload codec key (CODEC_KMS_KEY_ID, KMS_KEY_ID and KMS_DECRYPT_KEY_IDS, or the local key file PARLEY_KEY_FILE)',
} as const;
export type SettingsGroup = keyof typeof SETTINGS_GROUPS;

/** How often a running process refreshes its row, and how long after its last refresh it still counts. */
export const HEARTBEAT_MS = 10_000;
export const LIVE_MS = 3 * HEARTBEAT_MS;

export function settingsGeneration(env: Env): number {
  return integerInRange(env, 'PARLEY_SETTINGS_GENERATION', 0, 0, 1_000_000_000);
}

const digest = (value: unknown): string => crypto.createHash('sha256').update(JSON.stringify(value)).digest('hex');

/**
 * A local key file is known by its oldest key (kept through rotations, which add keys in front):
 * its id and a key check value (an HMAC under the key, which says nothing about the key), so two
 * files generated apart differ even if someone gave their keys the same id.
 */
function keySourceView(source: KeySourceConfig): unknown {
  if (source.kind === 'kms') return { kind: 'kms', keyArn: source.keyArn, decryptKeyArns: [...source.decryptKeyArns].sort() };
  const keys = readLocalKeys(source.keyFile);
  const oldest = keys[keys.length - 1];
  return { kind: 'local', oldestKeyId: oldest.id, check: crypto.createHmac('sha256', oldest.key).update('parley-key-check').digest('hex') };
}

/** The fingerprints a process with these settings records; a group it does not use is left out. */
export function settingsFingerprints(settings: { crm: CrmRegistry; keys: KeyConfig; role: 'api' | 'worker' }): Partial<Record<SettingsGroup, string>> {
  const groups: Partial<Record<SettingsGroup, string>> = {
    'crm-integrations': digest(settings.crm.agreementView()),
    'payload-codec-key': digest(keySourceView(settings.keys.codec)),
  };
  // The worker never reads secured values: they reach it already encrypted.
  if (settings.role === 'api') groups['secured-data-key'] = digest(keySourceView(settings.keys.securedData));
  return groups;
}

/** The groups two processes both use and fingerprint differently. */
export function differingGroups(a: Record<string, string>, b: Record<string, string>): SettingsGroup[] {
  return (Object.keys(SETTINGS_GROUPS) as SettingsGroup[]).filter((g) => a[g] !== undefined && b[g] !== undefined && a[g] !== b[g]);
}

/** Throws ConfigError when `self` may not join the running processes `others` (the rule above). */
export function admit(self: RegisteredProcess, others: readonly RegisteredProcess[]): void {
  for (const other of others) {
    const differing = differingGroups(self.groups, other.groups);
    if (differing.length === 0 || self.generation > other.generation) continue;
    throw new ConfigError(
      `settings differ from a running ${other.role} process (${other.processId}, PARLEY_SETTINGS_GENERATION=${other.generation}): ` +
        `${differing.map((g) => SETTINGS_GROUPS[g]).join('; ')}. Every API and worker of this deployment must start with the same; ` +
        `to change them, roll the new settings out with PARLEY_SETTINGS_GENERATION above ${other.generation} (docs/deployment.md, "Several API replicas").`,
    );
  }
}

export interface SettingsRegistration {
  readonly processId: string;
  /** Stops refreshing and removes this process's row. */
  leave(): Promise<void>;
}

/**
 * Records this process's fingerprints for its deployment, refusing (ConfigError) when they differ
 * from a running process's, then keeps the row fresh until leave(). A refresh that fails (PostgreSQL
 * unreachable) is reported and retried at the next beat.
 */
export async function joinDeployment(
  shared: SharedState,
  opts: { deployment: string; role: 'api' | 'worker'; generation: number; groups: Partial<Record<SettingsGroup, string>>; onBeatFailed?: (err: unknown) => void },
): Promise<SettingsRegistration> {
  const self: RegisteredProcess = {
    processId: `${opts.role}:${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`,
    role: opts.role,
    generation: opts.generation,
    groups: opts.groups as Record<string, string>,
  };
  await shared.register(opts.deployment, self, LIVE_MS, (others) => admit(self, others));
  const timer = setInterval(() => {
    shared.heartbeat(opts.deployment, self).catch((err: unknown) => opts.onBeatFailed?.(err));
  }, HEARTBEAT_MS);
  timer.unref();
  return {
    processId: self.processId,
    async leave() {
      clearInterval(timer);
      await shared.unregister(self.processId).catch(() => undefined);
    },
  };
}
