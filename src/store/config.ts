// The participant-data store's settings from the environment.
import path from 'node:path';
import { type Env, atMost, duration, optional } from '../platform/env';
import { DEFAULT_STORE_TIMEOUT_MS } from './participant-data-store';

/**
 * A flush attempt has 10 s (its start-to-close timeout in the conversation workflow) for a write of
 * a few statements, each bounded by STORE_TIMEOUT.
 */
export const MAX_STORE_TIMEOUT_MS = 8_000;

export interface StoreConfig {
  /** DATABASE_URL: PostgreSQL; unset means the embedded SQLite file. */
  databaseUrl?: string;
  /** PARLEY_SQLITE_PATH, default `<data dir>/participant-data.sqlite`. */
  sqlitePath: string;
  /**
   * STORE_TIMEOUT: the bound on every participant-data store call (PostgreSQL connection, statement,
   * and a server that stops answering; SQLite's wait for another connection's lock). Past it the call
   * fails and nothing is written: the flush activity is retried, the API answers an error.
   */
  storeTimeoutMs: number;
}

export function storeConfigFromEnv(env: Env, dataDir: string): StoreConfig {
  return {
    databaseUrl: optional(env, 'DATABASE_URL'),
    sqlitePath: path.resolve(env.PARLEY_SQLITE_PATH || path.join(dataDir, 'participant-data.sqlite')),
    storeTimeoutMs: atMost('STORE_TIMEOUT', duration(env, 'STORE_TIMEOUT', DEFAULT_STORE_TIMEOUT_MS), MAX_STORE_TIMEOUT_MS, 'ms'),
  };
}
