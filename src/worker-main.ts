// Worker entrypoint: `npm run worker`, or started by `npm start`. Scale by running more of these.
import { loadConfig } from './config';
import { createLogger, installTemporalRuntime } from './logger';
import { createParticipantDataStore } from './store';
import { connectWorker, createParleyWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'parley-worker');
  installTemporalRuntime(logger);
  const store = createParticipantDataStore(config);
  await store.init();
  const connection = await connectWorker(config);
  const worker = await createParleyWorker({ config, store, logger, connection });
  logger.info({ taskQueue: config.taskQueue, namespace: config.temporalNamespace, store: config.databaseUrl ? 'postgres' : 'sqlite' }, 'worker started');
  // The SDK's Runtime turns SIGINT/SIGTERM into a graceful worker shutdown; run() resolves once drained.
  await worker.run();
  // Closing the last native connection shuts the SDK runtime down, which releases the event loop.
  await connection.close();
  await store.close();
  logger.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
