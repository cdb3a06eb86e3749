// How every Parley process reaches Temporal: the embedded dev server in plain text, or a cluster
// with TLS, mTLS and/or an API key (Temporal Cloud). One place, so the worker, the API and
// `npm start`'s search-attribute registration connect the same way.
import fs from 'node:fs';
import { Client, Connection, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { PlatformConfig } from './config';
import { ConfigError } from './env';

export type TemporalConnectionConfig = Pick<PlatformConfig, 'temporalAddress' | 'devServerPort'> & Partial<Pick<PlatformConfig, 'temporalTls' | 'temporalApiKey'>>;

export interface TemporalConnectionOptions {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
}

export function temporalAddressOf(config: Pick<PlatformConfig, 'temporalAddress' | 'devServerPort'>): string {
  return config.temporalAddress ?? `127.0.0.1:${config.devServerPort}`;
}

/** Reads the certificate files named by the configuration; an unreadable one is a ConfigError naming its variable. */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const options: TemporalConnectionOptions = { address: temporalAddressOf(config) };
  const tls = config.temporalTls;
  if (tls) {
    options.tls = {};
    if (tls.serverName) options.tls.serverNameOverride = tls.serverName;
    if (tls.caPath) options.tls.serverRootCACertificate = readPem('TEMPORAL_TLS_CA', tls.caPath);
    if (tls.certPath && tls.keyPath) {
      options.tls.clientCertPair = { crt: readPem('TEMPORAL_TLS_CERT', tls.certPath), key: readPem('TEMPORAL_TLS_KEY', tls.keyPath) };
    }
  }
  if (config.temporalApiKey) options.apiKey = config.temporalApiKey;
  return options;
}

function readPem(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    throw new ConfigError(`${variable}: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/**
 * A lazy connection: the API starts and answers (503) even while Temporal is unreachable, and
 * recovers by itself when Temporal comes back.
 */
export function createTemporalClient(
  config: TemporalConnectionConfig & Pick<PlatformConfig, 'temporalNamespace'>,
  dataConverter: DataConverter,
  /** Tracing's: they see each call's headers, never its payloads, which the data converter encrypts before they leave. */
  workflowInterceptors: WorkflowClientInterceptor[] = [],
): Client {
  const connection = Connection.lazy(temporalConnectionOptions(config));
  return new Client({ connection, namespace: config.temporalNamespace, dataConverter, interceptors: { workflow: workflowInterceptors } });
}
