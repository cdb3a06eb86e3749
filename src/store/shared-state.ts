// What several Parley processes on one PostgreSQL store must agree on at run time: the webhook
// deliveries already taken (so a replay is refused by every API replica, not only the one that took
// it), the sign-in rate-limit counters, and the settings each running process started with. Its own
// small pool beside the participant-data store's, so a burst of webhooks never queues behind flushes.
import { Pool, type PoolClient } from 'pg';
import { DEFAULT_STORE_TIMEOUT_MS } from './participant-data-store';
import { SCHEMA_LOCK_KEY } from './postgres-store';

const SCHEMA = `
  -- A webhook delivery (Standard Webhooks webhook-id and timestamp) some API replica took; kept until
  -- its timestamp leaves the tolerance window, after which the timestamp check refuses it anyway.
  CREATE TABLE IF NOT EXISTS webhook_deliveries (
    webhook_id text NOT NULL,
    timestamp_seconds bigint NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (webhook_id, timestamp_seconds)
  );
  CREATE INDEX IF NOT EXISTS webhook_deliveries_expiry ON webhook_deliveries (expires_at);
  -- Fixed-window counters (sign-in attempts): one row per key and window.
  CREATE TABLE IF NOT EXISTS rate_windows (
    key text NOT NULL,
    window_start bigint NOT NULL,
    count integer NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (key, window_start)
  );
  -- One row per running process: a fingerprint of each settings group that must agree across
  -- processes (hashes only, never a value), refreshed while the process runs.
  CREATE TABLE IF NOT EXISTS process_settings (
    process_id text PRIMARY KEY,
    deployment text NOT NULL,
    role text NOT NULL,
    generation integer NOT NULL,
    groups jsonb NOT NULL,
    started_at timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
  );
`;

const MIGRATION_TIMEOUT_MS = 120_000;
/** Expired rows are deleted by whichever call comes first after this long. */
const SWEEP_INTERVAL_MS = 60_000;

/** The shared state could not be read or written (PostgreSQL down, slow or refusing). */
export class SharedStateUnavailableError extends Error {
  override readonly name = 'SharedStateUnavailableError';
  constructor(operation: string, options?: { cause?: unknown }) {
    const code = (options?.cause as { code?: unknown } | undefined)?.code;
    super(`shared state: ${operation} failed${typeof code === 'string' ? ` (${code})` : ''}`, options);
  }
}

export interface RegisteredProcess {
  processId: string;
  role: string;
  generation: number;
  /** Settings group → fingerprint. */
  groups: Record<string, string>;
}

export class SharedState {
  private readonly pool: Pool;
  private closed = false;
  private lastSweep = 0;

  constructor(
    connectionString: string,
    readonly timeoutMs: number = DEFAULT_STORE_TIMEOUT_MS,
  ) {
    this.pool = new Pool({
      connectionString,
      max: 4,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + 1000,
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // A pooled connection that dies while idle is discarded by the pool; unheard, the event would end the process.
    this.pool.on('error', () => undefined);
  }

  /** Creates the tables if missing, queued on the store's schema lock like the store's own init. */
  async init(): Promise<void> {
    await this.transaction('init', async (client) => {
      const slow = { query_timeout: MIGRATION_TIMEOUT_MS + 1000 };
      await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await client.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [SCHEMA_LOCK_KEY], ...slow });
      await client.query({ text: SCHEMA, ...slow });
    });
  }

  /** Records a delivery; false when some process already recorded it and it has not expired. */
  async claimDelivery(webhookId: string, timestampSeconds: number, expiresAtMs: number): Promise<boolean> {
    this.sweepSoon();
    const { rowCount } = await this.run('claimDelivery', (c) =>
      c.query(
        // An expired row with the same key is taken over: its delivery is refused by the timestamp check anyway.
        `INSERT INTO webhook_deliveries (webhook_id, timestamp_seconds, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (webhook_id, timestamp_seconds) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE webhook_deliveries.expires_at <= now()`,
        [webhookId, timestampSeconds, new Date(expiresAtMs)],
      ),
    );
    return rowCount === 1;
  }

  /** Forgets a delivery, so the sender's retry of one that failed on our side is taken. */
  async releaseDelivery(webhookId: string, timestampSeconds: number): Promise<void> {
    await this.run('releaseDelivery', (c) => c.query('DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND timestamp_seconds = $2', [webhookId, timestampSeconds]));
  }

  /** Adds one to each key's counter for the window starting at windowStartMs; returns the new counts. */
  async increment(keys: readonly string[], windowStartMs: number, windowMs: number): Promise<number[]> {
    this.sweepSoon();
    const { rows } = await this.run('increment', (c) =>
      c.query<{ key: string; count: number }>(
        `INSERT INTO rate_windows (key, window_start, count, expires_at)
         SELECT k, $2, 1, $3 FROM unnest($1::text[]) AS k
         ON CONFLICT (key, window_start) DO UPDATE SET count = rate_windows.count + 1
         RETURNING key, count`,
        [[...keys], windowStartMs, new Date(windowStartMs + windowMs)],
      ),
    );
    const counts = new Map(rows.map((r) => [r.key, r.count]));
    return keys.map((k) => counts.get(k) ?? 0);
  }

  /** Each key's counter in the window starting at windowStartMs (0 when none). */
  async counts(keys: readonly string[], windowStartMs: number): Promise<number[]> {
    const { rows } = await this.run('counts', (c) =>
      c.query<{ key: string; count: number }>('SELECT key, count FROM rate_windows WHERE key = ANY($1::text[]) AND window_start = $2', [[...keys], windowStartMs]),
    );
    const counts = new Map(rows.map((r) => [r.key, r.count]));
    return keys.map((k) => counts.get(k) ?? 0);
  }

  /**
   * Records this process's settings fingerprints and returns the other processes of the deployment
   * seen within liveMs; one transaction under an advisory lock per deployment, so two processes
   * starting at once with different settings cannot both miss each other.
   */
  async register(deployment: string, self: RegisteredProcess, liveMs: number, admit: (others: RegisteredProcess[]) => void): Promise<void> {
    await this.transaction('register', async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('parley-settings:' || $1))", [deployment]);
      await client.query("DELETE FROM process_settings WHERE last_seen < now() - make_interval(secs => $1 / 1000.0)", [liveMs * 4]);
      const { rows } = await client.query<{ process_id: string; role: string; generation: number; groups: Record<string, string> }>(
        `SELECT process_id, role, generation, groups FROM process_settings
         WHERE deployment = $1 AND process_id <> $2 AND last_seen >= now() - make_interval(secs => $3 / 1000.0)`,
        [deployment, self.processId, liveMs],
      );
      // Throws to refuse: the transaction rolls back and this process is never registered.
      admit(rows.map((r) => ({ processId: r.process_id, role: r.role, generation: r.generation, groups: r.groups })));
      await client.query(
        `INSERT INTO process_settings (process_id, deployment, role, generation, groups, started_at, last_seen)
         VALUES ($1, $2, $3, $4, $5, now(), now())
         ON CONFLICT (process_id) DO UPDATE SET deployment = EXCLUDED.deployment, role = EXCLUDED.role,
           generation = EXCLUDED.generation, groups = EXCLUDED.groups, last_seen = now()`,
        [self.processId, deployment, self.role, self.generation, JSON.stringify(self.groups)],
      );
    });
  }

  /** Marks the process as still running; its row is written again if an outage let it be swept. */
  async heartbeat(deployment: string, self: RegisteredProcess): Promise<void> {
    await this.run('heartbeat', (c) =>
      c.query(
        `INSERT INTO process_settings (process_id, deployment, role, generation, groups, started_at, last_seen)
         VALUES ($1, $2, $3, $4, $5, now(), now())
         ON CONFLICT (process_id) DO UPDATE SET last_seen = now()`,
        [self.processId, deployment, self.role, self.generation, JSON.stringify(self.groups)],
      ),
    );
  }

  async unregister(processId: string): Promise<void> {
    await this.run('unregister', (c) => c.query('DELETE FROM process_settings WHERE process_id = $1', [processId]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** Deletes expired deliveries and counters, at most once a minute and never in the caller's way. */
  private sweepSoon(): void {
    const now = Date.now();
    if (now - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = now;
    void this.run('sweep', async (c) => {
      await c.query('DELETE FROM webhook_deliveries WHERE expires_at <= now()');
      await c.query('DELETE FROM rate_windows WHERE expires_at <= now()');
    }).catch(() => undefined);
  }

  private async run<T>(operation: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new SharedStateUnavailableError(operation, { cause: err });
    }
    let broken: Error | undefined;
    const onError = (err: Error): void => {
      broken ??= err;
    };
    client.on('error', onError);
    try {
      return await work(client);
    } catch (err) {
      // Released with the error, the connection is discarded: one that timed out may still be busy.
      broken ??= err instanceof Error ? err : new Error(String(err));
      throw new SharedStateUnavailableError(operation, { cause: err });
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  private async transaction<T>(operation: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    let refusal: unknown;
    try {
      return await this.run(operation, async (client) => {
        await client.query('BEGIN');
        try {
          const result = await work(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          refusal = err;
          throw err;
        }
      });
    } catch (err) {
      // A refusal raised by the caller's own check is passed on as it is, not as an outage.
      if (refusal !== undefined && !isDriverError(refusal)) throw refusal;
      throw err;
    }
  }
}

function isDriverError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' || (err instanceof Error && /timeout|Connection terminated/i.test(err.message));
}
