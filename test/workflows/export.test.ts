// Every end of a conversation exports it, on the time-skipping test server: inactivity, cancellation
// and a conversation that continued as new (one export per chain, from its last run), each to a
// local folder read back here; and how the close's local activities start it (with the final batch,
// or after it when a grace window or a failed first attempt comes between).
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { FolderExportSink, PAYMENT_ID_PATTERN, type ExportDocument } from '../../src/export';
import { DEFAULT_SETTINGS, setAttributesUpdate, workflowIdFor } from '../../src/conversation/messages';
import { StoreTimeoutError, type ParticipantDataStore } from '../../src/store';
import { routingEvent, sendEvent } from '../support/conversation';
import { recordHistory } from '../support/histories';
import { exportOutcomeOf, localActivityType } from '../support/s3';
import { tempDir, uniqueId } from '../support/temporal';
import { startTimeSkipping, type TimeSkippingRig } from '../../rigs/time-skipping';
import { createInProcessWorker } from '../../rigs/in-process-worker';
import { silentLogger } from '../../rigs/logs';

let rig: TimeSkippingRig;
let env: TestWorkflowEnvironment;
let taskQueue: string;
let exportDir: string;

beforeAll(async () => {
  exportDir = path.join(tempDir('wf-export'), 'exports');
  rig = await startTimeSkipping('wf-export', { exportSink: new FolderExportSink(exportDir) });
  ({ env } = rig);
});

afterAll(() => rig?.stop());

beforeEach(() => {
  taskQueue = uniqueId('export-wf-tests');
});

const withWorker = <T>(fn: () => Promise<T>): Promise<T> => rig.withWorker(taskQueue, fn);

/** The one export the conversation started, once it completed, and the one file with its conversation id. */
async function exportedDocument(conversationId: string): Promise<ExportDocument> {
  const { exportId, result, how } = await exportOutcomeOf(env.client, workflowIdFor(conversationId));
  const ids = [exportId];
  // The folder takes it at once: written by the conversation's end, with no export workflow.
  expect(how).toBe('inline');
  expect(result.written).toBe(true);
  const files = (fs.readdirSync(exportDir, { recursive: true }) as string[]).filter((f) => f.endsWith('.json') && f.includes(conversationId));
  expect(files).toEqual([path.relative(exportDir, result.location)]);
  const doc = JSON.parse(fs.readFileSync(result.location, 'utf8')) as ExportDocument;
  expect(doc).toMatchObject({ exportId: ids[0], conversationId, paymentId: result.paymentId });
  expect(doc.paymentId).toMatch(PAYMENT_ID_PATTERN);
  return doc;
}

test('a conversation closed for inactivity is exported once, with its data and close reason', async () => {
  const id = uniqueId('idle');
  await withWorker(async () => {
    const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0, { queue: 'billing' }));
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'refund' } }] });
    await env.sleep(DEFAULT_SETTINGS.inactivityTimeoutMs + 60_000);
    expect(await handle.result()).toMatchObject({ closeReason: 'inactivity' });
    const doc = await exportedDocument(id);
    expect(doc.conversation).toMatchObject({ status: 'closed', closeReason: 'inactivity', queue: 'billing' });
    expect(doc.participantData.map((a) => [a.name, a.value, a.secured])).toEqual([['intent', 'refund', false]]);
    await recordHistory(handle, 'export-on-inactivity');
  });
});

test('a cancelled conversation is exported once, after its final batch, and the export outlives it', async () => {
  const id = uniqueId('cancelled');
  await withWorker(async () => {
    const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0));
    await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { reason: 'moving house' } }] });
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const doc = await exportedDocument(id);
    expect(doc.conversation).toMatchObject({ status: 'closed', closeReason: 'cancelled' });
    expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['reason', 'moving house']]);
    await recordHistory(handle, 'export-on-cancel');
  });
});

test('a conversation that continued as new is exported once, by its last run, under its first run id', async () => {
  const id = uniqueId('chain');
  const settings = { ...DEFAULT_SETTINGS, continueAsNewAfterEvents: 100, closedGracePeriodMs: 0 };
  await withWorker(async () => {
    const first = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0), settings);
    const chainId = (await first.describe()).runId;
    for (let i = 0; i < 60; i++) await first.executeUpdate(setAttributesUpdate, { args: [{ attributes: { [`n${i % 5}`]: String(i) } }] });
    await sendEvent(env.client, taskQueue, routingEvent(id, 'CLOSED', 1), settings);
    const last = env.client.workflow.getHandle(workflowIdFor(id));
    await last.result();
    expect((await last.describe()).runId).not.toBe(chainId);
    const doc = await exportedDocument(id);
    expect(doc.exportId).toBe(`export-${id}-${chainId}`);
    expect(doc.conversation.runCount).toBeGreaterThan(1);
    expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['n0', '55'], ['n1', '56'], ['n2', '57'], ['n3', '58'], ['n4', '59']]);
  });
});

/** The local activities the conversation's history records, in order, and whether each failed. */
async function localActivities(conversationId: string): Promise<string[]> {
  const events = (await env.client.workflow.getHandle(workflowIdFor(conversationId)).fetchHistory()).events ?? [];
  return events.flatMap((e) => {
    const type = localActivityType(e);
    return type ? [e.markerRecordedEventAttributes?.failure ? `${type} failed` : type] : [];
  });
}

describe('the close\'s local activities', () => {
  test('with no grace window, the final batch and the export start are one local activity', async () => {
    const id = uniqueId('one-la');
    const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
    await withWorker(async () => {
      const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0, { queue: 'sales' }), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'upgrade' } }] });
      await sendEvent(env.client, taskQueue, routingEvent(id, 'CLOSED', 1), settings);
      expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1 });
      expect(await localActivities(id)).toEqual(['flushParticipantData']);
      const doc = await exportedDocument(id);
      expect(doc.conversation).toMatchObject({ status: 'closed', closeReason: 'closed-event', queue: 'sales' });
      expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['intent', 'upgrade']]);
      await recordHistory(handle, 'export-with-final-batch');
    });
  });

  test('with a grace window, the export waits for it and has its own local activity', async () => {
    const id = uniqueId('grace-la');
    const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 60_000 };
    await withWorker(async () => {
      const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'upgrade' } }] });
      await sendEvent(env.client, taskQueue, routingEvent(id, 'CLOSED', 2), settings);
      // Late, and folded into the record during the window: the export holds it.
      await sendEvent(env.client, taskQueue, routingEvent(id, 'ROUTED', 1, { agentId: 'agent-7' }), settings);
      expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1 });
      expect(await localActivities(id)).toEqual(['flushParticipantData', 'startExport']);
      const doc = await exportedDocument(id);
      expect(doc.conversation).toMatchObject({ status: 'closed', agentId: 'agent-7' });
    });
  });

  test('a final batch whose first attempt fails is written by the flush activity, and the export started after it', async () => {
    const id = uniqueId('retried-la');
    const settings = { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 };
    // The rig's store, timing out once: the local attempt fails, the activity's retry writes.
    let failures = 0;
    const writeBatch: ParticipantDataStore['writeBatch'] = async (batch) => {
      if (failures++ === 0) throw new StoreTimeoutError('writeBatch', 1, 'held by the test');
      return rig.store.writeBatch(batch);
    };
    const store = new Proxy(rig.store, {
      get: (target, name) => {
        if (name === 'writeBatch') return writeBatch;
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const worker = await createInProcessWorker({
      connection: env.nativeConnection,
      taskQueue,
      bundle: rig.bundle,
      activities: { store, logger: silentLogger, exportSink: new FolderExportSink(exportDir) },
    });
    await worker.runUntil(async () => {
      const handle = await sendEvent(env.client, taskQueue, routingEvent(id, 'CREATED', 0), settings);
      await handle.executeUpdate(setAttributesUpdate, { args: [{ attributes: { intent: 'upgrade' } }] });
      await sendEvent(env.client, taskQueue, routingEvent(id, 'CLOSED', 1), settings);
      expect(await handle.result()).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1 });
      expect(failures).toBe(2);
      expect(await localActivities(id)).toEqual(['flushParticipantData failed', 'startExport']);
      const doc = await exportedDocument(id);
      expect(doc.participantData.map((a) => [a.name, a.value])).toEqual([['intent', 'upgrade']]);
    });
  });
});
