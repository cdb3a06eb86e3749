// WORKER_DEADLOCK_DETECTION=off: the workflow threads run the sandbox without the SDK's per-call
// timeout (Node starts a watchdog thread for every call that has one). The preload's effect in a
// thread; which threads get it (only the SDK's workflow threads, also when the worker runs with V8
// flags); and a real worker process with it off taking a conversation from first event to stored data.
import fs from 'node:fs';
import path from 'node:path';
import worker_threads from 'node:worker_threads';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { testCredentials } from '../../rigs/credentials';
import { tempDir, uniqueId } from '../../rigs/temp';
import { DIST } from '../../rigs/project';
import { ensureWorkerBuilt } from '../../rigs/worker-process';
import { startWorkflowThreadsWith, workflowThreadOptions } from '../../src/worker/workflow-threads';
import { workerSettingsFromEnv } from '../../src/worker/settings';

const SDK_THREAD = require.resolve('@temporalio/worker/lib/workflow/workflow-worker-thread');
const compiledPreload = () => path.join(DIST, 'src', 'worker', 'sandbox-preload.js');

/** In a fresh thread: a sandbox call that runs 200 ms under a 20 ms timeout either completes or is stopped. */
function sandboxCallIn(execArgv: string[]): Promise<string> {
  const code = `
    const vm = require('node:vm');
    const script = new vm.Script('const until = Date.now() + 200; while (Date.now() < until) {} "completed"');
    let outcome;
    try { outcome = script.runInContext(vm.createContext({}), { timeout: 20 }); } catch (err) { outcome = err.code ?? err.message; }
    require('node:worker_threads').parentPort.postMessage(outcome);`;
  const thread = new worker_threads.Worker(code, { eval: true, execArgv });
  return new Promise((resolve, reject) => {
    thread.once('message', (m: string) => void thread.terminate().then(() => resolve(m)));
    thread.once('error', reject);
  });
}

beforeAll(() => ensureWorkerBuilt(), 120_000);

describe('the workflow threads without the per-call timeout', () => {
  it('the preload lets a sandbox call run past its timeout; without it the call is stopped', async () => {
    expect(await sandboxCallIn([])).toBe('ERR_SCRIPT_EXECUTION_TIMEOUT');
    expect(await sandboxCallIn(['--require', compiledPreload()])).toBe('completed');
  });

  it('only the SDK workflow threads get the preload, after the node options they would have inherited', () => {
    const preload = '/opt/parley/sandbox-preload.js';
    expect(workflowThreadOptions(SDK_THREAD, undefined, { preload })).toEqual({ execArgv: [...process.execArgv, '--require', preload] });
    expect(workflowThreadOptions(SDK_THREAD, undefined, { preload }, false)).toEqual({ execArgv: ['--require', preload] });
    expect(workflowThreadOptions(SDK_THREAD, { execArgv: ['--no-warnings'] }, { preload })).toEqual({ execArgv: ['--no-warnings', '--require', preload] });
    expect(workflowThreadOptions('/app/dist/src/other-thread.js', undefined, { preload })).toBeUndefined();
    expect(workflowThreadOptions(SDK_THREAD, { eval: true }, { preload })).toEqual({ eval: true });
  });

  it("the SDK's own workflow thread module is started with the preload once installed, and not after restore", async () => {
    // A preload that says it ran: the SDK's thread itself answers only the SDK's protocol.
    const marker = path.join(tempDir('deadlock-detection'), 'says-preloaded.js');
    fs.writeFileSync(marker, `require('node:worker_threads').parentPort.postMessage('preloaded');`);
    const firstMessage = async (): Promise<string> => {
      const thread = new worker_threads.Worker(SDK_THREAD);
      const got = await Promise.race([
        new Promise<string>((resolve) => thread.once('message', (m: unknown) => resolve(String(m)))),
        new Promise<string>((resolve) => setTimeout(() => resolve('nothing'), 5_000)),
      ]);
      await thread.terminate();
      return got;
    };
    const restore = startWorkflowThreadsWith({ preload: marker });
    const execArgv = [...process.execArgv];
    try {
      expect(await firstMessage()).toBe('preloaded');
      // A worker run with a V8 flag (the bench's --expose-gc): a thread's own list may not hold it,
      // so the thread starts with the preload alone rather than not at all.
      process.execArgv.push('--expose-gc');
      expect(await firstMessage()).toBe('preloaded');
    } finally {
      process.execArgv.splice(0, process.execArgv.length, ...execArgv);
      restore();
    }
    expect(worker_threads.Worker.name).toBe('Worker');
    expect(await firstMessage()).toBe('nothing');
  });

  it('WORKER_DEADLOCK_DETECTION is on unless set to off', () => {
    expect(workerSettingsFromEnv({}).deadlockDetection).toBe(true);
    expect(workerSettingsFromEnv({ WORKER_DEADLOCK_DETECTION: 'OFF' }).deadlockDetection).toBe(false);
    expect(workerSettingsFromEnv({ WORKER_DEADLOCK_DETECTION: 'on' }).deadlockDetection).toBe(true);
    expect(() => workerSettingsFromEnv({ WORKER_DEADLOCK_DETECTION: 'sometimes' })).toThrow(/WORKER_DEADLOCK_DETECTION must be on or off/);
  });
});

describe('a worker process with WORKER_DEADLOCK_DETECTION=off', () => {
  let stack: ApiStack;
  beforeAll(async () => {
    stack = await startApiStack({ name: 'no-deadlock-detection', credentials: testCredentials(), conversation: { closedGracePeriodMs: 0 }, worker: false });
  }, 120_000);
  afterAll(() => stack?.stop());

  it('takes a conversation from its first event to its stored data, and says what it runs without', async () => {
    const worker = await stack.spawnWorker('no-deadlock-detection', { WORKER_DEADLOCK_DETECTION: 'off' });
    const id = uniqueId('no-watchdog');
    const event = (eventType: string, n: number) => ({ eventId: `${id}-${n}`, eventType, conversationId: id, taskId: 't-1', channel: 'voice', occurredAt: new Date(Date.UTC(2026, 0, 1, 0, n)).toISOString() });
    expect((await stack.fetch('/webhooks/routing-events', { method: 'POST', body: event('CREATED', 1) })).status).toBe(202);
    const write = await stack.fetch(`/conversations/${id}/attributes`, { method: 'POST', body: { attributes: { intent: 'billing' } } });
    expect(write.status).toBe(200);
    expect((await stack.fetch('/webhooks/routing-events', { method: 'POST', body: event('CLOSED', 2) })).status).toBe(202);
    await stack.client.workflow.getHandle(`conversation-${id}`).result();
    expect((await stack.store.getAttribute(id, 'intent'))?.value).toBe('billing');
    expect(worker.output()).toMatch(/without the SDK timeout/);
    expect(worker.isRunning()).toBe(true);
    await worker.stop(5_000);
  }, 120_000);
});
