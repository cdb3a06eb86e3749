// The Temporal dev server stopped and started again on the same SQLite file and port, with the
// real worker process (`node dist/src/main/worker.js`) and a real PostgreSQL: conversations
// in flight keep their state and their queued participant data.
import type { WorkflowHandle } from '@temporalio/client';
import { DEFAULT_SETTINGS, conversationStateQuery, setAttributesUpdate } from '../../src/conversation/messages';
import type { conversationWorkflow } from '../../src/conversation/workflows/conversation';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { pollerIdentities, whileRunning, type WorkerProcess } from '../../rigs/worker-process';
import { CrashHarness } from '../support/crash-harness';
import { routingEvent, sendEvent } from '../support/conversation';
import { recordHistory } from '../support/histories';

type ConversationHandle = WorkflowHandle<typeof conversationWorkflow>;

const h = new CrashHarness('crash-restart');

beforeAll(() => h.setUp(), 120_000);
afterAll(() => h.tearDown(), 60_000);

const set = (handle: ConversationHandle, attributes: Record<string, string>) =>
  handle.executeUpdate(setAttributesUpdate, { args: [{ attributes }] });

test('the dev server restarts on the same SQLite file and conversations continue', async () => {
  const taskQueue = uniqueId('crash-restart');
  const id = uniqueId('restart');
  const firstWorker = await h.startPollingWorker('restart-A', taskQueue);
  // No grace window after CLOSED: the test waits for the workflow to complete.
  const send = (event: ReturnType<typeof routingEvent>) => sendEvent(h.client, taskQueue, event, { ...DEFAULT_SETTINGS, closedGracePeriodMs: 0 });

  const handle = await send(routingEvent(id, 'CREATED', 0, { queue: 'billing' }));
  await send(routingEvent(id, 'ROUTED', 1, { agentId: 'agent-a' }));
  await set(handle, { intent: 'refund', account: '42' });
  await set(handle, { intent: 'cancel' });
  const addressBefore = h.address;

  const stoppedAt = Date.now();
  await h.stopDevServer();
  await h.restartDevServer();
  const backAt = Date.now();
  expect(h.address).toBe(addressBefore);

  // The worker child either rides out the outage (its connection reconnects) or exits; find out which.
  let worker: WorkerProcess = firstWorker;
  let survived = true;
  await waitFor(
    'the first worker to poll the restarted server, or to exit',
    async () => !firstWorker.isRunning() || (await pollerIdentities(h.client, taskQueue, 'workflow')).includes(firstWorker.identity),
    { timeoutMs: 45_000, intervalMs: 200 },
  );
  if (!firstWorker.isRunning()) {
    survived = false;
    const exit = await firstWorker.exited;
    console.log(`worker did NOT survive the server restart (code ${exit.code}, signal ${exit.signal}); starting a new one.\n${firstWorker.output().slice(-2000)}`);
    worker = await h.startPollingWorker('restart-B', taskQueue);
  }
  const pollingAgainMs = Date.now() - backAt;

  // State kept across the restart: the conversation is still active with its agent, data still queued.
  const view = await whileRunning(worker, handle.query(conversationStateQuery));
  expect(view).toMatchObject({ status: 'active', agentId: 'agent-a', queue: 'billing', attributeNames: { pending: ['account', 'intent'], stored: [] } });
  await whileRunning(worker, set(handle, { intent: 'retain', note: 'after restart' }));
  const firstUpdateMs = Date.now() - backAt;
  console.log(
    `recovery: dev server down for ${backAt - stoppedAt} ms; worker ${survived ? 'survived' : 'died and was replaced'}; ` +
      `polling again ${pollingAgainMs} ms after the server came back; first update accepted after ${firstUpdateMs} ms`,
  );

  await send(routingEvent(id, 'TRANSFERRED', 2, { destination: 'retention' }));
  await send(routingEvent(id, 'ROUTED', 3, { agentId: 'agent-b' }));
  await send(routingEvent(id, 'CLOSED', 4, { dispositionCode: 'RESOLVED' }));
  expect(await whileRunning(worker, handle.result())).toMatchObject({ closeReason: 'closed-event', batchesWritten: 1, storedNames: ['account', 'intent', 'note'] });
  expect(await handle.query(conversationStateQuery)).toMatchObject({ status: 'closed', agentId: 'agent-b', transferCount: 1 });

  expect((await h.store.listAttributes(id)).map((a) => [a.name, a.value, a.version])).toEqual([
    ['account', '42', 1],
    ['intent', 'retain', 1],
    ['note', 'after restart', 1],
  ]);
  expect(await h.store.listBatches(id)).toEqual([expect.objectContaining({ batchSeq: 1, attributeCount: 3 })]);
  expect(worker.isRunning()).toBe(true);
  await recordHistory(handle, 'crash-dev-server-restart');
}, 120_000);
