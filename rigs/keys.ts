// Key configurations: the run's local key file, a fresh one, or KMS keys on moto.
import path from 'node:path';
import { type KeyServices, createKeyServices } from '../src/security/key-services';
import { type KeyConfig, keyConfigFromEnv } from '../src/security/keys';
import { MOTO_CREDENTIALS, MOTO_REGION, type MotoServer } from './moto';
import { tempDir } from './temp';

export function localKeyConfig(keyFile = path.join(tempDir('keys'), 'keys.json'), env: NodeJS.ProcessEnv = {}): KeyConfig {
  return keyConfigFromEnv({ PARLEY_KEY_FILE: keyFile, ...env });
}

export function kmsKeyConfig(moto: MotoServer, env: NodeJS.ProcessEnv & { KMS_KEY_ID: string }): KeyConfig {
  const config = keyConfigFromEnv({ AWS_ENDPOINT_URL: moto.endpoint, AWS_REGION: MOTO_REGION, KMS_REQUEST_TIMEOUT: '2s', ...env });
  // moto accepts any credentials; explicit ones keep runs independent of the machine's AWS setup.
  config.aws.credentials = MOTO_CREDENTIALS;
  return config;
}

let runKeys: KeyServices | undefined;

/**
 * The run's key services (local key file PARLEY_KEY_FILE, set by test/global-setup.ts): what every
 * test client, in-process worker and API uses, and what worker child processes find in their environment.
 */
export function testKeyServices(): KeyServices {
  runKeys ??= createKeyServices(keyConfigFromEnv(process.env), { namespace: 'default' });
  return runKeys;
}
