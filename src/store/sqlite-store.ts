import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type {
  AttributeBatch,
  ParticipantDataStore,
  StoredAttribute,
  StoredBatch,
} from './participant-data-store';

// How long a connection waits for another process's write lock before failing with
// SQLITE_BUSY. The worker and the API process share one file; writes are short.
const BUSY_TIMEOUT_MS = 5000;
const MIGRATION_BUSY_TIMEOUT_MS = 120_000;

// Names use BINARY collation (SQLite's default, spelled out so nobody "fixes" it to
// NOCASE): `Foo` and `foo` are two attributes and ORDER BY name is byte order, which
// matches the PostgreSQL store's COLLATE "C".
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS participant_data_batches (
    conversation_id TEXT NOT NULL,
    chain_id TEXT NOT NULL DEFAULT '',
    batch_seq INTEGER NOT NULL,
    attribute_count INTEGER NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, chain_id, batch_seq)
  );
  CREATE TABLE IF NOT EXISTS participant_data (
    conversation_id TEXT NOT NULL,
    name TEXT COLLATE BINARY NOT NULL,
    value TEXT NOT NULL,
    batch_seq INTEGER NOT NULL,
    version INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    secured INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, name)
  );
`;

interface AttributeRow {
  name: string;
  value: string;
  batch_seq: number;
  version: number;
  updated_at: string;
  /** 0 or 1: SQLite has no boolean type. */
  secured: number;
}

interface BatchRow {
  chain_id: string;
  batch_seq: number;
  attribute_count: number;
  written_at: string;
}

const toAttribute = (r: AttributeRow): StoredAttribute => ({
  name: r.name,
  value: r.value,
  batchSeq: r.batch_seq,
  version: r.version,
  updatedAt: r.updated_at,
  secured: r.secured !== 0,
});

const SELECT_ATTRIBUTES = `SELECT name, value, batch_seq, version, updated_at, secured FROM participant_data`;

/**
 * better-sqlite3 is synchronous; the async methods exist to satisfy the shared
 * interface and so that errors surface as rejections rather than throws.
 */
export class SqliteParticipantDataStore implements ParticipantDataStore {
  private readonly db: Database.Database;

  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, { timeout: BUSY_TIMEOUT_MS });
    // busy_timeout first: switching to WAL needs a lock another process may hold.
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // WAL lets the API process read while the worker process writes.
    this.db.pragma('journal_mode = WAL');
  }

  async init(): Promise<void> {
    this.db.exec(SCHEMA);
    this.addChainToBatchKey();
    this.addSecuredColumn();
  }

  /** Whether `table` has `column` (as this connection sees the schema now). */
  private hasColumn(table: string, column: string): boolean {
    return (this.db.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).some(
      (c) => c.name === column,
    );
  }

  /**
   * Runs `migrate` once across every process opening the file: checked first without a lock (the
   * usual case, nothing to do), then again under the write lock, since another process starting at
   * the same moment may have migrated meanwhile. A process arriving during a long migration waits for
   * it rather than failing.
   */
  private migrateOnce(done: () => boolean, migrate: () => void): void {
    if (done()) return;
    this.db.pragma(`busy_timeout = ${MIGRATION_BUSY_TIMEOUT_MS}`);
    try {
      this.db
        .transaction(() => {
          if (!done()) migrate();
        })
        .immediate();
    } finally {
      this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    }
  }

  /**
   * Files written before batches carried their run chain key them on (conversation_id, batch_seq).
   * SQLite cannot change a primary key in place, so the table is rebuilt, once, under the write lock
   * (the API and worker processes may both be starting).
   */
  private addChainToBatchKey(): void {
    this.migrateOnce(
      () => this.hasColumn('participant_data_batches', 'chain_id'),
      () =>
        this.db.exec(`
          ALTER TABLE participant_data_batches RENAME TO participant_data_batches_unchained;
          ${SCHEMA}
          INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at)
            SELECT conversation_id, '', batch_seq, attribute_count, written_at FROM participant_data_batches_unchained;
          DROP TABLE participant_data_batches_unchained;
        `),
    );
  }

  /**
   * Files written before attributes could be secured lack the flag: add the column (existing rows
   * are plain, secured = 0). SQLite adds a column with a constant default without rewriting rows.
   */
  private addSecuredColumn(): void {
    this.migrateOnce(
      () => this.hasColumn('participant_data', 'secured'),
      () => this.db.exec(`ALTER TABLE participant_data ADD COLUMN secured INTEGER NOT NULL DEFAULT 0`),
    );
  }

  async writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }> {
    const now = new Date().toISOString();
    const entries = Object.entries(batch.attributes);
    const secured = new Set(batch.secured ?? []);
    const claimBatch = this.db.prepare(
      `INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at)
       VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const upsert = this.db.prepare(
      `INSERT INTO participant_data (conversation_id, name, value, batch_seq, version, updated_at, secured)
       VALUES (?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (conversation_id, name) DO UPDATE SET
         value = excluded.value,
         secured = excluded.secured,
         batch_seq = excluded.batch_seq,
         version = participant_data.version + 1,
         updated_at = excluded.updated_at`,
    );
    const write = this.db.transaction((): boolean => {
      // Claiming the batch row is the idempotency check; under BEGIN IMMEDIATE no
      // other process can claim it between our check and our writes.
      if (claimBatch.run(batch.conversationId, batch.chainId ?? '', batch.batchSeq, entries.length, now).changes === 0) {
        return false;
      }
      for (const [name, value] of entries) {
        upsert.run(batch.conversationId, name, value, batch.batchSeq, now, secured.has(name) ? 1 : 0);
      }
      return true;
    });
    // .immediate() takes the write lock at BEGIN, so two processes cannot both read
    // "not yet written" and then deadlock upgrading their read locks.
    return { applied: write.immediate() };
  }

  async getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined> {
    const row = this.db
      .prepare(
        `${SELECT_ATTRIBUTES} WHERE conversation_id = ? AND name = ?`,
      )
      .get(conversationId, name) as AttributeRow | undefined;
    return row && toAttribute(row);
  }

  async listAttributes(conversationId: string): Promise<StoredAttribute[]> {
    const rows = this.db
      .prepare(
        `${SELECT_ATTRIBUTES} WHERE conversation_id = ? ORDER BY name`,
      )
      .all(conversationId) as AttributeRow[];
    return rows.map(toAttribute);
  }

  async listBatches(conversationId: string): Promise<StoredBatch[]> {
    const rows = this.db
      .prepare(
        `SELECT chain_id, batch_seq, attribute_count, written_at FROM participant_data_batches
         WHERE conversation_id = ? ORDER BY min(written_at) OVER (PARTITION BY chain_id), chain_id, batch_seq`,
      )
      .all(conversationId) as BatchRow[];
    return rows.map((r) => ({ chainId: r.chain_id, batchSeq: r.batch_seq, attributeCount: r.attribute_count, writtenAt: r.written_at }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
