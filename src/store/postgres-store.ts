import { Pool, type PoolClient } from 'pg';
import type {
  AttributeBatch,
  ParticipantDataStore,
  StoredAttribute,
  StoredBatch,
} from './participant-data-store';

// Arbitrary constant shared by every process running init(): concurrent
// CREATE TABLE IF NOT EXISTS can still fail on pg_type's unique index, so creators
// queue on this transaction-scoped advisory lock instead.
const SCHEMA_LOCK_KEY = 0x70617274; // "part"

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS participant_data_batches (
    conversation_id text NOT NULL,
    chain_id text NOT NULL DEFAULT '',
    batch_seq integer NOT NULL,
    attribute_count integer NOT NULL,
    written_at timestamptz NOT NULL,
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
`;

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

export class PostgresParticipantDataStore implements ParticipantDataStore {
  private readonly pool: Pool;
  private closed = false;

  constructor(connectionString: string) {
    this.pool = new Pool({ connectionString });
    // An idle pooled connection that dies (server restart, network blip) is emitted
    // here and would crash the process if unhandled. The pool already discards it,
    // and the next query opens a fresh connection or fails with a real error.
    this.pool.on('error', () => undefined);
  }

  async init(): Promise<void> {
    await this.inTransaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
      await client.query(SCHEMA);
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
        await client.query(`
          ALTER TABLE participant_data_batches ADD COLUMN chain_id text NOT NULL DEFAULT '';
          ALTER TABLE participant_data_batches ${dropKey} ADD PRIMARY KEY (conversation_id, chain_id, batch_seq);
        `);
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
        await client.query(`ALTER TABLE participant_data ADD COLUMN IF NOT EXISTS secured boolean NOT NULL DEFAULT false`);
      }
    });
  }

  async writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }> {
    // The timestamp comes from the application, not now(), so both stores store the
    // same millisecond-precision instant that round-trips exactly through ISO strings.
    const now = new Date().toISOString();
    // Sorted so concurrent batches touching the same attributes lock rows in the same
    // order and cannot deadlock each other.
    const entries = Object.entries(batch.attributes).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const secured = new Set(batch.secured ?? []);
    const applied = await this.inTransaction(async (client) => {
      // A concurrent transaction inserting the same key blocks here until the other
      // commits (then we get rowCount 0) or rolls back (then we win).
      const claim = await client.query(
        `INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [batch.conversationId, batch.chainId ?? '', batch.batchSeq, entries.length, now],
      );
      if (claim.rowCount === 0) return false;
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
      return true;
    });
    return { applied };
  }

  async getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined> {
    const { rows } = await this.pool.query<AttributeRow>(
      `${SELECT_ATTRIBUTES} WHERE conversation_id = $1 AND name = $2`,
      [conversationId, name],
    );
    return rows[0] && toAttribute(rows[0]);
  }

  async listAttributes(conversationId: string): Promise<StoredAttribute[]> {
    const { rows } = await this.pool.query<AttributeRow>(
      `${SELECT_ATTRIBUTES} WHERE conversation_id = $1 ORDER BY name COLLATE "C"`,
      [conversationId],
    );
    return rows.map(toAttribute);
  }

  async listBatches(conversationId: string): Promise<StoredBatch[]> {
    const { rows } = await this.pool.query<BatchRow>(
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

  async close(): Promise<void> {
    // pg throws if end() is called twice.
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      // If even ROLLBACK fails the connection is unusable: destroy it rather than
      // return it to the pool mid-transaction.
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        broken = rollbackErr;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
