// WORKER_DEADLOCK_DETECTION=off: the workflow threads of this process run the sandbox without the
// SDK's per-call timeout (sandbox-preload.ts says what that costs). The SDK starts its workflow
// threads itself and offers no option for this, so the worker_threads Worker constructor is wrapped
// for this process: a thread started from the SDK's workflow-thread module gets the preload in its
// node options (worker threads run `--require` modules before their own code); any other thread is
// started as asked. Installed before the SDK's Worker is created, which is when it starts them.
import worker_threads from 'node:worker_threads';

/** The module each of the SDK's workflow threads runs (@temporalio/worker/lib/workflow/workflow-worker-thread.js). */
const SDK_WORKFLOW_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread(\.js)?$/;

/** The preload as the workflow threads require it: the compiled module next to this one. */
export function sandboxPreloadPath(): string {
  const resolved = require.resolve('./sandbox-preload');
  // Under the tests' TypeScript transform this resolves to the source, which a worker thread cannot load.
  if (!resolved.endsWith('.js')) throw new Error(`WORKER_DEADLOCK_DETECTION=off needs the built worker (npm run build): ${resolved} is not JavaScript`);
  return resolved;
}

/**
 * The options a thread is started with: the SDK's workflow threads get the preload, after the node
 * options they would have inherited (`inherit: false` leaves those out), others are untouched.
 */
export function workflowThreadOptions(
  filename: string | URL,
  options: worker_threads.WorkerOptions | undefined,
  preload: string,
  inherit = true,
): worker_threads.WorkerOptions | undefined {
  const file = filename instanceof URL ? filename.pathname : filename;
  if (options?.eval || !SDK_WORKFLOW_THREAD.test(file)) return options;
  const inherited = options?.execArgv ?? (inherit ? process.execArgv : []);
  return { ...options, execArgv: [...inherited, '--require', preload] };
}

let restore: (() => void) | undefined;

/**
 * From now on in this process, the SDK's workflow threads start without the per-call timeout. Once
 * is enough; returns what puts the original constructor back (for tests, which share the process).
 */
export function runSandboxWithoutDeadlockDetection(preload = sandboxPreloadPath()): () => void {
  if (restore) return restore;
  const Original = worker_threads.Worker;
  // A function, not a subclass, so a thread can be started a second time: a thread inherits its
  // parent's node options unless given a list, and a list may not hold V8 options such as
  // --expose-gc, which then start it with the preload alone.
  function WorkflowThreadWithoutCallTimeout(filename: string | URL, options?: worker_threads.WorkerOptions): worker_threads.Worker {
    try {
      return new Original(filename, workflowThreadOptions(filename, options, preload));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
      return new Original(filename, workflowThreadOptions(filename, options, preload, false));
    }
  }
  WorkflowThreadWithoutCallTimeout.prototype = Original.prototype;
  // The SDK reads `Worker` from the module each time it starts a thread (`new worker_threads.Worker(…)`),
  // so replacing it here reaches it; `new` on a function that returns an object yields that object.
  worker_threads.Worker = WorkflowThreadWithoutCallTimeout as unknown as typeof worker_threads.Worker;
  restore = () => {
    worker_threads.Worker = Original;
    restore = undefined;
  };
  return restore;
}
