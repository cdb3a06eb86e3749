/**
 * Starts a real, throwaway PostgreSQL server for tests: initdb into a fresh temp dir,
 * run `postgres` on a free port, hand back its URL. No mocks, no shared server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { waitFor } from './wait';

export interface TestPostgres {
  /** postgresql://postgres@127.0.0.1:<port>/postgres, trust auth. */
  url: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;

const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, postgres) are needed for these tests. ' +
  'Install them with `apt-get install -y postgresql`, or point PG_BIN at a directory containing initdb and postgres.';

function findBinDir(): string {
  const fromEnv = process.env.PG_BIN;
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'initdb')) || !existsSync(join(fromEnv, 'postgres'))) {
      throw new Error(`PG_BIN=${fromEnv} has no initdb/postgres. ${INSTALL_HINT}`);
    }
    return fromEnv;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')) && existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (versions.length === 0) throw new Error(`No PostgreSQL found under ${root}. ${INSTALL_HINT}`);
  return join(root, versions[0], 'bin');
}

/**
 * initdb and postgres refuse to run as root. When we are root, run them as Debian's
 * `postgres` user; Node's spawn uid/gid (which also drops supplementary groups) does
 * what `runuser -u postgres --` would, but keeps the real postgres PID for signals.
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

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitUntilAccepting(url: string, server: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      throw new Error(`postgres exited early (code ${server.exitCode}, signal ${server.signalCode}):\n${log()}`);
    }
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (err) {
      if (Date.now() > deadline) {
        throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS} ms: ${String(err)}\n${log()}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

export async function startPostgres(): Promise<TestPostgres> {
  const bin = findBinDir();
  const identity = serverIdentity();
  const root = mkdtempSync(join(tmpdir(), 'parley-pg-'));
  const dataDir = join(root, 'data');
  // The socket lives in its own short path: unix socket paths are limited to ~107 bytes.
  const socketDir = mkdtempSync(join(tmpdir(), 'pgs-'));
  if (identity) {
    chownSync(root, identity.uid, identity.gid);
    chownSync(socketDir, identity.uid, identity.gid);
  }
  const cleanupDirs = (): void => {
    rmSync(root, { recursive: true, force: true });
    rmSync(socketDir, { recursive: true, force: true });
  };
  // cwd inside our dir: the postgres user may not be able to read the caller's cwd.
  const spawnOpts = { cwd: root, ...identity };

  try {
    execFileSync(
      join(bin, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'],
      { ...spawnOpts, stdio: 'pipe' },
    );
  } catch (err) {
    cleanupDirs();
    const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(`initdb failed: ${String(err)}\n${stderr}`);
  }

  const port = await freePort();
  let output = '';
  const server = spawn(
    join(bin, 'postgres'),
    [
      '-D', dataDir,
      '-p', String(port),
      '-k', socketDir,
      '-h', '127.0.0.1',
      // Throwaway data: trade durability for speed.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
    ],
    { ...spawnOpts, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  server.stdout?.on('data', collect);
  server.stderr?.on('data', collect);

  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async (): Promise<void> => {
    // SIGTERM is "smart" shutdown and waits for every client to disconnect; if a test
    // leaked a connection, fall back to fast (SIGINT) and then immediate (SIGKILL).
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGKILL'] as const) {
      if (server.exitCode !== null || server.signalCode !== null) break;
      server.kill(signal);
      if (await waitForExit(server, STOP_GRACE_MS)) break;
    }
    cleanupDirs();
  };

  try {
    await waitUntilAccepting(url, server, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, stop };
}

export interface TableLock {
  /** Resolves once another session (the worker's flush) is waiting for this lock: it is mid-write. */
  waitForBlockedWriter(timeoutMs?: number): Promise<void>;
  /** Rolls the lock back, letting the blocked writer through. Safe to call twice. */
  release(): Promise<void>;
  /** Releases if still held and closes both connections. */
  close(): Promise<void>;
}

/**
 * Holds an ACCESS EXCLUSIVE lock on `table` in an open transaction, so a store write into it blocks
 * mid-transaction: how the crash tests catch a flush in the act.
 */
export async function lockTable(url: string, table: string): Promise<TableLock> {
  // Two connections: `locker` holds the lock in an open transaction; `observer` polls outside any
  // transaction, because inside one pg_stat_activity's state and query columns are a snapshot
  // frozen at its first read.
  const locker = new Client({ connectionString: url });
  const observer = new Client({ connectionString: url });
  await Promise.all([locker.connect(), observer.connect()]);
  let held = false;
  const release = async (): Promise<void> => {
    if (!held) return;
    held = false;
    await locker.query('ROLLBACK');
  };
  try {
    const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await locker.query('BEGIN');
    await locker.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
    held = true;
    return {
      release,
      async waitForBlockedWriter(timeoutMs = 20_000) {
        await waitFor(`a writer to block on the ${table} lock`, async () => {
          const { rows } = await observer.query(
            `SELECT a.pid FROM pg_stat_activity a
             JOIN pg_locks l ON l.pid = a.pid AND NOT l.granted
             JOIN pg_class c ON c.oid = l.relation AND c.relname = $2
             WHERE a.wait_event_type = 'Lock' AND a.pid <> $1 AND a.pid <> pg_backend_pid()`,
            [lockerPid, table],
          );
          return rows.length > 0;
        }, { timeoutMs });
      },
      async close() {
        await release().catch(() => undefined);
        await Promise.all([locker.end(), observer.end()]);
      },
    };
  } catch (err) {
    await Promise.all([locker.end(), observer.end()]).catch(() => undefined);
    throw err;
  }
}
