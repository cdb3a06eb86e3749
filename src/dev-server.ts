// Runs the Temporal CLI's dev server (server + Web UI + SQLite file) as a child process. Used by
// `npm start` and by the tests that need a real server they can stop and restart.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from './shared';

export interface DevServerOptions {
  cliPath: string;
  /** SQLite file holding every workflow's history; the same file after a restart keeps them all. */
  dbFile: string;
  port: number;
  uiPort?: number;
  /** Without a UI port the server runs headless (tests). */
  headless?: boolean;
  ip?: string;
  namespace?: string;
  logFile?: string;
  startTimeoutMs?: number;
  /** Own process group, so a terminal's Ctrl-C reaches the launcher first and the server outlives the draining worker. */
  detached?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', ip,
    '--port', String(opts.port),
    '--namespace', opts.namespace ?? 'default',
    '--log-level', 'warn',
    ...SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(opts.uiPort ?? opts.port + 1000), '--ui-disable-news-fetch']),
  ];
  const out = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(opts.cliPath, args, { stdio: ['ignore', out, out], detached: opts.detached ?? false });
  if (typeof out === 'number') fs.closeSync(out);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const address = `${ip}:${opts.port}`;

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  let ready = false;
  let lastError: unknown;
  while (!ready && Date.now() < deadline && child.exitCode === null) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      await connection.workflowService.getSystemInfo({});
      await connection.close();
      ready = true;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  if (!ready) {
    child.kill('SIGKILL');
    const why = child.exitCode !== null ? `exited with code ${child.exitCode}` : `did not answer within the timeout`;
    throw new Error(`Temporal dev server on ${address} ${why}${opts.logFile ? ` (see ${opts.logFile})` : ''}: ${String(lastError)}`);
  }

  return {
    address,
    uiUrl: opts.headless ? undefined : `http://${ip}:${opts.uiPort ?? opts.port + 1000}`,
    process: child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
