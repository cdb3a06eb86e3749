// Worker entrypoint: `npm run worker`, or started by `npm start`. Scale by running more of these.
// First: signals that arrive while the modules below load must not kill the worker.
import { stopRequested } from '../platform/stop-signals';
import { loadConfig } from '../config';
import { createLogger, installTemporalRuntime } from '../platform/logger';
import { createKeyServices } from '../security/key-services';
import { parleyDataConverter } from '../security/payload-codec';
import { KeyServiceWaitingCodec } from '../security/waiting-codec';
import { createParticipantDataStore } from '../store';
import { joinSharedDeployment } from './shared-deployment';
import { createExportSink } from '../export';
import { createChannelPeers } from '../channels/config';
import { connectWorker, createParleyWorker } from '../worker/worker';
import type { Worker } from '@temporalio/worker';
import { WorkerMetrics } from '../platform/metrics';
import { startWorkerHealthServer, workerHealth } from '../worker/health';
import { PortInUseError, portHolder } from '../platform/port-holder';
import { tracingRequested } from '../platform/tracing-switch';

async function main(): Promise<void> {
  // Before anything connects: a wrong CRM registry or peer URL stops the worker with a ConfigError
  // naming the variable, file, entry and field.
  const config = loadConfig(process.env, ['crm', 'keys', 'channelPeers']);
  const { crm } = config;
  const logger = createLogger(config.logLevel, 'parley-worker', config.logFormat);
  installTemporalRuntime(logger, config.temporalMetricsPort === undefined ? undefined : { host: config.host, port: config.temporalMetricsPort });
  // Loaded only when asked for: an untraced worker never loads the OpenTelemetry SDK.
  const tracing = tracingRequested(process.env) ? (await import('../platform/tracing')).startTracing('parley-worker') : undefined;
  // The worker holds only the codec key: secured values reach it already encrypted with the customer's key.
  const keys = createKeyServices(config.keys, { namespace: config.temporalNamespace });
  const channels = createChannelPeers(config.channelPeers);
  const store = createParticipantDataStore(config);
  await store.init();
  // Before taking any work: a worker whose CRM registry or codec key differ from the running processes' is refused here.
  const deployment = await joinSharedDeployment(config, crm, 'worker', logger);
  const exportSink = createExportSink(config.exportTarget);
  const connection = await connectWorker(config);
  // Read at scrape time; the worker it describes is created just below.
  const metrics = new WorkerMetrics(() => workerHealth(worker), { kmsCalls: keys.kmsCalls });
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
    tracing: tracing?.worker(),
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
      tracing: tracing ? 'otlp' : 'off',
    },
    'worker started',
  );
  const healthPort = config.workerHealthPort;
  const health = healthPort === undefined ? undefined : await startHealth(config.host, healthPort, () => startWorkerHealthServer(worker, { host: config.host, port: healthPort, logger, metrics: metrics.registry }));
  const early = stopRequested();
  if (early) {
    // Stopped before it took any work: nothing to drain. The SDK keeps the connection while a Worker
    // object exists, so the process ends here rather than through the worker's run and shutdown.
    logger.info({ signal: early }, 'worker stopped before it started polling');
    await deployment.leave();
    await store.close();
    await tracing?.shutdown().catch(() => undefined);
    process.exit(0);
  }
  // The SDK's Runtime turns SIGINT/SIGTERM into a graceful worker shutdown; run() resolves once drained.
  await worker.run();
  await health?.close();
  // Closing the last native connection shuts the SDK runtime down, which releases the event loop.
  await connection.close();
  await deployment.leave();
  await store.close();
  await exportSink.close();
  // Last: the spans of the work just drained (activities, workflow tasks, store writes) are exported
  // now, or lost with the process.
  await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'tracing: spans not exported at shutdown'));
  logger.info('worker stopped');
}

/** A taken health port is named with the process holding it and the variable that moves it. */
async function startHealth<T>(host: string, port: number, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new PortInUseError({ port, variable: 'WORKER_HEALTH_PORT', owner: "the worker's health endpoint", host }, portHolder(port));
  }
}

main().catch((err) => {
  console.error(err instanceof PortInUseError ? `parley-worker: ${err.message}` : err);
  process.exit(1);
});
