// Another OS process holding a SQLite file's write lock (BEGIN IMMEDIATE), as the API process or a
// second worker would: its release does not depend on the test process's event loop.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

const LOCKER_SCRIPT = `
const Database = require('better-sqlite3');
const db = new Database(process.env.DB_PATH);
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\\n');
const release = () => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); process.exit(0); };
setTimeout(release, Number(process.env.HOLD_MS));
process.stdin.once('data', release);
`;

export interface SqliteLock {
  child: ChildProcess;
  /** Resolves with performance.now() once the lock is gone (released, or the holder exited). */
  released: Promise<number>;
  /** Releases before holdMs is up. */
  release(): Promise<number>;
}

/** Resolves once the other process holds the lock; it releases it after holdMs, or on release(). */
export async function lockSqlite(path: string, holdMs: number): Promise<SqliteLock> {
  const child = spawn(process.execPath, ['-e', LOCKER_SCRIPT], {
    cwd: resolve(__dirname, '../..'),
    env: { ...process.env, DB_PATH: path, HOLD_MS: String(holdMs) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let onReleased: (at: number) => void = () => undefined;
  const released = new Promise<number>((r) => (onReleased = r));
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (out.includes('locked\n')) res();
      if (out.includes('released\n')) onReleased(performance.now());
    });
    child.once('exit', (code) => {
      // Killed or not, the lock went with the process.
      onReleased(performance.now());
      rej(new Error(`locker exited (${code}) before locking`));
    });
  });
  return {
    child,
    released,
    release() {
      if (child.exitCode === null && child.signalCode === null) child.stdin!.write('go\n');
      return released;
    },
  };
}
