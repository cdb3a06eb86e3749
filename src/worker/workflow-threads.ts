// How this process starts the Temporal SDK's workflow threads. The SDK starts them itself (in
// Worker.create) and offers no option for their node options or heap, so the worker_threads Worker
// constructor is wrapped for this process: a thread started from the SDK's workflow-thread module gets
// what is asked here; any other thread is started as asked. Two things use it:
// - WORKER_DEADLOCK_DETECTION=off: a preload that runs the sandbox without the SDK's per-call
//   timeout (deadlock-detection.ts, sandbox-preload.ts);
// - WORKER_SEMI_SPACE_MB: the thread's young generation. V8 lets it grow to 48 MiB per heap on 64-bit
//   (three 16 MiB semi-spaces' worth), and under a burst it does, then keeps the pages: that was most
//   of what the worker's memory rose by per 1,000 open conversations beyond the cached ones.
import worker_threads from 'node:worker_threads';

/** The module each of the SDK's workflow threads runs (@temporalio/worker/lib/workflow/workflow-worker-thread.js). */
const SDK_WORKFLOW_THREAD = /[\\/]@temporalio[\\/]worker[\\/]lib[\\/]workflow[\\/]workflow-worker-thread(\.js)?$/;

export interface WorkflowThreadSettings {
  /** A module each workflow thread requires before its own code. */
  preload?: string;
  /** The largest semi-space of each workflow thread's young generation, MiB (V8's --max-semi-space-size); unset or 0: V8's own. */
  semiSpaceMiB?: number;
}

/**
 * V8 sizes a young generation as three semi-spaces (the two it copies between and the space for
 * large new objects): Node's limit for a thread is in those terms.
 */
const youngGenerationMiB = (semiSpaceMiB: number): number => 3 * semiSpaceMiB;

/**
 * The options a thread is started with: the SDK's workflow threads get the preload after the node
 * options they would have inherited (`inherit: false` leaves those out) and the young generation's
 * limit; others are untouched.
 */
export function workflowThreadOptions(
  filename: string | URL,
  options: worker_threads.WorkerOptions | undefined,
  settings: WorkflowThreadSettings,
  inherit = true,
): worker_threads.WorkerOptions | undefined {
  const file = filename instanceof URL ? filename.pathname : filename;
  if (options?.eval || !SDK_WORKFLOW_THREAD.test(file)) return options;
  const started: worker_threads.WorkerOptions = { ...options };
  if (settings.preload) {
    const inherited = options?.execArgv ?? (inherit ? process.execArgv : []);
    started.execArgv = [...inherited, '--require', settings.preload];
  }
  if (settings.semiSpaceMiB) started.resourceLimits = { ...options?.resourceLimits, maxYoungGenerationSizeMb: youngGenerationMiB(settings.semiSpaceMiB) };
  return started;
}

/** What is installed: kept on the module object, which every copy of this module in the process shares. */
interface Installed {
  original: typeof worker_threads.Worker;
  settings: WorkflowThreadSettings;
}
const INSTALLED = '__parleyWorkflowThreads';
// A test runner loads a copy of this module per test file but one worker_threads for the process: kept
// here, a second install (from any copy) changes the settings instead of wrapping the first wrapper.
const holder = worker_threads as unknown as { [INSTALLED]?: Installed };

/**
 * From now on in this process, the SDK's workflow threads start with these settings (replacing any
 * given before). Returns what puts the original constructor back (for tests, which share the process).
 */
export function startWorkflowThreadsWith(settings: WorkflowThreadSettings): () => void {
  const installed = holder[INSTALLED];
  if (installed) {
    installed.settings = settings;
    return restoreWorkflowThreads;
  }
  const Original = worker_threads.Worker;
  const current: Installed = { original: Original, settings };
  // A function, not a subclass, so a thread can be started a second time: a thread inherits its
  // parent's node options unless given a list, and a list may not hold V8 options such as
  // --expose-gc, which then start it with the preload alone.
  function WorkflowThread(filename: string | URL, options?: worker_threads.WorkerOptions): worker_threads.Worker {
    try {
      return new Original(filename, workflowThreadOptions(filename, options, current.settings));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
      return new Original(filename, workflowThreadOptions(filename, options, current.settings, false));
    }
  }
  WorkflowThread.prototype = Original.prototype;
  holder[INSTALLED] = current;
  // The SDK reads `Worker` from the module each time it starts a thread (`new worker_threads.Worker(…)`),
  // so replacing it here reaches it; `new` on a function that returns an object yields that object.
  worker_threads.Worker = WorkflowThread as unknown as typeof worker_threads.Worker;
  return restoreWorkflowThreads;
}

/** Threads start as Node starts them again. */
export function restoreWorkflowThreads(): void {
  const installed = holder[INSTALLED];
  if (!installed) return;
  worker_threads.Worker = installed.original;
  delete holder[INSTALLED];
}
