// The one configuration: the common settings every process checks, and the parts each process asks
// for, loaded together once at start-up.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type ConfigPart } from '../../src/config';
import { ALL_DESTINATIONS } from '../../src/channels/config';
import { ConfigError as PlatformConfigError } from '../../src/platform/config';
import { generateToken } from '../../src/security/secrets';
import { generateWebhookSecret } from '../../src/security/webhook-signature';
import { tempDir } from '../support/temporal';

const API_PARTS: ConfigPart[] = ['secrets', 'crm', 'destinations', 'keys', 'codec'];
const WORKER_PARTS: ConfigPart[] = ['crm', 'keys', 'channelPeers'];

const webhookSecret = generateWebhookSecret();
const flowToken = generateToken('flow');

function refusal(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

test('one ConfigError class, wherever it is imported from', () => {
  expect(ConfigError).toBe(PlatformConfigError);
});

test('without parts: the common settings only, every section of them checked', () => {
  const dir = tempDir('load-config');
  const config = loadConfig({ PARLEY_DATA_DIR: dir, WORKER_MAX_CACHED_WORKFLOWS: '8', STORE_TIMEOUT: '3s', PORT: '4000' });
  expect(config).toMatchObject({
    port: 4000,
    dataDir: dir,
    sqlitePath: path.join(dir, 'participant-data.sqlite'),
    storeTimeoutMs: 3000,
    workerTuning: { maxCachedWorkflows: 8 },
    exportTarget: { kind: 'folder', dir: path.join(dir, 'exports') },
  });
  for (const part of [...API_PARTS, ...WORKER_PARTS]) expect(config).not.toHaveProperty(part);
  expect(() => loadConfig({ PARLEY_DATA_DIR: dir, WORKER_ACTIVITY_SLOTS: 'many' })).toThrow(/WORKER_ACTIVITY_SLOTS/);
  expect(() => loadConfig({ PARLEY_DATA_DIR: dir, EXPORT_S3_PREFIX: 'x' })).toThrow(/EXPORT_S3_PREFIX set without EXPORT_S3_BUCKET/);
});

test("the API's parts, from the environment and the data folder", () => {
  const dir = tempDir('load-config-api');
  const config = loadConfig(
    { PARLEY_DATA_DIR: dir, PARLEY_WEBHOOK_SECRETS: webhookSecret, PARLEY_TOKENS: `flow:${flowToken}`, CODEC_COOKIE_SAMESITE: 'lax' },
    API_PARTS,
  );
  expect(config.secrets).toMatchObject({ webhookSecrets: [webhookSecret], tokens: [{ scopes: ['flow'], token: flowToken }] });
  expect(config.crm.describe().configurations).toEqual([]);
  expect(config.destinations).toBe(ALL_DESTINATIONS);
  expect(config.keys.securedData).toEqual({ kind: 'local', keyFile: path.join(dir, 'keys.json') });
  expect(config.codec).toEqual({ corsOrigins: [], cookieSecure: 'auto', cookieSameSite: 'Lax' });
  expect(config).not.toHaveProperty('channelPeers');
});

test("the worker starts without the API's secrets; the API does not", () => {
  const dir = tempDir('load-config-worker');
  const config = loadConfig({ PARLEY_DATA_DIR: dir }, WORKER_PARTS);
  expect(config.channelPeers).toMatchObject({ outboxDir: path.join(dir, 'outbox'), timeoutMs: 10_000 });
  expect(config.keys.codec).toEqual({ kind: 'local', keyFile: path.join(dir, 'keys.json') });
  expect(config).not.toHaveProperty('secrets');
  expect(refusal(() => loadConfig({ PARLEY_DATA_DIR: dir }, API_PARTS)).message).toMatch(/no API secrets: set PARLEY_WEBHOOK_SECRETS and PARLEY_TOKENS/);
});

test('a part is checked only for the processes that ask for it', () => {
  const dir = tempDir('load-config-parts');
  const env = { PARLEY_DATA_DIR: dir, CHANNEL_GATEWAY_URL: 'not a url', CODEC_COOKIE_SECURE: 'maybe' };
  expect(() => loadConfig(env, ['keys'])).not.toThrow();
  expect(() => loadConfig(env, ['channelPeers'])).toThrow(/CHANNEL_GATEWAY_URL is not a URL/);
  expect(() => loadConfig(env, ['codec'])).toThrow(/CODEC_COOKIE_SECURE must be true, false or auto/);
});

test('with several mistakes the same one is reported, whatever order the parts are asked in', () => {
  const dir = tempDir('load-config-order');
  const env = { PARLEY_DATA_DIR: dir, CRM_INTEGRATIONS_FILE: path.join(dir, 'missing.json'), KMS_DECRYPT_KEY_IDS: 'x' };
  const first = refusal(() => loadConfig(env, ['crm', 'keys'])).message;
  expect(first).toMatch(/CRM_INTEGRATIONS_FILE/);
  expect(refusal(() => loadConfig(env, ['keys', 'crm'])).message).toBe(first);
  // The common settings come before any part.
  expect(refusal(() => loadConfig({ ...env, PORT: 'http' }, ['keys', 'crm'])).message).toBe('PORT must be a whole number, got "http"');
});

test('refusals name the variable or file and never show a secret', () => {
  const dir = tempDir('load-config-secrets');
  const shortToken = 'tok-Zq81';
  const crmSecret = 'crm-secret-Xv72\nInjected: 1';
  const crmFile = path.join(dir, 'crm.json');
  fs.writeFileSync(crmFile, JSON.stringify({
    configurations: { c: { baseUrl: 'https://crm.example', auth: { header: 'Authorization', secretEnv: 'CRM_TOKEN' }, workflows: ['w'], defaultTimeoutMs: 1000, maxTimeoutMs: 2000 } },
  }));
  const cases: Array<[Record<string, string>, ConfigPart[], RegExp, string]> = [
    [{ PARLEY_WEBHOOK_SECRETS: webhookSecret, PARLEY_TOKENS: `flow:${shortToken}` }, ['secrets'], /token PARLEY_TOKENS\[1\] in PARLEY_TOKENS must be at least 16 characters/, shortToken],
    [{ CRM_INTEGRATIONS_FILE: crmFile, CRM_TOKEN: crmSecret }, ['crm'], /crm\.json: configuration "c", field auth\.secretEnv: the secret contains a line break/, 'crm-secret-Xv72'],
  ];
  for (const [env, parts, message, secret] of cases) {
    const error = refusal(() => loadConfig({ PARLEY_DATA_DIR: dir, ...env }, parts));
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(secret);
  }
});
