// WORKER_DEADLOCK_DETECTION=off: the workflow threads of this process run the sandbox without the
// SDK's per-call timeout (sandbox-preload.ts says what that costs). The preload reaches them through
// workflow-threads.ts, which starts the SDK's workflow threads with it (worker threads run `--require`
// modules before their own code).

/** The preload as the workflow threads require it: the compiled module next to this one. */
export function sandboxPreloadPath(): string {
  const resolved = require.resolve('./sandbox-preload');
  // Under the tests' TypeScript transform this resolves to the source, which a worker thread cannot load.
  if (!resolved.endsWith('.js')) throw new Error(`WORKER_DEADLOCK_DETECTION=off needs the built worker (npm run build): ${resolved} is not JavaScript`);
  return resolved;
}
