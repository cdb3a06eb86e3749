// HTTP API entrypoint: `npm run api`, or started by `npm start`. Scale by running more on one
// PostgreSQL store: what the replicas must share (webhook deliveries taken, sign-in counters) is there.
import { buildApi } from '../api/server';
import { ServingState, stopServing } from '../api/serving-state';
import { loadConfig } from '../config';
import { createLogger } from '../platform/logger';
import { createKeyServices } from '../security/key-services';
import { createParticipantDataStore } from '../store';
import { joinSharedDeployment } from './shared-deployment';
import { createTemporalClient } from '../platform/temporal-client';
import { PortInUseError, portHolder } from '../platform/port-holder';
import { tracingRequested } from '../platform/tracing-switch';
import { serverTimingRequested } from '../api/server-timing';

async function main(): Promise<void> {
  // Before anything connects: without its secrets, or with a wrong CRM registry or destinations
  // file, the API refuses to start with a ConfigError naming the variable, file, entry and field.
  const config = loadConfig(process.env, ['secrets', 'crm', 'destinations', 'keys', 'codec', 'signIn']);
  const { secrets, crm, destinations } = config;
  const withServerTiming = serverTimingRequested(process.env);
  const logger = createLogger(config.logLevel, 'parley-api', config.logFormat);
  // Loaded only when asked for: an untraced API never loads the OpenTelemetry SDK.
  const tracing = tracingRequested(process.env) ? (await import('../platform/tracing')).startTracing('parley-api') : undefined;
  if (tracing) logger.info('tracing: spans exported over OTLP');
  for (const warning of secrets.warnings) logger.warn(warning);
  logger.info({ webhookSecrets: secrets.webhookSecrets.length, tokens: secrets.tokens.map((t) => ({ name: t.name, scopes: t.scopes })), from: secrets.sources }, 'API credentials loaded');
  logger.info({ crm: crm.describe() }, 'CRM integrations');
  logger.info({ destinations: destinations.describe() }, 'digital-channel destinations');
  const keys = createKeyServices(config.keys, { namespace: config.temporalNamespace });
  logger.info({ keys: keys.describe() }, 'encryption keys');
  const store = createParticipantDataStore(config);
  await store.init();
  // Before taking any request: a replica whose CRM registry or keys differ from the running ones' is refused here.
  const deployment = await joinSharedDeployment(config, crm, 'api', logger);
  const { shared } = deployment;
  const client = createTemporalClient(config, keys.dataConverter, tracing?.clientInterceptors());
  const serving = new ServingState();
  const app = buildApi({ client, store, logger, config, auth: secrets, keys, codecSettings: config.codec, crm, destinations, shared, signInLimits: config.signIn, traceRequests: tracing !== undefined, serverTiming: withServerTiming, serving });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
    throw new PortInUseError({ port: config.port, variable: 'PORT', owner: 'the API', host: config.host }, portHolder(config.port));
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'API stopping');
    // Requests on their way in are served (and nothing new is taken) before the clients below close.
    await stopServing(app, serving, { drainMs: config.shutdownDrainMs, logger });
    await deployment.leave();
    await client.connection.close();
    await store.close();
    // The spans of the requests just drained are still buffered: exported now, or lost with the process.
    await tracing?.shutdown().catch((err: unknown) => logger.warn({ err }, 'tracing: spans not exported at shutdown'));
    process.exit(0);
  };
  // Kept installed: a repeated signal while closing must not kill requests in flight.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err instanceof PortInUseError ? `parley-api: ${err.message}` : err);
  process.exit(1);
});
