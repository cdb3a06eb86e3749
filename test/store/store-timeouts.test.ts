/**
 * Every store call is bounded by STORE_TIMEOUT, and waiting for a lock never blocks the event loop:
 * against real SQLite files locked by another OS process and a real PostgreSQL locked by another
 * session. Also the flush activity's answers to a timed-out and a conflicting write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { Client } from 'pg';
import { createParticipantDataActivities } from '../../activities/participant-data';
import {
  createParticipantDataStore,
  StoreTimeoutError,
  StoreUnavailableError,
  type ParticipantDataStore,
} from '../../src/store';
import { startPostgres, type ThrowawayPostgres } from '../../rigs/postgres';
import { startRelay } from '../../rigs/relay';
import { sleep } from '../../rigs/wait';
import { lockTable } from '../support/postgres';
import { lockSqlite } from '../support/sqlite-lock';


/**
 * Watches the event loop while `work` runs: the longest gap between ticks of a 50 ms interval (what
 * the flush's 1 s heartbeat interval would see), and perf_hooks' event-loop delay, in ms. The gap is
 * what the tests assert: the delay histogram under-reports a loop blocked by a synchronous call made
 * in the same tick as it was enabled.
 */
async function watchLoop<T>(work: () => Promise<T>): Promise<{ result: PromiseSettledResult<T>; maxDelayMs: number; maxGapMs: number; ms: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  let last = performance.now();
  let maxGapMs = 0;
  const tick = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 50);
  histogram.enable();
  const started = performance.now();
  const [result] = await Promise.allSettled([work()]);
  const ms = performance.now() - started;
  // A loop that was blocked shows it on its next ticks: let them run before reading.
  await sleep(150);
  histogram.disable();
  clearInterval(tick);
  return { result, maxDelayMs: histogram.max / 1e6, maxGapMs, ms };
}

describe('SQLite store under another process\'s write lock', () => {
  let dir = '';
  const opened: ParticipantDataStore[] = [];
  const open = async (sqlitePath: string, storeTimeoutMs?: number) => {
    const store = createParticipantDataStore({ sqlitePath, storeTimeoutMs });
    opened.push(store);
    await store.init();
    return store;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-timeouts-'));
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('fails a write with StoreTimeoutError within STORE_TIMEOUT, the event loop free meanwhile', async () => {
    const path = join(dir, 'timeout.sqlite');
    const store = await open(path, 1000);
    const locker = await lockSqlite(path, 6000);
    try {
      const { result, maxDelayMs, maxGapMs, ms } = await watchLoop(() =>
        store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1' } }),
      );
      console.log(`SQLite write under a held lock, STORE_TIMEOUT 1 s: failed after ${ms.toFixed(0)} ms; loop delay max ${maxDelayMs.toFixed(1)} ms, timer gap max ${maxGapMs.toFixed(1)} ms`);
      expect(result.status).toBe('rejected');
      const err = (result as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(StoreTimeoutError);
      expect(err).toMatchObject({ operation: 'writeBatch', timeoutMs: 1000 });
      expect(String(err.message)).toMatch(/STORE_TIMEOUT/);
      expect(String(err.message)).toMatch(/SQLITE_BUSY|database is locked/);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(1800);
      expect(maxGapMs).toBeLessThan(300);
    } finally {
      locker.child.kill();
    }
    // Nothing was written, and the store works once the lock is gone.
    await locker.released;
    expect(await store.listBatches('c1')).toEqual([]);
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1' } })).toEqual({ applied: true });
  });

  it('keeps the event loop responsive while a write waits longer than the flush heartbeat timeout, then writes', async () => {
    const path = join(dir, 'wait.sqlite');
    const store = await open(path, 8000);
    const HOLD_MS = 4000; // longer than the flush's 3 s heartbeat timeout
    const locker = await lockSqlite(path, HOLD_MS);
    const lockedAt = performance.now();
    let doneAt = 0;
    const { result, maxDelayMs, maxGapMs } = await watchLoop(() =>
      store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1', b: '2' } }).finally(() => (doneAt = performance.now())),
    );
    const releasedAt = await locker.released;
    console.log(
      `SQLite write waiting ${(releasedAt - lockedAt).toFixed(0)} ms for a held lock: written ${(doneAt - releasedAt).toFixed(0)} ms after its release; ` +
        `loop delay max ${maxDelayMs.toFixed(1)} ms, timer gap max ${maxGapMs.toFixed(1)} ms`,
    );
    expect(result).toEqual({ status: 'fulfilled', value: { applied: true } });
    expect(releasedAt - lockedAt).toBeGreaterThan(3500);
    // A 50 ms interval kept ticking: never a pause anywhere near the 1 s heartbeat interval.
    expect(maxGapMs).toBeLessThan(300);
    expect(await store.listAttributes('c1')).toHaveLength(2);
  });

  it('heartbeats the flush every second while it waits for the lock, and answers StoreTimeout (retryable) past STORE_TIMEOUT', async () => {
    const path = join(dir, 'activity.sqlite');
    const waiting = await open(path, 8000);
    const failing = await open(path, 1000);
    const locker = await lockSqlite(path, 4000);
    const beats: number[] = [];
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000 });
    env.on('heartbeat', () => beats.push(performance.now()));
    const startedAt = performance.now();
    const { flushParticipantData } = createParticipantDataActivities({ store: waiting, logger: pino({ level: 'silent' }) });
    const { flushParticipantData: flushFailing } = createParticipantDataActivities({ store: failing, logger: pino({ level: 'silent' }) });
    const [waited, failed] = await Promise.allSettled([
      env.run(flushParticipantData, { conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1' } }),
      new MockActivityEnvironment().run(flushFailing, { conversationId: 'c2', chainId: 'r', batchSeq: 1, attributes: { a: 'CANARY' } }),
    ]);
    await locker.released;
    const gaps = beats.map((t, i) => t - (i === 0 ? startedAt : beats[i - 1]));
    console.log(`flush heartbeats while waiting for the lock: ${beats.length}, gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    expect(waited).toEqual({ status: 'fulfilled', value: { applied: true, attributeCount: 1 } });
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(Math.max(...gaps)).toBeLessThan(1500);

    expect(failed.status).toBe('rejected');
    const failure = (failed as PromiseRejectedResult).reason;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'StoreTimeout', nonRetryable: false });
    expect(failure.message).toMatch(/c2/);
    expect(failure.message).not.toMatch(/CANARY/);
  });
});

describe('flushParticipantData and a batch key re-sent with other content', () => {
  it('fails non-retryably as BatchConflict, naming conversation, chain and batch, never a value, and logs it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-sqlite-conflict-'));
    const store = createParticipantDataStore({ sqlitePath: join(dir, 'store.sqlite') });
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    try {
      await store.init();
      const { flushParticipantData } = createParticipantDataActivities({ store, logger });
      const env = new MockActivityEnvironment();
      const batch = { conversationId: 'c-9', chainId: 'run-x', batchSeq: 2, attributes: { a: 'CANARY-1' }, secured: [] };
      expect(await env.run(flushParticipantData, batch)).toEqual({ applied: true, attributeCount: 1 });
      expect(await env.run(flushParticipantData, { ...batch, secured: undefined })).toEqual({ applied: false, attributeCount: 1 });
      const [outcome] = await Promise.allSettled([env.run(flushParticipantData, { ...batch, attributes: { a: 'CANARY-1', b: 'CANARY-2' } })]);
      expect(outcome.status).toBe('rejected');
      const failure = (outcome as PromiseRejectedResult).reason;
      expect(failure).toBeInstanceOf(ApplicationFailure);
      expect(failure).toMatchObject({ type: 'BatchConflict', nonRetryable: true });
      expect(failure.message).toMatch(/c-9/);
      expect(failure.message).toMatch(/run-x/);
      expect(failure.message).toMatch(/\b2\b/);
      expect(JSON.stringify(failure)).not.toMatch(/CANARY/);
      const logged = lines.find((l) => l.msg && String(l.msg).includes('other content'));
      expect(logged).toMatchObject({ level: 50, conversationId: 'c-9', chainId: 'run-x', batchSeq: 2 });
      expect(JSON.stringify(lines)).not.toMatch(/CANARY/);
      // Nothing of the conflicting batch was written.
      expect((await store.listAttributes('c-9')).map((a) => [a.name, a.value])).toEqual([['a', 'CANARY-1']]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL store timeouts', () => {
  let server: ThrowawayPostgres | undefined;
  let n = 0;
  let url = '';
  const opened: ParticipantDataStore[] = [];
  const open = async (storeTimeoutMs?: number, databaseUrl = url) => {
    const store = createParticipantDataStore({ databaseUrl, sqlitePath: '/nonexistent/unused.sqlite', storeTimeoutMs });
    opened.push(store);
    await store.init();
    return store;
  };

  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.stop();
  });
  beforeEach(async () => {
    const db = `timeouts${++n}`;
    const admin = new Client({ connectionString: server!.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const u = new URL(server!.url);
    u.pathname = `/${db}`;
    url = u.toString();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('fails a write blocked by another session\'s table lock within STORE_TIMEOUT, then writes once the lock is gone', async () => {
    const store = await open(1000);
    const lock = await lockTable(url, 'participant_data_batches');
    const started = performance.now();
    try {
      const err = await store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: 'CANARY' } }).then(
        (r) => r,
        (e: unknown) => e,
      );
      const ms = performance.now() - started;
      console.log(`PostgreSQL write under a table lock, STORE_TIMEOUT 1 s: failed after ${ms.toFixed(0)} ms: ${(err as Error).message}`);
      expect(err).toBeInstanceOf(StoreTimeoutError);
      expect(err).toMatchObject({ operation: 'writeBatch', timeoutMs: 1000 });
      expect((err as Error).message).toMatch(/STORE_TIMEOUT/);
      expect((err as Error).message).not.toMatch(/CANARY/);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(2500);
    } finally {
      await lock.close();
    }
    // The pool is healthy afterwards and nothing was half-written.
    expect(await store.listBatches('c1')).toEqual([]);
    expect(await store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1' } })).toEqual({ applied: true });
  });

  it('survives its connection cut mid-write (PostgreSQL unreachable): the write fails as StoreUnavailableError, the process lives on, and writes once the server is back', async () => {
    // Through a relay that can drop every connection, as a network outage or a server crash does. A
    // checked-out connection emitted its error with nobody listening, which killed the worker.
    const relay = await startRelay(Number(new URL(url).port));
    try {
      const viaRelay = new URL(url);
      viaRelay.port = String(relay.port);
      const store = await open(3000, viaRelay.toString());
      const lock = await lockTable(url, 'participant_data_batches');
      try {
        const write = store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: 'CANARY' } }).then((r) => r, (e: unknown) => e);
        await lock.waitForBlockedWriter();
        await relay.setState('down');
        const err = await write;
        expect(err).toBeInstanceOf(StoreUnavailableError);
        expect((err as Error).message).not.toMatch(/CANARY/);
        // Down: a read fails the same way, at once.
        await expect(store.listBatches('c1')).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        await lock.close();
      }
      await relay.setState('up');
      expect(await store.writeBatch({ conversationId: 'c1', chainId: 'r', batchSeq: 1, attributes: { a: '1' } })).toEqual({ applied: true });
    } finally {
      await relay.close();
    }
  });

  it('fails the API\'s reads blocked by a table lock within STORE_TIMEOUT', async () => {
    const store = await open(1000);
    await store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: { a: '1' } });
    const lock = await lockTable(url, 'participant_data');
    try {
      for (const read of [() => store.getAttribute('c1', 'a'), () => store.listAttributes('c1')]) {
        const started = performance.now();
        const err = await read().then(
          (r) => r,
          (e: unknown) => e,
        );
        const ms = performance.now() - started;
        expect(err).toBeInstanceOf(StoreTimeoutError);
        expect((err as Error).message).toMatch(/STORE_TIMEOUT/);
        expect(ms).toBeLessThan(2500);
      }
    } finally {
      await lock.close();
    }
    expect(await store.getAttribute('c1', 'a')).toMatchObject({ value: '1' });
  });

  it('fails within STORE_TIMEOUT when the server accepts the connection but never answers', async () => {
    // A TCP listener that never speaks: a hung server or a black-holed network path.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const store = createParticipantDataStore({ databaseUrl: `postgresql://postgres@127.0.0.1:${port}/x`, sqlitePath: 'unused', storeTimeoutMs: 800 });
    opened.push(store);
    try {
      for (const call of [() => store.init(), () => store.getAttribute('c1', 'a'), () => store.writeBatch({ conversationId: 'c1', batchSeq: 1, attributes: {} })]) {
        const started = performance.now();
        const err = await call().then(
          (r) => r,
          (e: unknown) => e,
        );
        const ms = performance.now() - started;
        expect(err).toBeInstanceOf(StoreTimeoutError);
        expect(ms).toBeLessThan(2000);
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });

  it('defaults STORE_TIMEOUT to 2 s', async () => {
    const store = await open();
    expect((store as unknown as { timeoutMs: number }).timeoutMs).toBe(2000);
    await sleep(0);
  });
});
