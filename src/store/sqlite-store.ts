import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import {
  BatchConflictError,
  batchDigest,
  DEFAULT_STORE_TIMEOUT_MS,
  StoreTimeoutError,
  type AttributeBatch,
  type ParticipantDataStore,
  type StoredAttribute,
  type StoredBatch,
  type StoredMessage,
} from './participant-data-store';
import { traceBatchWrite } from './batch-write-span';

// better-sqlite3 is synchronous, and SQLite's own busy handler waits for another connection's lock
// by sleeping the calling thread: with a busy timeout of seconds, one flush waiting for the API
// process (or a second worker) would freeze the worker's event loop, and with it the flush's
// heartbeats, past the 3 s heartbeat timeout. So SQLite never waits here (busy_timeout 0): a call
// that finds the file locked fails at once with SQLITE_BUSY and is tried again from a JS timer, with
// back-off, until its deadline (STORE_TIMEOUT; MIGRATION_TIMEOUT_MS for init). The event loop runs
// between tries; only the statements themselves (milliseconds) hold it.
const MIGRATION_TIMEOUT_MS = 120_000;
/** Pauses between tries of a call that found the file locked: 2, 4, 8 … capped at 50 ms, jittered. */
const RETRY_FIRST_MS = 2;
const RETRY_MAX_MS = 50;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, SQLITE_BUSY_RECOVERY, …): another connection holds a lock. */
function isBusy(err: unknown): err is Error & { code: string } {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

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
    content_digest TEXT,
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

// The transcript of digital conversations (inbound messages already masked, Parley's notifications).
// Its own statement: the batch table's rebuild above must not recreate it.
const MESSAGES_SCHEMA = `
  CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL,
    event_id TEXT COLLATE BINARY NOT NULL,
    channel TEXT NOT NULL,
    direction TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    text TEXT NOT NULL,
    subject TEXT,
    attachment_count INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, event_id)
  );
`;

interface MessageRow {
  event_id: string;
  channel: StoredMessage['channel'];
  direction: StoredMessage['direction'];
  occurred_at: string;
  text: string;
  subject: string | null;
  attachment_count: number;
}

const toMessage = (r: MessageRow): StoredMessage => ({
  eventId: r.event_id,
  channel: r.channel,
  direction: r.direction,
  occurredAt: r.occurred_at,
  text: r.text,
  ...(r.subject === null ? {} : { subject: r.subject }),
  attachmentCount: Number(r.attachment_count),
});

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
 * better-sqlite3 is synchronous: each statement runs on the calling thread, but no call waits for a
 * lock there (see RETRY_FIRST_MS above); errors surface as rejections.
 */
export class SqliteParticipantDataStore implements ParticipantDataStore {
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    readonly path: string,
    /** STORE_TIMEOUT: how long a call waits for another connection's lock before StoreTimeoutError. */
    readonly timeoutMs: number = DEFAULT_STORE_TIMEOUT_MS,
  ) {
    mkdirSync(dirname(path), { recursive: true });
    // timeout 0: SQLite never sleeps on a lock; this store waits in JS instead (whenNotBusy).
    this.db = new Database(path, { timeout: 0 });
    this.db.pragma('busy_timeout = 0');
  }

  async init(): Promise<void> {
    // WAL lets the API process read while the worker process writes. Switching to it needs a lock
    // another process may hold.
    await this.whenNotBusy('init', MIGRATION_TIMEOUT_MS, () => this.db.pragma('journal_mode = WAL'));
    await this.whenNotBusy('init', MIGRATION_TIMEOUT_MS, () => this.db.exec(SCHEMA));
    await this.addChainToBatchKey();
    await this.addSecuredColumn();
    await this.addContentDigest();
    // A file from before digital channels gets the table here (IF NOT EXISTS: once).
    await this.whenNotBusy('init', MIGRATION_TIMEOUT_MS, () => this.db.exec(MESSAGES_SCHEMA));
  }

  /**
   * Runs `work` (synchronous, atomic: one statement or one transaction), trying again while another
   * connection holds the lock it needs, from a timer so the event loop keeps running, until
   * `timeoutMs` has passed: then StoreTimeoutError. Any other error is thrown as it is.
   */
  private async whenNotBusy<T>(operation: string, timeoutMs: number, work: () => T): Promise<T> {
    const deadline = performance.now() + timeoutMs;
    for (let pause = RETRY_FIRST_MS; ; pause = Math.min(pause * 2, RETRY_MAX_MS)) {
      try {
        return work();
      } catch (err) {
        if (!isBusy(err)) throw err;
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new StoreTimeoutError(operation, timeoutMs, `the SQLite file stayed locked by another connection (${err.code}: ${err.message})`, { cause: err });
        }
        await sleep(Math.min(left, pause * (0.5 + Math.random())));
      }
    }
  }

  /**
   * The connection's prepared statement for `sql`, prepared on first use: preparing parses and plans
   * the SQL, which every batch, read and message append would otherwise pay again. SQLite re-prepares
   * a kept statement by itself when another process changes the schema.
   */
  private statement(sql: string): Database.Statement {
    let prepared = this.statements.get(sql);
    if (!prepared) {
      prepared = this.db.prepare(sql);
      this.statements.set(sql, prepared);
    }
    return prepared;
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
   * it (up to MIGRATION_TIMEOUT_MS) rather than failing.
   */
  private async migrateOnce(done: () => boolean, migrate: () => void): Promise<void> {
    if (await this.whenNotBusy('init', MIGRATION_TIMEOUT_MS, done)) return;
    const once = this.db.transaction(() => {
      if (!done()) migrate();
    });
    await this.whenNotBusy('init', MIGRATION_TIMEOUT_MS, () => once.immediate());
  }

  /**
   * Files written before batches carried their run chain key them on (conversation_id, batch_seq).
   * SQLite cannot change a primary key in place, so the table is rebuilt, once, under the write lock
   * (the API and worker processes may both be starting).
   */
  private addChainToBatchKey(): Promise<void> {
    return this.migrateOnce(
      () => this.hasColumn('participant_data_batches', 'chain_id'),
      () =>
        this.db.exec(`
          ALTER TABLE participant_data_batches RENAME TO participant_data_batches_unchained;
          ${SCHEMA}
          INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at, content_digest)
            SELECT conversation_id, '', batch_seq, attribute_count, written_at, NULL FROM participant_data_batches_unchained;
          DROP TABLE participant_data_batches_unchained;
        `),
    );
  }

  /**
   * Files written before attributes could be secured lack the flag: add the column (existing rows
   * are plain, secured = 0). SQLite adds a column with a constant default without rewriting rows.
   */
  private addSecuredColumn(): Promise<void> {
    return this.migrateOnce(
      () => this.hasColumn('participant_data', 'secured'),
      () => this.db.exec(`ALTER TABLE participant_data ADD COLUMN secured INTEGER NOT NULL DEFAULT 0`),
    );
  }

  /**
   * Files written before batches recorded a digest of their content lack the column: add it, NULL for
   * the batches already there, which therefore match any re-send of their key (nothing to compare
   * with), as before. SQLite adds a nullable column without rewriting rows.
   */
  private addContentDigest(): Promise<void> {
    return this.migrateOnce(
      () => this.hasColumn('participant_data_batches', 'content_digest'),
      () => this.db.exec(`ALTER TABLE participant_data_batches ADD COLUMN content_digest TEXT`),
    );
  }

  writeBatch(batch: AttributeBatch): Promise<{ applied: boolean }> {
    return traceBatchWrite('sqlite', batch, () => this.writeBatchOnce(batch));
  }

  private async writeBatchOnce(batch: AttributeBatch): Promise<{ applied: boolean }> {
    const now = new Date().toISOString();
    const entries = Object.entries(batch.attributes);
    const secured = new Set(batch.secured ?? []);
    const chainId = batch.chainId ?? '';
    const digest = batchDigest(batch);
    const claimBatch = this.statement(
      `INSERT INTO participant_data_batches (conversation_id, chain_id, batch_seq, attribute_count, written_at, content_digest)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const storedDigest = this.statement(
      `SELECT content_digest FROM participant_data_batches WHERE conversation_id = ? AND chain_id = ? AND batch_seq = ?`,
    );
    const upsert = this.statement(
      `INSERT INTO participant_data (conversation_id, name, value, batch_seq, version, updated_at, secured)
       VALUES (?, ?, ?, ?, 1, ?, ?)
       ON CONFLICT (conversation_id, name) DO UPDATE SET
         value = excluded.value,
         secured = excluded.secured,
         batch_seq = excluded.batch_seq,
         version = participant_data.version + 1,
         updated_at = excluded.updated_at`,
    );
    const write = this.db.transaction((): 'applied' | 'duplicate' | 'conflict' => {
      // Claiming the batch row is the idempotency check; under BEGIN IMMEDIATE no
      // other process can claim it between our check and our writes.
      if (claimBatch.run(batch.conversationId, chainId, batch.batchSeq, entries.length, now, digest).changes === 0) {
        const row = storedDigest.get(batch.conversationId, chainId, batch.batchSeq) as { content_digest: string | null };
        // NULL: stored before digests were recorded, nothing to compare with: taken as the same batch.
        return row.content_digest === null || row.content_digest === digest ? 'duplicate' : 'conflict';
      }
      for (const [name, value] of entries) {
        upsert.run(batch.conversationId, name, value, batch.batchSeq, now, secured.has(name) ? 1 : 0);
      }
      return 'applied';
    });
    // .immediate() takes the write lock at BEGIN, so two processes cannot both read
    // "not yet written" and then deadlock upgrading their read locks.
    const outcome = await this.whenNotBusy('writeBatch', this.timeoutMs, () => write.immediate());
    if (outcome === 'conflict') throw new BatchConflictError(batch);
    return { applied: outcome === 'applied' };
  }

  async getAttribute(conversationId: string, name: string): Promise<StoredAttribute | undefined> {
    const row = await this.whenNotBusy('getAttribute', this.timeoutMs, () =>
      this.statement(`${SELECT_ATTRIBUTES} WHERE conversation_id = ? AND name = ?`).get(conversationId, name) as AttributeRow | undefined,
    );
    return row && toAttribute(row);
  }

  async listAttributes(conversationId: string): Promise<StoredAttribute[]> {
    const rows = await this.whenNotBusy('listAttributes', this.timeoutMs, () =>
      this.statement(`${SELECT_ATTRIBUTES} WHERE conversation_id = ? ORDER BY name`).all(conversationId) as AttributeRow[],
    );
    return rows.map(toAttribute);
  }

  async listBatches(conversationId: string): Promise<StoredBatch[]> {
    const rows = await this.whenNotBusy('listBatches', this.timeoutMs, () =>
      this
        .statement(
          `SELECT chain_id, batch_seq, attribute_count, written_at FROM participant_data_batches
           WHERE conversation_id = ? ORDER BY min(written_at) OVER (PARTITION BY chain_id), chain_id, batch_seq`,
        )
        .all(conversationId) as BatchRow[],
    );
    return rows.map((r) => ({ chainId: r.chain_id, batchSeq: r.batch_seq, attributeCount: r.attribute_count, writtenAt: r.written_at }));
  }

  async appendMessages(conversationId: string, messages: StoredMessage[]): Promise<void> {
    const insert = this.statement(
      `INSERT INTO messages (conversation_id, event_id, channel, direction, occurred_at, text, subject, attachment_count)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (conversation_id, event_id) DO NOTHING`,
    );
    const write = this.db.transaction(() => {
      for (const m of messages) insert.run(conversationId, m.eventId, m.channel, m.direction, m.occurredAt, m.text, m.subject ?? null, m.attachmentCount);
    });
    await this.whenNotBusy('appendMessages', this.timeoutMs, () => write.immediate());
  }

  async listMessages(conversationId: string): Promise<StoredMessage[]> {
    const rows = await this.whenNotBusy('listMessages', this.timeoutMs, () =>
      this
        .statement(
          `SELECT event_id, channel, direction, occurred_at, text, subject, attachment_count FROM messages
           WHERE conversation_id = ? ORDER BY occurred_at, rowid`,
        )
        .all(conversationId) as MessageRow[],
    );
    return rows.map(toMessage);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
