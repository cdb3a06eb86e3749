// `npm start` as a user runs it, for the launcher tests: the built launcher (dist/src/main/start.js,
// what `npm start` runs after its build step) in its own process group, as a shell's foreground job,
// its JSON log lines collected; and /proc readers to find the processes it started.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../src/platform/config';
import { authedFetch, type TestCredentials } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { StopWaiting, waitFor } from '../../rigs/wait';

export const LAUNCHER = path.join(projectRoot(), 'dist', 'src', 'main', 'start.js');

export interface LogLine {
  name?: string;
  msg?: string;
  entry?: string;
  code?: number | null;
  signal?: string | null;
  [key: string]: unknown;
}

export interface LaunchPorts {
  port: number;
  devPort: number;
  uiPort: number;
}

export interface Launch {
  child: ChildProcess;
  dataDir: string;
  ports: LaunchPorts;
  baseUrl: string;
  uiUrl: string;
  devPort: number;
  lines: LogLine[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const launches: Launch[] = [];

export async function freeLaunchPorts(): Promise<LaunchPorts> {
  return { port: await freePort(), devPort: await freePort(), uiPort: await freePort() };
}

/** Starts the launcher; unless `waitUntilUp` is false, resolves once it has said "Parley is up". */
export async function launch(dataDir: string, opts: { ports?: LaunchPorts; waitUntilUp?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<Launch> {
  if (!fs.existsSync(LAUNCHER)) throw new Error(`${LAUNCHER} is missing: npm test builds it first (npm run build)`);
  const ports = opts.ports ?? (await freeLaunchPorts());
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(ports.port), TEMPORAL_DEV_PORT: String(ports.devPort), TEMPORAL_UI_PORT: String(ports.uiPort), PARLEY_DATA_DIR: dataDir, LOG_LEVEL: 'info', ...opts.env };
  delete env.TEMPORAL_ADDRESS;
  delete env.DATABASE_URL;
  // The launcher makes its own secrets in the data folder on the first start.
  for (const name of ['PARLEY_WEBHOOK_SECRETS', 'PARLEY_TOKENS', 'PARLEY_SECRETS_FILE']) delete env[name];
  // Its own process group, as a shell gives a foreground job: the group is what Ctrl-C signals.
  const child = spawn(process.execPath, [LAUNCHER], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  const collect = (stream: NodeJS.ReadableStream): void => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) {
        try {
          lines.push(JSON.parse(part) as LogLine);
        } catch {
          lines.push({ text: part });
        }
      }
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const started: Launch = { child, dataDir, ports, baseUrl: `http://127.0.0.1:${ports.port}`, uiUrl: `http://127.0.0.1:${ports.uiPort}`, devPort: ports.devPort, lines, exited };
  launches.push(started);
  if (opts.waitUntilUp === false) return started;
  await waitFor('npm start to announce that Parley is up', () => {
    if (child.exitCode !== null) {
      // The cause is usually a warning, an error or a plain text line (a crash), not the last lines.
      const problems = lines.filter((line) => typeof line.level !== 'number' || line.level >= 40);
      throw new StopWaiting(`the launcher exited with ${child.exitCode}: ${JSON.stringify([...problems.slice(-10), ...lines.slice(-5)])}`);
    }
    return lines.some((line) => line.msg === 'Parley is up');
  }, { timeoutMs: 90_000, intervalMs: 200 });
  return started;
}

/** For afterAll: every launcher still running, and anything still using a launch's data folder (the children of a SIGKILLed launcher). */
export function killLaunches(): void {
  const kill = (pid: number): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  };
  for (const run of launches.splice(0)) {
    if (run.child.exitCode === null && run.child.signalCode === null) kill(-run.child.pid!);
    for (const pid of processesUsing(run.dataDir)) kill(pid);
  }
}

/** The supervisor's record of how each process it started ended. */
export function exitOf(run: Launch, entry: string): LogLine | undefined {
  return run.lines.find((line) => line.name === 'parley' && line.msg === 'process stopped' && line.entry === entry);
}

export async function post(run: Launch, credentials: TestCredentials, url: string, body: unknown): Promise<Response> {
  return authedFetch(credentials, `${run.baseUrl}${url}`, { method: 'POST', body });
}

/** The launcher's own children whose command line contains `marker` (read from /proc: the launcher logs no pids). */
export function childrenOf(launcherPid: number, marker: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      return ppid === launcherPid && fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
    } catch {
      return false; // Gone meanwhile.
    }
  });
}

/** Processes whose command line or environment names `dataDir` (the launcher passes it to every child). */
export function processesUsing(dataDir: string): number[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number).filter((pid) => {
    try {
      return pid !== process.pid && [`/proc/${pid}/cmdline`, `/proc/${pid}/environ`].some((file) => fs.readFileSync(file, 'utf8').includes(dataDir));
    } catch {
      return false;
    }
  });
}

export function onlyChild(launcherPid: number, marker: string): number {
  const pids = childrenOf(launcherPid, marker);
  if (pids.length !== 1) throw new Error(`expected one child of the launcher running ${marker}, found ${pids.length}`);
  return pids[0];
}
