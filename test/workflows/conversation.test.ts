// Workflow logic on the time-skipping test server: routing rules, participant data, and the one
// batch written on close, on inactivity, on cancellation and at continue-as-new.
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { CancelledFailure, WorkflowIdReusePolicy, WorkflowNotFoundError } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Context } from '@temporalio/activity';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createActivities } from '../../activities';
import {
  type ConversationSettings,
  DEFAULT_SETTINGS,
  conversationStateQuery,
  pendingAttributeQuery,
  routingEventSignal,
  setAttributesUpdate,
  workflowIdFor,
} from '../../src/conversation/messages';
import { conversationWorkflow } from '../../src/conversation/workflows/conversation';
import type { ParticipantDataStore } from '../../src/store';
import { silentLogger, uniqueId } from '../support/temporal';
import { nextRun, startTimeSkipping, type TimeSkippingRig } from '../../rigs/time-skipping';
import { routingEvent, sendEvent } from '../support/conversation';
import { recordHistory } from '../support/histories';
import { waitFor } from '../../rigs/wait';

let rig: TimeSkippingRig;
let env: TestWorkflowEnvironment;
let store: ParticipantDataStore;
let bundle: WorkflowBundleWithSourceMap;
let taskQueue = 'conversation-tests';

beforeAll(async () => {
  rig = await startTimeSkipping('wf');
  ({ env, store, bundle } = rig);
});

afterAll(() => rig?.stop());

// Each test its own task queue, so a test that fails mid-way cannot leave work for the next one.
beforeEach(() => {
  taskQueue = uniqueId('conversation-tests');
});

const withWorker = <T>(fn: () => Promise<T>): Promise<T> => rig.withWorker(taskQueue, fn);

const start = (event: ReturnType<typeof routingEvent>, settings: ConversationSettings = DEFAULT_SETTINGS) =>
  sendEvent(env.client, taskQueue, event, settings);

describe('routing events', () => {
  test('lifecycle with a transfer; a redelivered event changes nothing', async () => {
    const id = uniqueId('life');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0, { queue: 'billing', taskContext: { cv_1: 'gold' } }));
      await start(routingEvent(id, 'QUEUED', 1, { queue: 'billing', estimatedWaitTime: 120 }));
      let view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'queued', queue: 'billing', estimatedWaitTime: 120, channel: 'chat', taskContext: { cv_1: 'gold' } });

      const routed = routingEvent(id, 'ROUTED', 2, { agentId: 'agent-a' });
      await start(routed);
      await start({ ...routed, agentId: 'agent-z' }); // same eventId, redelivered with other content
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'active', agentId: 'agent-a' });
      expect(view.estimatedWaitTime).toBeUndefined();
      expect(view.recentEvents.filter((e) => e.eventId === routed.eventId)).toHaveLength(1);

      await start(routingEvent(id, 'TRANSFERRED', 3, { destination: 'retention' }));
      view = await handle.query(conversationStateQuery);
      expect(view.status).toBe('queued');
      expect(view.agentId).toBeUndefined();
      expect(view.queue).toBe('retention');
      expect(view.transfers).toEqual([expect.objectContaining({ fromAgentId: 'agent-a', fromQueue: 'billing', destination: 'retention' })]);

      await start(routingEvent(id, 'ROUTED', 4, { agentId: 'agent-b' }));
      await start(routingEvent(id, 'CLOSED', 5, { dispositionCode: 'RESOLVED' }));
      const result = await handle.result();
      expect(result).toMatchObject({ conversationId: id, closeReason: 'closed-event', batchesWritten: 0 });
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'closed', agentId: 'agent-b', transferCount: 1, dispositionCode: 'RESOLVED' });
      expect(view.recentEvents.map((e) => e.eventType)).toEqual(['CREATED', 'QUEUED', 'ROUTED', 'TRANSFERRED', 'ROUTED', 'CLOSED']);
      await recordHistory(handle, 'lifecycle-with-transfer');
    });
  });

  test('late events are folded into their place: what occurred last decides, whatever the arrival order', async () => {
    const id = uniqueId('late');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'ROUTED', 3, { agentId: 'agent-a', queue: 'sales' }));
      await start(routingEvent(id, 'QUEUED', 2, { queue: 'sales', estimatedWaitTime: 30 }));
      await start(routingEvent(id, 'CREATED', 1, { taskContext: { cv_1: 'gold' } }));
      let view = await handle.query(conversationStateQuery);
      // The routing occurred last, so the conversation is active; the late CREATED's variables are kept.
      expect(view).toMatchObject({ status: 'active', agentId: 'agent-a', taskContext: { cv_1: 'gold' } });
      expect(view.estimatedWaitTime).toBeUndefined();
      expect(view.recentEvents.map((e) => [e.eventType, e.applied])).toEqual([
        ['CREATED', true],
        ['QUEUED', true],
        ['ROUTED', true],
      ]);

      // A transfer that happened before the current routing is history, not the present.
      await start(routingEvent(id, 'TRANSFERRED', 2.5, { destination: 'support' }));
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'active', agentId: 'agent-a', transferCount: 1 });
      expect(view.recentEvents.map((e) => e.eventType)).toEqual(['CREATED', 'QUEUED', 'TRANSFERRED', 'ROUTED']);

      await start(routingEvent(id, 'TRANSFERRED', 4, { destination: 'support' }));
      // The routing that preceded this transfer arrives late: it is the routing the transfer ended.
      await start(routingEvent(id, 'ROUTED', 3.5, { agentId: 'agent-old' }));
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'queued', queue: 'support', transferCount: 2 });
      expect(view.agentId).toBeUndefined();
      expect(view.transfers.at(-1)).toMatchObject({ fromAgentId: 'agent-old', destination: 'support' });

      // Delivered after the close, occurred before it (within the grace window): folded in.
      await start(routingEvent(id, 'CLOSED', 6));
      await start(routingEvent(id, 'ROUTED', 5, { agentId: 'agent-c' }));
      await handle.result();
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'closed', agentId: 'agent-c', closeReason: 'closed-event' });
      await recordHistory(handle, 'late-events-folded-in-place');
    });
  });

  test('a transfer that arrives before the routing it ended: that routing, when it comes, is folded in before it', async () => {
    const id = uniqueId('xfer-first');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0, { queue: 'sales' }));
      await start(routingEvent(id, 'QUEUED', 1, { queue: 'sales' }));
      // Delivered out of order: the transfer at t=3 before the routing at t=2 that it ended.
      await start(routingEvent(id, 'TRANSFERRED', 3, { destination: 'support' }));
      let view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'queued', queue: 'support', transferCount: 1 });
      expect(view.recentEvents.at(-1)).toMatchObject({ eventType: 'TRANSFERRED', applied: true, note: 'no routing precedes this transfer' });

      await start(routingEvent(id, 'ROUTED', 2, { agentId: 'agent-old', queue: 'sales' }));
      view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'queued', queue: 'support', transferCount: 1 });
      expect(view.agentId).toBeUndefined();
      expect(view.transfers).toEqual([expect.objectContaining({ fromAgentId: 'agent-old', fromQueue: 'sales', destination: 'support' })]);
      expect(view.recentEvents.map((e) => [e.eventType, e.applied])).toEqual([
        ['CREATED', true],
        ['QUEUED', true],
        ['ROUTED', true],
        ['TRANSFERRED', true],
      ]);

      // The routing after the transfer is the present.
      await start(routingEvent(id, 'ROUTED', 4, { agentId: 'agent-new' }));
      expect(await handle.query(conversationStateQuery)).toMatchObject({ status: 'active', agentId: 'agent-new', queue: 'support' });
      await start(routingEvent(id, 'CLOSED', 5));
      await handle.result();
      await recordHistory(handle, 'transfer-before-its-routing');
    });
  });
});

describe('task context', () => {
  test('merges across events within bounds; what does not fit is left out and noted', async () => {
    const id = uniqueId('context');
    const vars = (prefix: string, n: number, value = 'v') => Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, value]));
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0, { taskContext: vars('a', 100) }));
      await start(routingEvent(id, 'QUEUED', 1, { taskContext: vars('b', 100) }));
      await start(routingEvent(id, 'QUEUED', 2, { taskContext: { ...vars('c', 99), a0: 'updated' } }));
      let view = await handle.query(conversationStateQuery);
      expect(Object.keys(view.taskContext)).toHaveLength(200);
      expect(view.taskContext.a0).toBe('updated');
      expect(view.taskContext.c0).toBeUndefined();
      expect(view.recentEvents.at(-1)?.note).toMatch(/^99 taskContext variables not kept: a conversation holds at most 200 variables/);

      // Bytes too: known variables growing past 256 KiB are not kept either.
      for (let i = 0; i < 5; i++) {
        await start(routingEvent(id, 'QUEUED', 3 + i, { taskContext: { [`a${i}`]: 'x'.repeat(60_000) } }));
      }
      view = await handle.query(conversationStateQuery);
      expect(view.taskContext.a3).toHaveLength(60_000);
      expect(view.taskContext.a4).toBe('v');
      expect(view.recentEvents.at(-1)?.note).toMatch(/^1 taskContext variables not kept/);
      await start(routingEvent(id, 'CLOSED', 9));
      await handle.result();
    });
  });
});

describe('participant data', () => {
  test('read-your-writes, last write wins, one batch on close', async () => {
    const id = uniqueId('data');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { Foo: 'Hello', foo: 'lower', account: '42' } }] });
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { Foo: 'Goodbye' } }] });

      expect(await handle.query(pendingAttributeQuery, 'Foo')).toEqual({ pending: true, value: 'Goodbye', secured: false });
      expect(await handle.query(pendingAttributeQuery, 'foo')).toEqual({ pending: true, value: 'lower', secured: false });
      expect(await handle.query(pendingAttributeQuery, 'FOO')).toEqual({ pending: false });
      // Nothing reaches the store attribute by attribute.
      expect(await store.listAttributes(id)).toEqual([]);
      const view = await handle.query(conversationStateQuery);
      expect(view.attributeNames).toEqual({ pending: ['Foo', 'account', 'foo'], stored: [] });
      expect(JSON.stringify(view)).not.toContain('Goodbye');

      await start(routingEvent(id, 'CLOSED', 1));
      expect(await handle.result()).toMatchObject({ batchesWritten: 1, storedNames: ['Foo', 'account', 'foo'] });
      expect(await store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 3 })]);
      const stored = await store.listAttributes(id);
      expect(stored.map((a) => [a.name, a.value, a.version])).toEqual([
        ['Foo', 'Goodbye', 1],
        ['account', '42', 1],
        ['foo', 'lower', 1],
      ]);
      expect(await handle.query(pendingAttributeQuery, 'Foo')).toEqual({ pending: false });
      await recordHistory(handle, 'participant-data-close');
    });
  });

  test('secured values stay the ciphertexts the API made; the last write decides whether a name is secured; the batch marks them', async () => {
    const id = uniqueId('secured');
    // Stand-ins for AWS Encryption SDK messages: the workflow never decrypts, it only checks the form.
    const cardCiphertext = Buffer.from('ciphertext of the card number').toString('base64');
    const pinCiphertext = Buffer.from('ciphertext of the pin').toString('base64');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { card: cardCiphertext, pin: pinCiphertext }, secured: true }] });
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { note: 'plain text' } }] });
      expect(await handle.query(pendingAttributeQuery, 'card')).toEqual({ pending: true, value: cardCiphertext, secured: true });
      expect(await handle.query(pendingAttributeQuery, 'note')).toEqual({ pending: true, value: 'plain text', secured: false });
      // A plain write over a secured name makes it plain: last write wins, for the mark too.
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { pin: 'withdrawn' } }] });
      expect(await handle.query(pendingAttributeQuery, 'pin')).toEqual({ pending: true, value: 'withdrawn', secured: false });

      for (const value of ['not a ciphertext!', 'A'.repeat(16_385)]) {
        const err = await handle
          .executeUpdate(setAttributesUpdate, { args: [{ attributes: { card: value }, secured: true }] })
          .catch((e: unknown) => e);
        expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidAttributes' });
        expect((err as WorkflowUpdateFailedError).cause?.message).toMatch(/card" is marked secured but its value is not a ciphertext/);
      }
      expect((await handle.query(pendingAttributeQuery, 'card')).pending).toBe(true);

      await start(routingEvent(id, 'CLOSED', 1));
      await handle.result();
      expect((await store.listAttributes(id)).map((a) => [a.name, a.value, a.secured])).toEqual([
        ['card', cardCiphertext, true],
        ['note', 'plain text', false],
        ['pin', 'withdrawn', false],
      ]);
      await recordHistory(handle, 'secured-attributes');
    });
  });

  test('bad input is rejected by the validator and leaves no trace in history', async () => {
    const id = uniqueId('bad');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      const attempts: Array<Record<string, unknown>> = [
        { '': 'x' },
        { '   ': 'x' },
        { ['n'.repeat(256)]: 'x' },
        { ok: 'v'.repeat(2001) },
        { ok: 42 },
        {},
        { ok: 'a\u0000b' },
        { 'x\ud800': 'v' },
        { ok: 'half an emoji \ud83d' },
      ];
      for (const attributes of attempts) {
        const err = await handle
          .executeUpdate(setAttributesUpdate, { args: [{ attributes: attributes as Record<string, string> }] })
          .catch((e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
        expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidAttributes' });
      }
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { ['n'.repeat(255)]: 'v'.repeat(2000) } }] });
      const history = await handle.fetchHistory();
      const updateEvents = (history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
      expect(updateEvents).toHaveLength(1);

      await start(routingEvent(id, 'CLOSED', 1));
      await handle.result();
    });
  });

  test('the queue is bounded in bytes, so a batch always fits in one Temporal payload', async () => {
    const id = uniqueId('bytes');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      // 4-byte characters at the value limit: 8 KB per attribute, 800 KB per call.
      const call = (prefix: string) =>
        Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`${prefix}${i}`, '😀'.repeat(2000)]));
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: call('a') }] });
      const err = await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: call('b') }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect((err as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'InvalidAttributes' });
      expect((err as WorkflowUpdateFailedError).cause?.message).toMatch(/would reach \d+ bytes; at most 1000000/);
      // Overwriting queued names does not grow the queue, so it is still accepted.
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: call('a') }] });
      expect((await handle.query(conversationStateQuery)).attributeNames.pending).toHaveLength(100);

      await start(routingEvent(id, 'CLOSED', 1));
      expect(await handle.result()).toMatchObject({ batchesWritten: 1 });
      expect(await store.listAttributes(id)).toHaveLength(100);
    });
  });

  test('an inactive conversation closes itself and writes its batch once', async () => {
    const id = uniqueId('idle');
    const settings = { ...DEFAULT_SETTINGS, inactivityTimeoutMs: 30 * 60_000 };
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund' } }] });
      await env.sleep('20 minutes');
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund-late' } }] });
      await env.sleep('20 minutes');
      // 40 minutes since start, 20 since the last write: still open.
      expect((await handle.query(conversationStateQuery)).status).toBe('queued');
      await env.sleep('11 minutes');
      expect(await handle.result()).toMatchObject({ closeReason: 'inactivity', batchesWritten: 1 });
      expect((await store.getAttribute(id, 'intent'))?.value).toBe('refund-late');
      expect(await store.listBatches(id)).toHaveLength(1);
    });
  });

  test('a cancelled conversation still writes its queued data, once', async () => {
    const id = uniqueId('cancel');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { reason: 'moving house', zip: '75011' } }] });
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect((await store.listAttributes(id)).map((a) => [a.name, a.value])).toEqual([
        ['reason', 'moving house'],
        ['zip', '75011'],
      ]);
      expect(await store.listBatches(id)).toHaveLength(1);
      expect((await handle.query(conversationStateQuery)).closeReason).toBe('cancelled');
    });
  });

  test('a conversation id used again once retention removed the old workflow stores its new batch', async () => {
    const id = uniqueId('reused');
    await withWorker(async () => {
      const first = await start(routingEvent(id, 'CREATED', 0));
      await first.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'billing' } }] });
      await start(routingEvent(id, 'CLOSED', 1));
      await first.result();
      const firstRunId = (await first.describe()).runId;
      // What a webhook does once the closed workflow is past retention: the id is free again.
      const second = await env.client.workflow.signalWithStart(conversationWorkflow, {
        workflowId: workflowIdFor(id),
        taskQueue,
        args: [{ conversationId: id, settings: DEFAULT_SETTINGS }],
        signal: routingEventSignal,
        signalArgs: [routingEvent(id, 'CREATED', 60 * 24 * 10)],
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      });
      await second.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'fraud', case: 'F-9' } }] });
      await start(routingEvent(id, 'CLOSED', 60 * 24 * 10 + 1));
      expect(await second.result()).toMatchObject({ batchesWritten: 1 });

      // Both lives numbered their batch 1; the second is not mistaken for the first.
      const batches = await store.listBatches(id);
      expect(batches.map((b) => [b.chainId, b.batchSeq, b.attributeCount])).toEqual([
        [firstRunId, 1, 1],
        [(await second.describe()).runId, 1, 2],
      ]);
      expect((await store.listAttributes(id)).map((a) => [a.name, a.value, a.version])).toEqual([
        ['case', 'F-9', 1],
        ['intent', 'fraud', 2],
      ]);
      await recordHistory(second, 'conversation-id-reused-after-retention');
    });
  });

  test('a closed conversation rejects writes', async () => {
    const id = uniqueId('closed');
    await withWorker(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0));
      await start(routingEvent(id, 'CLOSED', 1));
      await handle.result();
      const err = await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { late: 'x' } }] }).catch((e: unknown) => e);
      // A completed run no longer accepts updates; the API turns this into 409 after describe().
      expect(err).toBeInstanceOf(WorkflowNotFoundError);
      expect(await store.listAttributes(id)).toEqual([]);
    });
  });
});

describe('continue-as-new', () => {
  // Updates racing a continue-as-new are exercised on the real dev server (test/api); the Java
  // time-skipping server can lose an update delivered to a run that is just handing over.
  test('carries routing state and participant data across runs, flushing a batch at each hand-over', async () => {
    const id = uniqueId('can');
    const settings = { ...DEFAULT_SETTINGS, continueAsNewAfterEvents: 40 };
    await withWorker(async () => {
      const first = routingEvent(id, 'CREATED', 0, { queue: 'billing', taskContext: { user_tier: 'gold' } });
      const handle = await start(first, settings);
      // Every run of the chain numbers its batches under the first run's id.
      const chainId = (await handle.describe()).runId;
      await start(routingEvent(id, 'ROUTED', 1, { agentId: 'agent-a' }), settings);
      await start(routingEvent(id, 'TRANSFERRED', 2, { destination: 'retention' }), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'cancel', note: 'first' } }] });
      // EWT updates while queued are what makes a long conversation's history grow.
      for (let i = 0; i < 20; i++) {
        await start(routingEvent(id, 'QUEUED', 2 + i / 100, { estimatedWaitTime: 300 - i }), settings);
      }
      // Described, not queried, while the hand-over may be under way (rigs/time-skipping.ts: the test server can lose that query).
      await nextRun(handle, chainId);
      let view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ status: 'queued', queue: 'retention', transferCount: 1, taskContext: { user_tier: 'gold' }, estimatedWaitTime: 281 });
      expect(view.attributeNames).toEqual({ pending: [], stored: ['intent', 'note'] });
      expect(await store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 2 })]);

      // Event ids seen by an earlier run are still de-duplicated.
      await start(first, settings);
      view = await handle.query(conversationStateQuery);
      expect(view.recentEvents.at(-1)?.eventType).toBe('QUEUED');

      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { note: 'second', outcome: 'saved' } }] });
      // Read-your-writes across runs: the queued value, else the stored one.
      expect(await handle.query(pendingAttributeQuery, 'note')).toEqual({ pending: true, value: 'second', secured: false });
      expect(await handle.query(pendingAttributeQuery, 'intent')).toEqual({ pending: false });
      expect((await store.getAttribute(id, 'intent'))?.value).toBe('cancel');

      await start(routingEvent(id, 'ROUTED', 3, { agentId: 'agent-b' }), settings);
      await start(routingEvent(id, 'CLOSED', 9), settings);
      const result = await handle.result();
      expect(result).toMatchObject({ batchesWritten: 2, storedNames: ['intent', 'note', 'outcome'] });
      expect((await store.listBatches(id)).map((b) => [b.chainId, b.batchSeq, b.attributeCount])).toEqual([
        [chainId, 1, 2],
        [chainId, 2, 2],
      ]);
      expect((await store.listAttributes(id)).map((a) => [a.name, a.value, a.version])).toEqual([
        ['intent', 'cancel', 1],
        ['note', 'second', 2],
        ['outcome', 'saved', 1],
      ]);
      await recordHistory(handle, 'continue-as-new-final-run');
    });
  });

  test('a cancel that arrives while the hand-over batch is written ends the conversation and loses no write made meanwhile', async () => {
    const id = uniqueId('can-cancel');
    const settings = { ...DEFAULT_SETTINGS, continueAsNewAfterEvents: 30 };
    // The real activity on the real store, held at its start so the cancel lands mid-flush.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const batches: number[] = [];
    const real = createActivities({ store, logger: silentLogger });
    const activities: typeof real = {
      ...real,
      async flushParticipantData(batch) {
        batches.push(batch.batchSeq);
        const context = Context.current();
        const beat = setInterval(() => context.heartbeat(), 500);
        await gate.finally(() => clearInterval(beat));
        return real.flushParticipantData(batch);
      },
    };
    const worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle: bundle, activities });
    await worker.runUntil(async () => {
      const handle = await start(routingEvent(id, 'CREATED', 0), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'cancel' } }] });
      for (let i = 0; batches.length === 0 && i < 40; i++) {
        await start(routingEvent(id, 'QUEUED', 1 + i / 100, { estimatedWaitTime: 300 - i }), settings);
      }
      await waitFor('the hand-over flush', async () => batches.length > 0);
      // Accepted while the batch is in flight: it belongs to the next batch.
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { late: 'written during the flush' } }] });
      await handle.cancel();
      await waitFor('the cancel request in history', async () =>
        ((await handle.fetchHistory()).events ?? []).some((e) => e.workflowExecutionCancelRequestedEventAttributes),
      );
      release();

      const err = await handle.result().catch((e: unknown) => e);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
      expect(batches).toEqual([1, 2]);
      expect((await store.listBatches(id)).map((b) => [b.batchSeq, b.attributeCount])).toEqual([
        [1, 1],
        [2, 1],
      ]);
      expect((await store.listAttributes(id)).map((a) => [a.name, a.value])).toEqual([
        ['intent', 'cancel'],
        ['late', 'written during the flush'],
      ]);
      const view = await handle.query(conversationStateQuery);
      expect(view).toMatchObject({ runCount: 1, closeReason: 'cancelled' });
      await recordHistory(handle, 'cancel-during-hand-over-flush');
    });
  });
});
