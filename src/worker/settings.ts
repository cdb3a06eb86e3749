// The worker's own settings from the environment: how long it drains, how long a conversation waits
// for the worker that caches it, its cache and task slots, where its prebuilt bundle is, and the
// ports of its health and metrics endpoints.
import path from 'node:path';
import { ConfigError, type Env, atLeast, duration, integer, integerInRange, oneOf } from '../platform/env';

export interface WorkerSettings {
  /** How long a stopping worker lets running activities finish. */
  shutdownGraceMs: number;
  /**
   * How long a conversation's next task waits for the worker that holds it in cache before any
   * worker may take it. After a worker dies this is the pause its conversations see.
   */
  stickyQueueTimeoutMs: number;
  /** The worker's cache and task slots: what bounds its memory and how much it takes on at once. */
  workerTuning: WorkerTuning;
  /**
   * WORKER_WORKFLOW_STACK_FRAMES: the stack frames the workflow sandbox records (its
   * Error.stackTraceLimit). Temporal's TypeScript SDK records a stack trace for every promise a
   * workflow creates, to answer the Temporal UI's Stack Trace tab; at 0 it records none, which took
   * about a sixth of the worker's CPU off each conversation. Any other value turns the tab, and the
   * stack of an error thrown in workflow code, back on with that many frames (10 is Node's default).
   */
  workflowStackFrames: number;
  /**
   * WORKER_DEADLOCK_DETECTION (`on` by default): Temporal's SDK runs each call into the workflow
   * sandbox with a timeout, so workflow code that never yields fails its workflow task ("Potential
   * deadlock detected") and the worker goes on with other conversations. Node starts a watchdog
   * thread for every such call. `off` runs the calls without it (deadlock-detection.ts): more
   * headroom on a saturated machine; a workflow that never yields would then hold its worker's workflow thread.
   */
  deadlockDetection: boolean;
  /**
   * WORKER_SEMI_SPACE_MB (4 by default; 0: V8's own, 16 on 64-bit): the largest semi-space of the
   * young generation of the worker's workflow threads (and of its main thread when its launcher
   * passes workerNodeFlags, as `npm start` does). V8 grows a young generation to three semi-spaces
   * under a burst and keeps the pages; at 16 MiB that was 48 MiB a heap the worker held after every
   * burst, most of its memory's rise per 1,000 open conversations beyond the cached ones.
   */
  semiSpaceMiB: number;
  /** A workflow bundle prebuilt by `npm run build`; unset means the worker bundles at start. */
  workflowBundlePath?: string;
  /** Port of the worker's GET /healthz and /metrics (on HOST); unset means the worker serves none. */
  workerHealthPort?: number;
  /** Port of the Temporal SDK's own Prometheus endpoint in the worker (on HOST); unset means none. */
  temporalMetricsPort?: number;
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
  /**
   * WORKER_STICKY_QUEUE_POLLERS: how many of those poll this worker's sticky queue (the next task of a
   * conversation it caches); the rest, at least one, poll the task queue every worker shares (a new
   * conversation's first task, a task whose worker no longer caches it). When the machine is
   * saturated, tasks wait on the queue with the fewer polls: with the SDK's split (four-fifths
   * sticky) that was a burst of new conversations' first tasks, behind every running one's next
   * task, and the write right after a conversation's first webhook ran out of its deadline.
   */
  stickyQueuePollers: number;
  /** WORKER_ACTIVITY_TASK_POLLERS: concurrent long polls for activity tasks. */
  activityTaskPollers: number;
}

/**
 * Defaults: a cache of 250 conversations, measured with `npm run bench` to hold the worker at about
 * 110 MiB over its baseline with 400 to 2,000 conversations open (about 0.2 MiB per cached one).
 * Eleven workflow-task pollers, one of them on the sticky queue, measured by the bench at 100
 * concurrent conversations (docs/configuration.md says what each split gave); the slots and the
 * activity pollers are the SDK's own defaults.
 */
export const DEFAULT_WORKER_TUNING: WorkerTuning = {
  maxCachedWorkflows: 250,
  maxConcurrentWorkflowTasks: 40,
  maxConcurrentActivities: 100,
  maxConcurrentLocalActivities: 100,
  workflowTaskPollers: 11,
  stickyQueuePollers: 1,
  activityTaskPollers: 10,
};

/**
 * The SDK's split of the workflow-task pollers: the shared queue gets floor(pollers × ratio), the
 * sticky queue the rest (at least one). Half a poller over the count keeps float rounding from
 * taking one away (10 × 0.7 in f32 is 6.99…, which the SDK truncates to 6).
 */
export function normalQueuePollRatio(tuning: Pick<WorkerTuning, 'workflowTaskPollers' | 'stickyQueuePollers'>): number {
  return (tuning.workflowTaskPollers - tuning.stickyQueuePollers + 0.5) / tuning.workflowTaskPollers;
}

/** WORKER_SEMI_SPACE_MB's default: measured with `npm run bench`, no CPU or latency change at 20 and 100 concurrent against V8's 16. */
export const DEFAULT_SEMI_SPACE_MIB = 4;
const semiSpaceFromEnv = (env: Env): number => integerInRange(env, 'WORKER_SEMI_SPACE_MB', DEFAULT_SEMI_SPACE_MIB, 0, 64);

/**
 * Node options for a process that runs the worker, from the same settings: the main thread's young
 * generation is fixed when the process starts, so only its launcher can size it (`npm start` and the
 * bench pass these). An invalid setting gives none: the worker itself then refuses it by name.
 */
export function workerNodeFlags(env: Env): string[] {
  let semiSpaceMiB: number;
  try {
    semiSpaceMiB = semiSpaceFromEnv(env);
  } catch {
    return [];
  }
  // Set by hand in NODE_OPTIONS: that one is the operator's, and it applies to every heap of the process.
  if (semiSpaceMiB === 0 || /--max-semi-space-size\b/.test(env.NODE_OPTIONS ?? '')) return [];
  return [`--max-semi-space-size=${semiSpaceMiB}`];
}

export function workerSettingsFromEnv(env: Env): WorkerSettings {
  return {
    shutdownGraceMs: duration(env, 'WORKER_SHUTDOWN_GRACE', 10_000),
    stickyQueueTimeoutMs: duration(env, 'WORKER_STICKY_TIMEOUT', 3_000),
    workerTuning: workerTuning(env),
    workflowStackFrames: integerInRange(env, 'WORKER_WORKFLOW_STACK_FRAMES', 0, 0, 100),
    deadlockDetection: oneOf(env, 'WORKER_DEADLOCK_DETECTION', ['on', 'off'] as const, 'on') === 'on',
    semiSpaceMiB: semiSpaceFromEnv(env),
    workflowBundlePath: env.WORKFLOW_BUNDLE_PATH ? path.resolve(env.WORKFLOW_BUNDLE_PATH) : undefined,
    workerHealthPort: env.WORKER_HEALTH_PORT ? integer(env, 'WORKER_HEALTH_PORT', 0) : undefined,
    temporalMetricsPort: env.TEMPORAL_METRICS_PORT ? integer(env, 'TEMPORAL_METRICS_PORT', 0) : undefined,
  };
}

function workerTuning(env: Env): WorkerTuning {
  const d = DEFAULT_WORKER_TUNING;
  const tuning: WorkerTuning = {
    // 0 turns the cache off (every task replays its conversation's history): allowed, for measuring.
    maxCachedWorkflows: integer(env, 'WORKER_MAX_CACHED_WORKFLOWS', d.maxCachedWorkflows),
    maxConcurrentWorkflowTasks: atLeast('WORKER_WORKFLOW_TASK_SLOTS', integer(env, 'WORKER_WORKFLOW_TASK_SLOTS', d.maxConcurrentWorkflowTasks), 2),
    maxConcurrentActivities: atLeast('WORKER_ACTIVITY_SLOTS', integer(env, 'WORKER_ACTIVITY_SLOTS', d.maxConcurrentActivities), 1),
    maxConcurrentLocalActivities: atLeast('WORKER_LOCAL_ACTIVITY_SLOTS', integer(env, 'WORKER_LOCAL_ACTIVITY_SLOTS', d.maxConcurrentLocalActivities), 1),
    workflowTaskPollers: atLeast('WORKER_WORKFLOW_TASK_POLLERS', integer(env, 'WORKER_WORKFLOW_TASK_POLLERS', d.workflowTaskPollers), 2),
    stickyQueuePollers: atLeast('WORKER_STICKY_QUEUE_POLLERS', integer(env, 'WORKER_STICKY_QUEUE_POLLERS', d.stickyQueuePollers), 1),
    activityTaskPollers: atLeast('WORKER_ACTIVITY_TASK_POLLERS', integer(env, 'WORKER_ACTIVITY_TASK_POLLERS', d.activityTaskPollers), 1),
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
  // The shared queue keeps at least one poller: a worker that never polled it would start no conversation.
  if (tuning.stickyQueuePollers >= tuning.workflowTaskPollers) {
    throw new ConfigError(
      `WORKER_STICKY_QUEUE_POLLERS (${tuning.stickyQueuePollers}) must be less than WORKER_WORKFLOW_TASK_POLLERS (${tuning.workflowTaskPollers}): the rest poll the queue all workers share`,
    );
  }
  if (tuning.activityTaskPollers > tuning.maxConcurrentActivities) {
    if (env.WORKER_ACTIVITY_TASK_POLLERS) {
      throw new ConfigError(`WORKER_ACTIVITY_TASK_POLLERS (${tuning.activityTaskPollers}) cannot exceed WORKER_ACTIVITY_SLOTS (${tuning.maxConcurrentActivities})`);
    }
    tuning.activityTaskPollers = tuning.maxConcurrentActivities;
  }
  return tuning;
}
