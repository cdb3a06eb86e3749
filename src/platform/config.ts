// The platform's settings from the environment: the HTTP listener, the Temporal connection, logging,
// the data folder, and the conversation settings every workflow is started with. Defaults make a
// fresh clone run on one machine. The other capabilities parse their own settings; src/config puts
// them all together.
import type { LogFormat } from './logger';
import { type ConversationSettings, DEFAULT_SETTINGS, DEFAULT_TASK_QUEUE } from '../conversation';
import net from 'node:net';
import { dataDirOf } from './data-dir';
import { ConfigError, type Env, atLeast, duration, flag, integer, integerInRange, list, oneOf, optional } from './env';

export { ConfigError } from './env';
export { projectRoot } from './data-dir';

export interface PlatformConfig {
  /** HTTP API port. */
  port: number;
  host: string;
  /**
   * TRUST_PROXY: the reverse proxies whose X-Forwarded-For (and -Proto, -Host) the API believes:
   * their addresses or CIDR ranges. Unset: none, the socket's address is the client's.
   */
  trustProxy?: string[];
  /** Set: use that Temporal cluster. Unset: `npm start` runs the embedded dev server. */
  temporalAddress?: string;
  temporalNamespace: string;
  /** TLS to the cluster; unset means plain text (the dev server). */
  temporalTls?: TemporalTlsConfig;
  /** Temporal Cloud API key, sent as a bearer token. A secret: never logged. */
  temporalApiKey?: string;
  taskQueue: string;
  /** Embedded dev server ports (only when temporalAddress is unset). */
  devServerPort: number;
  uiPort: number;
  /** TEMPORAL_DEV_METRICS_PORT: the embedded dev server's own Prometheus metrics (on 127.0.0.1); unset means it serves none. */
  devServerMetricsPort?: number;
  /** PARLEY_DATA_DIR: the SQLite store, local key file, secrets file, outbox and exports default under it. */
  dataDir: string;
  logLevel: string;
  /** LOG_FORMAT: readable lines on a terminal by default, JSON lines otherwise. */
  logFormat: LogFormat;
  conversation: ConversationSettings;
  /** Bound on how long the API waits for Temporal before answering 503. */
  temporalRequestTimeoutMs: number;
  /**
   * SHUTDOWN_DRAIN: how long a stopping API keeps serving with `/healthz` answering 503, so a load
   * balancer that probes readiness takes it out before its listener closes. 0: closes at once.
   */
  shutdownDrainMs: number;
}

/**
 * @deprecated The platform part only, under its old name so code that picks Temporal and HTTP
 * fields from it keeps compiling; use PlatformConfig here, or src/config's Config for everything.
 */
export type Config = PlatformConfig;

export interface TemporalTlsConfig {
  /** PEM file of the CA that signed the server certificate; unset means the system's CAs. */
  caPath?: string;
  /** PEM files of the client certificate and key, for mTLS. */
  certPath?: string;
  keyPath?: string;
  /** Name to verify the server certificate against, when it differs from the address's host. */
  serverName?: string;
}

/**
 * A new run's history starts with a few dozen events (start, search attributes, the flush that
 * preceded it); a threshold near that would continue-as-new again at once, forever.
 */
export const MIN_CONTINUE_AS_NEW_AFTER_EVENTS = 100;

export function loadPlatformConfig(env: Env): PlatformConfig {
  return {
    port: integer(env, 'PORT', 3000),
    host: env.HOST || '127.0.0.1',
    trustProxy: trustProxy(env),
    temporalAddress: optional(env, 'TEMPORAL_ADDRESS'),
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalTls: temporalTls(env),
    temporalApiKey: optional(env, 'TEMPORAL_API_KEY'),
    taskQueue: env.TEMPORAL_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    devServerPort: integer(env, 'TEMPORAL_DEV_PORT', 7233),
    uiPort: integer(env, 'TEMPORAL_UI_PORT', 8233),
    devServerMetricsPort: env.TEMPORAL_DEV_METRICS_PORT?.trim() ? integerInRange(env, 'TEMPORAL_DEV_METRICS_PORT', 0, 1, 65_535) : undefined,
    dataDir: dataDirOf(env),
    logLevel: env.LOG_LEVEL || 'info',
    logFormat: oneOf<LogFormat>(env, 'LOG_FORMAT', ['json', 'pretty', 'auto'], 'auto'),
    conversation: conversationSettings(env),
    temporalRequestTimeoutMs: duration(env, 'TEMPORAL_REQUEST_TIMEOUT', 5_000),
    shutdownDrainMs: duration(env, 'SHUTDOWN_DRAIN', 0, { allowZero: true }),
  };
}

function conversationSettings(env: Env): ConversationSettings {
  return {
    inactivityTimeoutMs: duration(env, 'CONVERSATION_INACTIVITY_TIMEOUT', DEFAULT_SETTINGS.inactivityTimeoutMs),
    continueAsNewAfterEvents: atLeast(
      'CONTINUE_AS_NEW_AFTER_EVENTS',
      integer(env, 'CONTINUE_AS_NEW_AFTER_EVENTS', DEFAULT_SETTINGS.continueAsNewAfterEvents),
      MIN_CONTINUE_AS_NEW_AFTER_EVENTS,
    ),
    // 0 is allowed: the workflow completes as soon as its final batch is written.
    closedGracePeriodMs: duration(env, 'CLOSED_GRACE_PERIOD', DEFAULT_SETTINGS.closedGracePeriodMs ?? 0, { allowZero: true }),
  };
}

/**
 * TLS is on when TEMPORAL_TLS=true, when any TLS file is named, or with an API key (Temporal Cloud
 * accepts keys only over TLS); TEMPORAL_TLS=false turns it off explicitly.
 */
function temporalTls(env: Env): TemporalTlsConfig | undefined {
  const tls: TemporalTlsConfig = {
    caPath: optional(env, 'TEMPORAL_TLS_CA'),
    certPath: optional(env, 'TEMPORAL_TLS_CERT'),
    keyPath: optional(env, 'TEMPORAL_TLS_KEY'),
    serverName: optional(env, 'TEMPORAL_TLS_SERVER_NAME'),
  };
  if (!tls.certPath !== !tls.keyPath) throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)');
  const on = flag(env, 'TEMPORAL_TLS');
  const anyFile = Object.values(tls).some((v) => v !== undefined);
  if (on === false) {
    if (anyFile) throw new ConfigError('TEMPORAL_TLS=false contradicts the TEMPORAL_TLS_* settings');
    if (env.TEMPORAL_API_KEY) throw new ConfigError('TEMPORAL_TLS=false with TEMPORAL_API_KEY: the key is only ever sent over TLS');
    return undefined;
  }
  return on === true || anyFile || env.TEMPORAL_API_KEY ? tls : undefined;
}

/** proxy-addr's names for address ranges, as Fastify's trustProxy takes them. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

function trustProxy(env: Env): string[] | undefined {
  const entries = list(env, 'TRUST_PROXY', ',').map((e) => e.trim()).filter(Boolean);
  for (const entry of entries) {
    const [address, bits, extra] = entry.split('/');
    const kind = net.isIP(address);
    const bitsOk = bits === undefined || (/^\d+$/.test(bits) && Number(bits) <= (kind === 6 ? 128 : 32));
    if (!PROXY_RANGE_NAMES.includes(entry) && (kind === 0 || !bitsOk || extra !== undefined)) {
      throw new ConfigError(`TRUST_PROXY: "${entry}" is not an address, a CIDR range or one of ${PROXY_RANGE_NAMES.join(', ')}`);
    }
  }
  return entries.length > 0 ? entries : undefined;
}
