import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import {
  BatchConflictError,
  batchDigest,
  DEFAULT_STORE_TIMEOUT_MS,
  StoreTimeoutError,
  StoreUnavailableError,
  type AttributeBatch,
  type ParticipantDataStore,
  type StoredAttribute,
  type StoredBatch,
  type StoredMessage,
} from './participant-data-store';
import { traceBatchWrite } from './batch-write-span';

// init() waits this long for another process's migration (it holds the schema lock), like SQLite's.
const MIGRATION_TIMEOUT_MS = 120_000;
/** The client-side backstop fires this long after the server's statement_timeout should have. */
const CLIENT_TIMEOUT_MARGIN_MS = 1000;

// Arbitrary constant shared by every process running init(): concurrent
// CREATE TABLE IF NOT EXISTS can still fail on pg_type's unique index, so creators
// queue on this transaction-scoped advisory lock instead.
export const SCHEMA_LOCK_KEY = 0x70617274; // "part"

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS participant_data_batches (
    conversation_id text NOT NULL,
    chain_id text NOT NULL DEFAULT '',
    batch_seq integer NOT NULL,
    attribute_count integer NOT NULL,
    written_at timestamptz NOT NULL,
    content_digest text,
    PRIMARY KEY (conversation_id, chain_id, batch_seq)
  );
  CREATE TABLE IF NOT EXISTS participant_data (
    conversation_id text NOT NULL,
    name text NOT NULL,
    value text NOT NULL,
    batch_seq integer NOT NULL,
    version integer NOT NULL,
    updated_at timestamptz NOT NULL,
    secured boolean NOT NULL DEFAULT false,
    PRIMARY KEY (conversation_id, name)
  );
  -- The transcript of digital conversations; seq keeps the order lines were first stored.
  -- occurred_at is the ISO text as sent, so it round-trips exactly, like SQLite's.
  CREATE TABLE IF NOT EXISTS messages (
    conversation_id text NOT NULL,
    event_id text NOT NULL,
    seq bigserial NOT NULL,
    channel text NOT NULL,
    direction text NOT NULL,
    occurred_at text NOT NULL,
    text text NOT NULL,
    subject text,
    attachment_count integer NOT NULL,
    PRIMARY KEY (conversation_id, event_id)
  );
`;

interface MessageRow extends QueryResultRow {
  event_id: string;
  channel: StoredMessage['channel'];
  direction: StoredMessage['direction'];
  occurred_at: string;
  text: string;
  subject: string | null;
  attachment_count: number;
}

// pg returns timestamptz as Date and int4 as number.
interface AttributeRow {
  name: string;
  value: string;
  batch_seq: number;
  version: number;
  updated_at: Date;
  secured: boolean;
}

interface BatchRow {
  chain_id: string;
  batch_seq: number;
  attribute_count: number;
  written_at: Date;
}

const toAttribute = (r: AttributeRow): StoredAttribute => ({
  name: r.name,
  value: r.value,
  batchSeq: r.batch_seq,
  version: r.version,
  updatedAt: r.updated_at.toISOString(),
  secured: r.secured,
});

// Equality in PostgreSQL is exact whatever the collation, so names are case-sensitive
// already; ORDER BY needs COLLATE "C" to be byte order (like SQLite) instead of the
// database's linguistic collation.
const SELECT_ATTRIBUTES = `SELECT name, value, batch_seq, version, updated_at, secured FROM participant_data`;

/**
 * What a pg error says when it is a timeout of ours: the server's statement_timeout (57014 with that
 * reason) or lock_timeout (55P03), the client's query_timeout backstop, or the pool's connection
 * timeout. undefined for any other error.
 */
function timeoutReason(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message : '';
  if (e?.code === '57014' && /statement timeout/i.test(message)) return `the server cancelled the statement (57014: ${message})`;
  if (e?.code === '55P03') return `a lock was not granted in time (55P03: ${message})`;
  if (message === 'Query read timeout') return 'the server did not answer (client query timeout)';
  if (/timeout exceeded when trying to connect|connection timeout/i.test(message)) return `no connection to the server (${message})`;
  return undefined;
}

/**
 * The server cannot be reached or dropped the connection: refused, reset, no route, or shutting down
 * (SQLSTATE class 08, connection exceptions; 57P01-57P03, the server going away).
 */
function unreachableReason(err: unknown): string | undefined {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : '';
  if (['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN'].includes(code)) return code;
  if (/^08/.test(code) || ['57P01', '57P02', '57P03'].includes(code)) return `${code}: ${message}`;
  if (/Connection terminated/i.test(message)) return message;
  return undefined;
}

export class PostgresParticipantDataStore implements ParticipantDataStore {
  private readonly pool: Pool;
  private closed = false;

  constructor(
    connectionString: string,
    /**
     * STORE_TIMEOUT: bounds getting a connection (pool wait and connect), each statement on the server
     * (statement_timeout, which covers lock waits) and, a little later, on the client (query_timeout:
     * a server or network path that stops answering). A write is a few statements.
     */
    readonly timeoutMs: number = DEFAULT_STORE_TIMEOUT_MS,
  ) {
    this.pool = new Pool({
      connectionString,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
      // A session left in an open transaction (a process killed mid-write) releases its locks.
      idle_in_transaction_session_timeout: Math.max(10_000, 5 * timeoutMs),
      // Idle pooled connections are closed after 10 s (pg's default, spelled out); TCP keepalive
      // notices a dead peer on a connection that is kept.
      idleTimeoutMillis: 10_000,
      keepAlive: true,
    });
    // An idle pooled connection that dies (server restart, network blip) is emitted
    // here and would crash the process if unhandled. The pool already discards it,
    // and the next query opens a fresh connection or fails with a real error.
    this.pool.on('error', () => undefined);
  }

  async init(): Promise<void> {
    await this.inTransaction('init', async (client) => {
      // Waiting for another process's migration may take longer than a store call.
      const slow = { query_timeout: MIGRATION_TIMEOUT_MS + CLIENT_TIMEOUT_MARGIN_MS };
      await client.query(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
      await client.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [SCHEMA_LOCK_KEY], ...slow });
      await client.query({ text: SCHEMA, ...slow });
      // Tables made before batches carried their run chain: widen the key in place.
      const { rowCount } = await client.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'participant_data_batches' AND column_name = 'chain_id'`,
      );
      if (rowCount === 0) {
        // The key's name is whatever created the table chose; PostgreSQL's default is only the usual one.
        const key = await client.query<{ conname: string }>(
          `SELECT conname FROM pg_constraint WHERE conrelid = 'participant_data_batches'::regclass AND contype = 'p'`,
        );
        const dropKey = key.rows[0] ? `DROP CONSTRAINT "${key.rows[0].conname.replace(/"/g, '""')}",` : '';
        await client.query({
          text: `
          ALTER TABLE participant_data_batches ADD COLUMN chain_id text NOT NULL DEFAULT '';
          ALTER TABLE participant_data_batches ${dropKey} ADD PRIMARY KEY (conversation_id, chain_id, batch_seq);
        `,
          ...slow,
        });
      }
      // Tables made before attributes could be secured: add the flag, existing rows plain. Looked up
      // first because ALTER TABLE takes an exclusive lock on the table even when there is nothing to
      // add, which would stall every process's start behind open transactions; a constant default adds
      // the column without rewriting rows.
      const secured = await client.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'participant_data' AND column_name = 'secured'`,
      );
      if (secured.rowCount === 0) {
        await client.query({ text: `ALTER TABLE participant_data ADD COLUMN IF NOT EXISTS secured boolean NOT NULL DEFAULT false`, ...slow });
      }
      // Tables made before batches recorded a digest of their content: add it, NULL for the batches
      // already there, which therefore match any re-send of their key (nothing to compare with), as
      // before. A nullable column without a default is added without rewriting rows.
      const digest = await client.query(
        `SELECT 1 FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = 'participant_data_batches' AND column_name = 'content_digest'`,
      );
      if (digest.rowCount === 0) {
        await client.query({ text: `ALTER TABLE participant_data_batches ADD COLUMN IF NOT EXISTS content_digest text`, ...slow });
      }
    });
  }

  writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }> {
    return traceBatchWrite('postgresql', batch, () => this.writeBatchOnce(batch));
  }

  private async writeBatchOnce(batch: AttributeBatch): Promise<{ applied: boolean }> {
    // The timestamp comes from the application, not now(), so both stores store the
    // same millisecond-precision instant that round-trips exactly through ISO strings.
    const now = new Date().toISOString();
    // Sorted so concurrent batches touching the same attributes lock rows in the same
    // order and cannot deadlock each other.
    const entries = Object.entries(batch.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const secured = new Set(batch.secured ?? []);
    const chainId = batch.chainId ?? '';
    const digest = batchDigest(batch);
    const outcome = await this.inTransaction('writeBatch', async (client): Promise<'applied' | 'duplicate' | 'conflict'> => {
      // A concurrent transaction inserting the same key blocks here until the other
      // commits (then we get rowCount 0) or rolls back (then we win).
      const claim = await client.query(
        `INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at, content_digest)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
        [batch.conversationId, chainId, batch.batchSeq, entries.length, now, digest],
      );
      if (claim.rowCount === 0) {
        // Read committed: this statement sees the row the other transaction committed.
        const { rows } = await client.query<{ content_digest: string | null }>(
          `SELECT content_digest FROM participant_data_batches WHERE conversation_id = $1 AND chain_id = $2 AND batch_seq = $3`,
          [batch.conversationId, chainId, batch.batchSeq],
        );
        // NULL: stored before digests were recorded, nothing to compare with: taken as the same batch.
        const stored = rows[0]?.content_digest ?? null;
        return stored === null || stored === digest ? 'duplicate' : 'conflict';
      }
      if (entries.length > 0) {
        await client.query(
          `INSERT INTO participant_data (conversation_id, name, value, batch_seq, version, updated_at, secured)
           SELECT $1, t.name, t.value, $2, 1, $3, t.secured
           FROM unnest($4::text[], $5::text[], $6::boolean[]) WITH ORDINALITY AS t(name, value, secured, ord)
           ORDER BY t.ord
           ON CONFLICT (conversation_id, name) DO UPDATE SET
             value = excluded.value,
             secured = excluded.secured,
             batch_seq = excluded.batch_seq,
             version = participant_data.version + 1,
             updated_at = excluded.updated_at`,
          [
            batch.conversationId,
            batch.batchSeq,
            now,
            entries.map(([n]) => n),
            entries.map(([, v]) => v),
            entries.map(([n]) => secured.has(n)),
          ],
        );
      }
      return 'applied';
    });
    if (outcome === 'conflict') throw new BatchConflictError(batch);
    return { applied: outcome === 'applied' };
  }

  async getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined> {
    const { rows } = await this.query<AttributeRow>('getAttribute', `${SELECT_ATTRIBUTES} WHERE conversation_id = $1 AND name = $2`, [
      conversationId,
      name,
    ]);
    return rows[0] && toAttribute(rows[0]);
  }

  async listAttributes(conversationId: string): Promise<StoredAttribute[]> {
    const { rows } = await this.query<AttributeRow>('listAttributes', `${SELECT_ATTRIBUTES} WHERE conversation_id = $1 ORDER BY name COLLATE "C"`, [
      conversationId,
    ]);
    return rows.map(toAttribute);
  }

  async listBatches(conversationId: string): Promise<StoredBatch[]> {
    const { rows } = await this.query<BatchRow>(
      'listBatches',
      `SELECT chain_id, batch_seq, attribute_count, written_at FROM participant_data_batches
       WHERE conversation_id = $1 ORDER BY min(written_at) OVER (PARTITION BY chain_id), chain_id, batch_seq`,
      [conversationId],
    );
    return rows.map((r) => ({
      chainId: r.chain_id,
      batchSeq: r.batch_seq,
      attributeCount: r.attribute_count,
      writtenAt: r.written_at.toISOString(),
    }));
  }

  async appendMessages(conversationId: string, messages: StoredMessage[]): Promise<void> {
    if (messages.length === 0) return;
    await this.inTransaction('appendMessages', async (client) => {
      await client.query(
        `INSERT INTO messages (conversation_id, event_id, channel, direction, occurred_at, text, subject, attachment_count)
         SELECT $1, t.event_id, t.channel, t.direction, t.occurred_at, t.text, t.subject, t.attachment_count
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::integer[])
           WITH ORDINALITY AS t(event_id, channel, direction, occurred_at, text, subject, attachment_count, ord)
         ORDER BY t.ord
         ON CONFLICT (conversation_id, event_id) DO NOTHING`,
        [
          conversationId,
          messages.map((m) => m.eventId),
          messages.map((m) => m.channel),
          messages.map((m) => m.direction),
          messages.map((m) => m.occurredAt),
          messages.map((m) => m.text),
          messages.map((m) => m.subject ?? null),
          messages.map((m) => m.attachmentCount),
        ],
      );
    });
  }

  async listMessages(conversationId: string): Promise<StoredMessage[]> {
    const { rows } = await this.query<MessageRow>(
      'listMessages',
      `SELECT event_id, channel, direction, occurred_at, text, subject, attachment_count FROM messages
       WHERE conversation_id = $1 ORDER BY occurred_at COLLATE "C", seq`,
      [conversationId],
    );
    return rows.map((r) => ({
      eventId: r.event_id,
      channel: r.channel,
      direction: r.direction,
      occurredAt: r.occurred_at,
      text: r.text,
      ...(r.subject === null ? {} : { subject: r.subject }),
      attachmentCount: r.attachment_count,
    }));
  }

  async close(): Promise<void> {
    // pg throws if end() is called twice.
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** One statement outside a transaction; a timeout becomes StoreTimeoutError. */
  private async query<R extends QueryResultRow>(operation: string, text: string, values: unknown[]): Promise<{ rows: R[] }> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.timeoutOr(operation, err);
    }
    const watch = watchConnection(client);
    try {
      return await client.query<R>(text, values);
    } catch (err) {
      // Released with the error, the connection is discarded: one that timed out may still be busy.
      watch.broken ??= err instanceof Error ? err : new Error(String(err));
      throw this.timeoutOr(operation, err);
    } finally {
      watch.stop();
      client.release(watch.broken);
    }
  }

  private timeoutOr(operation: string, err: unknown): unknown {
    const reason = timeoutReason(err);
    if (reason) return new StoreTimeoutError(operation, this.timeoutMs, reason, { cause: err });
    const down = unreachableReason(err);
    return down ? new StoreUnavailableError(operation, down, { cause: err }) : err;
  }

  private async inTransaction<T>(operation: string, work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw this.timeoutOr(operation, err);
    }
    const watch = watchConnection(client);
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      if (err instanceof Error && err.message === 'Query read timeout') {
        // The server never answered: the connection is still busy with that statement, and a
        // ROLLBACK queued behind it would wait as long. Destroy it; the server rolls back.
        watch.broken = err;
      } else {
        // If even ROLLBACK fails the connection is unusable: destroy it rather than
        // return it to the pool mid-transaction.
        await client.query('ROLLBACK').catch((rollbackErr: Error) => {
          watch.broken = rollbackErr;
        });
      }
      throw this.timeoutOr(operation, err);
    } finally {
      watch.stop();
      client.release(watch.broken);
    }
  }
}

/**
 * A checked-out connection that the server or the network drops between two statements emits
 * 'error' on its client, and pg's pool listens only on idle ones: unheard, the event kills the
 * process (the store-outage drill saw the worker die when PostgreSQL became unreachable mid-flush).
 * Heard here, the connection is marked broken and discarded when released; the statement in flight,
 * if any, fails on its own.
 */
function watchConnection(client: PoolClient): { broken: Error | undefined; stop(): void } {
  const watch = {
    broken: undefined as Error | undefined,
    stop: () => client.off('error', onError),
  };
  const onError = (err: Error): void => {
    watch.broken ??= err;
  };
  client.on('error', onError);
  return watch;
}
