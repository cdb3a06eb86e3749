// The real worker as a child process (`node dist/src/main/worker.js`), for tests that crash it,
// plus the polling helpers those tests need to wait on other processes without fixed sleeps.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { killOnExit, stopGracefully } from './children';
import { DIST, PROJECT_ROOT } from './project';
import { StopWaiting, waitFor } from './wait';

export { PROJECT_ROOT };
export const WORKER_ENTRY = path.join(DIST, 'src', 'main', 'worker.js');
/** What the worker child loads: its entry point, the compiled workflows it bundles, or the prebuilt bundle (the drills' workers). */
const BUILT = [WORKER_ENTRY, path.join(DIST, 'src', 'conversation', 'workflows', 'index.js'), path.join(DIST, 'workflow-bundle.js')];
const SOURCE_DIRS = ['src', 'activities'].map((dir) => path.join(PROJECT_ROOT, dir));

function newestSourceMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtimeMs(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function build(): void {
  try {
    execFileSync(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: PROJECT_ROOT, stdio: 'pipe' });
  } catch (err) {
    const out = err as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`\`npm run build\` failed:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? String(err)}`);
  }
}

/**
 * The worker child runs the compiled dist/. Missing: build it (or fail saying why). Older than the
 * sources: rebuild, but if the tree does not compile right now, keep the existing build and say so.
 */
export function ensureWorkerBuilt(): void {
  if (!BUILT.every((file) => fs.existsSync(file))) {
    try {
      build();
    } catch (err) {
      throw new Error(`${WORKER_ENTRY} is missing and could not be built, so there is no worker to run. ${String(err)}`);
    }
    if (!fs.existsSync(WORKER_ENTRY)) throw new Error(`\`npm run build\` ran but ${WORKER_ENTRY} is still missing`);
    return;
  }
  const builtAt = fs.statSync(WORKER_ENTRY).mtimeMs;
  if (Math.max(...SOURCE_DIRS.map(newestSourceMtimeMs)) <= builtAt) return;
  try {
    build();
  } catch (err) {
    console.warn(`dist/ is older than the sources and could not be rebuilt; the worker child runs the previous build.\n${String(err)}`);
  }
}

export interface WorkerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  /** The SDK's default worker identity (`<pid>@<hostname>`): what history and the task-queue pollers show. */
  readonly identity: string;
  readonly logFile: string;
  readonly exited: Promise<WorkerExit>;
  isRunning(): boolean;
  /** Sends the signal and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<WorkerExit>;
  /** Graceful stop (SIGTERM), SIGKILL if it has not exited within graceMs. Safe to call on an exited worker. */
  stop(graceMs?: number): Promise<WorkerExit>;
  /** The child's stdout+stderr so far. */
  output(): string;
}

export interface SpawnWorkerOptions {
  name: string;
  temporalAddress: string;
  databaseUrl: string;
  taskQueue: string;
  logFile: string;
  env?: NodeJS.ProcessEnv;
}

export function spawnWorker(opts: SpawnWorkerOptions): WorkerProcess {
  if (!fs.existsSync(WORKER_ENTRY)) throw new Error(`${WORKER_ENTRY} is missing: run \`npm run build\` (ensureWorkerBuilt() does)`);
  fs.mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const fd = fs.openSync(opts.logFile, 'a');
  fs.writeSync(fd, `--- ${new Date().toISOString()} starting worker ${opts.name} on ${opts.taskQueue}\n`);
  const child = spawn(process.execPath, [WORKER_ENTRY], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', fd, fd],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: opts.temporalAddress,
      DATABASE_URL: opts.databaseUrl,
      TEMPORAL_TASK_QUEUE: opts.taskQueue,
      LOG_LEVEL: 'warn',
      WORKER_SHUTDOWN_GRACE: '1s',
      // Next to its log, not in the project's .data: every test's exports stay in its own folder.
      EXPORT_DIR: path.join(path.dirname(opts.logFile), 'exports'),
      ...opts.env,
    },
  });
  fs.closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not spawn worker ${opts.name} (${process.execPath} ${WORKER_ENTRY})`);
  // Belt and braces: if the test process exits without its afterAll (a crash, jest --forceExit),
  // no worker child is left polling.
  killOnExit(child);
  const pid = child.pid;
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null;

  return {
    name: opts.name,
    pid,
    identity: `${pid}@${os.hostname()}`,
    logFile: opts.logFile,
    exited,
    isRunning,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (isRunning()) child.kill(signal);
      return exited;
    },
    stop: (graceMs = 5_000) => stopGracefully(child, exited, graceMs),
    output: () => (fs.existsSync(opts.logFile) ? fs.readFileSync(opts.logFile, 'utf8') : ''),
  };
}

/** Identities polling a task queue, as the server currently knows them (workflow or activity side). */
export async function pollerIdentities(client: Client, taskQueue: string, kind: 'workflow' | 'activity'): Promise<string[]> {
  const { TaskQueueType } = temporal.api.enums.v1;
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue },
    taskQueueType: kind === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).map((p) => p.identity ?? '');
}

/**
 * Resolves once the server has seen this worker poll both its workflow and activity queues, i.e.
 * it bundled its workflows, connected, and is taking work. Fails early if the child exits.
 */
export async function waitUntilPolling(client: Client, worker: WorkerProcess, taskQueue: string, timeoutMs = 45_000): Promise<void> {
  await waitFor(
    `worker ${worker.name} (${worker.identity}) to poll ${taskQueue}`,
    async () => {
      if (!worker.isRunning()) {
        const exit = await worker.exited;
        throw new StopWaiting(`worker ${worker.name} exited (code ${exit.code}, signal ${exit.signal}) before polling:\n${worker.output().slice(-4000)}`);
      }
      const [wf, act] = await Promise.all([pollerIdentities(client, taskQueue, 'workflow'), pollerIdentities(client, taskQueue, 'activity')]);
      return wf.includes(worker.identity) && act.includes(worker.identity);
    },
    { timeoutMs, intervalMs: 200 },
  ).catch((err: unknown) => {
    if (err instanceof StopWaiting) throw err;
    throw new Error(`${String(err)}\nworker output:\n${worker.output().slice(-4000)}`);
  });
}

/**
 * Awaits work, failing fast (with the worker's output) if the worker exits first: a worker that
 * crashes on start would otherwise leave the test waiting for its jest timeout.
 */
export async function whileRunning<T>(worker: WorkerProcess, work: Promise<T>): Promise<T> {
  let racing = true;
  const died = new Promise<never>((_, reject) => {
    void worker.exited.then((exit) => {
      if (racing) reject(new Error(`worker ${worker.name} exited (code ${exit.code}, signal ${exit.signal}) while the test waited on it:\n${worker.output().slice(-4000)}`));
    });
  });
  try {
    return await Promise.race([work, died]);
  } finally {
    racing = false;
  }
}
