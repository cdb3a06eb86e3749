// The real worker process SIGKILLed while a CRM call is in flight (the CRM has acted and is slow to
// answer): another worker retries the call under the same Idempotency-Key, the CRM (which honours
// the key) acts once, and the caller gets exactly one outcome, recorded once.
import fs from 'node:fs';
import path from 'node:path';
import { WorkflowUpdateStage } from '@temporalio/client';
import { workflowExecuteUpdate } from '../../src/conversation/messages';
import { CrmPeer } from '../../rigs/crm-peer';
import { uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { whileRunning } from '../../rigs/worker-process';
import { CrashHarness } from '../support/crash-harness';
import { routingEvent, sendEvent } from '../support/conversation';

const h = new CrashHarness('crash-crm');
const peer = new CrmPeer();
const CRM_SECRET = 'crash-crm-secret-4hT9sQ1w';
let workerEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  await Promise.all([h.setUp(), peer.start()]);
  const registryFile = path.join(h.dir, 'crm-integrations.json');
  fs.writeFileSync(
    registryFile,
    JSON.stringify({
      configurations: {
        crm: {
          baseUrl: peer.url,
          auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: 'CRM_CRASH_SECRET' },
          workflows: ['slowLookup'],
          defaultTimeoutMs: 30_000,
          maxTimeoutMs: 60_000,
        },
      },
    }),
  );
  workerEnv = { CRM_INTEGRATIONS_FILE: registryFile, CRM_CRASH_SECRET: CRM_SECRET };
}, 120_000);

afterAll(async () => {
  await h.tearDown();
  await peer.stop();
}, 60_000);

test('SIGKILL during a slow CRM call: retried by the next worker with the same key, one act, one outcome', async () => {
  const taskQueue = uniqueId('crash-crm');
  const id = uniqueId('crm-kill');
  const workerA = await h.startPollingWorker('crm-A', taskQueue, workerEnv);
  const handle = await sendEvent(h.client, taskQueue, routingEvent(id, 'CREATED', 0));
  // The CRM acts at once and answers after 6 s: the kill lands while the call is in flight.
  peer.script('slowLookup', [{ delayMs: 6_000, body: { contactId: 'C-1' } }]);
  const update = await handle.startUpdate(workflowExecuteUpdate, {
    args: [{ configurationId: 'crm', workflowId: 'slowLookup', payload: { phone: '+33600000000' } }],
    updateId: 'crm-call-1',
    waitForStage: WorkflowUpdateStage.ACCEPTED,
  });
  await waitFor('the CRM call to arrive', () => peer.callsFor('slowLookup').length === 1, { timeoutMs: 30_000 });
  expect(await workerA.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });

  const workerB = h.startWorker('crm-B', taskQueue, workerEnv);
  const result = await whileRunning(workerB, update.result());
  expect(result).toEqual({ outcome: 'Success', resultSet: { contactId: 'C-1' } });

  const calls = peer.callsFor('slowLookup');
  const key = `conversation-${id}/crm-call-1`;
  expect(calls.map((c) => [c.idempotencyKey, c.answer])).toEqual([
    [key, 'acted'],
    [key, 'replayed'],
  ]);
  expect(peer.acted.get(key)).toBe(1);
  // The same update id again returns the recorded outcome without another call.
  expect(await handle.executeUpdate(workflowExecuteUpdate, { args: [{ configurationId: 'crm', workflowId: 'slowLookup', payload: {} }], updateId: 'crm-call-1' })).toEqual(result);
  expect(peer.callsFor('slowLookup')).toHaveLength(2);
  const executions = (await handle.query('conversationState')) as { crm?: { executions: Array<{ requestId: string; outcome: string }> } };
  expect(executions.crm?.executions.filter((e) => e.requestId === 'crm-call-1')).toEqual([expect.objectContaining({ outcome: 'Success' })]);
  // No worker logged the credential.
  for (const file of fs.readdirSync(h.dir).filter((f) => f.startsWith('worker-crm-'))) {
    expect(fs.readFileSync(path.join(h.dir, file), 'utf8')).not.toContain(CRM_SECRET);
  }
}, 120_000);
