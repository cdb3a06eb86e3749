// The real worker process (`node dist/src/main/worker.js`) SIGKILLed at the worst moments, against a
// real dev server and a real PostgreSQL: queued participant data survives and reaches the store
// exactly once, and updates keep working while runs hand over at continue-as-new. Stopped with
// SIGTERM mid-flush instead, it drains: the flush it holds completes before it exits.
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { DEFAULT_SETTINGS, type ConversationSettings, setAttributesUpdate } from '../../src/conversation/messages';
import { SqliteParticipantDataStore, type StoredAttribute } from '../../src/store';
import type { WorkerHealth } from '../../src/worker/health';
import type { conversationWorkflow } from '../../src/conversation/workflows/conversation';
import { freePort } from '../../rigs/ports';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { localActivityType } from '../../rigs/export-starts';
import { whileRunning, type WorkerProcess } from '../../rigs/worker-process';
import { CrashHarness } from '../support/crash-harness';
import { routingEvent, sendEvent } from '../support/conversation';
import { recordHistory } from '../support/histories';
import { lockTable } from '../support/postgres';
import { lockSqlite } from '../support/sqlite-lock';

type ConversationHandle = WorkflowHandle<typeof conversationWorkflow>;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

const h = new CrashHarness('crash-worker');

beforeAll(() => h.setUp(), 120_000);
afterAll(() => h.tearDown(), 60_000);

// No grace window after CLOSED: these tests time the conversation's end, which is its final batch.
const PROMPT_CLOSE: ConversationSettings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
const start = (taskQueue: string, event: ReturnType<typeof routingEvent>, settings: ConversationSettings = PROMPT_CLOSE) =>
  sendEvent(h.client, taskQueue, event, settings);

const set = (handle: ConversationHandle, attributes: Record<string, string>) =>
  handle.executeUpdate(setAttributesUpdate, { args: [{ attributes }] });

const summary = (attrs: StoredAttribute[]) => attrs.map((a) => [a.name, a.value, a.version]);

async function historyEvents(handle: ConversationHandle): Promise<HistoryEvent[]> {
  return (await handle.fetchHistory()).events ?? [];
}

/** Identities of the workers that started this run's workflow tasks, in order of first appearance. */
function workflowTaskWorkers(events: HistoryEvent[]): string[] {
  const identities = events.map((e) => e.workflowTaskStartedEventAttributes?.identity).filter((id): id is string => !!id);
  return [...new Set(identities)];
}

/** Every run of this workflow's chain, first to last, following continue-as-new from the first run. */
async function runChain(handle: ConversationHandle): Promise<HistoryEvent[][]> {
  const latest = await historyEvents(handle);
  const runs: HistoryEvent[][] = [];
  let runId: string | undefined = latest[0]?.workflowExecutionStartedEventAttributes?.firstExecutionRunId ?? undefined;
  while (runId) {
    const events = (await h.client.workflow.getHandle(handle.workflowId, runId).fetchHistory()).events ?? [];
    runs.push(events);
    runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
  }
  return runs;
}

test('SIGKILL between sets: the next update is accepted by a new worker and one batch is written', async () => {
  const taskQueue = uniqueId('crash-between');
  const id = uniqueId('between');
  const workerA = await h.startPollingWorker('between-A', taskQueue);

  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  await set(handle, { a: '1', b: '1' });

  const killedAt = Date.now();
  expect(await workerA.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  const workerB = h.startWorker('between-B', taskQueue);
  await whileRunning(workerB, set(handle, { b: '2', c: '2' }));
  const recoveryMs = Date.now() - killedAt;
  console.log(`recovery: worker killed between sets -> next update accepted in ${recoveryMs} ms`);
  expect(workerB.isRunning()).toBe(true);

  await set(handle, { c: '3' });
  await start(taskQueue, routingEvent(id, 'CLOSED', 1));
  expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1, storedNames: ['a', 'b', 'c'] });

  expect(summary(await h.store.listAttributes(id))).toEqual([
    ['a', '1', 1],
    ['b', '2', 1],
    ['c', '3', 1],
  ]);
  expect(await h.store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 3 })]);
  // Both processes really worked on this run: A before the kill, B after.
  expect(workflowTaskWorkers(await historyEvents(handle))).toEqual([workerA.identity, workerB.identity]);
  await recordHistory(handle, 'crash-worker-killed-between-sets');
}, 90_000);

test('SIGKILL during the flush: the batch is written once, by the next worker, with the last values', async () => {
  const taskQueue = uniqueId('crash-flush');
  const id = uniqueId('flush');
  // STORE_TIMEOUT longer than the test holds the lock: the kill must hit a flush still waiting.
  const worker = await h.startPollingWorker('flush-A', taskQueue, { STORE_TIMEOUT: '8s' });

  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  await set(handle, { intent: 'refund', account: '42' });
  await set(handle, { intent: 'cancel', note: 'vip' });
  await set(handle, { zip: '75011' });

  const lock = await lockTable(h.pg.url, 'participant_data_batches');
  let workerB: WorkerProcess | undefined;
  try {
    await start(taskQueue, routingEvent(id, 'CLOSED', 1));
    // The worker's flush has begun its transaction and waits for our lock on the batch table: it is mid-flush.
    await lock.waitForBlockedWriter();

    const killedAt = Date.now();
    expect(await worker.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    await lock.release();
    workerB = h.startWorker('flush-B', taskQueue);
    const result = await whileRunning(workerB, handle.result());
    const recoveryMs = Date.now() - killedAt;
    console.log(`recovery: worker killed during flush -> batch written by new worker in ${recoveryMs} ms`);
    expect(result).toMatchObject({ batchesWritten: 1, storedNames: ['account', 'intent', 'note', 'zip'] });
  } finally {
    await lock.close();
  }

  expect(summary(await h.store.listAttributes(id))).toEqual([
    ['account', '42', 1],
    ['intent', 'cancel', 1],
    ['note', 'vip', 1],
    ['zip', '75011', 1],
  ]);
  expect(await h.store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 4 })]);

  // Proof the kill hit a running flush: the final flush runs as a local activity inside a workflow
  // task; the killed worker's task timed out (it never reported back), and the next worker ran the
  // flush again and recorded it — one local-activity marker, no activity task.
  const events = await historyEvents(handle);
  expect(events.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(true);
  expect(flushAttempts(events)).toEqual([]);
  const flushes = localFlushes(events);
  expect(flushes).toHaveLength(1);
  expect(flushes[0].failed).toBe(false);
  expect(flushes[0].recordedBy).toBe(workerB?.identity);
}, 90_000);

test('SIGTERM during the flush: the worker drains, its health endpoint says so, and the flush it started completes', async () => {
  const taskQueue = uniqueId('drain');
  const id = uniqueId('drain');
  const healthPort = await freePort();
  const health = async (): Promise<{ code: number; body: WorkerHealth }> => {
    const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    return { code: res.status, body: (await res.json()) as WorkerHealth };
  };
  // A grace period far longer than the test needs: the worker must wait for its flush, not abandon it.
  // STORE_TIMEOUT longer than the test holds the lock: the drain must wait for a flush still waiting.
  const worker = await h.startPollingWorker('drain-A', taskQueue, { WORKER_HEALTH_PORT: String(healthPort), WORKER_SHUTDOWN_GRACE: '60s', STORE_TIMEOUT: '8s' });
  await waitFor('the worker health endpoint to say ok', async () => (await health()).code === 200);
  expect((await health()).body).toMatchObject({ status: 'ok', state: 'RUNNING', taskQueue, workflowPoller: 'POLLING', activityPoller: 'POLLING', inFlightActivities: 0 });

  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  await set(handle, { intent: 'refund', account: '42' });
  const lock = await lockTable(h.pg.url, 'participant_data_batches');
  try {
    await start(taskQueue, routingEvent(id, 'CLOSED', 1));
    await lock.waitForBlockedWriter();
    worker.kill('SIGTERM').catch(() => undefined);
    // Draining, not dead: it still answers, with 503 and the flush it is finishing.
    await waitFor('the draining worker to report unavailable', async () => (await health()).code === 503);
    expect((await health()).body).toMatchObject({ status: 'unavailable', inFlightActivities: 1 });
    expect(['STOPPING', 'DRAINING']).toContain((await health()).body.state);
    expect(worker.isRunning()).toBe(true);
    await lock.release();
  } finally {
    await lock.close();
  }
  expect(await worker.exited).toEqual({ code: 0, signal: null });
  await expect(fetch(`http://127.0.0.1:${healthPort}/healthz`)).rejects.toThrow();

  // The drained worker polls no more workflow tasks, so another one finishes the conversation.
  const workerB = h.startWorker('drain-B', taskQueue);
  const result = await whileRunning(workerB, handle.result());
  expect(result).toMatchObject({ batchesWritten: 1, storedNames: ['account', 'intent'] });
  expect(await h.store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 2 })]);
  // The flush (a local activity in the final workflow task) ran once, to completion, on the worker
  // that was told to stop.
  const events = await historyEvents(handle);
  expect(flushAttempts(events)).toEqual([]);
  expect(localFlushes(events)).toEqual([{ failed: false, recordedBy: worker.identity }]);
}, 90_000);

test('updates racing continue-as-new on the real server: every update lands, batches are contiguous', async () => {
  const taskQueue = uniqueId('crash-can');
  const id = uniqueId('can');
  const settings: ConversationSettings = { ...PROMPT_CLOSE, continueAsNewAfterEvents: 30 };
  await h.startPollingWorker('can-A', taskQueue);

  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0, { queue: 'billing' }), settings);
  // Sequential, like one caller writing in a loop; QUEUED events (signals) in between make runs
  // hand over while the next update is already on its way.
  const UPDATES = 60;
  const lastN = new Map<string, string>();
  const failures: string[] = [];
  for (let i = 0; i < UPDATES; i++) {
    const attributes = { counter: `v${i}`, [`n${i % 5}`]: `i${i}` };
    try {
      await set(handle, attributes);
    } catch (err) {
      // Reported in full (error class, message, gRPC cause) rather than retried: see the assertion below.
      const e = err as Error & { cause?: unknown };
      failures.push(`update ${i}: ${e.constructor.name}: ${e.message}; cause: ${String(e.cause)}`);
      continue;
    }
    lastN.set(`n${i % 5}`, `i${i}`);
    if (i % 4 === 3) await start(taskQueue, routingEvent(id, 'QUEUED', 1 + i / 100, { estimatedWaitTime: 600 - i }), settings);
  }
  expect(failures).toEqual([]);
  await start(taskQueue, routingEvent(id, 'CLOSED', 2), settings);
  const result = await handle.result();
  expect(result.batchesWritten).toBeGreaterThanOrEqual(2);

  const stored = new Map((await h.store.listAttributes(id)).map((a) => [a.name, a.value]));
  expect(stored.get('counter')).toBe(`v${UPDATES - 1}`);
  expect(Object.fromEntries([...stored].filter(([name]) => name.startsWith('n')))).toEqual(Object.fromEntries(lastN));
  expect(stored.size).toBe(6);
  const batches = await h.store.listBatches(id);
  expect(batches.map((b) => b.batchSeq)).toEqual(Array.from({ length: result.batchesWritten }, (_, k) => k + 1));

  // Across the whole chain of runs every update was accepted exactly once. Count those a run
  // accepted after it had scheduled its hand-over flush (they travel to the next run in `pending`),
  // so the output shows the race was really exercised.
  const runs = await runChain(handle);
  const accepted = runs.flat().filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
  expect(accepted).toHaveLength(UPDATES);
  expect(new Set(accepted.map((e) => e.workflowExecutionUpdateAcceptedEventAttributes?.protocolInstanceId)).size).toBe(UPDATES);
  const duringHandOver = runs
    .filter((events) => events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes)
    .map((events) => {
      const flushScheduled = events.findIndex((e) => e.activityTaskScheduledEventAttributes);
      return flushScheduled < 0 ? 0 : events.slice(flushScheduled).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length;
    })
    .reduce((sum, n) => sum + n, 0);
  console.log(
    `continue-as-new: ${runs.length} runs, ${result.batchesWritten} batches, ${duringHandOver} of ${UPDATES} updates accepted by a run after it had started handing over`,
  );
  await recordHistory(handle, 'crash-updates-racing-continue-as-new');
}, 90_000);

/** The flush's attempts as the history records them once it completed or failed for good. */
function flushAttempts(events: HistoryEvent[]) {
  return events.flatMap((e) => (e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes] : []));
}

/** The final flush's first attempt, a local activity: its markers, whether each failed, and the worker whose workflow task recorded it. */
function localFlushes(events: HistoryEvent[]): Array<{ failed: boolean; recordedBy?: string; failure?: temporal.api.failure.v1.IFailure }> {
  return events.flatMap((e, i) => {
    if (localActivityType(e) !== 'flushParticipantData') return [];
    const completed = events.slice(0, i).reverse().find((p) => p.workflowTaskCompletedEventAttributes)?.workflowTaskCompletedEventAttributes;
    const failure = e.markerRecordedEventAttributes?.failure ?? undefined;
    return [{ failed: !!failure, recordedBy: completed?.identity ?? undefined, ...(failure ? { failure } : {}) }];
  });
}

test('a store lock held past STORE_TIMEOUT and the heartbeat timeout: the flush fails as StoreTimeout, is retried, and writes once', async () => {
  const taskQueue = uniqueId('store-timeout');
  const id = uniqueId('store-timeout');
  const worker = await h.startPollingWorker('store-timeout-A', taskQueue, { STORE_TIMEOUT: '1s', LOG_LEVEL: 'info' });
  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  await set(handle, { intent: 'refund' });

  const lock = await lockTable(h.pg.url, 'participant_data_batches');
  try {
    await start(taskQueue, routingEvent(id, 'CLOSED', 1));
    await lock.waitForBlockedWriter();
    // Longer than the flush's 3 s heartbeat timeout, and several times STORE_TIMEOUT.
    await new Promise((r) => setTimeout(r, 4_000));
  } finally {
    await lock.close();
  }
  expect(await whileRunning(worker, handle.result())).toMatchObject({ batchesWritten: 1, storedNames: ['intent'] });
  expect(await h.store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 1 })]);

  // Retried after failing as StoreTimeout, on the same worker: never timed out for lack of heartbeats.
  const [attempt] = flushAttempts(await historyEvents(handle));
  expect(attempt.attempt).toBeGreaterThan(1);
  expect(attempt.identity).toBe(worker.identity);
  expect(attempt.lastFailure?.timeoutFailureInfo).toBeFalsy();
  expect(attempt.lastFailure?.applicationFailureInfo).toMatchObject({ type: 'StoreTimeout', nonRetryable: false });
  expect(worker.output()).toMatch(/participant data store timed out; the flush will be retried/);
}, 90_000);

test('SQLite locked by another process past the heartbeat timeout: the flush keeps heartbeating and its first attempt writes', async () => {
  const taskQueue = uniqueId('sqlite-wait');
  const id = uniqueId('sqlite-wait');
  const file = path.join(h.dir, `${id}.sqlite`);
  const tables = new SqliteParticipantDataStore(file);
  await tables.init();
  const worker = await h.startPollingWorker('sqlite-wait-A', taskQueue, { DATABASE_URL: '', PARLEY_SQLITE_PATH: file, STORE_TIMEOUT: '8s' });
  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  await set(handle, { intent: 'refund', account: '42' });

  const lock = await lockSqlite(file, 20_000);
  try {
    await start(taskQueue, routingEvent(id, 'CLOSED', 1));
    await waitFor('the flush to be running', async () =>
      ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.lastStartedTime && a.attempt === 1),
    );
    // Longer than the 3 s heartbeat timeout: a worker whose event loop the wait blocked would miss it.
    await new Promise((r) => setTimeout(r, 5_000));
    const [pending] = (await handle.describe()).raw.pendingActivities ?? [];
    expect(pending).toMatchObject({ attempt: 1 });
    expect(pending.lastFailure).toBeFalsy();
    // Its heartbeats reach the server (the SDK sends them at most every 80 % of the 3 s timeout).
    expect(Date.now() - Number(pending.lastHeartbeatTime?.seconds ?? 0) * 1000).toBeLessThan(3_000);
  } finally {
    await lock.release();
  }
  expect(await whileRunning(worker, handle.result())).toMatchObject({ batchesWritten: 1, storedNames: ['account', 'intent'] });
  const [attempt] = flushAttempts(await historyEvents(handle));
  expect(attempt.attempt).toBe(1);
  expect(attempt.lastFailure).toBeFalsy();
  expect((await tables.listAttributes(id)).map((a) => [a.name, a.value])).toEqual([
    ['account', '42'],
    ['intent', 'refund'],
  ]);
  await tables.close();
}, 90_000);

test('a batch key already stored with other content: that attempt fails as BatchConflict, visibly, and the batch is written under the next key', async () => {
  const taskQueue = uniqueId('conflict');
  const id = uniqueId('conflict');
  const worker = await h.startPollingWorker('conflict-A', taskQueue, { LOG_LEVEL: 'info' });
  const handle = await start(taskQueue, routingEvent(id, 'CREATED', 0));
  // The conversation's batch 1 is already in the store with other content (a numbering clash).
  const chainId = (await handle.describe()).runId;
  await h.store.writeBatch({ conversationId: id, chainId, batchSeq: 1, attributes: { intent: 'earlier' } });
  await set(handle, { intent: 'CANARY-refund', account: 'CANARY-42' });
  await start(taskQueue, routingEvent(id, 'CLOSED', 1));

  // Neither dropped nor taken for written: the conversation completes with its data under batch 2.
  const result = await whileRunning(worker, handle.result());
  expect(result).toMatchObject({ closeReason: 'closed-event', batchesWritten: 2, storedNames: ['account', 'intent'] });
  expect((await h.store.listBatches(id)).map((b) => [b.batchSeq, b.attributeCount])).toEqual([
    [1, 1],
    [2, 2],
  ]);
  expect(summary(await h.store.listAttributes(id))).toEqual([
    ['account', 'CANARY-42', 1],
    ['intent', 'CANARY-refund', 2],
  ]);
  // The refused attempt is visible in history (a failed local-activity marker; its message goes
  // through the codec like every failure), and no value is in it.
  const flushes = localFlushes(await historyEvents(handle));
  expect(flushes.map((f) => f.failed)).toEqual([true, false]);
  expect(flushes[0].failure?.cause?.applicationFailureInfo ?? flushes[0].failure?.applicationFailureInfo).toMatchObject({ type: 'BatchConflict', nonRetryable: true });
  expect(JSON.stringify(flushes[0].failure)).not.toMatch(/CANARY/);
  // The worker's log says which key, at error level, and no value.
  expect(worker.output()).toMatch(/NOT written under this key: the key is already stored with other content/);
  expect(worker.output()).toContain(id);
  expect(worker.output()).not.toMatch(/CANARY/);
}, 90_000);
