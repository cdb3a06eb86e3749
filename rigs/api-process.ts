// The real API as a child process (`node dist/src/main/api.js`), for tests that run several
// replicas side by side or watch one refuse to start. Its environment is the test's own (the run's
// key file, PARLEY_KEY_FILE) plus what the caller sets; its output goes to a log file.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { killOnExit, stopGracefully } from './children';
import { freePort } from './ports';
import { DIST, PROJECT_ROOT } from './project';
import { StopWaiting, waitFor } from './wait';

export const API_ENTRY = path.join(DIST, 'src', 'main', 'api.js');

export interface ApiProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ApiProcess {
  readonly name: string;
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly baseUrl: string;
  readonly exited: Promise<ApiProcessExit>;
  isRunning(): boolean;
  /** SIGTERM, SIGKILL after graceMs; safe on an exited process. */
  stop(graceMs?: number): Promise<ApiProcessExit>;
  /** Its stdout and stderr so far. */
  output(): string;
}

export interface SpawnApiOptions {
  name: string;
  temporalAddress: string;
  taskQueue: string;
  /** '' for the SQLite store. */
  databaseUrl: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

export async function spawnApiProcess(opts: SpawnApiOptions): Promise<ApiProcess> {
  if (!fs.existsSync(API_ENTRY)) throw new Error(`${API_ENTRY} is missing: run \`npm run build\``);
  const port = await freePort();
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = fs.openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [API_ENTRY], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      TEMPORAL_ADDRESS: opts.temporalAddress,
      TEMPORAL_TASK_QUEUE: opts.taskQueue,
      DATABASE_URL: opts.databaseUrl,
      PARLEY_DATA_DIR: path.join(path.dirname(opts.logFile), `${opts.name}-data`),
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
      ...opts.env,
    },
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not spawn API ${opts.name}`);
  killOnExit(child);
  const exited = new Promise<ApiProcessExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;
  const output = (): string => (fs.existsSync(opts.logFile) ? fs.readFileSync(opts.logFile, 'utf8') : '');
  return {
    name: opts.name,
    pid: child.pid,
    baseUrl: `http://127.0.0.1:${port}`,
    exited,
    isRunning,
    output,
    stop: (graceMs = 5_000) => stopGracefully(child, exited, graceMs),
  };
}

/** Resolves once the API answers /livez; fails at once, with its output, if it exits first. */
export async function waitUntilListening(api: ApiProcess, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `API ${api.name} to listen on ${api.baseUrl}`,
    async () => {
      if (!api.isRunning()) {
        const exit = await api.exited;
        throw new StopWaiting(`API ${api.name} exited (code ${exit.code}, signal ${exit.signal}) before listening:\n${api.output().slice(-4000)}`);
      }
      const res = await fetch(`${api.baseUrl}/livez`);
      return res.status === 200;
    },
    { timeoutMs, intervalMs: 200 },
  );
}
