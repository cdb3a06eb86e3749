import { Client, Connection } from '@temporalio/client';
import type { Config } from './config';

/**
 * A lazy connection: the API starts and answers (503) even while Temporal is unreachable, and
 * recovers by itself when Temporal comes back.
 */
export function createTemporalClient(config: Pick<Config, 'temporalAddress' | 'temporalNamespace' | 'devServerPort'>): Client {
  const connection = Connection.lazy({ address: temporalAddressOf(config) });
  return new Client({ connection, namespace: config.temporalNamespace });
}

export function temporalAddressOf(config: Pick<Config, 'temporalAddress' | 'devServerPort'>): string {
  return config.temporalAddress ?? `127.0.0.1:${config.devServerPort}`;
}
