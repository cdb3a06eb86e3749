// Where the API's secrets come from: the environment, or a secrets file. Never a built-in default:
// without a webhook secret and a token the API does not start; only `npm start` creates a file.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type Env } from '../platform/env';
import { type AuthSettings, SCOPES, type Scope, type TokenEntry, isScope } from './auth';
import { generateWebhookSecret, webhookSecretProblem } from './webhook-signature';

/** The secrets file's shape (JSON). */
export interface SecretsFile {
  webhookSecrets: string[];
  tokens: TokenEntry[];
}

export interface LoadedSecrets extends AuthSettings {
  /** Where each half came from, for the start-up log line (names, never values). */
  sources: { webhookSecrets: string; tokens: string };
  /** Things worth a warning (a secrets file others can read). */
  warnings: string[];
}

const VARIABLES = 'PARLEY_WEBHOOK_SECRETS and PARLEY_TOKENS, or PARLEY_SECRETS_FILE';
const MIN_TOKEN_LENGTH = 16;

/** PARLEY_SECRETS_FILE, else `<dataDir>/secrets.json`. */
export function secretsFilePath(env: Env, dataDir: string): string {
  return path.resolve(env.PARLEY_SECRETS_FILE || path.join(dataDir, 'secrets.json'));
}

/**
 * The API's secrets: PARLEY_WEBHOOK_SECRETS (`whsec_…`, space- or comma-separated) and
 * PARLEY_TOKENS (space-separated `scope[,scope…]:token`), each falling back to the secrets file.
 * Throws ConfigError naming the variables when either is missing or malformed; messages name
 * entries by position or name, never by value.
 */
export function loadSecrets(env: Env, dataDir: string): LoadedSecrets {
  const file = secretsFilePath(env, dataDir);
  const fromEnv = { webhookSecrets: nonEmpty(env.PARLEY_WEBHOOK_SECRETS), tokens: nonEmpty(env.PARLEY_TOKENS) };
  const warnings: string[] = [];
  let stored: SecretsFile | undefined;
  if (!fromEnv.webhookSecrets || !fromEnv.tokens) {
    if (fs.existsSync(file)) {
      stored = readSecretsFile(file);
      const mode = fs.statSync(file).mode & 0o777;
      if (mode & 0o077) warnings.push(`${file} can be read by other users (mode ${mode.toString(8)}); chmod 600 it`);
    } else if (env.PARLEY_SECRETS_FILE) {
      throw new ConfigError(`PARLEY_SECRETS_FILE names ${file}, which does not exist`);
    } else {
      throw new ConfigError(
        `no API secrets: set ${VARIABLES} (default ${file}); \`npm start\` creates that file on its first run`,
      );
    }
  }
  const webhookSecrets = fromEnv.webhookSecrets ? splitList(fromEnv.webhookSecrets) : stored!.webhookSecrets;
  const tokens = fromEnv.tokens ? parseTokenList(fromEnv.tokens) : stored!.tokens;
  const settings = checked({ webhookSecrets, tokens }, fromEnv.tokens ? 'PARLEY_TOKENS' : file, fromEnv.webhookSecrets ? 'PARLEY_WEBHOOK_SECRETS' : file);
  return {
    ...settings,
    sources: { webhookSecrets: fromEnv.webhookSecrets ? 'PARLEY_WEBHOOK_SECRETS' : file, tokens: fromEnv.tokens ? 'PARLEY_TOKENS' : file },
    warnings,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value && value.trim() !== '' ? value : undefined;
}

function splitList(raw: string): string[] {
  return raw.split(/[\s,]+/).filter((s) => s !== '');
}

/** `flow:abc agent-script,flow:def` → entries named after their position in the variable. */
export function parseTokenList(raw: string): TokenEntry[] {
  return raw
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((entry, i) => {
      const colon = entry.indexOf(':');
      const where = `PARLEY_TOKENS entry ${i + 1}`;
      if (colon <= 0) throw new ConfigError(`${where} is not scope[,scope…]:token`);
      const scopes = entry.slice(0, colon).split(',');
      const unknown = scopes.find((s) => !isScope(s));
      if (unknown !== undefined) throw new ConfigError(`${where} has the unknown scope "${unknown}" (known: ${SCOPES.join(', ')})`);
      return { name: `PARLEY_TOKENS[${i + 1}]`, scopes: scopes as Scope[], token: entry.slice(colon + 1) };
    });
}

function readSecretsFile(file: string): SecretsFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    // The parser's message may quote the file's text, which holds secrets: only its kind is shown.
    const kind = (err as NodeJS.ErrnoException).code ?? 'not valid JSON';
    throw new ConfigError(`cannot read the secrets file ${file} (${kind})`);
  }
  const obj = parsed as Partial<SecretsFile> | null;
  if (!obj || typeof obj !== 'object' || !Array.isArray(obj.webhookSecrets) || !Array.isArray(obj.tokens)) {
    throw new ConfigError(`the secrets file ${file} must hold {"webhookSecrets": ["whsec_…"], "tokens": [{"name", "scopes", "token"}]}`);
  }
  obj.tokens.forEach((t, i) => {
    const entry = t as Partial<TokenEntry> | null;
    const where = `${file}: tokens[${i}]`;
    if (!entry || typeof entry.token !== 'string' || !Array.isArray(entry.scopes)) throw new ConfigError(`${where} needs "scopes" (a list) and "token" (text)`);
    const unknown = entry.scopes.find((s) => typeof s !== 'string' || !isScope(s));
    if (unknown !== undefined) throw new ConfigError(`${where} has the unknown scope ${JSON.stringify(unknown)} (known: ${SCOPES.join(', ')})`);
    if (entry.name !== undefined && typeof entry.name !== 'string') throw new ConfigError(`${where}: "name" must be text`);
  });
  return {
    webhookSecrets: obj.webhookSecrets as string[],
    tokens: obj.tokens.map((t, i) => ({ name: t.name || `tokens[${i}]`, scopes: t.scopes, token: t.token })),
  };
}

function checked(settings: AuthSettings, tokensFrom: string, secretsFrom: string): AuthSettings {
  if (settings.webhookSecrets.length === 0) throw new ConfigError(`no webhook secret in ${secretsFrom}: set ${VARIABLES}`);
  settings.webhookSecrets.forEach((secret, i) => {
    const problem = typeof secret === 'string' ? webhookSecretProblem(secret) : 'is not text';
    if (problem) throw new ConfigError(`webhook secret ${i + 1} of ${secretsFrom} ${problem}`);
  });
  if (settings.tokens.length === 0) throw new ConfigError(`no token in ${tokensFrom}: set ${VARIABLES}`);
  const seen = new Set<string>();
  for (const t of settings.tokens) {
    if (t.scopes.length === 0) throw new ConfigError(`token ${t.name} in ${tokensFrom} has no scope`);
    if (t.token.length < MIN_TOKEN_LENGTH || /\s/.test(t.token)) {
      throw new ConfigError(`token ${t.name} in ${tokensFrom} must be at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    }
    if (seen.has(t.token)) throw new ConfigError(`token ${t.name} in ${tokensFrom} is the same as another one: give each caller its own`);
    seen.add(t.token);
  }
  return settings;
}

/** A new random token; its scope is in the prefix so a person can tell tokens apart (it grants nothing). */
export function generateToken(scope: Scope): string {
  return `parley_${scope.replace('-', '_')}_${crypto.randomBytes(24).toString('base64url')}`;
}

/**
 * For `npm start` only: when the environment does not configure both halves and there is no
 * secrets file at the default place, writes one (mode 0600) with one webhook secret and one token
 * per scope. Returns the file and whether it was created now.
 */
export function ensureSecretsFile(env: Env, dataDir: string): { file: string; created: boolean } {
  const file = secretsFilePath(env, dataDir);
  if ((nonEmpty(env.PARLEY_WEBHOOK_SECRETS) && nonEmpty(env.PARLEY_TOKENS)) || fs.existsSync(file)) return { file, created: false };
  // A file named on purpose is never invented: a typo would otherwise start with secrets nobody has.
  if (env.PARLEY_SECRETS_FILE) return { file, created: false };
  const content: SecretsFile = {
    webhookSecrets: [generateWebhookSecret()],
    tokens: SCOPES.map((scope) => ({ name: `${scope} (generated)`, scopes: [scope], token: generateToken(scope) })),
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // 'wx': never overwrite a file another start created meanwhile.
  try {
    fs.writeFileSync(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { file, created: false };
    throw err;
  }
  return { file, created: true };
}

/** What `npm start` prints once, after creating the file: where it is and how to call the API with it. */
export function secretsFileNotice(file: string, apiUrl: string): string {
  return [
    '',
    `  API secrets were created in ${file} (mode 0600; keep it out of version control).`,
    '  It holds the routing platform\'s webhook secret and one bearer token per scope (flow, agent-script, operator).',
    '  Sign a webhook, or pass a token, from the project folder (npm run sign reads the same file):',
    `    BODY='{"eventId":"evt-1","eventType":"CREATED","conversationId":"c-1","taskId":"t-1","channel":"chat","occurredAt":"2026-01-01T09:00:00Z"}'`,
    `    curl -s ${apiUrl}/webhooks/routing-events -H 'content-type: application/json' $(npm run -s sign -- "$BODY") --data-binary "$BODY"`,
    `    curl -s $(npm run -s sign -- --token operator) ${apiUrl}/conversations/c-1`,
    '',
  ].join('\n');
}
