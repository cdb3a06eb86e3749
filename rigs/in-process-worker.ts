// A Temporal worker inside the test's own process, with Parley's workflows and activities: quicker to
// start than a child process, and its activities share the test's store and logger.
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { type ActivityDeps, createActivities } from '../activities';
import { bundleWorkflows } from './bundle';

export interface InProcessWorkerOptions {
  connection: NativeConnection;
  taskQueue: string;
  namespace?: string;
  /** Parley's activities on these dependencies; none for workflows that call no activity (the bench's floor). */
  activities?: ActivityDeps;
  /** Default: Parley's workflows, bundled once per process. */
  bundle?: WorkflowBundleWithSourceMap;
  dataConverter?: DataConverter;
}

/** The worker, not yet running (for Worker.runUntil). */
export async function createInProcessWorker(opts: InProcessWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.bundle ?? (await bundleWorkflows()),
    dataConverter: opts.dataConverter,
    activities: opts.activities && createActivities(opts.activities),
  });
}

export interface InProcessWorker {
  worker: Worker;
  /** Shuts the worker down and waits for it (and closes its connection if it opened one); safe to call twice. */
  stop(): Promise<void>;
}

/**
 * A running worker. `connection` may be the server's host:port: the worker then opens a connection
 * of its own and closes it on stop.
 */
export async function startInProcessWorker(opts: Omit<InProcessWorkerOptions, 'connection'> & { connection: string | NativeConnection }): Promise<InProcessWorker> {
  const owned = typeof opts.connection === 'string' ? await NativeConnection.connect({ address: opts.connection }) : undefined;
  try {
    const worker = await createInProcessWorker({ ...opts, connection: owned ?? (opts.connection as NativeConnection) });
    const running = worker.run();
    let stopping: Promise<void> | undefined;
    return {
      worker,
      stop: () =>
        (stopping ??= (async () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
          await owned?.close();
        })()),
    };
  } catch (err) {
    await owned?.close();
    throw err;
  }
}
