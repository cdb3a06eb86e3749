// `npm run replay` as an operator runs it before a deploy: the built CLI as a child process against a
// real Temporal dev server, on conversations driven over the API (signed webhooks, scoped tokens).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { DEFAULT_SETTINGS, workflowIdFor } from '../../src/conversation';
import { FAILURE_CONVERTER_PATH } from '../../src/security/payload-codec';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { freePort } from '../../rigs/ports';
import { DIST } from '../../rigs/project';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt, PROJECT_ROOT } from '../../rigs/worker-process';
import { webhookEvents } from '../support/conversation';

const REPLAY_ENTRY = path.join(DIST, 'src', 'cli', 'replay.js');
const SECURED_VALUE = 'Card-4111-1111-1111-1111-Replay';
const PLAIN_VALUE = 'Plain-Value-Replay-7731';

let stack: ApiStack;
let client: Client;
const event = webhookEvents('replay-evt', 'task-r');

beforeAll(async () => {
  ensureWorkerBuilt();
  if (!fs.existsSync(REPLAY_ENTRY)) throw new Error(`${REPLAY_ENTRY} is missing: run \`npm run build\``);
  // A low threshold, so a short conversation continues as new and has a chain of runs to replay.
  stack = await startApiStack({ name: 'replay-cli', conversation: { ...DEFAULT_SETTINGS, closedGracePeriodMs: 1_000, continueAsNewAfterEvents: 20 } });
  ({ client } = stack);
}, 180_000);

afterAll(() => stack?.stop());

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `node dist/src/cli/replay.js …`, what `npm run replay -- …` runs once it has built, with the worker's settings. */
function replay(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [REPLAY_ENTRY, ...args],
      { cwd: PROJECT_ROOT, timeout: 90_000, killSignal: 'SIGKILL', env: { ...process.env, TEMPORAL_ADDRESS: stack.devServer.address, TEMPORAL_NAMESPACE: 'default', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr }),
    );
  });
}

const postEvent = (e: Record<string, unknown>) => stack.call('POST', '/webhooks/routing-events', e);

/** Lists what visibility holds for a workflow (it lags the history by a moment). */
async function runIdsOf(workflowId: string): Promise<string[]> {
  const runs = [];
  for await (const e of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runs.push({ runId: e.runId, startTime: e.startTime.getTime(), closed: e.closeTime !== undefined });
  return runs.sort((a, b) => a.startTime - b.startTime).filter((r) => r.closed).map((r) => r.runId);
}

let conversationId: string;
let runIds: string[];

/** A chat conversation over the API: attributes (one secured), routing events until it continued as new, then CLOSED. */
async function conversationWithTwoRuns(): Promise<void> {
  conversationId = uniqueId('replay');
  const workflowId = workflowIdFor(conversationId);
  expect((await postEvent(event(conversationId, 'CREATED', 0, { queue: 'billing' }))).status).toBe(202);
  expect((await stack.call('POST', `/conversations/${conversationId}/attributes`, { attributes: { Foo: PLAIN_VALUE } })).status).toBe(200);
  expect((await stack.call('POST', `/conversations/${conversationId}/attributes`, { attributes: { card: SECURED_VALUE }, secured: true })).status).toBe(200);
  const handle = client.workflow.getHandle(workflowId);
  const firstRun = (await handle.describe()).runId;
  let minute = 0;
  await waitFor('the conversation to continue as new', async () => {
    expect((await postEvent(event(conversationId, 'QUEUED', ++minute, { queue: 'billing' }))).status).toBe(202);
    return (await handle.describe()).runId !== firstRun;
  });
  expect((await postEvent(event(conversationId, 'CLOSED', ++minute))).status).toBe(202);
  await client.workflow.getHandle(workflowId).result();
  await waitFor('visibility to list both runs closed', async () => (runIds = await runIdsOf(workflowId)).length >= 2);
}

function expectNoPayloadText(run: Run): void {
  for (const text of [SECURED_VALUE, PLAIN_VALUE, 'billing']) {
    expect(run.stdout).not.toContain(text);
    expect(run.stderr).not.toContain(text);
  }
}

describe('replay before deploy', () => {
  beforeAll(conversationWithTwoRuns, 180_000);

  test('npm run replay -- <conversationId>: every run of a conversation continued as new replays ok, exit 0', async () => {
    const run = await replay([conversationId]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const workflowId = workflowIdFor(conversationId);
    const lines = run.stdout.trim().split('\n');
    expect(lines).toEqual([...runIds.map((runId) => expect.stringMatching(new RegExp(`^ok ${workflowId} ${runId} \\(\\d+ events\\)$`))), `replayed ${runIds.length}, failed 0`]);
    expectNoPayloadText(run);
    // The workflow id works as well as the conversation id.
    expect((await replay([workflowId])).stdout).toBe(run.stdout);
  });

  test('--query selects by a Temporal visibility query', async () => {
    const workflowId = workflowIdFor(conversationId);
    const run = await replay(['--query', `WorkflowId = "${workflowId}" AND ExecutionStatus = "Completed"`]);
    expect(run.code).toBe(0);
    // The first run ended in continue-as-new, so only the last one is Completed.
    expect(run.stdout).toBe(`ok ${workflowId} ${runIds.at(-1)} ${run.stdout.match(/\(\d+ events\)/)?.[0]}\nreplayed 1, failed 0\n`);
  });

  test('--since replays the recently closed (a sample of --sample N) and every open conversation', async () => {
    const open = uniqueId('replay-open');
    expect((await postEvent(event(open, 'CREATED', 0))).status).toBe(202);
    await waitFor('visibility to list the open conversation', async () => {
      for await (const e of client.workflow.list({ query: `WorkflowId = "${workflowIdFor(open)}" AND ExecutionStatus = "Running"` })) return Boolean(e);
      return false;
    });

    const all = await replay(['--since', '30m']);
    expect(all.code).toBe(0);
    for (const runId of runIds) expect(all.stdout).toMatch(new RegExp(`^ok ${workflowIdFor(conversationId)} ${runId} `, 'm'));
    expect(all.stdout).toMatch(new RegExp(`^ok ${workflowIdFor(open)} `, 'm'));
    expectNoPayloadText(all);

    // A sample of one closed run, and the open conversation whatever the sample.
    const sampled = await replay(['--since', '30m', '--sample', '1']);
    expect(sampled.code).toBe(0);
    expect(sampled.stdout).toMatch(new RegExp(`^ok ${workflowIdFor(open)} `, 'm'));
    expect(sampled.stdout.trim().split('\n').at(-1)).toBe('replayed 2, failed 0');
  });

  test('workflow code changed under the running conversations: FAIL naming the event and the SDK\'s message, exit 1', async () => {
    const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/changed-workflows'), failureConverterPath: FAILURE_CONVERTER_PATH, logger: quiet });
    const bundlePath = path.join(tempDir('replay-changed'), 'workflow-bundle.js');
    fs.writeFileSync(bundlePath, code);
    const run = await replay([conversationId], { WORKFLOW_BUNDLE_PATH: bundlePath });
    expect(run.code).toBe(1);
    const lines = run.stdout.trim().split('\n');
    for (const [i, runId] of runIds.entries()) {
      expect(lines[i]).toMatch(new RegExp(`^FAIL ${workflowIdFor(conversationId)} ${runId}: nondeterminism at event \\d+: .*Nondeterminism error`));
    }
    expect(lines.at(-1)).toBe(`replayed ${runIds.length}, failed ${runIds.length}`);
    expectNoPayloadText(run);
  });
});

describe('exit 2: nothing was checked', () => {
  test.each([
    [[], 'say what to replay'],
    [['--since', '3 weeks'], '--since takes a window such as 30m, 24h or 7d'],
    [['--sample', '5'], '--sample goes with --since'],
    [['--query'], '--query needs a value'],
    [['c-1', '--query', 'WorkflowId = "x"'], 'give one of'],
    [['--verbose', 'c-1'], 'unknown option --verbose'],
  ])('usage error %j: says what is wrong and how to call it', async (args, message) => {
    const run = await replay(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain('usage: npm run replay --');
    expect(run.stdout).toBe('');
  });

  test('a conversation Temporal does not have', async () => {
    const run = await replay([uniqueId('never-created')]);
    expect(run.code).toBe(2);
    expect(run.stdout).toMatch(/^nothing to replay: no workflow matches/);
  });

  test('a query Temporal refuses', async () => {
    const run = await replay(['--query', 'NoSuchField = "x"']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/did not list the query NoSuchField = "x": \S/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  test('Temporal cannot be reached: a clear message, no stack trace', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const run = await replay(['c-1'], { TEMPORAL_ADDRESS: address });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^cannot reach Temporal at ${address}: \\S`));
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).toBe('');
  });

  test('no key file where the configuration says: the replay does not make one up', async () => {
    const keyFile = path.join(tempDir('replay-no-key'), 'keys.json');
    const run = await replay(['c-1'], { PARLEY_KEY_FILE: keyFile });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`no key file at ${keyFile}`);
    expect(fs.existsSync(keyFile)).toBe(false);
  });
});

const quiet = { log: () => undefined, trace: () => undefined, debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: string) => console.error(m) };
