// Loaded first by the worker entrypoint, before the SDK and the key and store modules: a SIGTERM or
// SIGINT that arrives while the worker is still starting (an orchestrator scaling down, or `npm
// start` stopped at once) would otherwise kill it by the signal's default action. Remembered here,
// the worker exits cleanly instead of running; once running, the SDK's own handlers drain it, and
// this listener keeps a repeated signal from killing it mid-drain.
let requested: NodeJS.Signals | undefined;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    requested ??= signal;
  });
}

export function stopRequested(): NodeJS.Signals | undefined {
  return requested;
}
