// Configuration from the environment, with defaults that make a fresh clone run on one machine.
import fs from 'node:fs';
import path from 'node:path';
import type { ExportTarget } from '../export';
import type { LogFormat } from './logger';
import { ConversationSettings, DEFAULT_SETTINGS, DEFAULT_TASK_QUEUE } from '../conversation';
import { DEFAULT_STORE_TIMEOUT_MS } from '../store/participant-data-store';

/**
 * A flush attempt has 10 s (its start-to-close timeout, workflows/conversation.ts) for a write of a
 * few statements, each bounded by STORE_TIMEOUT.
 */
const MAX_STORE_TIMEOUT_MS = 8_000;

export interface Config {
  /** HTTP API port. */
  port: number;
  host: string;
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
  /** PostgreSQL participant-data store; unset means the embedded SQLite file. */
  databaseUrl?: string;
  dataDir: string;
  sqlitePath: string;
  /**
   * STORE_TIMEOUT: the bound on every participant-data store call (PostgreSQL connection, statement,
   * and a server that stops answering; SQLite's wait for another connection's lock). Past it the call
   * fails and nothing is written: the flush activity is retried, the API answers an error.
   */
  storeTimeoutMs: number;
  logLevel: string;
  /** LOG_FORMAT: readable lines on a terminal by default, JSON lines otherwise. */
  logFormat: LogFormat;
  conversation: ConversationSettings;
  /** How long a stopping worker lets running activities finish. */
  shutdownGraceMs: number;
  /**
   * How long a conversation's next task waits for the worker that holds it in cache before any
   * worker may take it. After a worker dies this is the pause its conversations see.
   */
  stickyQueueTimeoutMs: number;
  /** The worker's cache and task slots: what bounds its memory and how much it takes on at once. */
  workerTuning: WorkerTuning;
  /** Bound on how long the API waits for Temporal before answering 503. */
  temporalRequestTimeoutMs: number;
  /** A workflow bundle prebuilt by `npm run build`; unset means the worker bundles at start. */
  workflowBundlePath?: string;
  /** Port of the worker's GET /healthz and /metrics (on HOST); unset means the worker serves none. */
  workerHealthPort?: number;
  /** Port of the Temporal SDK's own Prometheus endpoint in the worker (on HOST); unset means none. */
  temporalMetricsPort?: number;
  /** Where ended conversations are exported: S3 when EXPORT_S3_BUCKET is set, else the folder EXPORT_DIR (default <data dir>/exports). */
  exportTarget: ExportTarget;
}

export interface WorkerTuning {
  /**
   * WORKER_MAX_CACHED_WORKFLOWS: conversations whose workflow state the worker keeps in memory between
   * tasks. The worker's memory is its baseline plus this many cached conversations, however many are
   * open; a conversation evicted from the cache is replayed from its history at its next task.
   */
  maxCachedWorkflows: number;
  /** WORKER_WORKFLOW_TASK_SLOTS: workflow tasks run at once (at most maxCachedWorkflows). */
  maxConcurrentWorkflowTasks: number;
  /** WORKER_ACTIVITY_SLOTS: activities (hand-over flushes and retries) run at once. */
  maxConcurrentActivities: number;
  /** WORKER_LOCAL_ACTIVITY_SLOTS: local activities (first attempts of final flushes) run at once. */
  maxConcurrentLocalActivities: number;
  /** WORKER_WORKFLOW_TASK_POLLERS: concurrent long polls for workflow tasks (sticky and normal queues together). */
  workflowTaskPollers: number;
  /** WORKER_ACTIVITY_TASK_POLLERS: concurrent long polls for activity tasks. */
  activityTaskPollers: number;
}

/**
 * Defaults: a cache of 250 conversations, measured with `npm run bench` to hold the worker at about
 * 110 MiB over its baseline with 400 to 2,000 conversations open (about 0.2 MiB per cached one); the
 * slots and pollers are the SDK's own defaults until a bench on a quiet machine shows better ones.
 */
export const DEFAULT_WORKER_TUNING: WorkerTuning = {
  maxCachedWorkflows: 250,
  maxConcurrentWorkflowTasks: 40,
  maxConcurrentActivities: 100,
  maxConcurrentLocalActivities: 100,
  workflowTaskPollers: 10,
  activityTaskPollers: 10,
};

export interface TemporalTlsConfig {
  /** PEM file of the CA that signed the server certificate; unset means the system's CAs. */
  caPath?: string;
  /** PEM files of the client certificate and key, for mTLS. */
  certPath?: string;
  keyPath?: string;
  /** Name to verify the server certificate against, when it differs from the address's host. */
  serverName?: string;
}

export class ConfigError extends Error {}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.PARLEY_DATA_DIR || path.join(projectRoot(), '.data'));
  return {
    port: int(env, 'PORT', 3000),
    host: env.HOST || '127.0.0.1',
    temporalAddress: env.TEMPORAL_ADDRESS || undefined,
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    temporalTls: temporalTls(env),
    temporalApiKey: env.TEMPORAL_API_KEY || undefined,
    taskQueue: env.TEMPORAL_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    devServerPort: int(env, 'TEMPORAL_DEV_PORT', 7233),
    uiPort: int(env, 'TEMPORAL_UI_PORT', 8233),
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir,
    sqlitePath: path.resolve(env.PARLEY_SQLITE_PATH || path.join(dataDir, 'participant-data.sqlite')),
    storeTimeoutMs: atMost(MAX_STORE_TIMEOUT_MS, 'STORE_TIMEOUT', duration(env, 'STORE_TIMEOUT', DEFAULT_STORE_TIMEOUT_MS)),
    logLevel: env.LOG_LEVEL || 'info',
    logFormat: logFormat(env),
    conversation: {
      inactivityTimeoutMs: duration(env, 'CONVERSATION_INACTIVITY_TIMEOUT', DEFAULT_SETTINGS.inactivityTimeoutMs),
      continueAsNewAfterEvents: atLeast(
        MIN_CONTINUE_AS_NEW_AFTER_EVENTS,
        'CONTINUE_AS_NEW_AFTER_EVENTS',
        int(env, 'CONTINUE_AS_NEW_AFTER_EVENTS', DEFAULT_SETTINGS.continueAsNewAfterEvents),
      ),
      // 0 is allowed: the workflow completes as soon as its final batch is written.
      closedGracePeriodMs: duration(env, 'CLOSED_GRACE_PERIOD', DEFAULT_SETTINGS.closedGracePeriodMs ?? 0, { allowZero: true }),
    },
    shutdownGraceMs: duration(env, 'WORKER_SHUTDOWN_GRACE', 10_000),
    stickyQueueTimeoutMs: duration(env, 'WORKER_STICKY_TIMEOUT', 3_000),
    workerTuning: workerTuning(env),
    temporalRequestTimeoutMs: duration(env, 'TEMPORAL_REQUEST_TIMEOUT', 5_000),
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH ? path.resolve(env.WORKFLOW_BUNDLE_PATH) : undefined,
    workerHealthPort: env.WORKER_HEALTH_PORT ? int(env, 'WORKER_HEALTH_PORT', 0) : undefined,
    temporalMetricsPort: env.TEMPORAL_METRICS_PORT ? int(env, 'TEMPORAL_METRICS_PORT', 0) : undefined,
    exportTarget: exportTarget(env, dataDir),
  };
}

/** S3's bucket naming rules (general purpose buckets), short of the IP-address form. */
const BUCKET_NAME = /^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
/** Key prefix segments: nothing a shell, URL or file system would read differently. */
const PREFIX_SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._-]*$/;

function exportTarget(env: NodeJS.ProcessEnv, dataDir: string): ExportTarget {
  const bucket = env.EXPORT_S3_BUCKET?.trim();
  if (!bucket) {
    // An S3 setting without a bucket would otherwise export to the local folder without a word.
    const stray = ['EXPORT_S3_PREFIX', 'EXPORT_S3_ENDPOINT', 'EXPORT_S3_REGION', 'EXPORT_S3_FORCE_PATH_STYLE'].filter((name) => env[name]);
    if (stray.length > 0) throw new ConfigError(`${stray.join(', ')} set without EXPORT_S3_BUCKET`);
    return { kind: 'folder', dir: path.resolve(env.EXPORT_DIR || path.join(dataDir, 'exports')) };
  }
  if (env.EXPORT_DIR) throw new ConfigError('EXPORT_DIR and EXPORT_S3_BUCKET are exclusive: exports go to one destination');
  if (!BUCKET_NAME.test(bucket)) throw new ConfigError(`EXPORT_S3_BUCKET is not a valid S3 bucket name: "${bucket}"`);
  const prefix = (env.EXPORT_S3_PREFIX ?? 'conversations').trim().replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && !prefix.split('/').every((segment) => PREFIX_SEGMENT.test(segment))) {
    throw new ConfigError(`EXPORT_S3_PREFIX must be "/"-separated segments of letters, digits, ".", "_" and "-" (not starting with "."), got "${env.EXPORT_S3_PREFIX}"`);
  }
  const endpoint = env.EXPORT_S3_ENDPOINT?.trim() || undefined;
  if (endpoint !== undefined) {
    let url: URL | undefined;
    try {
      url = new URL(endpoint);
    } catch {
      url = undefined;
    }
    if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw new ConfigError(`EXPORT_S3_ENDPOINT must be an http(s) URL, got "${endpoint}"`);
  }
  const pathStyle = env.EXPORT_S3_FORCE_PATH_STYLE?.trim().toLowerCase();
  if (pathStyle && pathStyle !== 'true' && pathStyle !== 'false') {
    throw new ConfigError(`EXPORT_S3_FORCE_PATH_STYLE must be true or false, got "${env.EXPORT_S3_FORCE_PATH_STYLE}"`);
  }
  return {
    kind: 's3',
    bucket,
    prefix,
    region: env.EXPORT_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    // Local S3 endpoints (moto, MinIO) serve buckets by path; AWS by host name.
    forcePathStyle: pathStyle ? pathStyle === 'true' : endpoint !== undefined,
  };
}

/** The folder holding package.json, whether running from src/ (tests) or dist/src/ (npm start). */
export function projectRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

/**
 * TLS is on when TEMPORAL_TLS=true, when any TLS file is named, or with an API key (Temporal Cloud
 * accepts keys only over TLS); TEMPORAL_TLS=false turns it off explicitly.
 */
function temporalTls(env: NodeJS.ProcessEnv): TemporalTlsConfig | undefined {
  const tls: TemporalTlsConfig = {
    caPath: env.TEMPORAL_TLS_CA || undefined,
    certPath: env.TEMPORAL_TLS_CERT || undefined,
    keyPath: env.TEMPORAL_TLS_KEY || undefined,
    serverName: env.TEMPORAL_TLS_SERVER_NAME || undefined,
  };
  if (!tls.certPath !== !tls.keyPath) throw new ConfigError('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS needs both)');
  const flag = env.TEMPORAL_TLS?.trim().toLowerCase();
  if (flag && flag !== 'true' && flag !== 'false') throw new ConfigError(`TEMPORAL_TLS must be true or false, got "${env.TEMPORAL_TLS}"`);
  const anyFile = Object.values(tls).some((v) => v !== undefined);
  if (flag === 'false') {
    if (anyFile) throw new ConfigError('TEMPORAL_TLS=false contradicts the TEMPORAL_TLS_* settings');
    if (env.TEMPORAL_API_KEY) throw new ConfigError('TEMPORAL_TLS=false with TEMPORAL_API_KEY: the key is only ever sent over TLS');
    return undefined;
  }
  return flag === 'true' || anyFile || env.TEMPORAL_API_KEY ? tls : undefined;
}

function workerTuning(env: NodeJS.ProcessEnv): WorkerTuning {
  const d = DEFAULT_WORKER_TUNING;
  const tuning: WorkerTuning = {
    // 0 turns the cache off (every task replays its conversation's history): allowed, for measuring.
    maxCachedWorkflows: int(env, 'WORKER_MAX_CACHED_WORKFLOWS', d.maxCachedWorkflows),
    maxConcurrentWorkflowTasks: atLeast(2, 'WORKER_WORKFLOW_TASK_SLOTS', int(env, 'WORKER_WORKFLOW_TASK_SLOTS', d.maxConcurrentWorkflowTasks)),
    maxConcurrentActivities: atLeast(1, 'WORKER_ACTIVITY_SLOTS', int(env, 'WORKER_ACTIVITY_SLOTS', d.maxConcurrentActivities)),
    maxConcurrentLocalActivities: atLeast(1, 'WORKER_LOCAL_ACTIVITY_SLOTS', int(env, 'WORKER_LOCAL_ACTIVITY_SLOTS', d.maxConcurrentLocalActivities)),
    workflowTaskPollers: atLeast(2, 'WORKER_WORKFLOW_TASK_POLLERS', int(env, 'WORKER_WORKFLOW_TASK_POLLERS', d.workflowTaskPollers)),
    activityTaskPollers: atLeast(1, 'WORKER_ACTIVITY_TASK_POLLERS', int(env, 'WORKER_ACTIVITY_TASK_POLLERS', d.activityTaskPollers)),
  };
  if (tuning.maxCachedWorkflows === 1) throw new ConfigError('WORKER_MAX_CACHED_WORKFLOWS must be 0 (no cache) or at least 2');
  // The SDK would silently lower these; a setting that does not take effect is refused instead.
  if (tuning.maxCachedWorkflows > 0 && tuning.maxConcurrentWorkflowTasks > tuning.maxCachedWorkflows) {
    if (env.WORKER_WORKFLOW_TASK_SLOTS) {
      throw new ConfigError(`WORKER_WORKFLOW_TASK_SLOTS (${tuning.maxConcurrentWorkflowTasks}) cannot exceed WORKER_MAX_CACHED_WORKFLOWS (${tuning.maxCachedWorkflows})`);
    }
    tuning.maxConcurrentWorkflowTasks = tuning.maxCachedWorkflows;
  }
  if (tuning.workflowTaskPollers > tuning.maxConcurrentWorkflowTasks) {
    if (env.WORKER_WORKFLOW_TASK_POLLERS) {
      throw new ConfigError(`WORKER_WORKFLOW_TASK_POLLERS (${tuning.workflowTaskPollers}) cannot exceed the workflow task slots (${tuning.maxConcurrentWorkflowTasks})`);
    }
    tuning.workflowTaskPollers = tuning.maxConcurrentWorkflowTasks;
  }
  if (tuning.activityTaskPollers > tuning.maxConcurrentActivities) {
    if (env.WORKER_ACTIVITY_TASK_POLLERS) {
      throw new ConfigError(`WORKER_ACTIVITY_TASK_POLLERS (${tuning.activityTaskPollers}) cannot exceed WORKER_ACTIVITY_SLOTS (${tuning.maxConcurrentActivities})`);
    }
    tuning.activityTaskPollers = tuning.maxConcurrentActivities;
  }
  return tuning;
}

function logFormat(env: NodeJS.ProcessEnv): LogFormat {
  const raw = env.LOG_FORMAT?.trim().toLowerCase();
  if (!raw || raw === 'auto') return 'auto';
  if (raw === 'json' || raw === 'pretty') return raw;
  throw new ConfigError(`LOG_FORMAT must be json, pretty or auto, got "${env.LOG_FORMAT}"`);
}

/**
 * A new run's history starts with a few dozen events (start, search attributes, the flush that
 * preceded it); a threshold near that would continue-as-new again at once, forever.
 */
export const MIN_CONTINUE_AS_NEW_AFTER_EVENTS = 100;

function atMost(max: number, name: string, value: number): number {
  if (value > max) throw new ConfigError(`${name} must be at most ${max} ms, got ${value}`);
  return value;
}

function atLeast(min: number, name: string, value: number): number {
  if (value < min) throw new ConfigError(`${name} must be at least ${min}, got ${value}`);
  return value;
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Accepts milliseconds ("1500") or a number with a unit ("90s", "30m", "2h"). */
export function duration(env: NodeJS.ProcessEnv, name: string, fallback: number, opts: { allowZero?: boolean } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) throw new ConfigError(`${name} must be milliseconds or a duration like 90s, 30m, 2h; got "${raw}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 'ms'];
  if (ms < 0 || (ms === 0 && !opts.allowZero)) throw new ConfigError(`${name} must be positive`);
  return ms;
}
