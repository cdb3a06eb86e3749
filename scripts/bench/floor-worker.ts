// The floor's worker for `npm run bench`, a process of its own like `node dist/src/main/worker.js`:
// built by the same createParleyWorker (same slots, cache, sticky queue and shutdown settings, same
// activity poller) with the floor's workflow bundle and Temporal's default data converter (no codec).
// Its activities are Parley's, registered and never called: the floor workflow schedules none, except
// with BENCH_FLOOR=features, whose close writes the participant data and the export through Parley's
// own activity, into the store and export folder Parley's worker uses.
import { loadConfig } from '../../src/config';
import { createLogger, installTemporalRuntime } from '../../src/platform/logger';
import { createParticipantDataStore, type ParticipantDataStore } from '../../src/store';
import { createExportSink } from '../../src/export';
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
  // BENCH_FLOOR=features: the floor's close writes the store and the export as Parley's does.
  const features = process.env.BENCH_FLOOR === 'features';
  const store = features ? createParticipantDataStore(config) : unusedStore;
  if (features) await store.init();
  const exportSink = features ? createExportSink(config.exportTarget) : undefined;
  const connection = await connectWorker(config);
  const worker = await createParleyWorker({ config, store, logger, connection, workflowBundle: { codePath: bundle }, dataConverter: {}, exportSink });
  const health = config.workerHealthPort === undefined ? undefined : await startWorkerHealthServer(worker, { host: config.host, port: config.workerHealthPort, logger });
  await worker.run();
  await health?.close();
  await connection.close();
  if (features) await store.close();
  await exportSink?.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
