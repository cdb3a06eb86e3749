// HTTP API entrypoint: `npm run api`, or started by `npm start`. Stateless: scale by running more.
import { buildApi } from './api/server';
import { loadConfig } from './config';
import { createLogger } from './logger';
import { createParticipantDataStore } from './store';
import { createTemporalClient } from './temporal-client';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'parley-api', config.logFormat);
  const store = createParticipantDataStore(config);
  await store.init();
  const client = createTemporalClient(config);
  const app = buildApi({ client, store, logger, config });
  await app.listen({ port: config.port, host: config.host });
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'API stopping');
    await app.close();
    await client.connection.close();
    await store.close();
    process.exit(0);
  };
  // Kept installed: a repeated signal while closing must not kill requests in flight.
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
