// The pid file's rules on their own, with real processes standing in for the left-over ones: a
// recorded pid that now runs another command line is someone else's and is left alone; a process
// that ignores SIGTERM is SIGKILLed; a recorded launcher that still runs stops the new one.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LAUNCH_RECORD_FILE, type LaunchRecord, LauncherRunningError, processStartTicks, stopLeftovers } from '../../src/main/launch-record';
import { commandLineOf } from '../../src/platform/port-holder';
import { captureLogs } from '../../rigs/logs';
import { tempDir } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';

const started: ChildProcess[] = [];
afterAll(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/** A process in a group of its own, as the launcher starts its children; `ignoreTerm` makes it outlast SIGTERM. */
async function standIn(ignoreTerm = false): Promise<{ child: ChildProcess; pid: number; command: string[] }> {
  const script = ignoreTerm ? "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)" : 'setInterval(() => {}, 1000)';
  const child = spawn(process.execPath, ['-e', script], { detached: true, stdio: 'ignore' });
  started.push(child);
  const pid = child.pid!;
  // Until node has installed the handler, SIGTERM would still kill it.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return { child, pid, command: commandLineOf(pid)! };
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

function writeRecord(dataDir: string, record: LaunchRecord): void {
  fs.writeFileSync(path.join(dataDir, LAUNCH_RECORD_FILE), JSON.stringify(record));
}

const deadLauncher = { pid: 1_999_999, startTicks: 1, startedAt: '2026-12-01T00:00:00.000Z', command: ['node', 'start.js'] };

test('stops what still runs the recorded command (SIGTERM, then SIGKILL for one that ignores it) and leaves a reused pid alone', async () => {
  const dataDir = tempDir('launch-record');
  const polite = await standIn();
  const stubborn = await standIn(true);
  const stranger = await standIn();
  writeRecord(dataDir, {
    launcher: deadLauncher,
    processes: [
      { role: 'api.js', pid: polite.pid, pgid: polite.pid, command: polite.command, ports: [] },
      { role: 'worker.js', pid: stubborn.pid, pgid: stubborn.pid, command: stubborn.command, ports: [] },
      // The pid was reused: the process there now runs another command line than the one recorded.
      { role: 'the Temporal dev server', pid: stranger.pid, pgid: stranger.pid, command: ['temporal', 'server', 'start-dev'], ports: [] },
    ],
  });
  const { logger, lines } = captureLogs('info');
  const stopped = await stopLeftovers(dataDir, logger, 1_000);

  expect(stopped.map((p) => p.role).sort()).toEqual(['api.js', 'worker.js']);
  await waitFor('the stand-ins to be reaped', () => exited(polite.child) && exited(stubborn.child));
  expect(polite.child.signalCode).toBe('SIGTERM');
  expect(stubborn.child.signalCode).toBe('SIGKILL');
  expect(exited(stranger.child)).toBe(false);
  const logged = lines.map((line) => JSON.parse(line) as { msg: string; role?: string; stoppedBy?: string });
  expect(logged.filter((l) => l.msg === 'left-over process stopped').map((l) => [l.role, l.stoppedBy]).sort()).toEqual([['api.js', 'SIGTERM'], ['worker.js', 'SIGKILL']]);
  expect(fs.existsSync(path.join(dataDir, LAUNCH_RECORD_FILE))).toBe(false);
});

test('a recorded launcher that still runs: the new one refuses, saying which pid to stop, and touches nothing', async () => {
  const dataDir = tempDir('launch-record-running');
  const launcher = await standIn();
  const worker = await standIn();
  writeRecord(dataDir, {
    launcher: { pid: launcher.pid, startTicks: processStartTicks(launcher.pid), startedAt: new Date().toISOString(), command: launcher.command },
    processes: [{ role: 'worker.js', pid: worker.pid, pgid: worker.pid, command: worker.command, ports: [] }],
  });
  const { logger } = captureLogs('info');
  const refused = stopLeftovers(dataDir, logger, 1_000);
  await expect(refused).rejects.toThrow(LauncherRunningError);
  await expect(refused).rejects.toThrow(`npm start is already running on this data folder (launcher pid ${launcher.pid}`);
  expect(exited(worker.child)).toBe(false);
  expect(fs.existsSync(path.join(dataDir, LAUNCH_RECORD_FILE))).toBe(true);
});

test('no pid file, or one left by a launcher whose processes are all gone: nothing to stop', async () => {
  const dataDir = tempDir('launch-record-none');
  const { logger } = captureLogs('info');
  expect(await stopLeftovers(dataDir, logger)).toEqual([]);
  writeRecord(dataDir, { launcher: deadLauncher, processes: [{ role: 'api.js', pid: 1_999_998, pgid: 1_999_998, command: ['node', 'api.js'], ports: [] }] });
  expect(await stopLeftovers(dataDir, logger)).toEqual([]);
  expect(fs.existsSync(path.join(dataDir, LAUNCH_RECORD_FILE))).toBe(false);
});
