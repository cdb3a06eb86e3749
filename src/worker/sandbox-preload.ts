// Loaded (node --require) into the worker's workflow threads when WORKER_DEADLOCK_DETECTION=off,
// before Temporal's SDK sets up its sandbox there (see deadlock-detection.ts). The SDK runs every
// call into the workflow sandbox with `vm`'s `timeout` option, so that workflow code that never
// yields fails its workflow task ("Potential deadlock detected") instead of hanging the thread.
// Node implements that timeout by starting and joining a watchdog thread for each call: about
// 80 µs on an idle machine, and on a busy one the wait for the operating system to schedule that
// thread, three calls or more per workflow activation. Here the option is dropped, so a call runs
// without a watchdog; everything else about the call is unchanged.
import vm from 'node:vm';
import { isMainThread } from 'node:worker_threads';

/** Marks a thread this already ran in, so a second --require cannot wrap the call twice. */
const SANDBOX_WITHOUT_CALL_TIMEOUT = Symbol.for('parley.sandboxWithoutCallTimeout');

if (!isMainThread && !(SANDBOX_WITHOUT_CALL_TIMEOUT in globalThis)) {
  const runInContext = vm.Script.prototype.runInContext;
  vm.Script.prototype.runInContext = function (this: vm.Script, context: vm.Context, options?: vm.RunningScriptOptions) {
    if (options?.timeout === undefined) return runInContext.call(this, context, options);
    const { timeout: _dropped, ...rest } = options;
    return runInContext.call(this, context, rest);
  };
  Object.defineProperty(globalThis, SANDBOX_WITHOUT_CALL_TIMEOUT, { value: true });
}
