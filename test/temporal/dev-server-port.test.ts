// A dev server started on a port another Temporal server took meanwhile must not be reported as up:
// the other server answers at once while ours is still starting, and clients handed that address
// would read a stranger's namespace (a conversation of this data folder answered 404).
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { portOf, startHeadlessDevServer } from '../../rigs/dev-server';
import { requireBinary } from '../../rigs/project';
import { tempDir } from '../../rigs/temp';
import { waitFor } from '../../rigs/wait';
import { type DevServer, startDevServer } from '../../src/platform/dev-server';
import { commandLineOf, PortInUseError } from '../../src/platform/port-holder';

let other: DevServer | undefined;
afterAll(() => other?.stop());

test('a port held by another Temporal server fails the start, naming the port and its holder, and leaves the other server alone', async () => {
  const dir = tempDir('dev-server-port');
  other = await startHeadlessDevServer(path.join(dir, 'other.sqlite'));
  const port = portOf(other);
  const ours = path.join(dir, 'ours.sqlite');

  const started = startDevServer({ cliPath: requireBinary('cli'), dbFile: ours, port, headless: true, logFile: `${ours}.log` });
  await expect(started).rejects.toBeInstanceOf(PortInUseError);
  const err = (await started.catch((e: unknown) => e)) as PortInUseError;
  expect(err.holder?.pid).toBe(other.process.pid);
  expect(err.message).toContain(`port ${port} (TEMPORAL_DEV_PORT, the Temporal dev server) is already in use by process ${other.process.pid}`);

  // Our server was stopped, not left starting behind the error.
  await waitFor('no process left running on our SQLite file', async () => !processesOn(ours));
  // The other server still serves.
  const connection = await Connection.connect({ address: other.address });
  try {
    await expect(connection.workflowService.getSystemInfo({})).resolves.toBeDefined();
  } finally {
    await connection.close();
  }
});

function processesOn(file: string): boolean {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .some((pid) => (commandLineOf(Number(pid)) ?? []).includes(file));
}
