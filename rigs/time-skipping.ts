// Workflows on Temporal's time-skipping test server: timers of minutes or days pass in moments.
// A rig holds the server, the workflow bundle (built once per process) and a SQLite store; each test
// runs its own worker on a task queue of its own, so a test that fails mid-way leaves no work for the next.
//
// The test server loses a query that reaches a run while the workflow task that continues it as new is
// being processed: it holds the query for that task, the run closes, and handing the query on to the
// closed run fails inside the task's completion (the worker is told "workflow execution already
// completed" though the new run has started), so the query is never answered, and a client query has
// no deadline. Tests wait for a hand-over with nextRun (it describes, never queries) and query after it.
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { registerSearchAttributes } from '../src/platform/search-attributes';
import { SqliteParticipantDataStore } from '../src/store';
import type { ActivityExtras } from './api-stack';
import { bundleWorkflows } from './bundle';
import { createInProcessWorker, startInProcessWorker, type InProcessWorker } from './in-process-worker';
import { silentLogger } from './logs';
import { requireBinary } from './project';
import { tempDir } from './temp';
import { waitFor } from './wait';

export async function createTimeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: requireBinary('testServer') } },
  });
  await registerSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

export interface TimeSkippingRig {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
  dir: string;
  storeFile: string;
  store: SqliteParticipantDataStore;
  /**
   * Runs `fn` while a worker with Parley's workflows and activities (store, silent logger, `activities`)
   * polls `taskQueue`. A worker whose `fn` never settles (a test that timed out) is shut down by stop().
   */
  withWorker<T>(taskQueue: string, fn: () => Promise<T>): Promise<T>;
  /** A worker that keeps polling until stop(); stopped with the rig. */
  startWorker(taskQueue: string): Promise<InProcessWorker>;
  stop(): Promise<void>;
}

export async function startTimeSkipping(name: string, activities: ActivityExtras = {}): Promise<TimeSkippingRig> {
  const dir = tempDir(name);
  const storeFile = path.join(dir, 'participant-data.sqlite');
  const [env, bundle] = await Promise.all([createTimeSkippingEnv(), bundleWorkflows()]);
  const store = new SqliteParticipantDataStore(storeFile);
  const workers: InProcessWorker[] = [];
  /** withWorker's workers still running, and what each one's runUntil settles to. */
  const running = new Map<Worker, Promise<unknown>>();
  const deps = { store, logger: silentLogger, ...activities };
  try {
    await store.init();
  } catch (err) {
    await env.teardown();
    throw err;
  }
  return {
    env,
    bundle,
    dir,
    storeFile,
    store,
    async withWorker(taskQueue, fn) {
      const worker = await createInProcessWorker({ connection: env.nativeConnection, taskQueue, bundle, activities: deps });
      const run = worker.runUntil(fn);
      running.set(worker, run.catch(() => undefined));
      try {
        return await run;
      } finally {
        running.delete(worker);
      }
    },
    async startWorker(taskQueue) {
      const worker = await startInProcessWorker({ connection: env.nativeConnection, taskQueue, bundle, activities: deps });
      workers.push(worker);
      return worker;
    },
    async stop() {
      // A worker still holding the server's connection would make teardown fail and leave the server
      // and the worker running into the next test file.
      try {
        for (const worker of running.keys()) if (worker.getState() === 'RUNNING') worker.shutdown();
        await Promise.all([...running.values(), ...workers.splice(0).map((w) => w.stop())]);
        await store.close();
      } finally {
        await env.teardown();
      }
    },
  };
}

/**
 * The id of the run that continued `runId` as new, once there is one (`handle` follows the workflow
 * id, not one run). Describes (answered by the server alone) rather than queries, which the test
 * server can lose at that moment (see above).
 */
export async function nextRun(handle: WorkflowHandle, runId: string, timeoutMs = 60_000): Promise<string> {
  let latest = runId;
  await waitFor(`the run after ${runId}`, async () => (latest = (await handle.describe()).runId) !== runId, { timeoutMs });
  return latest;
}
