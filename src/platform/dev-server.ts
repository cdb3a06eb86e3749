// Runs the Temporal CLI's dev server (server + Web UI + SQLite file) as a child process. Used by
// `npm start` and by the tests that need a real server they can stop and restart.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTE_KEYS } from '../conversation';
import { listensOn, PortInUseError, portHolder } from './port-holder';

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
  /**
   * The Web UI's codec server (`--ui-codec-endpoint`), e.g. http://127.0.0.1:3000/codec. The CLI
   * sets only the endpoint in the UI's settings, never "include cross-origin credentials": a browser
   * turns that on in the UI's own Codec Server settings (stored in its localStorage).
   */
  uiCodecEndpoint?: string;
  /** Temporal's own Prometheus metrics (`--metrics-port`, on `ip`): its per-request latency, lock waits, persistence. Off by default. */
  metricsPort?: number;
  /** Own process group, so a terminal's Ctrl-C reaches the launcher first and the server outlives the draining worker. */
  detached?: boolean;
}

export interface DevServer {
  address: string;
  uiUrl?: string;
  process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * The dev server picks its internal ports (history, matching, HTTP, metrics) at random, so it can
 * lose a race for one with another process and exit at once. Such an early exit is retried; a
 * server that runs but never answers is not.
 */
const EARLY_EXIT_ATTEMPTS = 3;

/** Persistence writes the dev server's history shard runs at once (Temporal's `history.shardIOConcurrency`, 1 by default). */
export const SHARD_IO_CONCURRENCY = 4;

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    const started = await launchDevServer(opts);
    if ('server' in started) return started.server;
    if (started.exitCode === null || attempt >= EARLY_EXIT_ATTEMPTS) throw started.error;
  }
}

type Launch = { server: DevServer } | { error: Error; exitCode: number | null };

async function launchDevServer(opts: DevServerOptions): Promise<Launch> {
  const ip = opts.ip ?? '127.0.0.1';
  fs.mkdirSync(path.dirname(opts.dbFile), { recursive: true });
  const args = [
    'server', 'start-dev',
    '--db-filename', opts.dbFile,
    '--ip', ip,
    '--port', String(opts.port),
    '--namespace', opts.namespace ?? 'default',
    '--log-level', 'warn',
    ...(opts.metricsPort !== undefined ? ['--metrics-port', String(opts.metricsPort)] : []),
    // Write-ahead log instead of SQLite's rollback journal: one fsync per commit instead of several,
    // still durable (synchronous stays FULL). The bench at 20 concurrent conversations carried 44 %
    // more per second with it, and its writes' p99 fell by a third.
    '--sqlite-pragma', 'journal_mode=wal',
    // New tasks go to one partition of each task queue instead of Temporal's four: a new
    // conversation's first workflow task otherwise sometimes sat in a partition no poller was on
    // until Temporal rebalanced, about 5 s (one first task in twenty at 20 concurrent conversations).
    // All four are still read, so tasks a data folder from before holds in the others still start.
    '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
    // The dev server's one history shard lets one persistence write through at a time by default,
    // and each caller waits for that slot while holding its workflow's lock: a webhook then queues
    // behind every other conversation's writes, and behind its own conversation's workflow task.
    // Four at a time: at 20 concurrent conversations with writes confirmed at the edge the slot's
    // wait fell from 86–120 ms to 9–10 ms and Parley carried 0.94–1.0× the floor's conversations/s
    // (0.77–0.83× with one); the `200` write's figures moved within run-to-run noise.
    '--dynamic-config-value', `history.shardIOConcurrency=${SHARD_IO_CONCURRENCY}`,
    ...SEARCH_ATTRIBUTE_KEYS.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
    ...(opts.headless ? ['--headless'] : ['--ui-port', String(opts.uiPort ?? opts.port + 1000), '--ui-disable-news-fetch']),
    ...(!opts.headless && opts.uiCodecEndpoint ? ['--ui-codec-endpoint', opts.uiCodecEndpoint] : []),
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
  // An answer on the port is not yet an answer from this server: another Temporal server that took
  // the port after the caller found it free answers at once, while ours is still starting (it then
  // fails to bind and exits). Clients would be handed a stranger's server, where no conversation of
  // this data folder exists. Where /proc tells (Linux), the listener must be our child.
  if (ready && listensOn(child.pid!, opts.port) === false) {
    child.kill('SIGKILL');
    const port = { port: opts.port, variable: 'TEMPORAL_DEV_PORT', owner: 'the Temporal dev server', host: ip };
    return { error: new PortInUseError(port, portHolder(opts.port)), exitCode: null };
  }
  if (!ready) {
    const exitCode = child.exitCode;
    child.kill('SIGKILL');
    const why = exitCode !== null ? `exited with code ${exitCode}` : `did not answer within the timeout`;
    const log = opts.logFile ? ` (see ${opts.logFile}; it ends: ${logTail(opts.logFile)})` : '';
    return { error: new Error(`Temporal dev server on ${address} ${why}${log}: ${String(lastError)}`), exitCode };
  }

  return {
    server: {
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
    },
  };
}

function logTail(file: string): string {
  try {
    return JSON.stringify(fs.readFileSync(file, 'utf8').trim().split('\n').slice(-3).join('\n').slice(-600));
  } catch {
    return '(unreadable)';
  }
}
