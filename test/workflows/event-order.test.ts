// The routing record is a function of the set of events received, not of their arrival order:
// property tests on the pure fold (many cases) and through the workflow on the time-skipping
// server (fewer cases, serially), plus the grace window after CLOSED and the memory bounds. The
// same events give the same bytes too (view, export record, hand-over), whatever their arrival order.
import path from 'node:path';
import fc from 'fast-check';
import { WorkflowExecutionAlreadyStartedError, type WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../activities';
import { type ConversationSettings, type ConversationState, DEFAULT_SETTINGS, type RoutingEvent, conversationStateQuery, searchAttributes, setAttributesUpdate } from '../../src/conversation/messages';
import { type ParticipantDataStore, SqliteParticipantDataStore } from '../../src/store';
import { HAND_OVER_STATE_BYTES_MAX, HELD_EVENTS_MAX, initialState } from '../../src/conversation/state';
import { closeLocally, receiveRoutingEvent } from '../../src/conversation/record';
import { handOverState, resumedState } from '../../src/conversation/hand-over';
import { exportRecordOf, viewOf } from '../../src/conversation/projections';
import { bundleWorkflows, createTimeSkippingEnv, silentLogger, tempDir, uniqueId } from '../support/temporal';
import { routingEvent, sendEvent } from '../support/conversation';
import { type GeneratedEvent, eventSetAndDelivery, inOrder, recordOf } from '../support/event-sets';
import { recordHistory } from '../support/histories';
import { waitFor } from '../../rigs/wait';

const CONVERSATION = 'c-prop';
const START = '2026-11-22T08:00:00.000Z';

function foldAll(events: GeneratedEvent[]): ConversationState {
  const state = initialState(CONVERSATION, START);
  for (const event of events) receiveRoutingEvent(state, { ...event, conversationId: CONVERSATION });
  return state;
}

describe('the pure fold', () => {
  test('any delivery order, each event up to twice, gives the record of in-order delivery, byte for byte', () => {
    fc.assert(
      fc.property(eventSetAndDelivery(12), ([events, delivered]) => {
        const shuffled = foldAll(delivered);
        const ordered = foldAll(inOrder(events));
        expect(recordOf(viewOf(shuffled))).toEqual(recordOf(viewOf(ordered)));
        // Same bytes, not only the same content: task context names in one order whatever the arrival order.
        expect(JSON.stringify(viewOf(shuffled))).toBe(JSON.stringify(viewOf(ordered)));
        expect(JSON.stringify(exportRecordOf(shuffled))).toBe(JSON.stringify(exportRecordOf(ordered)));
        expect(JSON.stringify(handOverState(shuffled))).toBe(JSON.stringify(handOverState(ordered)));
      }),
      { numRuns: 3000 },
    );
  });

  test('task context is serialized in name order: variables that arrived in either order give the same bytes', () => {
    const first = routingEvent(CONVERSATION, 'CREATED', 0, { taskContext: { cv_2: 'two', user_lang: 'fr' } });
    const second = routingEvent(CONVERSATION, 'QUEUED', 1, { taskContext: { cv_1: 'one' } });
    const a = foldAll([first, second]);
    const b = foldAll([second, first]);
    expect(Object.keys(viewOf(a).taskContext)).toEqual(['cv_1', 'cv_2', 'user_lang']);
    expect(JSON.stringify(viewOf(a))).toBe(JSON.stringify(viewOf(b)));
    expect(JSON.stringify(exportRecordOf(a))).toBe(JSON.stringify(exportRecordOf(b)));
    expect(JSON.stringify(handOverState(a))).toBe(JSON.stringify(handOverState(b)));
  });

  test('occurredAt is read once per event received: the held event keeps its instant, and placing it parses nothing', () => {
    const events = Array.from({ length: 300 }, (_, i) => routingEvent(CONVERSATION, 'QUEUED', (i * 7919) % 300, { estimatedWaitTime: i }));
    const parse = jest.spyOn(Date, 'parse');
    try {
      const state = foldAll(events);
      // One parse per event, none per comparison of the binary search or per compaction.
      expect(parse).toHaveBeenCalledTimes(events.length);
      expect(state.ordering.events.map((e) => e.at)).toEqual(state.ordering.events.map((e) => new Date(e.occurredAt).getTime()));
      // A redelivery is recognised before anything is parsed.
      parse.mockClear();
      receiveRoutingEvent(state, { ...events[0], conversationId: CONVERSATION });
      expect(parse).not.toHaveBeenCalled();
    } finally {
      parse.mockRestore();
    }
  });

  test('a conversation closed without an event before its first routing event keeps that close, as if the event had come first', () => {
    const created = routingEvent(CONVERSATION, 'CREATED', 0, { queue: 'sales', taskContext: { cv_1: 'gold' } });
    const closedFirst = initialState(CONVERSATION, START);
    closeLocally(closedFirst, 'end-keyword', START);
    receiveRoutingEvent(closedFirst, created);
    expect(closedFirst).toMatchObject({ status: 'closed', closeReason: 'end-keyword', closedAt: START, taskContext: { cv_1: 'gold' } });
    const eventFirst = initialState(CONVERSATION, START);
    receiveRoutingEvent(eventFirst, created);
    closeLocally(eventFirst, 'end-keyword', START);
    expect(viewOf(closedFirst)).toEqual(viewOf(eventFirst));
  });

  test('a hand-over (continue-as-new) anywhere in the delivery changes nothing', () => {
    fc.assert(
      fc.property(eventSetAndDelivery(10), fc.nat(), ([events, delivered], cut) => {
        const at = cut % (delivered.length + 1);
        const first = foldAll(delivered.slice(0, at));
        // What the next run receives: the handed-over state through a JSON round trip, recomputed.
        const next = resumedState(JSON.parse(JSON.stringify(handOverState(first))));
        for (const event of delivered.slice(at)) receiveRoutingEvent(next, { ...event, conversationId: CONVERSATION });
        expect({ ...recordOf(viewOf(next)), runCount: 1 }).toEqual(recordOf(viewOf(foldAll(inOrder(events)))));
      }),
      { numRuns: 1000 },
    );
  });

  test('the examples of the issue: late CREATED keeps its task context; CLOSED first still ends with agent, queue and transfer', () => {
    const ev = (eventType: RoutingEvent['eventType'], minute: number, extra: Partial<RoutingEvent> = {}) =>
      routingEvent(CONVERSATION, eventType, minute, extra);
    const created = ev('CREATED', 0, { queue: 'sales', taskContext: { cv_1: 'gold', user_lang: 'fr' } });
    const queued = ev('QUEUED', 1, { queue: 'sales', estimatedWaitTime: 40 });
    const routed = ev('ROUTED', 2, { agentId: 'agent-a', taskContext: { cv_1: 'platinum' } });
    const transferred = ev('TRANSFERRED', 3, { destination: 'retention' });
    const rerouted = ev('ROUTED', 4, { agentId: 'agent-b' });
    const closed = ev('CLOSED', 5, { dispositionCode: 'RESOLVED' });
    const all = [created, queued, routed, transferred, rerouted, closed];
    const expected = recordOf(viewOf(foldAll(all)));
    expect(expected).toMatchObject({
      status: 'closed',
      agentId: 'agent-b',
      queue: 'retention',
      taskContext: { cv_1: 'platinum', user_lang: 'fr' },
      transferCount: 1,
      transfers: [{ fromAgentId: 'agent-a', fromQueue: 'sales', destination: 'retention' }],
      dispositionCode: 'RESOLVED',
    });
    expect(expected.recentEvents.map((e) => e.applied)).toEqual([true, true, true, true, true, true]);
    // CLOSED first, CREATED last.
    expect(recordOf(viewOf(foldAll([closed, rerouted, transferred, routed, queued, created, closed])))).toEqual(expected);
  });

  test('equal instants follow the lifecycle, then eventId', () => {
    const at = (eventType: RoutingEvent['eventType'], eventId: string, extra: Partial<RoutingEvent> = {}) => ({
      ...routingEvent(CONVERSATION, eventType, 1, extra),
      eventId,
    });
    // Same second: transferred, then queued and routed at the destination, then closed.
    const state = foldAll([
      at('CLOSED', 'z'),
      at('ROUTED', 'b', { agentId: 'agent-a' }),
      at('QUEUED', 'c', { estimatedWaitTime: 20 }),
      at('TRANSFERRED', 'a', { destination: 'support' }),
    ]);
    expect(state.recentEvents.map((e) => e.eventType)).toEqual(['TRANSFERRED', 'QUEUED', 'ROUTED', 'CLOSED']);
    expect(state).toMatchObject({ status: 'closed', queue: 'support', agentId: 'agent-a', transferCount: 1 });
    expect(state.recentEvents.map((e) => e.applied)).toEqual([true, true, true, true]);
    // Two ROUTED at the same instant: the greater eventId is the later one.
    const two = foldAll([at('ROUTED', 'r-2', { agentId: 'second' }), at('ROUTED', 'r-1', { agentId: 'first' })]);
    expect(two.agentId).toBe('second');
    // The same instant written with another offset is the same instant.
    const offset = foldAll([
      { ...at('ROUTED', 'x', { agentId: 'agent-x' }), occurredAt: '2026-11-22T10:01:00+01:00' },
      at('QUEUED', 'y', { queue: 'late' }),
    ]);
    expect(offset.recentEvents.map((e) => e.eventType)).toEqual(['QUEUED', 'ROUTED']);
  });

  test('events after the close are recorded, do not reopen, and their task context is kept', () => {
    const state = foldAll([
      routingEvent(CONVERSATION, 'CLOSED', 5),
      routingEvent(CONVERSATION, 'ROUTED', 6, { agentId: 'agent-late', taskContext: { user_wrapup: 'callback' } }),
    ]);
    expect(state).toMatchObject({ status: 'closed', taskContext: { user_wrapup: 'callback' } });
    expect(state.agentId).toBeUndefined();
    expect(state.recentEvents.at(-1)).toMatchObject({ eventType: 'ROUTED', applied: false, note: expect.stringMatching(/after the close/) });
  });

  test('bounded: held events are compacted into the snapshot without changing the record; the window is the last 1,000 ids', () => {
    const events: RoutingEvent[] = [routingEvent(CONVERSATION, 'CREATED', 0, { taskContext: { cv_1: 'first' } })];
    for (let i = 1; i <= 1300; i++) events.push(routingEvent(CONVERSATION, 'QUEUED', i / 10, { estimatedWaitTime: i, taskContext: { user_n: String(i) } }));
    events.push(routingEvent(CONVERSATION, 'ROUTED', 200, { agentId: 'agent-a' }));
    // Delivered in reversed blocks of 200: each event arrives before fewer than 1,000 later ones.
    const delivered: RoutingEvent[] = [];
    for (let i = 0; i < events.length; i += 200) delivered.push(...events.slice(i, i + 200).reverse());
    const inOrderState = initialState(CONVERSATION, START);
    for (const event of events) receiveRoutingEvent(inOrderState, event);
    const shuffled = initialState(CONVERSATION, START);
    for (const event of delivered) receiveRoutingEvent(shuffled, event);
    expect(viewOf(shuffled)).toEqual(viewOf(inOrderState));
    expect(shuffled.ordering.events.length).toBe(HELD_EVENTS_MAX);
    expect(shuffled.ordering.events.length + shuffled.ordering.compactedIds.length).toBeLessThanOrEqual(HELD_EVENTS_MAX);
    expect(shuffled).toMatchObject({ status: 'active', agentId: 'agent-a', taskContext: { cv_1: 'first', user_n: '1300' } });

    // An event older than the window cannot be placed: only its task context counts (by occurrence).
    receiveRoutingEvent(shuffled, routingEvent(CONVERSATION, 'TRANSFERRED', 0.05, { destination: 'nowhere', taskContext: { cv_2: 'kept', user_n: 'old' } }));
    const view = viewOf(shuffled);
    expect(view).toMatchObject({ status: 'active', transferCount: 0, eventsOutsideWindow: 1, taskContext: { cv_2: 'kept', user_n: '1300' } });
    // A redelivery of an id within the window changes nothing.
    receiveRoutingEvent(shuffled, events[1300]);
    expect(viewOf(shuffled)).toEqual(view);
  });

  test('the hand-over state fits one payload even with every bound reached', () => {
    const state = initialState(CONVERSATION, START);
    const big = (i: number) => `${'é'.repeat(190)}${i}`;
    // Task context at its bounds, large routing fields, a full write queue.
    for (let i = 0; i < 1100; i++) {
      const taskContext = i < 4 ? Object.fromEntries(Array.from({ length: 50 }, (_, j) => [`ext_${i}_${j}_${'n'.repeat(200)}`, 'v'.repeat(1000)])) : undefined;
      receiveRoutingEvent(state, {
        ...routingEvent(CONVERSATION, i % 2 ? 'ROUTED' : 'TRANSFERRED', i, { agentId: big(i), queue: big(i), destination: big(i), taskId: big(i), dispositionCode: big(i) }),
        eventId: `${'i'.repeat(190)}-${i}`,
        ...(taskContext ? { taskContext } : {}),
      });
    }
    for (let i = 0; i < 122; i++) state.pending[`name-${i}`] = '😀'.repeat(2000);
    const handed = handOverState(state);
    const bytes = Buffer.byteLength(JSON.stringify(handed));
    expect(bytes).toBeLessThan(2_000_000);
    expect(bytes).toBeLessThanOrEqual(HAND_OVER_STATE_BYTES_MAX + 200_000);
    const next = resumedState(JSON.parse(JSON.stringify(handed)));
    expect(viewOf(next)).toEqual(JSON.parse(JSON.stringify({ ...viewOf(state), runCount: 2 })));
  });

});

describe('through the workflow (time-skipping server)', () => {
  let env: TestWorkflowEnvironment;
  let bundle: WorkflowBundleWithSourceMap;
  let store: ParticipantDataStore;
  let worker: Worker;
  let workerRun: Promise<void>;
  const taskQueue = uniqueId('event-order');

  beforeAll(async () => {
    [env, bundle] = await Promise.all([createTimeSkippingEnv(), bundleWorkflows()]);
    store = new SqliteParticipantDataStore(path.join(tempDir('order'), 'participant-data.sqlite'));
    await store.init();
    worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities: createActivities({ store, logger: silentLogger }) });
    workerRun = worker.run();
  });

  afterAll(async () => {
    worker?.shutdown();
    await workerRun;
    await store?.close();
    await env?.teardown();
  });

  const send = (conversationId: string, event: GeneratedEvent, settings: ConversationSettings = DEFAULT_SETTINGS) =>
    sendEvent(env.client, taskQueue, { ...event, conversationId } as RoutingEvent, settings);

  async function deliver(conversationId: string, events: GeneratedEvent[]) {
    let handle: Awaited<ReturnType<typeof send>> | undefined;
    for (const event of events) handle = await send(conversationId, event);
    return handle!;
  }

  test('any delivery order, each event up to twice, ends in the record of in-order delivery (CLOSED anywhere; within the grace window)', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(eventSetAndDelivery(8), async ([events, delivered]) => {
        runs++;
        const shuffled = await deliver(uniqueId('prop-shuffled'), delivered);
        const ordered = await deliver(uniqueId('prop-ordered'), inOrder(events));
        const [a, b] = await Promise.all([shuffled.query(conversationStateQuery), ordered.query(conversationStateQuery)]);
        expect(recordOf(a)).toEqual(recordOf(b));
        expect(JSON.stringify(recordOf(a))).toBe(JSON.stringify(recordOf(b)));
        await Promise.all([shuffled.terminate('property case done'), ordered.terminate('property case done')]);
      }),
      { numRuns: 30, endOnFailure: true },
    );
    expect(runs).toBe(30);
  });

  test('the grace window: the final batch is written at the close, writes are refused, earlier events are folded in, the workflow completes after the window', async () => {
    const id = uniqueId('grace');
    const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 2 * 60_000 };
    const ev = (eventType: RoutingEvent['eventType'], minute: number, extra: Partial<RoutingEvent> = {}) => routingEvent(id, eventType, minute, extra);
    const handle = await sendEvent(env.client, taskQueue, ev('CREATED', 0, { queue: 'sales', taskContext: { cv_1: 'gold' } }), settings);
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund' } }] });
    // CLOSED arrives before the routing and the transfer that preceded it.
    await sendEvent(env.client, taskQueue, ev('CLOSED', 5, { dispositionCode: 'RESOLVED' }), settings);
    await waitFor('the final batch, written at the close', async () => (await store.listBatches(id)).length === 1);
    expect((await handle.describe()).status.name).toBe('RUNNING');

    const refused = await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'late' } }] }).catch((e: unknown) => e);
    expect((refused as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'ConversationClosed' });

    await sendEvent(env.client, taskQueue, ev('TRANSFERRED', 3, { destination: 'retention' }), settings);
    await sendEvent(env.client, taskQueue, ev('ROUTED', 2, { agentId: 'agent-a', taskContext: { user_lang: 'fr' } }), settings);
    await sendEvent(env.client, taskQueue, ev('ROUTED', 4, { agentId: 'agent-b' }), settings);
    // Occurred after the close: recorded, does not reopen.
    await sendEvent(env.client, taskQueue, ev('QUEUED', 6, { queue: 'ghost' }), settings);
    const view = await handle.query(conversationStateQuery);
    expect(view).toMatchObject({
      status: 'closed',
      agentId: 'agent-b',
      queue: 'retention',
      transferCount: 1,
      transfers: [{ fromAgentId: 'agent-a', fromQueue: 'sales', destination: 'retention' }],
      taskContext: { cv_1: 'gold', user_lang: 'fr' },
      dispositionCode: 'RESOLVED',
      closeReason: 'closed-event',
    });
    expect(view.recentEvents.map((e) => [e.eventType, e.applied])).toEqual([
      ['CREATED', true],
      ['ROUTED', true],
      ['TRANSFERRED', true],
      ['ROUTED', true],
      ['CLOSED', true],
      ['QUEUED', false],
    ]);
    // Search attributes follow the record during the window.
    await waitFor('search attributes of the folded record', async () => {
      const attributes = (await handle.describe()).typedSearchAttributes;
      return attributes.get(searchAttributes.agent) === 'agent-b' && attributes.get(searchAttributes.queue) === 'retention';
    });

    await env.sleep('1 minute');
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await env.sleep('61 seconds');
    expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1, storedNames: ['intent'] });
    expect(await store.listBatches(id)).toHaveLength(1);
    // After the window the conversation takes nothing more.
    const after = await sendEvent(env.client, taskQueue, ev('TRANSFERRED', 4.5, { destination: 'x' }), settings).catch((e: unknown) => e);
    expect(after).toBeInstanceOf(WorkflowExecutionAlreadyStartedError);
    expect(recordOf(await handle.query(conversationStateQuery))).toEqual(recordOf(view));
    await recordHistory(handle, 'closed-grace-window');
  });

  test('CLOSED_GRACE_PERIOD=0: the workflow completes once the final batch is written, as before', async () => {
    const id = uniqueId('no-grace');
    const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
    const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'ROUTED', 1, { agentId: 'agent-a' }), settings);
    await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0, { taskContext: { cv_1: 'late but kept' } }), settings);
    await sendEvent(env.client, taskQueue, routingEvent(id, 'CLOSED', 2), settings);
    await waitFor('the workflow to complete', async () => (await handle.describe()).status.name === 'COMPLETED');
    expect(await handle.query(conversationStateQuery)).toMatchObject({ status: 'closed', agentId: 'agent-a', taskContext: { cv_1: 'late but kept' } });
    await recordHistory(handle, 'no-grace-window');
  });
});
