// Whatever happens to the process that started them (a crash, jest --forceExit, a runner's Ctrl-C),
// no server or worker a rig started is left running: each child is SIGKILLed on exit unless it has
// exited already.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export function killOnExit(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/** SIGTERM, then SIGKILL if the child has not exited within `graceMs`; resolves with its exit (at once if it has exited already). */
export async function stopGracefully<T>(child: ChildProcess, exited: Promise<T>, graceMs: number): Promise<T> {
  if (child.exitCode !== null || child.signalCode !== null) return exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}
