// The real API as a child process (`node dist/src/main/api.js`), for tests that need what only the
// entry point does: its environment-driven set-up (tracing, for one) and its SIGTERM shutdown.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { killOnExit } from './children';
import { freePort } from './ports';
import { DIST, PROJECT_ROOT } from './project';
import { StopWaiting, waitFor } from './wait';
import type { WorkerExit } from './worker-process';

export const API_ENTRY = path.join(DIST, 'src', 'main', 'api.js');

export interface ApiProcess {
  baseUrl: string;
  logFile: string;
  exited: Promise<WorkerExit>;
  /** Graceful stop (SIGTERM), SIGKILL if it has not exited within graceMs. */
  stop(graceMs?: number): Promise<WorkerExit>;
  output(): string;
}

/** Starts the API and resolves once /healthz answers (200 or 503: it answers while Temporal is away). */
export async function spawnApi(opts: { logFile: string; env: NodeJS.ProcessEnv }): Promise<ApiProcess> {
  if (!fs.existsSync(API_ENTRY)) throw new Error(`${API_ENTRY} is missing: run \`npm run build\` (ensureWorkerBuilt() does)`);
  const port = await freePort();
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = fs.openSync(opts.logFile, 'a');
  const child = spawn(process.execPath, [API_ENTRY], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'warn', ...opts.env },
  });
  fs.closeSync(fd);
  killOnExit(child);
  const exited = new Promise<WorkerExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  const output = () => (fs.existsSync(opts.logFile) ? fs.readFileSync(opts.logFile, 'utf8') : '');
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitFor(
    `the API process on ${baseUrl}`,
    async () => {
      if (!running()) throw new StopWaiting(`the API process exited before answering:\n${output().slice(-4000)}`);
      return fetch(`${baseUrl}/livez`).then(
        (res) => res.ok,
        () => false,
      );
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  return {
    baseUrl,
    logFile: opts.logFile,
    exited,
    output,
    async stop(graceMs = 10_000) {
      if (!running()) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
  };
}
