import type { ParticipantDataStore } from './participant-data-store';
import { PostgresParticipantDataStore } from './postgres-store';
import { SqliteParticipantDataStore } from './sqlite-store';
import { SharedState } from './shared-state';

export type {
  AttributeBatch,
  ParticipantDataStore,
  StoredAttribute,
  StoredBatch,
  StoredMessage,
} from './participant-data-store';
export { BatchConflictError, batchDigest, DEFAULT_STORE_TIMEOUT_MS, StoreTimeoutError, StoreUnavailableError } from './participant-data-store';
export { PostgresParticipantDataStore } from './postgres-store';
export { SqliteParticipantDataStore } from './sqlite-store';

/**
 * PostgreSQL when databaseUrl is set, else SQLite at sqlitePath. An empty databaseUrl
 * counts as unset (an empty DATABASE_URL= in an env file); any other non-postgres URL
 * is an error rather than a silent fallback to a local file nobody else can see.
 */
export function createParticipantDataStore(opts: {
  databaseUrl?: string;
  sqlitePath: string;
  /** STORE_TIMEOUT: the bound on every store call; unset = DEFAULT_STORE_TIMEOUT_MS. */
  storeTimeoutMs?: number;
}): ParticipantDataStore {
  const url = opts.databaseUrl?.trim();
  if (!url) return new SqliteParticipantDataStore(opts.sqlitePath, opts.storeTimeoutMs);
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    throw new Error(`databaseUrl must start with postgres:// or postgresql:// (got "${url.split(':')[0]}:...")`);
  }
  return new PostgresParticipantDataStore(url, opts.storeTimeoutMs);
}
export { SharedState, SharedStateUnavailableError, type RegisteredProcess } from './shared-state';

/** The shared state of the processes on one PostgreSQL store; undefined with SQLite (one process). */
export function createSharedState(opts: { databaseUrl?: string; storeTimeoutMs?: number }): SharedState | undefined {
  const url = opts.databaseUrl?.trim();
  if (!url || !/^postgres(ql)?:\/\//i.test(url)) return undefined;
  return new SharedState(url, opts.storeTimeoutMs);
}
