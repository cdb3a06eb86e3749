/**
 * One behavioural suite, run against both real stores: SQLite on a temp file and
 * PostgreSQL on a throwaway server started by startPostgres().
 */
import type { StoredMessage } from '../../src/store';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import {
  BatchConflictError,
  createParticipantDataStore,
  PostgresParticipantDataStore,
  SqliteParticipantDataStore,
  type AttributeBatch,
  type ParticipantDataStore,
} from '../../src/store';
import { startPostgres, type ThrowawayPostgres } from '../../rigs/postgres';
import { sleep, waitFor } from '../../rigs/wait';

/** Where a store lives; a fresh target is an empty database. */
type StoreOptions = Parameters<typeof createParticipantDataStore>[0];

interface Backend {
  name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  freshTarget(): Promise<StoreOptions>;
}

const sqliteBackend = (): Backend => {
  let dir = '';
  let n = 0;
  return {
    name: 'SQLite',
    async setUp() {
      dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    },
    async tearDown() {
      rmSync(dir, { recursive: true, force: true });
    },
    // A subdirectory that does not exist yet: the store must create it.
    async freshTarget() {
      return { sqlitePath: join(dir, `db-${++n}`, 'participant-data.sqlite') };
    },
  };
};

const postgresBackend = (): Backend => {
  let server: ThrowawayPostgres | undefined;
  let n = 0;
  return {
    name: 'PostgreSQL',
    async setUp() {
      server = await startPostgres();
    },
    async tearDown() {
      await server?.stop();
    },
    async freshTarget() {
      if (!server) throw new Error('postgres not started');
      const db = `t${++n}`;
      const admin = new Client({ connectionString: server.url });
      await admin.connect();
      try {
        // An ICU en-US database, like a typical production one, so the ordering tests
        // prove the store sorts bytewise rather than by the database's collation.
        await admin.query(`CREATE DATABASE ${db} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
      } finally {
        await admin.end();
      }
      const url = new URL(server.url);
      url.pathname = `/${db}`;
      return { databaseUrl: url.toString(), sqlitePath: '/nonexistent/must-not-be-used.sqlite' };
    },
  };
};


/** The batches table as it was before batches carried their run chain, holding one old batch. */
async function createUnchainedSchema(backend: string, target: StoreOptions, conversationId: string, batchSeq: number, keyName?: string): Promise<void> {
  const statements = [
    `CREATE TABLE participant_data_batches (conversation_id text NOT NULL, batch_seq integer NOT NULL,
       attribute_count integer NOT NULL, written_at ${backend === 'SQLite' ? 'text' : 'timestamptz'} NOT NULL,
       ${keyName ? `CONSTRAINT ${keyName} ` : ''}PRIMARY KEY (conversation_id, batch_seq))`,
    `INSERT INTO participant_data_batches VALUES ('${conversationId}', ${batchSeq}, 1, '2026-11-01T00:00:00.000Z')`,
  ];
  if (backend === 'SQLite') {
    mkdirSync(dirname(target.sqlitePath), { recursive: true });
    const db = new Database(target.sqlitePath);
    for (const sql of statements) db.exec(sql);
    db.close();
  } else {
    const client = new Client({ connectionString: target.databaseUrl });
    await client.connect();
    for (const sql of statements) await client.query(sql);
    await client.end();
  }
}

/**
 * The schema as it was before values could be secured: the attributes table without a `secured`
 * column, holding two plain attributes of `conversationId` written by batch 1, and (unless
 * `batches` is false, for a test that makes an older batches table itself) the batches table keyed
 * by run chain.
 */
async function createUnsecuredSchema(backend: string, target: StoreOptions, conversationId: string, { batches = true } = {}): Promise<void> {
  const sqlite = backend === 'SQLite';
  const statements = [
    ...(batches
      ? [
          `CREATE TABLE participant_data_batches (conversation_id text NOT NULL, chain_id text NOT NULL DEFAULT '',
             batch_seq integer NOT NULL, attribute_count integer NOT NULL, written_at ${sqlite ? 'text' : 'timestamptz'} NOT NULL,
             PRIMARY KEY (conversation_id, chain_id, batch_seq))`,
        ]
      : []),
    `CREATE TABLE participant_data (conversation_id text NOT NULL, name text ${sqlite ? 'COLLATE BINARY ' : ''}NOT NULL,
       value text NOT NULL, batch_seq integer NOT NULL, version integer NOT NULL,
       updated_at ${sqlite ? 'text' : 'timestamptz'} NOT NULL, PRIMARY KEY (conversation_id, name))`,
    `INSERT INTO participant_data VALUES
       ('${conversationId}', 'lang', 'en', 1, 1, '2026-11-01T00:00:00.000Z'),
       ('${conversationId}', 'tier', 'gold', 1, 1, '2026-11-01T00:00:00.000Z')`,
  ];
  if (sqlite) {
    mkdirSync(dirname(target.sqlitePath), { recursive: true });
    const db = new Database(target.sqlitePath);
    for (const sql of statements) db.exec(sql);
    db.close();
  } else {
    const client = new Client({ connectionString: target.databaseUrl });
    await client.connect();
    for (const sql of statements) await client.query(sql);
    await client.end();
  }
}

/**
 * The schema as it was before batches recorded a digest of their content: batch 1 of run-a holding
 * the two attributes createUnsecuredSchema writes (secured flag included).
 */
async function createUndigestedSchema(backend: string, target: StoreOptions, conversationId: string): Promise<void> {
  const sqlite = backend === 'SQLite';
  const statements = [
    `CREATE TABLE participant_data_batches (conversation_id text NOT NULL, chain_id text NOT NULL DEFAULT '',
       batch_seq integer NOT NULL, attribute_count integer NOT NULL, written_at ${sqlite ? 'text' : 'timestamptz'} NOT NULL,
       PRIMARY KEY (conversation_id, chain_id, batch_seq))`,
    `INSERT INTO participant_data_batches VALUES ('${conversationId}', 'run-a', 1, 2, '2026-11-01T00:00:00.000Z')`,
    `CREATE TABLE participant_data (conversation_id text NOT NULL, name text ${sqlite ? 'COLLATE BINARY ' : ''}NOT NULL,
       value text NOT NULL, batch_seq integer NOT NULL, version integer NOT NULL,
       updated_at ${sqlite ? 'text' : 'timestamptz'} NOT NULL, secured ${sqlite ? 'integer NOT NULL DEFAULT 0' : 'boolean NOT NULL DEFAULT false'},
       PRIMARY KEY (conversation_id, name))`,
    `INSERT INTO participant_data VALUES
       ('${conversationId}', 'lang', 'en', 1, 1, '2026-11-01T00:00:00.000Z', ${sqlite ? 0 : 'false'}),
       ('${conversationId}', 'tier', 'gold', 1, 1, '2026-11-01T00:00:00.000Z', ${sqlite ? 0 : 'false'})`,
  ];
  if (sqlite) {
    mkdirSync(dirname(target.sqlitePath), { recursive: true });
    const db = new Database(target.sqlitePath);
    for (const sql of statements) db.exec(sql);
    db.close();
  } else {
    const client = new Client({ connectionString: target.databaseUrl });
    await client.connect();
    for (const sql of statements) await client.query(sql);
    await client.end();
  }
}

/** The two rows createUnsecuredSchema wrote, as a migrated store must return them. */
const legacyAttributes = [
  { name: 'lang', value: 'en', batchSeq: 1, version: 1, updatedAt: '2026-11-01T00:00:00.000Z', secured: false },
  { name: 'tier', value: 'gold', batchSeq: 1, version: 1, updatedAt: '2026-11-01T00:00:00.000Z', secured: false },
];

describe.each([sqliteBackend(), postgresBackend()])('$name participant data store', (backend) => {
  let target: StoreOptions;
  const opened: ParticipantDataStore[] = [];

  /** Opens (and inits) a new store instance on the current test's database. */
  const open = async (): Promise<ParticipantDataStore> => {
    const store = createParticipantDataStore(target);
    opened.push(store);
    await store.init();
    return store;
  };

  beforeAll(() => backend.setUp());
  afterAll(() => backend.tearDown());
  beforeEach(async () => {
    target = await backend.freshTarget();
  });
  // Unclosed pools would keep the PostgreSQL server's smart shutdown waiting.
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('opens the right implementation', async () => {
    const store = await open();
    expect(store).toBeInstanceOf(
      backend.name === 'SQLite' ? SqliteParticipantDataStore : PostgresParticipantDataStore,
    );
  });

  it('survives many concurrent init() calls on an empty database', async () => {
    // Separate instances so, for PostgreSQL, each CREATE TABLE runs on its own connection.
    const stores = Array.from({ length: 8 }, () => createParticipantDataStore(target));
    opened.push(...stores);
    await Promise.all(stores.map((s) => s.init()));
    expect(await stores[7].writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1' } })).toEqual({
      applied: true,
    });
  });

  it('writes a batch and reads it back', async () => {
    const store = await open();
    const before = Date.now();
    expect(await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { b: '2', a: '1', c: '3' } })).toEqual({
      applied: true,
    });

    const a = await store.getAttribute('c1', 'a');
    expect(a).toEqual({ name: 'a', value: '1', batchSeq: 1, version: 1, updatedAt: expect.any(String), secured: false });
    expect(Date.parse(a!.updatedAt)).toBeGreaterThanOrEqual(before - 1);
    expect(new Date(a!.updatedAt).toISOString()).toBe(a!.updatedAt);

    const all = await store.listAttributes('c1');
    expect(all.map((x) => [x.name, x.value, x.version, x.batchSeq])).toEqual([
      ['a', '1', 1, 1],
      ['b', '2', 1, 1],
      ['c', '3', 1, 1],
    ]);
    const batches = await store.listBatches('c1');
    expect(batches).toEqual([{ chainId: '', batchSeq: 1, attributeCount: 3, writtenAt: a!.updatedAt }]);
  });

  it('lets the last batch win and increments version per batch', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { lang: 'en', tier: 'gold' } });
    await sleep(5);
    await store.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { lang: 'fr' } });
    await sleep(5);
    await store.writeBatch({ conversationId: 'c1', batchSeq: 3, attributes: { lang: 'de', intent: 'billing' } });

    const lang = await store.getAttribute('c1', 'lang');
    const tier = await store.getAttribute('c1', 'tier');
    const intent = await store.getAttribute('c1', 'intent');
    expect(lang).toMatchObject({ value: 'de', batchSeq: 3, version: 3 });
    expect(tier).toMatchObject({ value: 'gold', batchSeq: 1, version: 1 });
    expect(intent).toMatchObject({ value: 'billing', batchSeq: 3, version: 1 });
    expect(Date.parse(lang!.updatedAt)).toBeGreaterThan(Date.parse(tier!.updatedAt));
    expect((await store.listBatches('c1')).map((b) => [b.batchSeq, b.attributeCount])).toEqual([
      [1, 2],
      [2, 1],
      [3, 2],
    ]);
  });

  it('applies a re-delivered batch only once and changes nothing', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1', b: '2' } });
    const attributesBefore = await store.listAttributes('c1');
    const batchesBefore = await store.listBatches('c1');
    await sleep(5); // so a wrongly applied rewrite would show a new timestamp

    // The same key with the same content (in any order): a retry, skipped.
    expect(await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1', b: '2' } })).toEqual({
      applied: false,
    });
    expect(await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { b: '2', a: '1' }, secured: [] })).toEqual({
      applied: false,
    });

    expect(await store.listAttributes('c1')).toEqual(attributesBefore);
    expect(await store.listBatches('c1')).toEqual(batchesBefore);
    expect(batchesBefore).toHaveLength(1);
  });

  it('refuses a batch key re-sent with other content, naming the batch but no value, and changes nothing', async () => {
    const store = await open();
    const key = { conversationId: 'c1', chainId: 'run-a', batchSeq: 3 };
    await store.writeBatch({ ...key, attributes: { a: 'CANARY-a', b: 'CANARY-b' }, secured: ['b'] });
    const attributesBefore = await store.listAttributes('c1');
    const batchesBefore = await store.listBatches('c1');
    await sleep(5);

    // Same content, other order, a secured name that is not in the batch: still the same batch.
    expect(await store.writeBatch({ ...key, attributes: { b: 'CANARY-b', a: 'CANARY-a' }, secured: ['ghost', 'b'] })).toEqual({
      applied: false,
    });
    const others: Array<Pick<AttributeBatch, 'attributes' | 'secured'>> = [
      { attributes: { a: 'CANARY-other', b: 'CANARY-b' }, secured: ['b'] }, // another value
      { attributes: { a: 'CANARY-a', b: 'CANARY-b', z: 'CANARY-z' }, secured: ['b'] }, // one more name
      { attributes: { a: 'CANARY-a' }, secured: [] }, // one name fewer
      { attributes: { a: 'CANARY-a', b: 'CANARY-b' } }, // b no longer secured
      { attributes: { a: 'CANARY-a', b: 'CANARY-b' }, secured: ['a', 'b'] }, // a secured too
    ];
    for (const other of others) {
      const err: unknown = await store.writeBatch({ ...key, ...other }).then(
        (result) => result,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(BatchConflictError);
      expect(err).toMatchObject({ name: 'BatchConflictError', ...key });
      expect((err as Error).message).toContain('c1');
      expect((err as Error).message).toContain('run-a');
      expect((err as Error).message).not.toMatch(/CANARY/);
    }

    expect(await store.listAttributes('c1')).toEqual(attributesBefore);
    expect(await store.listBatches('c1')).toEqual(batchesBefore);
    // The same number in another chain, or another number, is another batch.
    expect(await store.writeBatch({ ...key, chainId: 'run-b', attributes: { a: 'x' } })).toEqual({ applied: true });
    expect(await store.writeBatch({ ...key, batchSeq: 4, attributes: { a: 'y' } })).toEqual({ applied: true });
  });

  it('detects the conflict when the same key races with two contents from several store instances', async () => {
    const stores = await Promise.all([open(), open(), open()]);
    const key = { conversationId: 'c1', chainId: 'run-a', batchSeq: 1 };
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => stores[i % 3].writeBatch({ ...key, attributes: { a: i % 2 ? 'odd' : 'even' } })),
    );
    const applied = results.filter((r) => r.status === 'fulfilled' && r.value.applied);
    const skipped = results.filter((r) => r.status === 'fulfilled' && !r.value.applied);
    const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof BatchConflictError);
    expect([applied.length, skipped.length + conflicts.length + applied.length]).toEqual([1, 12]);
    // The six writers with the winner's content are retries; the six with the other content conflict.
    expect([skipped.length, conflicts.length]).toEqual([5, 6]);
    const winner = (await stores[0].getAttribute('c1', 'a'))?.value;
    expect(['odd', 'even']).toContain(winner);
  });

  it('treats a batch stored before digests were recorded as matching any re-send, and records digests from then on', async () => {
    await createUndigestedSchema(backend.name, target, 'c1');
    const store = await open();
    // Nothing to compare with: a re-sent key is skipped, as before.
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 1, attributes: { lang: 'anything' } })).toEqual({
      applied: false,
    });
    expect(await store.listAttributes('c1')).toEqual(legacyAttributes);
    // New batches carry their digest.
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 2, attributes: { lang: 'fr' } })).toEqual({ applied: true });
    await expect(store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 2, attributes: { lang: 'de' } })).rejects.toBeInstanceOf(
      BatchConflictError,
    );
    // Opening the migrated store again changes nothing.
    const again = await open();
    expect(await again.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 2, attributes: { lang: 'fr' } })).toEqual({ applied: false });
    expect((await again.listBatches('c1')).map((b) => [b.chainId, b.batchSeq])).toEqual([
      ['run-a', 1],
      ['run-a', 2],
    ]);
  });

  it('records which values are secured ciphertext and reads the flag back', async () => {
    const store = await open();
    const ciphertext = Buffer.from('not really KMS output, but base64 all the same').toString('base64');
    expect(
      await store.writeBatch({
        conversationId: 'c1',
        batchSeq: 1,
        attributes: { card: ciphertext, lang: 'en', ssn: 'AQIDBA==' },
        // `ghost` is not in the batch: ignored, nothing written for it.
        secured: ['ssn', 'card', 'ghost'],
      }),
    ).toEqual({ applied: true });
    expect(await store.getAttribute('c1', 'card')).toEqual({
      name: 'card',
      value: ciphertext,
      batchSeq: 1,
      version: 1,
      updatedAt: expect.any(String),
      secured: true,
    });
    expect(await store.getAttribute('c1', 'ghost')).toBeUndefined();
    expect((await store.listAttributes('c1')).map((x) => [x.name, x.value, x.secured])).toEqual([
      ['card', ciphertext, true],
      ['lang', 'en', false],
      ['ssn', 'AQIDBA==', true],
    ]);
    expect((await store.listBatches('c1')).map((b) => b.attributeCount)).toEqual([3]);
    // An empty list is the same as none.
    await store.writeBatch({ conversationId: 'c2', batchSeq: 1, attributes: { a: '1' }, secured: [] });
    expect(await store.getAttribute('c2', 'a')).toMatchObject({ secured: false });
  });

  it('lets the last write set the secured flag too: plain after secured and back', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { pin: 'c2VjcmV0', other: 'x' }, secured: ['pin'] });
    await store.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { pin: '1234' } });
    expect(await store.getAttribute('c1', 'pin')).toMatchObject({ value: '1234', secured: false, version: 2, batchSeq: 2 });
    await store.writeBatch({ conversationId: 'c1', batchSeq: 3, attributes: { pin: 'bmV3', other: 'y' }, secured: ['pin'] });
    expect(await store.getAttribute('c1', 'pin')).toMatchObject({ value: 'bmV3', secured: true, version: 3, batchSeq: 3 });
    // A batch that does not write an attribute leaves its flag alone.
    await store.writeBatch({ conversationId: 'c1', batchSeq: 4, attributes: { other: 'z' } });
    expect((await store.listAttributes('c1')).map((x) => [x.name, x.value, x.secured, x.version])).toEqual([
      ['other', 'z', false, 3],
      ['pin', 'bmV3', true, 3],
    ]);
    // The same name in another conversation is its own attribute.
    await store.writeBatch({ conversationId: 'c2', batchSeq: 1, attributes: { pin: 'plain' } });
    expect(await store.getAttribute('c1', 'pin')).toMatchObject({ secured: true });
    expect(await store.getAttribute('c2', 'pin')).toMatchObject({ secured: false });
  });

  it('changes no secured flag when a batch is re-delivered, and refuses a re-send that says otherwise', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'QUJD', b: 'plain' }, secured: ['a'] });
    const before = await store.listAttributes('c1');
    await sleep(5);
    expect(await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'QUJD', b: 'plain' }, secured: ['a'] })).toEqual({
      applied: false,
    });
    await expect(store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'QUJD', b: 'plain' }, secured: ['b'] })).rejects.toBeInstanceOf(
      BatchConflictError,
    );
    await expect(store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'QUJD', b: 'plain' } })).rejects.toBeInstanceOf(
      BatchConflictError,
    );
    expect(await store.listAttributes('c1')).toEqual(before);
    expect(before.map((x) => [x.name, x.secured])).toEqual([
      ['a', true],
      ['b', false],
    ]);
  });

  it('keys batches by run chain: a conversation id used again after retention numbers its batches anew', async () => {
    const store = await open();
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 1, attributes: { a: 'first life' } })).toEqual({ applied: true });
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 1, attributes: { a: 'first life' } })).toEqual({ applied: false });
    await sleep(5);
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-b', batchSeq: 1, attributes: { a: 'second life' } })).toEqual({ applied: true });
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 2, attributes: { b: 'late' } })).toEqual({ applied: true });
    expect(await store.getAttribute('c1', 'a')).toMatchObject({ value: 'second life', version: 2 });
    expect((await store.listBatches('c1')).map((b) => [b.chainId, b.batchSeq])).toEqual([
      ['run-a', 1],
      ['run-a', 2],
      ['run-b', 1],
    ]);
  });

  it('widens a batch key made before run chains, whatever the key is named, keeping its batches', async () => {
    await createUnchainedSchema(backend.name, target, 'c1', 1, 'batches_by_conversation');
    const store = await open();
    // The old batch is kept, as written by no known chain, and still de-duplicates itself.
    const legacy = { chainId: '', batchSeq: 1, attributeCount: 1, writtenAt: '2026-11-01T00:00:00.000Z' };
    expect(await store.listBatches('c1')).toEqual([legacy]);
    expect(await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'again' } })).toEqual({ applied: false });
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'run-a', batchSeq: 1, attributes: { a: 'new' } })).toEqual({ applied: true });
    // Opening the migrated store again changes nothing.
    const again = await open();
    expect((await again.listBatches('c1')).map((b) => [b.chainId, b.batchSeq])).toEqual([
      ['', 1],
      ['run-a', 1],
    ]);
    expect((await again.listBatches('c1'))[0]).toEqual(legacy);
  });

  it('widens the old key once when several OS processes start on it together', async () => {
    await createUnchainedSchema(backend.name, target, 'c1', 1);
    const results = await raceInChildProcesses(4, target, { conversationId: 'c1', chainId: 'run-a', batchSeq: 1, attributes: { k: 'v' } });
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const store = await open();
    expect((await store.listBatches('c1')).map((b) => [b.chainId, b.batchSeq])).toEqual([
      ['', 1],
      ['run-a', 1],
    ]);
  });

  it('adds the secured flag to an attributes table made before it, keeping its rows as plain', async () => {
    await createUnsecuredSchema(backend.name, target, 'c1');
    const store = await open();
    expect(await store.listAttributes('c1')).toEqual(legacyAttributes);
    expect(await store.getAttribute('c1', 'tier')).toEqual(legacyAttributes[1]);
    // The widened table takes secured writes, and a plain write over an old row stays plain.
    expect(
      await store.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { lang: 'ZnI=', tier: 'silver' }, secured: ['lang'] }),
    ).toEqual({ applied: true });
    expect((await store.listAttributes('c1')).map((x) => [x.name, x.value, x.secured, x.version])).toEqual([
      ['lang', 'ZnI=', true, 2],
      ['tier', 'silver', false, 2],
    ]);
    // Opening the migrated store again changes nothing.
    const again = await open();
    expect((await again.listAttributes('c1')).map((x) => [x.name, x.secured])).toEqual([
      ['lang', true],
      ['tier', false],
    ]);
  });

  it('adds the secured flag once when several OS processes start together on a store older than run chains too', async () => {
    // The oldest layout: batches keyed without their chain, attributes without the flag.
    await createUnchainedSchema(backend.name, target, 'c1', 1);
    await createUnsecuredSchema(backend.name, target, 'c1', { batches: false });
    const results = await raceInChildProcesses(4, target, {
      conversationId: 'c1',
      chainId: 'run-a',
      batchSeq: 1,
      attributes: { card: 'Y2lwaGVy' },
      secured: ['card'],
    });
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const store = await open();
    expect(await store.listAttributes('c1')).toEqual([
      { name: 'card', value: 'Y2lwaGVy', batchSeq: 1, version: 1, updatedAt: expect.any(String), secured: true },
      ...legacyAttributes,
    ]);
    expect((await store.listBatches('c1')).map((b) => [b.chainId, b.batchSeq])).toEqual([
      ['', 1],
      ['run-a', 1],
    ]);
  });

  it('adds the secured flag once when several OS processes all find it missing and queue for the schema lock', async () => {
    await createUnsecuredSchema(backend.name, target, 'c1');
    // Hold the lock every migration takes, so each process finds the column missing (SQLite's first,
    // unlocked look) or waits before looking (PostgreSQL), then let them through one after another.
    const gate = await holdSchemaLock(backend.name, target);
    let results: Array<{ applied: boolean }>;
    try {
      results = await raceInChildProcesses(
        4,
        target,
        { conversationId: 'c1', chainId: 'run-a', batchSeq: 2, attributes: { lang: 'ZnI=' }, secured: ['lang'] },
        () => gate.releaseOnceWaiting(4),
      );
    } finally {
      await gate.close();
    }
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    const store = await open();
    expect((await store.listAttributes('c1')).map((x) => [x.name, x.value, x.secured, x.version])).toEqual([
      ['lang', 'ZnI=', true, 2],
      ['tier', 'gold', false, 1],
    ]);
  });

  it('applies the same batch once when many writers race, from several store instances', async () => {
    // For SQLite these are separate connections to one file; for PostgreSQL separate
    // pools, each running several transactions in parallel.
    const stores = await Promise.all([open(), open(), open()]);
    const batch: AttributeBatch = { conversationId: 'c1', batchSeq: 7, attributes: { a: '1', b: '2' } };
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => stores[i % stores.length].writeBatch(batch)),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect((await stores[0].listAttributes('c1')).map((x) => [x.name, x.version])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
    expect(await stores[1].listBatches('c1')).toHaveLength(1);
  });

  it('loses no update when different batches race on the same attribute', async () => {
    const stores = await Promise.all([open(), open()]);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        stores[i % 2].writeBatch({
          conversationId: 'c1',
          batchSeq: i + 1,
          // Opposite name orders across batches: would deadlock without a lock order.
          attributes: i % 2 ? { x: `${i}`, y: `${i}` } : { y: `${i}`, x: `${i}` },
        }),
      ),
    );
    expect(results.every((r) => r.applied)).toBe(true);
    const [x, y] = await stores[0].listAttributes('c1');
    expect(x).toMatchObject({ name: 'x', version: 12 });
    expect(y).toMatchObject({ name: 'y', version: 12 });
    // Both attributes come from whichever batch committed last.
    expect(x.value).toBe(y.value);
    expect(x.batchSeq).toBe(Number(x.value) + 1);
    expect(await stores[1].listBatches('c1')).toHaveLength(12);
  });

  it('applies the same batch once when several OS processes race (and init concurrently)', async () => {
    const batch: AttributeBatch = { conversationId: 'c1', batchSeq: 1, attributes: { k: 'v' } };
    const results = await raceInChildProcesses(4, target, batch);
    expect(results.filter((r) => r.applied)).toHaveLength(1);
    expect(results).toHaveLength(4);
    const store = await open();
    expect(await store.getAttribute('c1', 'k')).toMatchObject({ value: 'v', version: 1 });
    expect(await store.listBatches('c1')).toHaveLength(1);
  });

  it('treats names case-sensitively', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { Foo: 'upper', foo: 'lower' } });
    await store.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { FOO: 'shout' } });
    expect(await store.getAttribute('c1', 'Foo')).toMatchObject({ value: 'upper', version: 1 });
    expect(await store.getAttribute('c1', 'foo')).toMatchObject({ value: 'lower', version: 1 });
    expect(await store.getAttribute('c1', 'fOO')).toBeUndefined();
    // Bytewise order: all upper case before lower case, on both backends.
    expect((await store.listAttributes('c1')).map((x) => x.name)).toEqual(['FOO', 'Foo', 'foo']);
  });

  it('orders attributes by name bytewise and batches by number', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 10, attributes: { b: '', _x: '', a: '', B: '', A: '' } });
    await store.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { z: '' } });
    await store.writeBatch({ conversationId: 'c1', batchSeq: 9, attributes: {} });
    expect((await store.listAttributes('c1')).map((x) => x.name)).toEqual(['A', 'B', '_x', 'a', 'b', 'z']);
    expect((await store.listBatches('c1')).map((b) => [b.batchSeq, b.attributeCount])).toEqual([
      [2, 1],
      [9, 0],
      [10, 5],
    ]);
  });

  it('returns undefined / empty lists for what does not exist, and keeps conversations apart', async () => {
    const store = await open();
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: 'one' } });
    await store.writeBatch({ conversationId: 'c2', batchSeq: 1, attributes: { a: 'two' } });
    expect(await store.getAttribute('c1', 'missing')).toBeUndefined();
    expect(await store.getAttribute('nope', 'a')).toBeUndefined();
    expect(await store.listAttributes('nope')).toEqual([]);
    expect(await store.listBatches('nope')).toEqual([]);
    expect(await store.getAttribute('c1', 'a')).toMatchObject({ value: 'one', version: 1 });
    expect(await store.getAttribute('c2', 'a')).toMatchObject({ value: 'two', version: 1 });
  });

  it('keeps data across close() and reopening', async () => {
    const first = await open();
    await first.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1' } });
    const before = await first.listAttributes('c1');
    await first.close();

    const second = await open(); // init() again on existing tables must be harmless
    expect(await second.listAttributes('c1')).toEqual(before);
    expect(await second.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1' } })).toEqual({
      applied: false,
    });
    await second.writeBatch({ conversationId: 'c1', batchSeq: 2, attributes: { a: '2' } });
    expect(await second.getAttribute('c1', 'a')).toMatchObject({ value: '2', version: 2 });
  });

  it('stores unicode, quotes, SQL-looking and empty values verbatim', async () => {
    const store = await open();
    const attributes: Record<string, string> = {
      empty: '',
      quotes: `it's "quoted" \`back\` \\ backslash`,
      sql: "'); DROP TABLE participant_data; --",
      unicode: 'Grüße, 日本語, emoji 🎧📞, RTL שלום, combining é',
      multiline: 'line1\nline2\r\n\ttabbed',
      'näme with spaces 🙂': 'ok',
      "name'with\"quotes": 'ok',
    };
    await store.writeBatch({ conversationId: 'conv-ü-🙂', batchSeq: 1, attributes });
    for (const [name, value] of Object.entries(attributes)) {
      expect(await store.getAttribute('conv-ü-🙂', name)).toMatchObject({ name, value });
    }
    expect(await store.listAttributes('conv-ü-🙂')).toHaveLength(Object.keys(attributes).length);
  });

  it('transcript: appended lines are idempotent on (conversation, eventId), listed by time then first storage, other conversations apart', async () => {
    const store = await open();
    const line = (eventId: string, second: number, extra: Partial<StoredMessage> = {}): StoredMessage => ({
      eventId,
      channel: 'chat',
      direction: 'inbound',
      occurredAt: new Date(Date.UTC(2026, 10, 27, 9, 0, second)).toISOString(),
      text: `text of ${eventId}`,
      attachmentCount: 0,
      ...extra,
    });
    await store.appendMessages('t1', [line('m1', 1), line('m3', 3, { direction: 'outbound', text: "it's \"quoted\" 🎧\nnext" })]);
    // A retried append (same lines, or a line changed under the same key) writes nothing twice and changes nothing.
    await store.appendMessages('t1', [line('m1', 1, { text: 'changed' }), line('m3', 3)]);
    await store.appendMessages('t1', [line('m2', 2, { channel: 'email', subject: 'Invoice 42', attachmentCount: 2 }), line('m2b', 2)]);
    await store.appendMessages('t2', [line('m1', 1)]);
    await store.appendMessages('t1', []);
    expect(await store.listMessages('t1')).toEqual([
      line('m1', 1),
      line('m2', 2, { channel: 'email', subject: 'Invoice 42', attachmentCount: 2 }),
      line('m2b', 2),
      line('m3', 3, { direction: 'outbound', text: "it's \"quoted\" 🎧\nnext" }),
    ]);
    expect(await store.listMessages('t2')).toHaveLength(1);
    expect(await store.listMessages('none')).toEqual([]);
  });

  it('transcript: a database from before digital channels gets the messages table on init, its data untouched', async () => {
    await createUndigestedSchema(backend.name, target, 'legacy');
    const store = await open();
    expect(await store.listAttributes('legacy')).toEqual(legacyAttributes);
    await store.appendMessages('legacy', [{ eventId: 'm1', channel: 'sms', direction: 'inbound', occurredAt: '2026-11-27T09:00:00.000Z', text: 'hi', attachmentCount: 0 }]);
    expect(await (await open()).listMessages('legacy')).toHaveLength(1);
  });
});

describe('createParticipantDataStore', () => {
  it('rejects a databaseUrl that is not PostgreSQL instead of falling back to SQLite', () => {
    expect(() => createParticipantDataStore({ databaseUrl: 'mysql://u:secret@h/db', sqlitePath: '/tmp/x' })).toThrow(
      /postgres:\/\//,
    );
  });

  it('treats an empty databaseUrl as unset', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-'));
    const store = createParticipantDataStore({ databaseUrl: '', sqlitePath: join(dir, 'x.sqlite') });
    try {
      expect(store).toBeInstanceOf(SqliteParticipantDataStore);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Each child loads the real TypeScript store through swc, runs init(), reports ready,
// and writes the batch only when told to, so all writes start together.
const CHILD_SCRIPT = `
const swc = require('@swc/core');
require.extensions['.ts'] = (module, filename) => {
  const { code } = swc.transformFileSync(filename, {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  module._compile(code, filename);
};
const { createParticipantDataStore } = require(process.env.STORE_INDEX);
const { opts, batch } = JSON.parse(process.env.STORE_JOB);
(async () => {
  const store = createParticipantDataStore(opts);
  process.stdout.write('started\\n');
  await store.init();
  process.stdout.write('ready\\n');
  await new Promise((go) => process.stdin.once('data', go));
  const result = await store.writeBatch(batch);
  await store.close();
  process.stdout.write(JSON.stringify(result) + '\\n');
})().catch((err) => { console.error(err); process.exit(1); });
`;

async function raceInChildProcesses(
  count: number,
  opts: StoreOptions,
  batch: AttributeBatch,
  /** Run once every child has opened its store and is about to init() (e.g. to release a held lock). */
  whileStarting?: () => Promise<void>,
): Promise<Array<{ applied: boolean }>> {
  const children = Array.from({ length: count }, () => {
    const child = spawn(process.execPath, ['-e', CHILD_SCRIPT], {
      cwd: resolve(__dirname, '../..'),
      env: {
        ...process.env,
        STORE_INDEX: resolve(__dirname, '../../src/store/index.ts'),
        STORE_JOB: JSON.stringify({ opts, batch }),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const reached = (line: string) =>
      new Promise<void>((res, rej) => {
        const onData = () => stdout.includes(`${line}\n`) && res();
        child.stdout.on('data', onData);
        child.once('exit', (code) => rej(new Error(`child exited (${code}) before ${line}:\n${stderr}`)));
      });
    const started = reached('started');
    const ready = reached('ready');
    started.catch(() => undefined);
    ready.catch(() => undefined);
    const done = new Promise<{ applied: boolean }>((res, rej) => {
      child.once('exit', (code) => {
        if (code !== 0) return rej(new Error(`child exited with ${code}:\n${stderr}`));
        const line = stdout.split('\n').filter(Boolean).pop() ?? '';
        res(JSON.parse(line) as { applied: boolean });
      });
    });
    done.catch(() => undefined); // surfaced below; avoid unhandled rejection meanwhile
    return { child, started, ready, done };
  });
  try {
    if (whileStarting) {
      await Promise.all(children.map((c) => c.started));
      await whileStarting();
    }
    await Promise.all(children.map((c) => c.ready));
  } catch (err) {
    // One child failed to start (init threw): the others would wait for "go" forever.
    for (const { child } of children) child.kill();
    throw err;
  }
  for (const { child } of children) child.stdin.end('go\n');
  return Promise.all(children.map((c) => c.done));
}

/** The schema lock every store's init() takes before migrating, held by the test. */
async function holdSchemaLock(
  backend: string,
  target: StoreOptions,
): Promise<{ releaseOnceWaiting(count: number): Promise<void>; close(): Promise<void> }> {
  if (backend === 'SQLite') {
    // The write lock (BEGIN IMMEDIATE). A waiting connection leaves no trace another process can
    // see, so wait for the children to have opened their stores, then give them time to reach it.
    const db = new Database(target.sqlitePath);
    db.pragma('journal_mode = WAL');
    db.exec('BEGIN IMMEDIATE');
    const release = () => {
      if (db.inTransaction) db.exec('ROLLBACK');
    };
    return {
      async releaseOnceWaiting() {
        await sleep(500);
        release();
      },
      async close() {
        release();
        db.close();
      },
    };
  }
  // PostgreSQL: the advisory lock, whose waiters pg_locks shows.
  const client = new Client({ connectionString: target.databaseUrl });
  await client.connect();
  const key = 0x70617274; // SCHEMA_LOCK_KEY in src/store/postgres-store.ts
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  let held = true;
  const release = async () => {
    if (!held) return;
    held = false;
    await client.query('SELECT pg_advisory_unlock($1)', [key]);
  };
  return {
    async releaseOnceWaiting(count) {
      await waitFor(`${count} processes waiting for the schema lock`, async () => {
        const { rows } = await client.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objid = $1`,
          [key],
        );
        return rows[0].n >= count;
      });
      await release();
    },
    async close() {
      await release().catch(() => undefined);
      await client.end();
    },
  };
}
