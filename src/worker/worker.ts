import type { DataConverter } from '@temporalio/common';
import fs from 'node:fs/promises';
import { NativeConnection, Worker, type BundleOptions, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../../activities';
import type { ChannelPeers } from '../channels/peers';
import type { PlatformConfig } from '../platform/config';
import type { ExportSink } from '../export';
import type { ExportMetrics, FlushMetrics } from '../platform/metrics';
import type { ParticipantDataStore } from '../store';
import type { CrmRegistry } from '../crm/registry';
import { temporalConnectionOptions, type TemporalConnectionConfig } from '../platform/temporal-client';
import { sandboxPreloadPath } from './deadlock-detection';
import { startWorkflowThreadsWith } from './workflow-threads';
import type { WorkerTracing } from '../platform/tracing';
import { bundleParleyWorkflows } from './workflow-bundle';
import { normalQueuePollRatio, type WorkerSettings } from './settings';

/** What the worker reads of the configuration: its namespace and task queue, and its own settings. */
export type WorkerConfig = Pick<PlatformConfig, 'temporalNamespace' | 'taskQueue'> & WorkerSettings & {
  /** EXPORT_INLINE_WRITE_MS; the default when absent. */
  exportInlineWriteMs?: number;
};

export interface WorkerDeps {
  /** src/config's Config has all of it. */
  config: WorkerConfig;
  store: ParticipantDataStore;
  logger: Logger;
  /** Tests pass a prebuilt bundle; otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Owned by the caller, which closes it once the worker has drained. */
  connection: NativeConnection;
  /** Parley's payload codec and failure converter: every payload the worker reads or writes is encrypted. */
  dataConverter: DataConverter;
  metrics?: FlushMetrics & ExportMetrics;
  /** The CRM integrations the workflow-execute activities call (CRM_INTEGRATIONS_FILE). */
  crm?: CrmRegistry;
  /** The channel gateway and routing platform (src/channels/config.ts builds them from the environment). */
  channels?: ChannelPeers;
  /** Where ended conversations are exported (createExportSink(config.exportTarget)); owned by the caller. */
  exportSink?: ExportSink;
  /**
   * Tracing on (src/platform/tracing.ts): the activity and client interceptors and the sink the
   * workflow spans leave by. A prebuilt `workflowBundle` passed here carries the workflow
   * interceptors (TRACING_WORKFLOW_INTERCEPTORS), as every bundle does.
   */
  tracing?: WorkerTracing;
}

/**
 * The workflow code the worker runs: a bundle passed in, the prebuilt one (WORKFLOW_BUNDLE_PATH), or
 * one bundled now, each with the sandbox's stack trace limit set (see withWorkflowStackFrames).
 */
async function workflowSource(deps: WorkerDeps): Promise<Pick<WorkerOptions, 'workflowBundle'>> {
  const given = deps.workflowBundle ?? (deps.config.workflowBundlePath ? { codePath: deps.config.workflowBundlePath } : undefined);
  const code = given
    ? 'code' in given
      ? given.code
      : await fs.readFile(given.codePath, 'utf8')
    : (await bundleParleyWorkflows(bundlerLogger(deps.logger))).code;
  return { workflowBundle: { code: withWorkflowStackFrames(code, deps.config.workflowStackFrames) } };
}

/**
 * The bundle with its sandbox's Error.stackTraceLimit set to `frames`. Temporal's TypeScript SDK
 * records a stack trace for every promise created in workflow code (a promise hook in the workflow
 * thread), so the Temporal UI's Stack Trace tab can show where each workflow waits; V8 reads the limit
 * from the sandbox's own Error, which the SDK freezes once the bundle has run, so it is set by the
 * bundle's first statement. On the first line, so the source map still places every other line. The
 * limit changes no command a workflow issues: histories replay the same whatever it is.
 */
export function withWorkflowStackFrames(code: string, frames: number): string {
  if (!Number.isInteger(frames) || frames < 0) throw new RangeError(`stack frames must be a whole number, got ${frames}`);
  return `Error.stackTraceLimit = ${frames};${code}`;
}

function bundlerLogger(logger: Logger): NonNullable<BundleOptions['logger']> {
  const at =
    (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, meta?: Record<string, unknown>): void =>
      logger[level](meta ?? {}, message);
  return { log: (_level, message, meta) => at('debug')(message, meta), trace: at('trace'), debug: at('debug'), info: at('debug'), warn: at('warn'), error: at('error') };
}

/**
 * The workflow interceptors are in every worker's workflow code (a prebuilt bundle has them; a worker
 * that bundles at start adds them), and so is the sink their spans leave by: with tracing off it
 * drops them, so a conversation a traced API started runs the same on an untraced worker.
 */
function tracingOptions(deps: WorkerDeps): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  return {
    interceptors: {
      ...(deps.tracing ? { activity: deps.tracing.activityInterceptors, client: { workflow: deps.tracing.clientInterceptors } } : {}),
    },
    sinks: deps.tracing ? { ...deps.tracing.sinks } : { exporter: { export: { fn: () => undefined } } },
  };
}

export async function createParleyWorker(deps: WorkerDeps): Promise<Worker> {
  const { config } = deps;
  const tuning = config.workerTuning;
  // Before Worker.create, which starts the workflow threads.
  const preload = config.deadlockDetection ? undefined : sandboxPreloadPath();
  if (preload || config.semiSpaceMiB) startWorkflowThreadsWith({ preload, semiSpaceMiB: config.semiSpaceMiB });
  if (preload) {
    deps.logger.warn({ WORKER_DEADLOCK_DETECTION: 'off' }, 'workflow sandbox calls run without the SDK timeout: a workflow that never yields would hold this worker\'s workflow thread');
  }
  return Worker.create({
    connection: deps.connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    ...(await workflowSource(deps)),
    dataConverter: deps.dataConverter,
    ...tracingOptions(deps),
    activities: createActivities({ store: deps.store, logger: deps.logger, metrics: deps.metrics, crm: deps.crm, channels: deps.channels, exportSink: deps.exportSink, exportInlineWriteMs: config.exportInlineWriteMs }),
    // Lets an in-flight flush finish on SIGTERM instead of being cut off and retried elsewhere.
    shutdownGraceTime: config.shutdownGraceMs,
    // Temporal's 10 s default would freeze a crashed worker's conversations for 10 s; a miss only
    // costs a history replay on another worker.
    stickyQueueScheduleToStartTimeout: config.stickyQueueTimeoutMs,
    // Sized on purpose: the SDK's default cache grows with the heap limit (thousands of conversations
    // on a machine of a few GB), so the worker's memory grew with every open conversation.
    maxCachedWorkflows: tuning.maxCachedWorkflows,
    maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTasks,
    maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivities,
    maxConcurrentLocalActivityExecutions: tuning.maxConcurrentLocalActivities,
    workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: tuning.workflowTaskPollers },
    nonStickyToStickyPollRatio: normalQueuePollRatio(tuning),
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: tuning.activityTaskPollers },
  });
}

/** The worker's connection, made the way the API's is; its owner closes it once the worker has drained. */
export function connectWorker(config: TemporalConnectionConfig): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config));
}
