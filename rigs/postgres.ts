// A real, throwaway PostgreSQL cluster: Debian's initdb into a fresh folder, `postgres` on a free port
// with trust authentication, both removed on stop. No mocks, no shared server. As root, both run as
// the `postgres` OS user, which they insist on.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { killOnExit } from './children';
import { freePort } from './ports';
import { sleep } from './wait';

export interface ThrowawayPostgres {
  port: number;
  /** The server's (postmaster's) process id; its backends are its children. */
  readonly pid: number | undefined;
  /** postgresql://postgres@127.0.0.1:<port>/postgres, trust auth. */
  url: string;
  /** Stops the server (waiting a little for clients to leave, then cutting them) and removes the cluster's folders. */
  stop(): Promise<void>;
  /**
   * Stops the server as an operator's restart does (fast shutdown: clients cut, data flushed), then
   * starts it again on the same data and port; resolves once it accepts connections again.
   */
  restart(): Promise<void>;
}

export interface PostgresOptions {
  /** The server's log. Default: in the cluster's own folder (removed on stop; failures quote its end). */
  logFile?: string;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, postgres) are needed: install them with `apt-get install -y postgresql`, ' +
  'or point PG_BIN at a directory containing initdb and postgres.';

function findBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (!fs.existsSync(path.join(fromEnv, 'initdb')) || !fs.existsSync(path.join(fromEnv, 'postgres'))) {
      throw new Error(`PG_BIN=${fromEnv} has no initdb/postgres. ${INSTALL_HINT}`);
    }
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')) && fs.existsSync(path.join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length === 0) throw new Error(`No PostgreSQL found under ${root}. ${INSTALL_HINT}`);
  return path.join(root, versions[0], 'bin');
}

/**
 * initdb and postgres refuse to run as root. When we are root, they run as Debian's `postgres` user;
 * Node's spawn uid/gid (which also drops supplementary groups) does what `runuser -u postgres --`
 * would, but keeps the real postgres PID for signals.
 */
function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(`Running as root, and there is no \`postgres\` OS user to run the server as. ${INSTALL_HINT}`);
  }
}

function exitedWithin(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-20_000);
  } catch {
    return '(no log)';
  }
}

export async function startPostgres(opts: PostgresOptions = {}): Promise<ThrowawayPostgres> {
  const bin = findBinDir();
  const identity = serverIdentity();
  // Not under a caller's folder: the postgres user must be able to reach it.
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-pg-'));
  const dataDir = path.join(root, 'data');
  // The socket lives in its own short path: unix socket paths are limited to ~107 bytes.
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgs-'));
  if (identity) for (const dir of [root, socketDir]) fs.chownSync(dir, identity.uid, identity.gid);
  const cleanupDirs = (): void => {
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(socketDir, { recursive: true, force: true });
  };
  // cwd inside our folder: the postgres user may not be able to read the caller's cwd.
  const spawnOpts = { cwd: root, ...identity };

  try {
    execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'], { ...spawnOpts, stdio: 'pipe' });
  } catch (err) {
    cleanupDirs();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${String(err)}\n${stderr}`);
  }

  const port = await freePort();
  const logFile = opts.logFile ?? path.join(root, 'postgres.log');
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const spawnServer = (): ChildProcess => {
    const logFd = fs.openSync(logFile, 'a');
    const child = spawn(
      path.join(bin, 'postgres'),
      [
        '-D', dataDir,
        '-p', String(port),
        '-k', socketDir,
        '-h', '127.0.0.1',
        // Throwaway data: trade durability for speed.
        '-c', 'fsync=off',
        '-c', 'synchronous_commit=off',
        '-c', 'full_page_writes=off',
        // The drills run several workers and the API, each with its own pool.
        '-c', 'max_connections=200',
      ],
      { ...spawnOpts, stdio: ['ignore', logFd, logFd] },
    );
    fs.closeSync(logFd);
    killOnExit(child);
    return child;
  };
  let server = spawnServer();

  const halt = async (signals: NodeJS.Signals[]): Promise<void> => {
    for (const signal of signals) {
      if (await exitedWithin(server, 0)) break;
      server.kill(signal);
      if (await exitedWithin(server, STOP_GRACE_MS)) break;
    }
  };
  // SIGTERM is "smart" shutdown and waits for every client to disconnect; if a client leaked a
  // connection, fall back to fast (SIGINT) and then immediate (SIGKILL).
  const stop = async (): Promise<void> => {
    await halt(['SIGTERM', 'SIGINT', 'SIGKILL']);
    cleanupDirs();
  };

  const awaitReady = async (): Promise<void> => {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      if (server.exitCode !== null || server.signalCode !== null) {
        const log = tail(logFile);
        await stop();
        throw new Error(`postgres exited early (code ${server.exitCode}, signal ${server.signalCode}):\n${log}`);
      }
      const client = new Client({ connectionString: url });
      try {
        await client.connect();
        await client.query('SELECT 1');
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          const log = tail(logFile);
          await stop();
          throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms: ${String(err)}\n${log}`);
        }
        await sleep(100);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
  };
  await awaitReady();

  const restart = async (): Promise<void> => {
    await halt(['SIGINT', 'SIGKILL']);
    server = spawnServer();
    await awaitReady();
  };
  return {
    port,
    url,
    stop,
    restart,
    get pid() {
      return server.pid;
    },
  };
}
