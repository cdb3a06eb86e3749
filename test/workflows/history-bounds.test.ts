// What bounds a conversation's history and state, on the time-skipping test server: one inactivity
// timer that re-arms itself from the last activity, the names of written attributes kept bounded,
// writes refused while a stuck hand-over flush grows the history, and a batch whose key the store
// holds with other content written under the next key instead of failing the conversation.
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { WorkerMetrics } from '../../src/platform/metrics';
import {
  type ConversationSettings,
  DEFAULT_SETTINGS,
  acceptedAttributeWriteSignal,
  attributeWriteQuery,
  conversationStateQuery,
  setAttributesUpdate,
} from '../../src/conversation/messages';
import type { SqliteParticipantDataStore } from '../../src/store';
import { REFUSED_WRITE_NAMES_KEPT, REFUSED_WRITES_KEPT, STORED_NAMES_KEPT, STUCK_FLUSH_HEADROOM_EVENTS } from '../../src/conversation/state';
import { uniqueId } from '../support/temporal';
import { nextRun, startTimeSkipping, type TimeSkippingRig } from '../../rigs/time-skipping';
import { routingEvent, sendEvent } from '../support/conversation';
import { recordHistory } from '../support/histories';
import { lockSqlite, type SqliteLock } from '../support/sqlite-lock';
import { waitFor } from '../../rigs/wait';

let rig: TimeSkippingRig;
let env: TestWorkflowEnvironment;
let store: SqliteParticipantDataStore;
let storePath: string;
let taskQueue: string;
const metrics = new WorkerMetrics();

beforeAll(async () => {
  rig = await startTimeSkipping('bounds', { metrics });
  ({ env, store, storeFile: storePath } = rig);
});

/** Locks a test took on the store; released after it even when it failed or timed out mid-way. */
const locks: SqliteLock[] = [];

afterEach(() => Promise.all(locks.splice(0).map((l) => l.release())));

afterAll(() => rig?.stop());

beforeEach(() => {
  taskQueue = uniqueId('bounds-tests');
});

const withWorker = <T>(fn: () => Promise<T>): Promise<T> => rig.withWorker(taskQueue, fn);

const start = (event: ReturnType<typeof routingEvent>, settings: ConversationSettings = DEFAULT_SETTINGS) =>
  sendEvent(env.client, taskQueue, event, settings);

const EventType = temporal.api.enums.v1.EventType;
const millis = (t?: { seconds?: unknown; nanos?: number | null } | null): number => Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

test('inactivity closes a conversation inactivityTimeoutMs after its LAST activity, with one timer that re-arms itself', async () => {
  const id = uniqueId('idle');
  const settings = { ...DEFAULT_SETTINGS, inactivityTimeoutMs: 30 * 60_000 };
  await withWorker(async () => {
    const handle = await start(routingEvent(id, 'CREATED', 0), settings);
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { step: 't0' } }] });
    await env.sleep('20 minutes');
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { step: 't20' } }] });
    await env.sleep('20 minutes');
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { step: 't40' } }] });
    // 69 minutes: 29 since the last write, still open (a timer from the first activity would have closed it at 30).
    await env.sleep('29 minutes');
    expect((await handle.query(conversationStateQuery)).status).toBe('queued');
    await env.sleep('2 minutes');
    const result = await handle.result();
    expect(result).toMatchObject({ closeReason: 'inactivity', batchesWritten: 1 });
    expect((await store.getAttribute(id, 'step'))?.value).toBe('t40');

    const events = (await handle.fetchHistory()).events ?? [];
    const lastWrite = events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).at(-1);
    const closedAt = Date.parse((await handle.query(conversationStateQuery)).closedAt ?? '');
    // Closed 30 minutes after the last write (the write is accepted a moment after its event time).
    expect(Math.abs(closedAt - millis(lastWrite?.eventTime) - 30 * 60_000)).toBeLessThan(5_000);
    // Armed at the start, re-armed when it fired at 30 (for the 20 left) and at 50 (for 20 more); never cancelled.
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_STARTED)).toHaveLength(3);
    expect(events.filter((e) => e.eventType === EventType.EVENT_TYPE_TIMER_CANCELED)).toHaveLength(0);
    await recordHistory(handle, 'single-inactivity-timer-rearmed');
  });
});

test('the names of written attributes are bounded in the continue-as-new input, the query and the result; the store has them all', async () => {
  const id = uniqueId('names');
  const settings = { ...DEFAULT_SETTINGS, continueAsNewAfterEvents: 40 };
  const names = (prefix: string, n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${String(i).padStart(3, '0')}`, 'v']));
  await withWorker(async () => {
    const handle = await start(routingEvent(id, 'CREATED', 0), settings);
    const chainId = (await handle.describe()).runId;
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: names('a', 100) }] });
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: names('b', 100) }] });
    // Described, not queried, while a hand-over may be under way (rigs/time-skipping.ts: the test server can lose that query).
    for (let i = 0; (await handle.describe()).runId === chainId && i < 40; i++) {
      await start(routingEvent(id, 'QUEUED', 1 + i / 100, { estimatedWaitTime: 300 - i }), settings);
    }
    await nextRun(handle, chainId);
    const view = await handle.query(conversationStateQuery);
    expect(view.runCount).toBe(2);
    // The 100 most recent of the 200 names written; the rest are in the store.
    expect(view.attributeNames.stored).toHaveLength(STORED_NAMES_KEPT);
    expect(view.attributeNames.storedTruncated).toBe(true);
    expect(view.attributeNames.stored).toEqual(Object.keys(names('b', 100)));

    // What the first run handed over carried no more than that.
    const firstRun = await env.client.workflow.getHandle(handle.workflowId, chainId).fetchHistory();
    const handOver = firstRun.events?.find((e) => e.workflowExecutionContinuedAsNewEventAttributes)?.workflowExecutionContinuedAsNewEventAttributes;
    const next = JSON.parse(Buffer.from(handOver?.input?.payloads?.[0]?.data ?? []).toString()) as { state: { storedNames: string[] } };
    expect(next.state.storedNames).toHaveLength(STORED_NAMES_KEPT);

    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { a000: 'again', c: 'new' } }] });
    await start(routingEvent(id, 'CLOSED', 2), settings);
    const result = await handle.result();
    expect(result.storedNames).toHaveLength(STORED_NAMES_KEPT);
    expect(result.storedNames).toEqual(expect.arrayContaining(['a000', 'c', 'b099']));
    expect(result.storedNamesTruncated).toBe(true);
    expect(await store.listAttributes(id)).toHaveLength(201);
  });
});

test('while the hand-over batch waits for a store that does not answer, writes past the headroom are refused (nothing applied) and taken again once it is written', async () => {
  const id = uniqueId('stuck');
  const settings = { ...DEFAULT_SETTINGS, continueAsNewAfterEvents: 400 };
  const headroom = STUCK_FLUSH_HEADROOM_EVENTS;
  // Another process holds the SQLite write lock: every flush attempt times out (STORE_TIMEOUT) and is retried.
  const lock = await lockSqlite(storePath, 10 * 60_000);
  locks.push(lock);
  await withWorker(async () => {
    const handle = await start(routingEvent(id, 'CREATED', 0), settings);
    const chainId = (await handle.describe()).runId;
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { first: 'queued before the hand-over' } }] });
    // Estimated-wait updates grow the history until continue-as-new is due and the hand-over batch is written.
    const retried = async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2);
    for (let i = 0; i < 400 && (i % 10 !== 0 || !(await retried())); i++) {
      await start(routingEvent(id, 'QUEUED', 1 + i / 1000, { estimatedWaitTime: 300 - i }), settings);
    }
    await waitFor('the hand-over flush to be retried', retried, { timeoutMs: 60_000 });
    const historyAtStuck = (await handle.describe()).historyLength;

    const accepted: string[] = [];
    let refused: WorkflowUpdateFailedError | undefined;
    for (let i = 0; i < 2 * headroom && !refused; i++) {
      const outcome = await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { [`w${i}`]: 'v' } }] }).catch((e: unknown) => e);
      if (outcome instanceof WorkflowUpdateFailedError) refused = outcome;
      else if (outcome instanceof Error) throw outcome;
      else accepted.push(`w${i}`);
    }
    // Writes are taken while the history has room, then refused.
    expect(accepted.length).toBeGreaterThan(10);
    expect(refused?.cause).toMatchObject({ type: 'StoreBacklog' });
    expect(refused?.cause?.message).toMatch(/nothing was applied/);
    const historyAtRefusal = (await handle.describe()).historyLength;
    // Bounded: the run grew by about the headroom, not by every write sent.
    expect(historyAtRefusal - historyAtStuck).toBeLessThanOrEqual(headroom + 10);
    // Refused again while the store stays down; a refused write is not recorded.
    const accepts = async () =>
      ((await handle.fetchHistory()).events ?? []).filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED).length;
    const acceptedBefore = await accepts();
    await expect(handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { refused: 'x' } }] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect(await accepts()).toBe(acceptedBefore);
    // A write confirmed at the edge meets the same refusal, kept where its caller reads it.
    const edgeWrite = { writeId: 'edge-1', attributes: { edge: 'sent while the store was behind' } };
    await handle.signal(acceptedAttributeWriteSignal, edgeWrite);
    expect(await handle.query(attributeWriteQuery, 'edge-1')).toMatchObject({ status: 'refused', reason: 'StoreBacklog', names: ['edge'] });

    await lock.release();
    // The hand-over's workflow task runs within moments of the release: described, not queried, until it is done.
    await nextRun(handle, chainId, 90_000);
    expect((await handle.query(conversationStateQuery)).runCount).toBe(2);
    // The refusal travelled with the hand-over; the same write sent again is taken, and then reads applied.
    expect(await handle.query(attributeWriteQuery, 'edge-1')).toMatchObject({ status: 'refused', reason: 'StoreBacklog' });
    await handle.signal(acceptedAttributeWriteSignal, edgeWrite);
    expect(await handle.query(attributeWriteQuery, 'edge-1')).toEqual({ writeId: 'edge-1', status: 'applied' });
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { after: 'taken again' } }] });
    await start(routingEvent(id, 'CLOSED', 2), settings);
    await handle.result();
    const stored = new Map((await store.listAttributes(id)).map((a) => [a.name, a.value]));
    expect([...stored.keys()].sort()).toEqual(['after', 'edge', 'first', ...accepted].sort());
    expect(stored.has('refused')).toBe(false);
  });
});

test('refused writes confirmed at the edge are bounded in the state, whatever a flow sends', async () => {
  const id = uniqueId('refused-bounds');
  await withWorker(async () => {
    const handle = await start(routingEvent(id, 'CREATED', 0));
    await start(routingEvent(id, 'CLOSED', 1));
    // The largest write a flow may send: 100 names of 253 characters.
    const attributes = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${'n'.repeat(250)}${String(i).padStart(3, '0')}`, 'v']));
    for (let i = 0; i < REFUSED_WRITES_KEPT + 10; i++) await handle.signal(acceptedAttributeWriteSignal, { writeId: `late-${i}`, attributes });
    const { refusedWrites = [] } = await handle.query(conversationStateQuery);
    expect(refusedWrites).toHaveLength(REFUSED_WRITES_KEPT);
    expect(refusedWrites[0]).toMatchObject({ writeId: 'late-10', reason: 'ConversationClosed', moreNames: 100 - REFUSED_WRITE_NAMES_KEPT });
    expect(refusedWrites.every((r) => r.names.length === REFUSED_WRITE_NAMES_KEPT)).toBe(true);
    expect(JSON.stringify(refusedWrites).length).toBeLessThan(120_000);
    // The oldest refusals are forgotten: their outcome is unknown now.
    expect(await handle.query(attributeWriteQuery, 'late-0')).toEqual({ writeId: 'late-0', status: 'unknown' });
  });
});

test('a batch whose key the store already holds with other content is written under the next key; the conversation completes', async () => {
  const id = uniqueId('conflict');
  await withWorker(async () => {
    const handle = await start(routingEvent(id, 'CREATED', 0));
    const chainId = (await handle.describe()).runId;
    // A store that already holds batch 1 of this chain with other content (restored from elsewhere).
    await store.writeBatch({ conversationId: id, chainId, batchSeq: 1, attributes: { foreign: 'not this conversation\'s write' } });
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund', account: '42' } }] });
    await start(routingEvent(id, 'CLOSED', 1));
    expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 2, storedNames: ['account', 'intent'] });
    expect((await store.listBatches(id)).map((b) => [b.chainId, b.batchSeq, b.attributeCount])).toEqual([
      [chainId, 1, 1],
      [chainId, 2, 2],
    ]);
    expect((await store.getAttribute(id, 'intent'))?.value).toBe('refund');
    expect(await metrics.registry.metrics()).toMatch(/^parley_flush_total\{outcome="conflict"\} 1$/m);
    await recordHistory(handle, 'batch-conflict-next-seq');
  });
});
