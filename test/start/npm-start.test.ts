// `npm start` as a user runs it: the built launcher (dist/src/main/start.js, what `npm start` runs after
// its build step) starts the dev server, the worker and the API; a terminal's Ctrl-C reaches the
// whole foreground process group and must still let the worker drain; a second start on the same
// data folder finds every conversation again.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { authedFetch, credentialsFromFile } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { parseServiceMetrics, type ServiceSnapshot } from '../../scripts/bench/service-metrics';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { routingEvent } from '../support/conversation';
import { type Launch, type LogLine, exitOf, killLaunches, launch, onlyChild, post, processesUsing } from '../support/launcher';

/** Console lines (not JSON) that tell where the generated secrets are. */
function secretsNotices(run: Launch): string[] {
  return run.lines.map((line) => (typeof line.text === 'string' ? line.text : '')).filter((text) => /API secrets were created in/.test(text));
}

afterAll(() => killLaunches());

test('npm start serves the API and the UI; Ctrl-C stops the worker gracefully; a second start finds the conversation again; SIGTERM and SIGHUP stop it cleanly', async () => {
  const dataDir = tempDir('npm-start');
  const conversationId = uniqueId('start');
  const first = await launch(dataDir);

  // The first start created the secrets (owner-only) and said where; the API takes nothing without them.
  const secretsFile = path.join(dataDir, 'secrets.json');
  expect(fs.statSync(secretsFile).mode & 0o777).toBe(0o600);
  expect(secretsNotices(first)).toEqual([expect.stringContaining(secretsFile)]);
  const credentials = credentialsFromFile(secretsFile);
  expect((await fetch(`${first.baseUrl}/conversations/${conversationId}`)).status).toBe(401);
  const secretsBefore = fs.readFileSync(secretsFile, 'utf8');

  expect((await fetch(`${first.uiUrl}/`)).status).toBe(200);
  expect((await post(first, credentials, '/webhooks/routing-events', routingEvent(conversationId, 'QUEUED', 1, { queue: 'billing' }))).status).toBe(202);
  const set = await post(first, credentials, `/conversations/${conversationId}/attributes`, { attributes: { Tier: 'gold' } });
  expect(set.status).toBe(200);

  // A terminal's Ctrl-C: SIGINT to every process of the foreground group at once.
  process.kill(-first.child.pid!, 'SIGINT');
  expect(await first.exited).toEqual({ code: 0, signal: null });
  // The worker ran its graceful shutdown to the end instead of dying on a second signal mid-drain.
  expect(exitOf(first, 'worker.js')).toMatchObject({ code: 0, signal: null });
  expect(exitOf(first, 'api.js')).toMatchObject({ code: 0, signal: null });
  expect(first.lines.some((line) => line.name === 'parley-worker' && line.msg === 'worker stopped')).toBe(true);

  const second = await launch(dataDir);
  // The same secrets again: made once, not announced again.
  expect(fs.readFileSync(secretsFile, 'utf8')).toBe(secretsBefore);
  expect(secretsNotices(second)).toEqual([]);
  const get = (url: string) => authedFetch(credentials, `${second.baseUrl}${url}`);
  const state = await get(`/conversations/${conversationId}`);
  expect(state.status).toBe(200);
  expect(await state.json()).toMatchObject({ status: 'queued', queue: 'billing', attributeNames: { pending: ['Tier'], stored: [] } });
  expect(await (await get(`/conversations/${conversationId}/attributes/Tier`)).json()).toEqual({ name: 'Tier', value: 'gold', source: 'pending' });

  expect((await post(second, credentials, '/webhooks/routing-events', routingEvent(conversationId, 'CLOSED', 2))).status).toBe(202);
  await waitFor('the closed conversation to read its attribute from the store', async () => {
    const res = await get(`/conversations/${conversationId}/attributes/Tier`);
    return res.status === 200 && ((await res.json()) as { source: string }).source === 'stored';
  });

  // What a process manager sends (docker stop, systemd): SIGTERM to the launcher alone.
  second.child.kill('SIGTERM');
  expect(await second.exited).toEqual({ code: 0, signal: null });
  expect(exitOf(second, 'worker.js')).toMatchObject({ code: 0, signal: null });

  // A closed terminal: SIGHUP to the launcher, which must take its process groups down with it.
  const third = await launch(dataDir);
  third.child.kill('SIGHUP');
  expect(await third.exited).toEqual({ code: 0, signal: null });
  expect(exitOf(third, 'worker.js')).toMatchObject({ code: 0, signal: null });
  expect(exitOf(third, 'api.js')).toMatchObject({ code: 0, signal: null });
});

const pickExit = (line?: LogLine) => ({ code: line?.code, signal: line?.signal });

test('npm start supervises what it started: a SIGKILLed dev server, worker or API is restarted (same SQLite file, data kept); when the dev server cannot come back it stops everything and exits 1 saying why; the dev server serves its metrics on TEMPORAL_DEV_METRICS_PORT, also after a restart', async () => {
  const dataDir = tempDir('npm-start-supervise');
  const conversationId = uniqueId('supervise');
  const metricsPort = await freePort();
  const run = await launch(dataDir, { env: { TEMPORAL_DEV_METRICS_PORT: String(metricsPort) } });
  const credentials = credentialsFromFile(path.join(dataDir, 'secrets.json'));
  const launcherPid = run.child.pid!;
  const msgs = () => run.lines.map((line) => line.msg);
  /** A request that succeeds once the restarted processes have reconnected. */
  const eventually = async (what: string, send: () => Promise<Response>, want: number): Promise<void> => {
    let last = 0;
    await waitFor(what, async () => (last = (await send()).status) === want, { timeoutMs: 90_000, intervalMs: 500 }).catch((err: unknown) => {
      throw new Error(`${String(err)} (last status ${last})`);
    });
  };

  expect((await post(run, credentials, '/webhooks/routing-events', routingEvent(conversationId, 'QUEUED', 1, { queue: 'billing' }))).status).toBe(202);
  expect((await post(run, credentials, `/conversations/${conversationId}/attributes`, { attributes: { Tier: 'gold' } })).status).toBe(200);
  // Temporal's own metrics, on loopback: the webhook's signal-with-start and the write's update are counted.
  const devServerMetrics = async () => parseServiceMetrics(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text());
  const counted = (metrics: ServiceSnapshot, operation: string): number => metrics.get(`service_latency_count|${operation}|frontend`) ?? 0;
  const before = await devServerMetrics();
  expect(counted(before, 'SignalWithStartWorkflowExecution')).toBeGreaterThanOrEqual(1);
  expect(counted(before, 'UpdateWorkflowExecution')).toBeGreaterThanOrEqual(1);

  // The dev server, killed without a chance to close its SQLite file.
  process.kill(onlyChild(launcherPid, path.join(dataDir, 'temporal.sqlite')), 'SIGKILL');
  await waitFor('the launcher to say the dev server is back', () => msgs().includes('the Temporal dev server is back'), { timeoutMs: 90_000 });
  expect(run.lines.find((line) => line.msg === 'the Temporal dev server exited unexpectedly; restarting it on the same SQLite file')).toMatchObject({ signal: 'SIGKILL', attempt: 1, restartInMs: 1000 });
  await eventually('a write to be accepted after the dev server restart', () => post(run, credentials, `/conversations/${conversationId}/attributes`, { attributes: { Plan: 'pro' } }), 200);
  // What was written before the kill is still there.
  const state = await authedFetch(credentials, `${run.baseUrl}/conversations/${conversationId}`);
  expect(await state.json()).toMatchObject({ status: 'queued', queue: 'billing', attributeNames: { pending: ['Plan', 'Tier'] } });
  // The restarted dev server serves its metrics on the same port (its counts start again from zero).
  expect(counted(await devServerMetrics(), 'UpdateWorkflowExecution')).toBeGreaterThanOrEqual(1);

  // The worker's process starts with its main thread's young generation as WORKER_SEMI_SPACE_MB says
  // (4 MiB semi-spaces by default), the API's with Node's own; so does a restarted worker (below).
  const nodeFlagsOf = (entry: string): string[] => fs.readFileSync(`/proc/${onlyChild(launcherPid, entry)}/cmdline`, 'utf8').split('\0').filter((arg) => arg.startsWith('--'));
  expect(nodeFlagsOf('worker.js')).toEqual(['--max-semi-space-size=4']);
  expect(nodeFlagsOf('api.js')).toEqual([]);

  // The worker and the API, each SIGKILLed: restarted, and the service answers again.
  for (const entry of ['worker.js', 'api.js']) {
    process.kill(onlyChild(launcherPid, entry), 'SIGKILL');
    await waitFor(`the launcher to restart ${entry}`, () => run.lines.some((line) => line.msg === 'process restarted' && line.entry === entry), { timeoutMs: 30_000 });
    expect(run.lines.find((line) => line.msg === 'a Parley process exited unexpectedly; restarting it' && line.entry === entry)).toMatchObject({ signal: 'SIGKILL', attempt: 1 });
    await eventually(`a write to be accepted after ${entry} restarted`, () => post(run, credentials, `/conversations/${conversationId}/attributes`, { attributes: { [entry.split('-')[0]]: 'back' } }), 200);
  }
  expect(nodeFlagsOf('worker.js')).toEqual(['--max-semi-space-size=4']);
  expect(run.child.exitCode).toBeNull();

  // Killed again with its port taken by another program: every restart fails, the back-off runs out,
  // and the launcher stops the worker and the API and exits 1, naming the reason.
  const squatter = net.createServer();
  try {
    process.kill(onlyChild(launcherPid, path.join(dataDir, 'temporal.sqlite')), 'SIGKILL');
    await waitFor('the dev server port to be free', () => new Promise<boolean>((resolve) => {
      squatter.once('error', () => resolve(false));
      squatter.listen(run.devPort, '127.0.0.1', () => resolve(true));
    }), { timeoutMs: 10_000, intervalMs: 50 });
    const exit = await run.exited;
    expect(exit).toEqual({ code: 1, signal: null });
  } finally {
    squatter.close();
  }
  expect(run.lines.find((line) => line.msg?.startsWith('the Temporal dev server keeps exiting'))).toMatchObject({ level: 50, restarts: 5 });
  // The API stops cleanly; the worker cannot finish a drain with no server to talk to, so it may be
  // killed at the end of its short grace. Either way nothing the launcher started is left running.
  expect(exitOf(run, 'api.js')).toMatchObject({ code: 0, signal: null });
  expect([{ code: 0, signal: null }, { code: null, signal: 'SIGKILL' }]).toContainEqual(pickExit(exitOf(run, 'worker.js')));
  // Orphans would have a new parent: look for any process still using the data folder instead.
  expect(processesUsing(dataDir)).toEqual([]);
}, 400_000);
