// What `npm start` leaves in the data folder while it runs: its own pid and start time, and each
// process it started (pid, process group, command line, ports). The dev server, the worker and the
// API run in process groups of their own, so a launcher killed outright (SIGKILL, the OOM killer)
// leaves them running and holding their ports; the next `npm start` reads this file and stops them.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { commandLineOf, type NamedPort } from '../platform/port-holder';

export const LAUNCH_RECORD_FILE = 'npm-start.pid.json';

export interface LaunchedProcess {
  /** "the Temporal dev server", "worker.js", "api.js". */
  role: string;
  pid: number;
  /** Its process group: it was started detached, so the group is its own and holds whatever it spawned. */
  pgid: number;
  /** Its command line when started: a pid whose command line differs was reused by another program. */
  command: string[];
  ports: NamedPort[];
}

export interface LaunchRecord {
  launcher: { pid: number; startTicks: number | undefined; startedAt: string; command: string[] };
  processes: LaunchedProcess[];
}

/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. With the pid it names one process. */
export function processStartTicks(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  } catch {
    return undefined;
  }
}

/** The record `npm start` keeps up to date as it starts and restarts processes. */
export class LaunchRecordFile {
  readonly file: string;
  private readonly processes = new Map<string, LaunchedProcess>();
  private readonly launcher: LaunchRecord['launcher'];

  constructor(dataDir: string) {
    this.file = path.join(dataDir, LAUNCH_RECORD_FILE);
    // As /proc shows it, which is what the next launcher compares (process.argv has node's absolute path instead of what was typed).
    this.launcher = { pid: process.pid, startTicks: processStartTicks(process.pid), startedAt: new Date().toISOString(), command: commandLineOf(process.pid) ?? process.argv };
  }

  started(role: string, pid: number | undefined, ports: NamedPort[]): void {
    if (pid === undefined) return;
    this.processes.set(role, { role, pid, pgid: pid, command: commandLineOf(pid) ?? [], ports });
    this.write();
  }

  /** On a clean exit, once everything it names has stopped. */
  remove(): void {
    fs.rmSync(this.file, { force: true });
  }

  private write(): void {
    const record: LaunchRecord = { launcher: this.launcher, processes: [...this.processes.values()] };
    // Written whole and renamed: a launcher killed mid-write leaves the previous record, never half of one.
    const tmp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}

/** Another launcher is running on this data folder: starting a second one would fight it for the ports and files. */
export class LauncherRunningError extends Error {
  constructor(record: LaunchRecord, file: string) {
    super(
      `npm start is already running on this data folder (launcher pid ${record.launcher.pid}, since ${record.launcher.startedAt}; ${file}): ` +
        `stop it first (Ctrl-C in its terminal, or \`kill ${record.launcher.pid}\`), or give this one another PARLEY_DATA_DIR and ports`,
    );
    this.name = 'LauncherRunningError';
  }
}

export class LeftoverNotStoppedError extends Error {
  constructor(leftover: LaunchedProcess, why: string) {
    super(`${leftover.role} left over by a previous npm start (pid ${leftover.pid}, process group ${leftover.pgid}) could not be stopped (${why}): stop it by hand (\`kill -KILL -${leftover.pgid}\`) and start again`);
    this.name = 'LeftoverNotStoppedError';
  }
}

function readRecord(file: string): LaunchRecord | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const record = JSON.parse(text) as LaunchRecord;
    if (typeof record?.launcher?.pid !== 'number' || !Array.isArray(record.processes)) return undefined;
    return record;
  } catch {
    return undefined;
  }
}

const sameCommand = (a: string[] | undefined, b: string[]): boolean => a !== undefined && b.length > 0 && a.join('\0') === b.join('\0');

/** Still the process that was recorded: alive, not a zombie, and running the same command line. */
function isStill(leftover: LaunchedProcess): boolean {
  return sameCommand(commandLineOf(leftover.pid), leftover.command);
}

/**
 * Reads the record a previous `npm start` left and stops what of it still runs: SIGTERM to each
 * process group (the API and the worker first, the worker drains), SIGKILL after `graceMs`, the dev
 * server last. A recorded pid running another command line now belongs to someone else and is left
 * alone. Throws LauncherRunningError when the recorded launcher itself still runs.
 */
export async function stopLeftovers(dataDir: string, logger: Logger, graceMs = 15_000): Promise<LaunchedProcess[]> {
  const file = path.join(dataDir, LAUNCH_RECORD_FILE);
  const record = readRecord(file);
  if (!record) {
    fs.rmSync(file, { force: true });
    return [];
  }
  const { launcher } = record;
  if (launcher.pid !== process.pid && launcher.startTicks !== undefined && processStartTicks(launcher.pid) === launcher.startTicks && sameCommand(commandLineOf(launcher.pid), launcher.command)) {
    throw new LauncherRunningError(record, file);
  }
  const leftovers = record.processes.filter(isStill);
  if (leftovers.length === 0) {
    logger.info({ file, launcherPid: launcher.pid }, 'the previous npm start did not stop cleanly; none of its processes is left');
    fs.rmSync(file, { force: true });
    return [];
  }
  logger.warn(
    { file, launcherPid: launcher.pid, since: launcher.startedAt, processes: leftovers.map(({ role, pid, pgid, ports }) => ({ role, pid, pgid, ports: ports.map((p) => p.port) })) },
    'stopping processes left over by a previous npm start (it was killed before it could stop them)',
  );
  const devServers = leftovers.filter((p) => p.role === 'the Temporal dev server');
  await Promise.all(leftovers.filter((p) => !devServers.includes(p)).map((p) => stopGroup(p, graceMs, logger)));
  await Promise.all(devServers.map((p) => stopGroup(p, graceMs, logger)));
  fs.rmSync(file, { force: true });
  return leftovers;
}

async function stopGroup(leftover: LaunchedProcess, graceMs: number, logger: Logger): Promise<void> {
  const signal = (sig: NodeJS.Signals): void => {
    if (!isStill(leftover)) return;
    try {
      process.kill(-leftover.pgid, sig);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH') throw new LeftoverNotStoppedError(leftover, `${sig}: ${code ?? String(err)}`);
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isStill(leftover) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  let how = 'SIGTERM';
  if (isStill(leftover)) {
    how = 'SIGKILL';
    signal('SIGKILL');
    const killDeadline = Date.now() + 5_000;
    while (isStill(leftover) && Date.now() < killDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
    if (isStill(leftover)) throw new LeftoverNotStoppedError(leftover, 'still running 5 s after SIGKILL');
  }
  logger.info({ role: leftover.role, pid: leftover.pid, stoppedBy: how }, 'left-over process stopped');
}
