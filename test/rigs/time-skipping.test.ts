// The harness's guarantees that keep a test that hangs from outliving its own file: a wait whose check
// never answers still ends at its deadline, and the rig's stop() ends a worker whose test never settled
// before tearing the server down (else teardown fails and the worker keeps polling into the next file).
import { startTimeSkipping } from '../../rigs/time-skipping';
import { waitFor } from '../../rigs/wait';
import { uniqueId } from '../support/temporal';
import { routingEvent, sendEvent } from '../support/conversation';
import { conversationStateQuery } from '../../src/conversation/messages';

test('waitFor fails at its deadline, saying so, when a check never answers', async () => {
  const startedAt = Date.now();
  const never = () => new Promise<boolean>(() => undefined);
  await expect(waitFor('an answer that never comes', never, { timeoutMs: 200 })).rejects.toThrow(
    /timed out after 200 ms waiting for an answer that never comes: the last check did not answer/,
  );
  // The check is given a few seconds past the deadline, then the wait gives up.
  expect(Date.now() - startedAt).toBeLessThan(10_000);
});

test('stop() shuts down a worker whose test never settled, then tears the server down', async () => {
  const rig = await startTimeSkipping('rig-stop');
  const taskQueue = uniqueId('rig-stop');
  let started = false;
  const hung = rig.withWorker(taskQueue, async () => {
    const handle = await sendEvent(rig.env.client, taskQueue, routingEvent(uniqueId('hung'), 'CREATED', 0));
    // The worker is polling and has run the workflow.
    await handle.query(conversationStateQuery);
    started = true;
    await new Promise(() => undefined);
  });
  const outcome = hung.then(
    () => 'settled',
    (err: unknown) => (err instanceof Error ? err.name : String(err)),
  );
  await waitFor('the worker to run the workflow', () => started);
  // Before the rig shut such workers down, teardown failed here: the worker still held the connection.
  await expect(rig.stop()).resolves.toBeUndefined();
  expect(await outcome).toBe('PromiseCompletionTimeoutError');
});
