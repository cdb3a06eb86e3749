// `npm start` cleans up after a launcher that was killed outright: its dev server, worker and API run
// in process groups of their own, so a SIGKILLed (or OOM-killed) launcher leaves them running on
// their ports. The next `npm start` finds them through the pid file in the data folder, stops them,
// and comes up on the same ports; a port held by a program that is not Parley's is named, with the
// variable that moves it.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startApiStack } from '../../rigs/api-stack';
import { credentialsFromFile } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { tempDir, uniqueId } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { ensureWorkerBuilt } from '../../rigs/worker-process';
import { routingEvent } from '../support/conversation';
import { freeLaunchPorts, killLaunches, launch, onlyChild, post } from '../support/launcher';

const PID_FILE = 'npm-start.pid.json';

afterAll(() => killLaunches());

const isAlive = (pid: number): boolean => {
  try {
    // A zombie has no command line: it holds no port any more.
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').length > 0;
  } catch {
    return false;
  }
};

/** True when something accepts connections on the port. */
const listening = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

test('a SIGKILLed npm start leaves its processes on their ports; the next npm start stops them (saying so) and comes up on the same ports', async () => {
  const dataDir = tempDir('npm-start-leftovers');
  const conversationId = uniqueId('leftover');
  const ports = await freeLaunchPorts();
  const first = await launch(dataDir, { ports });
  const credentials = credentialsFromFile(path.join(dataDir, 'secrets.json'));
  expect((await post(first, credentials, '/webhooks/routing-events', routingEvent(conversationId, 'QUEUED', 1, { queue: 'billing' }))).status).toBe(202);

  // The pid file names the launcher and each process it started, with its group, command and ports.
  const record = JSON.parse(fs.readFileSync(path.join(dataDir, PID_FILE), 'utf8')) as {
    launcher: { pid: number; startTicks: number; startedAt: string };
    processes: Array<{ role: string; pid: number; pgid: number; command: string[]; ports: Array<{ port: number; variable: string }> }>;
  };
  const launcherPid = first.child.pid!;
  expect(record.launcher).toMatchObject({ pid: launcherPid, startTicks: expect.any(Number), startedAt: expect.any(String) });
  const devServer = onlyChild(launcherPid, path.join(dataDir, 'temporal.sqlite'));
  const worker = onlyChild(launcherPid, 'worker.js');
  const api = onlyChild(launcherPid, 'api.js');
  expect(record.processes.map(({ role, pid, pgid, ports: held }) => ({ role, pid, pgid, ports: held.map((p) => [p.port, p.variable]) })).sort((a, b) => a.role.localeCompare(b.role))).toEqual([
    { role: 'api.js', pid: api, pgid: api, ports: [[ports.port, 'PORT']] },
    { role: 'the Temporal dev server', pid: devServer, pgid: devServer, ports: [[ports.devPort, 'TEMPORAL_DEV_PORT'], [ports.uiPort, 'TEMPORAL_UI_PORT']] },
    { role: 'worker.js', pid: worker, pgid: worker, ports: [] },
  ]);
  for (const p of record.processes) expect(p.command.join(' ')).toBe(fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0$/, '').split('\0').join(' '));

  // The launcher alone is killed, as the OOM killer would: nothing of it runs to stop its children.
  process.kill(launcherPid, 'SIGKILL');
  await first.exited;
  for (const pid of [devServer, worker, api]) expect(isAlive(pid)).toBe(true);
  for (const port of [ports.port, ports.devPort, ports.uiPort]) expect(await listening(port)).toBe(true);
  expect((await fetch(`${first.baseUrl}/livez`)).status).toBe(200);

  // Started again on the same ports and data folder: it stops the leftovers first, saying so.
  const second = await launch(dataDir, { ports });
  const notice = second.lines.find((line) => line.msg === 'stopping processes left over by a previous npm start (it was killed before it could stop them)');
  expect(notice).toMatchObject({ level: 40, launcherPid });
  expect((notice?.processes as Array<{ pid: number }>).map((p) => p.pid).sort()).toEqual([devServer, worker, api].sort());
  const stopped = second.lines.filter((line) => line.msg === 'left-over process stopped').map((line) => line.pid);
  expect(stopped.sort()).toEqual([devServer, worker, api].sort());
  for (const pid of [devServer, worker, api]) expect(isAlive(pid)).toBe(false);
  // The worker got SIGTERM, so it stopped as on Ctrl-C, draining (its output still reaches the first launcher's pipe).
  expect(first.lines.some((line) => line.name === 'parley-worker' && line.msg === 'worker stopped')).toBe(true);

  // Healthy, on the same ports, with the conversation kept.
  await waitFor('the API to say Temporal is reachable', async () => (await fetch(`${second.baseUrl}/healthz`)).status === 200, { timeoutMs: 30_000 });
  const state = await fetch(`${second.baseUrl}/conversations/${conversationId}`, { headers: { authorization: `Bearer ${credentials.tokens.operator}` } });
  expect(await state.json()).toMatchObject({ status: 'queued', queue: 'billing' });
  expect(JSON.parse(fs.readFileSync(path.join(dataDir, PID_FILE), 'utf8')).launcher.pid).toBe(second.child.pid);

  // A clean stop removes the pid file.
  second.child.kill('SIGTERM');
  expect(await second.exited).toEqual({ code: 0, signal: null });
  expect(fs.existsSync(path.join(dataDir, PID_FILE))).toBe(false);
}, 400_000);

test('a port held by another program: npm start names the port, the process holding it and the variable that moves it, and starts nothing', async () => {
  const dataDir = tempDir('npm-start-port-taken');
  const ports = { ...(await freeLaunchPorts()), port: await freePort() };
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(ports.port, '127.0.0.1', resolve));
  try {
    const run = await launch(dataDir, { ports, waitUntilUp: false });
    expect(await run.exited).toEqual({ code: 1, signal: null });
    const said = run.lines.map((line) => (typeof line.text === 'string' ? line.text : '')).join('\n');
    expect(said).toContain(`port ${ports.port} (PORT, the API) is already in use by process ${process.pid} (`);
    expect(said).toContain('set PORT to a free port');
    // Nothing was started, so nothing is left behind, and no pid file claims otherwise.
    expect(await listening(ports.devPort)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, PID_FILE))).toBe(false);
  } finally {
    squatter.close();
  }
}, 120_000);

test('a worker whose WORKER_HEALTH_PORT is taken exits 1 naming the port, the process holding it and the variable', async () => {
  ensureWorkerBuilt();
  const stack = await startApiStack({ name: 'health-port-taken', worker: false });
  const squatter = net.createServer();
  try {
    const port = await freePort();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    const worker = await stack.spawnWorker('port-taken', { WORKER_HEALTH_PORT: String(port) }, { waitForPolling: false });
    expect(await worker.exited).toEqual({ code: 1, signal: null });
    expect(worker.output()).toContain(`parley-worker: port ${port} (WORKER_HEALTH_PORT, the worker's health endpoint) is already in use by process ${process.pid} (`);
  } finally {
    squatter.close();
    await stack.stop();
  }
}, 120_000);
