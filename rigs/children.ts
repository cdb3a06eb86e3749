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
