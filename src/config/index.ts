// The configuration of a Parley process: everything it reads from the environment, and from the
// files the environment names, parsed and checked once at start-up and then passed down. Each
// capability parses its own part (the variables it reads are listed there):
//   src/platform/config.ts   HTTP, Temporal connection and TLS, logging, data folder, conversation settings
//   src/store/config.ts      DATABASE_URL, PARLEY_SQLITE_PATH, STORE_TIMEOUT
//   src/worker/settings.ts   WORKER_*, WORKFLOW_BUNDLE_PATH, TEMPORAL_METRICS_PORT
//   src/export/config.ts     EXPORT_DIR, EXPORT_S3_*
//   src/security/keys.ts     KMS_*, CODEC_KMS_KEY_ID, PARLEY_KEY_FILE, DATA_KEY_CACHE_*, AWS_*
//   src/security/secrets.ts  PARLEY_WEBHOOK_SECRETS, PARLEY_TOKENS, PARLEY_SECRETS_FILE
//   src/security/codec-server.ts  CODEC_CORS_ORIGINS, CODEC_COOKIE_*
//   src/security/sign-in-limit.ts CODEC_SIGNIN_*
//   src/config/settings-agreement.ts  PARLEY_SETTINGS_GENERATION
//   src/crm/registry.ts      CRM_INTEGRATIONS_FILE (and the variables it names)
//   src/channels/config.ts   CHANNEL_GATEWAY_*, ROUTING_PLATFORM_*, CHANNEL_PEER_TIMEOUT, PARLEY_OUTBOX_DIR, CHANNEL_DESTINATIONS_FILE
// A setting Parley cannot use stops the process with a ConfigError naming the variable (or the file,
// entry and field), never a secret's value.
import { type ChannelPeerConfig, type DestinationDirectory, channelPeerConfig, loadDestinations } from '../channels/config';
import { type CrmRegistry, loadCrmRegistry } from '../crm/registry';
import { type ExportTarget, exportInlineWriteMsFromEnv, exportTargetFromEnv } from '../export/config';
import { type PlatformConfig, loadPlatformConfig } from '../platform/config';
import type { Env } from '../platform/env';
import { type CodecSettings, codecSettingsFromEnv } from '../security/codec-server';
import { type KeyConfig, keyConfigFromEnv } from '../security/keys';
import { type LoadedSecrets, loadSecrets } from '../security/secrets';
import { type SignInLimits, signInLimitsFromEnv } from '../security/sign-in-limit';
import { type StoreConfig, storeConfigFromEnv } from '../store/config';
import { type WorkerSettings, workerSettingsFromEnv } from '../worker/settings';

export { ConfigError, type Env } from '../platform/env';

/** What every Parley process reads: checked whole by each, so they all refuse the same mistakes. */
export interface Config extends PlatformConfig, StoreConfig, WorkerSettings {
  /** Where ended conversations are exported. */
  exportTarget: ExportTarget;
  /** How long an export may take inline before its own workflow takes it over (EXPORT_INLINE_WRITE_MS; 0: always its workflow). */
  exportInlineWriteMs: number;
}

/** The parts only some processes use, each loaded and checked by those that ask for it. */
export interface ConfigParts {
  /** Where the secured-data and payload-codec keys are (KMS or the local key file). */
  keys: KeyConfig;
  /** The API's webhook secrets and bearer tokens; the API does not start without them. */
  secrets: LoadedSecrets;
  /** Who may call the API's codec server from a browser, and its session cookie. */
  codec: CodecSettings;
  /** How many codec sign-in attempts a client, and everyone together, may make per window. */
  signIn: SignInLimits;
  /** The CRM integrations and their credentials. */
  crm: CrmRegistry;
  /** The channel gateway and routing platform the worker delivers to. */
  channelPeers: ChannelPeerConfig;
  /** What each digital-channel destination gets. */
  destinations: DestinationDirectory;
}

export type ConfigPart = keyof ConfigParts;

type PartLoaders = { [P in ConfigPart]: (env: Env, config: Config) => ConfigParts[P] };

/** In this order whatever the caller's list, so a process with two mistakes always reports the same one. */
const PART_LOADERS: PartLoaders = {
  secrets: (env, config) => loadSecrets(env, config.dataDir),
  crm: (env, config) => loadCrmRegistry(env, config.dataDir),
  destinations: (env) => loadDestinations(env),
  keys: (env) => keyConfigFromEnv(env),
  codec: (env) => codecSettingsFromEnv(env),
  signIn: (env) => signInLimitsFromEnv(env),
  channelPeers: (env, config) => channelPeerConfig(env, config.dataDir),
};

/**
 * Reads and checks the configuration: the common part, and the `parts` this process uses (the worker
 * has no API secrets, the launcher creates them). Throws ConfigError at the first setting it refuses.
 */
export function loadConfig(env?: Env): Config;
export function loadConfig<P extends ConfigPart>(env: Env, parts: readonly P[]): Config & Pick<ConfigParts, P>;
export function loadConfig(env: Env = process.env, parts: readonly ConfigPart[] = []): Config & Partial<ConfigParts> {
  const platform = loadPlatformConfig(env);
  const config: Config = {
    ...platform,
    ...storeConfigFromEnv(env, platform.dataDir),
    ...workerSettingsFromEnv(env),
    exportTarget: exportTargetFromEnv(env, platform.dataDir),
    exportInlineWriteMs: exportInlineWriteMsFromEnv(env),
  };
  const loaded: Partial<ConfigParts> = {};
  for (const part of Object.keys(PART_LOADERS) as ConfigPart[]) {
    if (parts.includes(part)) assign(loaded, part, PART_LOADERS[part](env, config));
  }
  return { ...config, ...loaded };
}

function assign<P extends ConfigPart>(target: Partial<ConfigParts>, part: P, value: ConfigParts[P]): void {
  target[part] = value;
}
