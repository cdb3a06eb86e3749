import type { DataConverter } from '@temporalio/common';
import fs from 'node:fs';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createActivities } from '../../activities';
import type { ChannelPeers } from '../channels/peers';
import type { PlatformConfig } from '../platform/config';
import type { ExportSink } from '../export';
import type { FlushMetrics } from '../platform/metrics';
import type { ParticipantDataStore } from '../store';
import type { CrmRegistry } from '../crm/registry';
import { temporalConnectionOptions, type TemporalConnectionConfig } from '../platform/temporal-client';
import { ConfigError } from '../platform/env';
import type { WorkerTracing } from '../platform/tracing';
import { TRACING_WORKFLOW_INTERCEPTORS, tracedBundlePath } from './workflow-tracing';
import type { WorkerSettings } from './settings';

/** What the worker reads of the configuration: its namespace and task queue, and its own settings. */
export type WorkerConfig = Pick<PlatformConfig, 'temporalNamespace' | 'taskQueue'> & WorkerSettings;

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
  metrics?: FlushMetrics;
  /** The CRM integrations the workflow-execute activities call (CRM_INTEGRATIONS_FILE). */
  crm?: CrmRegistry;
  /** The channel gateway and routing platform (src/channels/config.ts builds them from the environment). */
  channels?: ChannelPeers;
  /** Where ended conversations are exported (createExportSink(config.exportTarget)); owned by the caller. */
  exportSink?: ExportSink;
  /**
   * Tracing on (src/platform/tracing.ts): the activity interceptors and the workflow-span sink, and
   * workflow code that carries the workflow interceptors. A prebuilt `workflowBundle` passed here
   * must have been bundled with TRACING_WORKFLOW_INTERCEPTORS.
   */
  tracing?: WorkerTracing;
}

function workflowSource(deps: WorkerDeps): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (deps.workflowBundle) return { workflowBundle: deps.workflowBundle };
  if (deps.config.workflowBundlePath) return { workflowBundle: { codePath: prebuiltBundle(deps.config.workflowBundlePath, deps.tracing !== undefined) } };
  return { workflowsPath: require.resolve('../conversation/workflows') };
}

/** A traced worker loads the traced twin the build writes beside the bundle: same workflows, plus the workflow interceptors. */
function prebuiltBundle(codePath: string, traced: boolean): string {
  if (!traced) return codePath;
  const twin = tracedBundlePath(codePath);
  if (!fs.existsSync(twin)) {
    throw new ConfigError(`WORKFLOW_BUNDLE_PATH: tracing is on (OTEL_EXPORTER_OTLP_ENDPOINT) but ${twin}, the traced twin of ${codePath}, is missing; \`npm run build\` writes both`);
  }
  return twin;
}

/** Tracing's worker options; none at all when tracing is off. */
function tracingOptions(deps: WorkerDeps): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!deps.tracing) return {};
  return {
    interceptors: {
      activity: deps.tracing.activityInterceptors,
      client: { workflow: deps.tracing.clientInterceptors },
      // Read only when the worker bundles at start; a prebuilt bundle already carries them.
      workflowModules: deps.workflowBundle || deps.config.workflowBundlePath ? [] : [...TRACING_WORKFLOW_INTERCEPTORS],
    },
    sinks: { ...deps.tracing.sinks },
  };
}

export async function createParleyWorker(deps: WorkerDeps): Promise<Worker> {
  const { config } = deps;
  const tuning = config.workerTuning;
  return Worker.create({
    connection: deps.connection,
    namespace: config.temporalNamespace,
    taskQueue: config.taskQueue,
    ...workflowSource(deps),
    dataConverter: deps.dataConverter,
    ...tracingOptions(deps),
    activities: createActivities({ store: deps.store, logger: deps.logger, metrics: deps.metrics, crm: deps.crm, channels: deps.channels, exportSink: deps.exportSink }),
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
    activityTaskPollerBehavior: { type: 'simple-maximum', maximum: tuning.activityTaskPollers },
  });
}

/** The worker's connection, made the way the API's is; its owner closes it once the worker has drained. */
export function connectWorker(config: TemporalConnectionConfig): Promise<NativeConnection> {
  return NativeConnection.connect(temporalConnectionOptions(config));
}
