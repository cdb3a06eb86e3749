// A worker told to stop while it is still starting (loading modules, opening the store, connecting)
// exits cleanly (code 0), as an orchestrator scaling down or `npm start` stopped at once expect;
// before, a signal in that window killed it by the signal's default action.
import path from 'node:path';
import type { DevServer } from '../../src/platform/dev-server';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { tempDir, uniqueId } from '../../rigs/temp';
import { ensureWorkerBuilt, spawnWorker } from '../../rigs/worker-process';

const dir = tempDir('early-stop');
let devServer: DevServer;

beforeAll(async () => {
  ensureWorkerBuilt();
  devServer = await startHeadlessDevServer(path.join(dir, 'temporal.sqlite'));
}, 120_000);

afterAll(async () => {
  await devServer?.stop();
});

// From about half a second after the spawn, once Node runs the entrypoint's first line (a signal
// before that meets a process with no JavaScript running yet).
test.each([500, 1200, 2500])('SIGTERM %i ms after the worker process starts: exit code 0, not killed', async (delayMs) => {
  const worker = spawnWorker({
    name: `early-${delayMs}`,
    temporalAddress: devServer.address,
    databaseUrl: '',
    taskQueue: uniqueId('early-stop'),
    logFile: path.join(dir, `worker-${delayMs}.log`),
    env: { PARLEY_SQLITE_PATH: path.join(dir, 'participant-data.sqlite') },
  });
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  expect(await worker.kill('SIGTERM')).toEqual({ code: 0, signal: null });
});
