// HTTP API entrypoint: `npm run api`, or started by `npm start`. Stateless: scale by running more.
import { buildApi } from '../api/server';
import { loadDestinations } from '../channels/config';
import { loadConfig } from '../platform/config';
import { createLogger } from '../platform/logger';
import { codecSettingsFromEnv } from '../security/codec-server';
import { createKeyServices } from '../security/key-services';
import { keyConfigFromEnv } from '../security/keys';
import { loadSecrets } from '../security/secrets';
import { createParticipantDataStore } from '../store';
import { createTemporalClient } from '../platform/temporal-client';
import { loadCrmRegistry } from '../crm/registry';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'parley-api', config.logFormat);
  // Before anything connects: without its secrets the API refuses to start (ConfigError).
  const secrets = loadSecrets(process.env, config.dataDir);
  for (const warning of secrets.warnings) logger.warn(warning);
  logger.info({ webhookSecrets: secrets.webhookSecrets.length, tokens: secrets.tokens.map((t) => ({ name: t.name, scopes: t.scopes })), from: secrets.sources }, 'API credentials loaded');
  const crm = loadCrmRegistry(process.env, config.dataDir);
  logger.info({ crm: crm.describe() }, 'CRM integrations');
  // Checked at start-up: an error names the file, the entry and the field.
  const destinations = loadDestinations(process.env);
  logger.info({ destinations: destinations.describe() }, 'digital-channel destinations');
  const keys = createKeyServices(keyConfigFromEnv(), { namespace: config.temporalNamespace });
  logger.info({ keys: keys.describe() }, 'encryption keys');
  const store = createParticipantDataStore(config);
  await store.init();
  const client = createTemporalClient(config, keys.dataConverter);
  const app = buildApi({ client, store, logger, config, auth: secrets, keys, codecSettings: codecSettingsFromEnv(), crm, destinations });
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
