// The floor's worker for `npm run bench`, a process of its own like `node dist/src/main/worker.js`:
// built by the same createParleyWorker (same slots, cache, sticky queue and shutdown settings, same
// activity poller) with the floor's workflow bundle and Temporal's default data converter (no codec).
// Its activities are Parley's, registered and never called: the floor workflow schedules none.
import { loadConfig } from '../../src/config';
import { createLogger, installTemporalRuntime } from '../../src/platform/logger';
import type { ParticipantDataStore } from '../../src/store';
import { connectWorker, createParleyWorker } from '../../src/worker/worker';
import { startWorkerHealthServer } from '../../src/worker/health';

const unusedStore: ParticipantDataStore = new Proxy({} as ParticipantDataStore, {
  get: (_target, name) => () => Promise.reject(new Error(`the floor worker has no store (${String(name)} called)`)),
});

async function main(): Promise<void> {
  const bundle = process.env.BENCH_FLOOR_BUNDLE;
  if (!bundle) throw new Error('BENCH_FLOOR_BUNDLE names the floor workflow bundle (npm run bench sets it)');
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'bench-floor-worker', config.logFormat);
  installTemporalRuntime(logger);
  const connection = await connectWorker(config);
  const worker = await createParleyWorker({ config, store: unusedStore, logger, connection, workflowBundle: { codePath: bundle }, dataConverter: {} });
  const health = config.workerHealthPort === undefined ? undefined : await startWorkerHealthServer(worker, { host: config.host, port: config.workerHealthPort, logger });
  await worker.run();
  await health?.close();
  await connection.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
