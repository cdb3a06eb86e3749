// A PostgreSQL table held locked by another session, so a store write into it blocks mid-transaction.
// The throwaway cluster itself is rigs/postgres.ts (its re-export here lets branches written against
// the old path merge and build; import startPostgres from rigs/ instead).
import { Client } from 'pg';
import { waitFor } from '../../rigs/wait';

export { startPostgres, type ThrowawayPostgres as TestPostgres } from '../../rigs/postgres';

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
