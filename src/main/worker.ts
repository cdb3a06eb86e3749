// Worker entrypoint: `npm run worker`, or started by `npm start`. Scale by running more of these.
// First: signals that arrive while the modules below load must not kill the worker.
import { stopRequested } from '../platform/stop-signals';
import { loadConfig } from '../config';
import { createLogger, installTemporalRuntime } from '../platform/logger';
import { createKeyServices } from '../security/key-services';
import { parleyDataConverter } from '../security/payload-codec';
import { KeyServiceWaitingCodec } from '../security/waiting-codec';
import { createParticipantDataStore, createSharedState } from '../store';
import { joinDeployment, settingsFingerprints, settingsGeneration } from '../config/settings-agreement';
import { createExportSink } from '../export';
import { createChannelPeers } from '../channels/config';
import { connectWorker, createParleyWorker } from '../worker/worker';
import type { Worker } from '@temporalio/worker';
import { WorkerMetrics } from '../platform/metrics';
import { startWorkerHealthServer, workerHealth } from '../worker/health';

async function main(): Promise<void> {
  // Before anything connects: a wrong CRM registry or peer URL stops the worker with a ConfigError
  // naming the variable, file, entry and field.
  const config = loadConfig(process.env, ['crm', 'keys', 'channelPeers']);
  const { crm } = config;
  const logger = createLogger(config.logLevel, 'parley-worker', config.logFormat);
  installTemporalRuntime(logger, config.temporalMetricsPort === undefined ? undefined : { host: config.host, port: config.temporalMetricsPort });
  // The worker holds only the codec key: secured values reach it already encrypted with the customer's key.
  const keys = createKeyServices(config.keys, { namespace: config.temporalNamespace });
  const channels = createChannelPeers(config.channelPeers);
  const store = createParticipantDataStore(config);
  await store.init();
  // Before taking any work: a worker whose CRM registry or codec key differ from the running processes' is refused here.
  const shared = createSharedState(config);
  await shared?.init();
  const registration =
    shared &&
    (await joinDeployment(shared, {
      deployment: `${config.temporalNamespace}/${config.taskQueue}`,
      role: 'worker',
      generation: settingsGeneration(process.env),
      groups: settingsFingerprints({ crm, keys: config.keys, role: 'worker' }),
      onBeatFailed: (err) => logger.warn({ err: { type: err instanceof Error ? err.name : typeof err } }, 'could not refresh this process in the shared settings record'),
    }));
  const exportSink = createExportSink(config.exportTarget);
  const connection = await connectWorker(config);
  // Read at scrape time; the worker it describes is created just below.
  const metrics = new WorkerMetrics(() => workerHealth(worker));
  const worker: Worker = await createParleyWorker({
    config,
    store,
    logger,
    connection,
    dataConverter: parleyDataConverter(new KeyServiceWaitingCodec(keys.codec, { logger })),
    metrics,
    crm,
    channels,
    exportSink,
  });
  logger.info(
    {
      taskQueue: config.taskQueue,
      namespace: config.temporalNamespace,
      store: config.databaseUrl ? 'postgres' : 'sqlite',
      keys: keys.describe(),
      crm: crm.describe(),
      channelGateway: channels.gateway.describe,
      routingPlatform: channels.routing.describe,
      exports: exportSink.description,
    },
    'worker started',
  );
  const health = config.workerHealthPort === undefined ? undefined : await startWorkerHealthServer(worker, { host: config.host, port: config.workerHealthPort, logger, metrics: metrics.registry });
  const early = stopRequested();
  if (early) {
    // Stopped before it took any work: nothing to drain. The SDK keeps the connection while a Worker
    // object exists, so the process ends here rather than through the worker's run and shutdown.
    logger.info({ signal: early }, 'worker stopped before it started polling');
    await registration?.leave();
    await shared?.close();
    await store.close();
    process.exit(0);
  }
  // The SDK's Runtime turns SIGINT/SIGTERM into a graceful worker shutdown; run() resolves once drained.
  await worker.run();
  await health?.close();
  // Closing the last native connection shuts the SDK runtime down, which releases the event loop.
  await connection.close();
  await registration?.leave();
  await shared?.close();
  await store.close();
  await exportSink.close();
  logger.info('worker stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
