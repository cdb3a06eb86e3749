// Where the API's secrets come from, what is refused, and what `npm start` generates.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../../src/platform/config';
import { ensureSecretsFile, generateToken, loadSecrets, secretsFilePath } from '../../src/security/secrets';
import { generateWebhookSecret } from '../../src/security/webhook-signature';
import { tempDir } from '../../rigs/temp';

const secret1 = generateWebhookSecret();
const secret2 = generateWebhookSecret();
const flow = generateToken('flow');
const ops = generateToken('operator');

function refused(env: NodeJS.ProcessEnv, dataDir: string, message: RegExp, secrets: string[] = []): void {
  let error: unknown;
  try {
    loadSecrets(env, dataDir);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(message);
  for (const s of secrets) expect((error as Error).message).not.toContain(s);
}

test('from the environment: secrets space- or comma-separated, tokens as scope[,scope]:token', () => {
  const loaded = loadSecrets({ PARLEY_WEBHOOK_SECRETS: ` ${secret1}, ${secret2}\n`, PARLEY_TOKENS: `flow:${flow}  operator,flow:${ops}` }, tempDir('secrets-env'));
  expect(loaded.webhookSecrets).toEqual([secret1, secret2]);
  expect(loaded.tokens).toEqual([
    { name: 'PARLEY_TOKENS[1]', scopes: ['flow'], token: flow },
    { name: 'PARLEY_TOKENS[2]', scopes: ['operator', 'flow'], token: ops },
  ]);
  expect(loaded.sources).toEqual({ webhookSecrets: 'PARLEY_WEBHOOK_SECRETS', tokens: 'PARLEY_TOKENS' });
});

test('nothing configured: the API refuses to start and names the variables', () => {
  const dir = tempDir('secrets-none');
  refused({}, dir, /PARLEY_WEBHOOK_SECRETS and PARLEY_TOKENS, or PARLEY_SECRETS_FILE.*secrets\.json.*npm start/);
  refused({ PARLEY_WEBHOOK_SECRETS: secret1 }, dir, /PARLEY_TOKENS/, [secret1]);
  refused({ PARLEY_SECRETS_FILE: path.join(dir, 'nope.json') }, dir, /PARLEY_SECRETS_FILE names .*nope\.json, which does not exist/);
});

test('malformed settings are refused without showing a secret', () => {
  const dir = tempDir('secrets-bad');
  const all = [secret1, flow, ops];
  refused({ PARLEY_WEBHOOK_SECRETS: 'whsec_tooShort', PARLEY_TOKENS: `flow:${flow}` }, dir, /webhook secret 1 of PARLEY_WEBHOOK_SECRETS/, all);
  refused({ PARLEY_WEBHOOK_SECRETS: secret1, PARLEY_TOKENS: `admin:${flow}` }, dir, /unknown scope "admin"/, all);
  refused({ PARLEY_WEBHOOK_SECRETS: secret1, PARLEY_TOKENS: flow }, dir, /entry 1 is not scope/, all);
  refused({ PARLEY_WEBHOOK_SECRETS: secret1, PARLEY_TOKENS: 'flow:changeme' }, dir, /at least 16 characters/, ['changeme']);
  refused({ PARLEY_WEBHOOK_SECRETS: secret1, PARLEY_TOKENS: `flow:${flow} operator:${flow}` }, dir, /same as another/, all);
});

describe('the secrets file', () => {
  test('npm start creates it once, owner-only, with one webhook secret and one token per scope; the API then reads it', () => {
    const dir = tempDir('secrets-file');
    const made = ensureSecretsFile({}, dir);
    expect(made).toEqual({ file: path.join(dir, 'secrets.json'), created: true });
    expect(fs.statSync(made.file).mode & 0o777).toBe(0o600);
    const content = JSON.parse(fs.readFileSync(made.file, 'utf8'));
    expect(content.webhookSecrets).toEqual([expect.stringMatching(/^whsec_/)]);
    expect(content.tokens.map((t: { scopes: string[] }) => t.scopes)).toEqual([['flow'], ['agent-script'], ['operator']]);
    const before = fs.readFileSync(made.file, 'utf8');
    expect(ensureSecretsFile({}, dir)).toEqual({ file: made.file, created: false });
    expect(fs.readFileSync(made.file, 'utf8')).toBe(before);

    const loaded = loadSecrets({}, dir);
    expect(loaded.webhookSecrets).toEqual(content.webhookSecrets);
    expect(loaded.tokens).toEqual(content.tokens);
    expect(loaded.warnings).toEqual([]);
    // The environment overrides each half it sets.
    expect(loadSecrets({ PARLEY_TOKENS: `flow:${flow}` }, dir)).toMatchObject({ webhookSecrets: content.webhookSecrets, tokens: [{ token: flow }] });
  });

  test('is not created when the environment configures both halves, nor invented at a path named on purpose', () => {
    const dir = tempDir('secrets-skip');
    expect(ensureSecretsFile({ PARLEY_WEBHOOK_SECRETS: secret1, PARLEY_TOKENS: `flow:${flow}` }, dir).created).toBe(false);
    const named = path.join(dir, 'elsewhere.json');
    expect(ensureSecretsFile({ PARLEY_SECRETS_FILE: named }, dir)).toEqual({ file: named, created: false });
    expect(fs.readdirSync(dir)).toEqual([]);
    expect(secretsFilePath({ PARLEY_SECRETS_FILE: named }, dir)).toBe(named);
  });

  test('a file others can read is used with a warning; a broken file is refused without quoting it', () => {
    const dir = tempDir('secrets-mode');
    const file = path.join(dir, 'secrets.json');
    fs.writeFileSync(file, JSON.stringify({ webhookSecrets: [secret1], tokens: [{ name: 'ops', scopes: ['operator'], token: ops }] }), { mode: 0o644 });
    fs.chmodSync(file, 0o644);
    expect(loadSecrets({}, dir).warnings).toEqual([expect.stringMatching(/can be read by other users.*chmod 600/)]);
    fs.writeFileSync(file, `{"webhookSecrets": ["${secret1}"], "tokens": [`);
    refused({}, dir, /cannot read the secrets file .*not valid JSON/, [secret1]);
    fs.writeFileSync(file, JSON.stringify({ webhookSecrets: [secret1], tokens: [{ scopes: ['root'], token: ops }] }));
    refused({}, dir, /tokens\[0\] has the unknown scope "root"/, [secret1, ops]);
    fs.writeFileSync(file, JSON.stringify({ webhookSecrets: [], tokens: [{ scopes: ['flow'], token: flow }] }));
    refused({}, dir, /no webhook secret in .*secrets\.json/);
  });
});
