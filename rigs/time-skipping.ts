// Workflows on Temporal's time-skipping test server: timers of minutes or days pass in moments.
// A rig holds the server, the workflow bundle (built once per process) and a SQLite store; each test
// runs its own worker on a task queue of its own, so a test that fails mid-way leaves no work for the next.
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { registerSearchAttributes } from '../src/platform/search-attributes';
import { SqliteParticipantDataStore } from '../src/store';
import type { ActivityExtras } from './api-stack';
import { bundleWorkflows } from './bundle';
import { createInProcessWorker, startInProcessWorker, type InProcessWorker } from './in-process-worker';
import { silentLogger } from './logs';
import { requireBinary } from './project';
import { tempDir } from './temp';

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
  /** Runs `fn` while a worker with Parley's workflows and activities (store, silent logger, `activities`) polls `taskQueue`. */
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
      return worker.runUntil(fn);
    },
    async startWorker(taskQueue) {
      const worker = await startInProcessWorker({ connection: env.nativeConnection, taskQueue, bundle, activities: deps });
      workers.push(worker);
      return worker;
    },
    async stop() {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await store.close();
      await env.teardown();
    },
  };
}
