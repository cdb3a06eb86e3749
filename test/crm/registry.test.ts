// The CRM integrations registry as the API and the worker load it at start-up: the committed
// example, secrets by environment variable or secrets-file key, and errors that name the file, the
// entry and the field (never the secret).
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/platform/config';
import { crmRegistryFromFile, loadCrmRegistry } from '../../src/crm/registry';
import { tempDir } from '../../rigs/temp';

const EXAMPLE = path.join(__dirname, '..', '..', 'config', 'crm-integrations.example.json');
const SECRET = 'registry-secret-Pp93kd';

function writeJson(dir: string, name: string, content: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

const entry = (overrides: Record<string, unknown> = {}) => ({
  baseUrl: 'https://crm.example.com/api/',
  auth: { header: 'Authorization', scheme: 'Bearer', secretEnv: 'CRM_SECRET' },
  workflows: ['search'],
  defaultTimeoutMs: 5000,
  maxTimeoutMs: 10000,
  ...overrides,
});

test('the committed example loads with its two secrets supplied (one by env, one from the secrets file)', () => {
  const dir = tempDir('crm-registry');
  const secretsFile = writeJson(dir, 'secrets.json', { webhookSecrets: [], tokens: [], crmSecrets: { helpdesk: SECRET } });
  const registry = crmRegistryFromFile(EXAMPLE, { CRM_ACME_TOKEN: SECRET, PARLEY_SECRETS_FILE: secretsFile }, dir);
  expect(registry.describe().configurations).toEqual([
    { configurationId: 'acme-crm', workflows: ['searchContact', 'createCase'] },
    { configurationId: 'helpdesk', workflows: ['lookupTicket'] },
  ]);
  const acme = registry.get('acme-crm')!;
  expect(acme.authValue()).toBe(`Bearer ${SECRET}`);
  expect(acme.executeUrl('searchContact')).toBe('https://crm.example.com/api/workflows/searchContact/execute');
  expect(registry.get('helpdesk')!.authValue()).toBe(SECRET);
  // Logged or serialised, a configuration never shows its secret.
  expect(JSON.stringify(registry.describe()) + JSON.stringify(acme) + JSON.stringify(registry.get('helpdesk'))).not.toContain(SECRET);
});

test('no CRM_INTEGRATIONS_FILE: an empty registry', () => {
  expect(loadCrmRegistry({}, tempDir('crm-registry')).describe().configurations).toEqual([]);
});

test.each<[string, unknown, NodeJS.ProcessEnv, RegExp]>([
  ['a missing file', undefined, {}, /crm-integrations\.json: cannot be read \(ENOENT\)/],
  ['text that is not JSON', '{"configurations": ', {}, /is not valid JSON/],
  ['no configurations object', { crms: {} }, {}, /must hold \{"configurations"/],
  ['a bad id', { configurations: { 'a b': entry() } }, { CRM_SECRET: SECRET }, /configuration "a b": the id/],
  ['a baseUrl that is not http(s)', { configurations: { c: entry({ baseUrl: 'ftp://x' }) } }, { CRM_SECRET: SECRET }, /configuration "c", field baseUrl/],
  ['credentials in the baseUrl', { configurations: { c: entry({ baseUrl: 'https://u:p@x' }) } }, { CRM_SECRET: SECRET }, /field baseUrl: must not carry credentials/],
  ['no workflows', { configurations: { c: entry({ workflows: [] }) } }, { CRM_SECRET: SECRET }, /field workflows:/],
  ['a bad workflow id', { configurations: { c: entry({ workflows: ['ok', 'not ok'] }) } }, { CRM_SECRET: SECRET }, /field workflows\[1\]/],
  ['a default above the maximum', { configurations: { c: entry({ defaultTimeoutMs: 20000 }) } }, { CRM_SECRET: SECRET }, /field defaultTimeoutMs: is larger than maxTimeoutMs/],
  ['a timeout out of range', { configurations: { c: entry({ maxTimeoutMs: 10 }) } }, { CRM_SECRET: SECRET }, /field maxTimeoutMs/],
  ['an inline secret', { configurations: { c: entry({ auth: { header: 'X-Key', secret: SECRET } }) } }, {}, /field auth: holds a secret inline/],
  ['both secretEnv and secretRef', { configurations: { c: entry({ auth: { header: 'X-Key', secretEnv: 'A', secretRef: 'b' } }) } }, {}, /field auth: needs exactly one/],
  ['an unset variable', { configurations: { c: entry() } }, {}, /field auth\.secretEnv: the environment variable CRM_SECRET is not set/],
  ['a missing secrets-file key', { configurations: { c: entry({ auth: { header: 'X-Key', secretRef: 'nope' } }) } }, {}, /field auth\.secretRef: secretRef "nope" is not a key of "crmSecrets"/],
  ['a bad header name', { configurations: { c: entry({ auth: { header: 'X Key', secretEnv: 'CRM_SECRET' } }) } }, { CRM_SECRET: SECRET }, /field auth\.header/],
])('refused at start-up: %s', (_case, content, env, message) => {
  const dir = tempDir('crm-registry');
  writeJson(dir, 'secrets.json', { webhookSecrets: [], tokens: [], crmSecrets: { other: SECRET } });
  const file = content === undefined ? path.join(dir, 'crm-integrations.json') : writeJson(dir, 'crm-integrations.json', content);
  let thrown: unknown;
  try {
    loadCrmRegistry({ CRM_INTEGRATIONS_FILE: file, PARLEY_SECRETS_FILE: path.join(dir, 'secrets.json'), ...env }, dir);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(ConfigError);
  const text = (thrown as Error).message;
  expect(text).toContain(file);
  expect(text).toMatch(message);
  expect(text).not.toContain(SECRET);
});
