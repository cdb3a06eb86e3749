// A throwaway PostgreSQL server for a drill: Debian's initdb + postgres in the drill's own folder, on a
// free port, trust authentication. (The tests have their own copy in test/support: scripts cannot
// import test code.) As root, both run as the `postgres` OS user, which they insist on.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort, sleep } from './util';

export interface DrillPostgres {
  port: number;
  /** postgresql://postgres@127.0.0.1:<port>/postgres */
  url: string;
  stop(): Promise<void>;
  /** SIGKILL at once, for a runner that is exiting. */
  killNow(): void;
}

const HINT = 'PostgreSQL server binaries are needed (apt-get install -y postgresql, or PG_BIN=<dir with initdb and postgres>)';

function binDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'postgres'))).sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a))
    : [];
  if (!versions.length) throw new Error(`no PostgreSQL under ${root}: ${HINT}`);
  return path.join(root, versions[0], 'bin');
}

function identity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
      gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
    };
  } catch {
    throw new Error(`running as root and there is no postgres OS user: ${HINT}`);
  }
}

export async function startPostgres(workDir: string): Promise<DrillPostgres> {
  const bin = binDir();
  const who = identity();
  // Not under workDir: the postgres user must be able to reach its data folder, and workDir is the caller's alone (0700).
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-drill-pg-'));
  // Unix socket paths are limited to ~107 bytes: the socket gets a short folder of its own.
  const socketDir = fs.mkdtempSync('/tmp/pgs-');
  if (who) for (const dir of [root, socketDir]) fs.chownSync(dir, who.uid, who.gid);
  const opts = { cwd: root, ...who };
  const dataDir = path.join(root, 'data');
  execFileSync(path.join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'], { ...opts, stdio: 'pipe' });
  const port = await freePort();
  const logFd = fs.openSync(path.join(workDir, 'postgres.log'), 'a');
  const server = spawn(path.join(bin, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', socketDir, '-h', '127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'max_connections=200'], {
    ...opts,
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const stop = async (): Promise<void> => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      if (server.exitCode !== null || server.signalCode !== null) break;
      server.kill(signal);
      await Promise.race([exited, sleep(5_000)]);
    }
    fs.rmSync(socketDir, { recursive: true, force: true });
    fs.rmSync(root, { recursive: true, force: true });
  };
  const deadline = Date.now() + 30_000;
  server.once('exit', () => fs.rmSync(socketDir, { recursive: true, force: true }));
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited with ${server.exitCode}; see ${path.join(workDir, 'postgres.log')}`);
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query('SELECT 1');
      break;
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`postgres did not accept connections within 30 s: ${String(err)}`);
      }
      await sleep(100);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  return { port, url, stop, killNow: () => server.exitCode === null && server.signalCode === null && void server.kill('SIGKILL') };
}
