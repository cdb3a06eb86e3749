// Credentials used the way real callers use them: the routing platform signs each webhook body,
// flows and agent scripts and operators send their own bearer token.
import fs from 'node:fs';
import type { AuthSettings, Scope } from '../src/security/auth';
import { generateToken, type SecretsFile } from '../src/security/secrets';
import { generateWebhookSecret, signWebhook, type WebhookHeaders } from '../src/security/webhook-signature';

export interface TestCredentials {
  /** What buildApi takes (`auth`). */
  settings: AuthSettings;
  webhookSecret: string;
  /** One token per scope, each carrying that scope only. */
  tokens: Record<Scope, string>;
}

const SCOPES: Scope[] = ['flow', 'agent-script', 'operator'];

/** Fresh secrets: one webhook secret, one token per scope. */
export function testCredentials(): TestCredentials {
  const tokens: Record<Scope, string> = { flow: generateToken('flow'), 'agent-script': generateToken('agent-script'), operator: generateToken('operator') };
  const webhookSecret = generateWebhookSecret();
  return {
    webhookSecret,
    tokens,
    settings: {
      webhookSecrets: [webhookSecret],
      tokens: SCOPES.map((scope) => ({ name: `test ${scope}`, scopes: [scope], token: tokens[scope] })),
    },
  };
}

/** The credentials in a secrets file (what `npm start` generates), one token per scope. */
export function credentialsFromFile(file: string): TestCredentials {
  const content = JSON.parse(fs.readFileSync(file, 'utf8')) as SecretsFile;
  const tokenFor = (scope: Scope): string => {
    const entry = content.tokens.find((t) => t.scopes.includes(scope));
    if (!entry) throw new Error(`${file} has no token with the scope ${scope}`);
    return entry.token;
  };
  return {
    settings: content,
    webhookSecret: content.webhookSecrets[0],
    tokens: { flow: tokenFor('flow'), 'agent-script': tokenFor('agent-script'), operator: tokenFor('operator') },
  };
}

/** The environment that gives an API process (`node dist/src/main/api.js`) these credentials. */
export function credentialsEnv(credentials: Pick<TestCredentials, 'webhookSecret' | 'tokens'>): { PARLEY_WEBHOOK_SECRETS: string; PARLEY_TOKENS: string } {
  return {
    PARLEY_WEBHOOK_SECRETS: credentials.webhookSecret,
    PARLEY_TOKENS: SCOPES.map((scope) => `${scope}:${credentials.tokens[scope]}`).join(' '),
  };
}

/** Standard Webhooks headers for this exact body text. */
export function signedHeaders(secret: string, body: string, opts: { id?: string; timestamp?: Date } = {}): WebhookHeaders & Record<string, string> {
  return { ...signWebhook(secret, body, opts) };
}

/** The scope a real caller of this route would hold (the route table of the API). */
export function scopeFor(method: string, url: string): Scope | 'webhook' | 'open' {
  const pathname = url.split('?')[0];
  if (pathname === '/healthz' || pathname === '/livez') return 'open';
  if (pathname.startsWith('/webhooks/')) return 'webhook';
  if (pathname.startsWith('/codec/')) return 'operator';
  if (pathname.startsWith('/data-actions/')) return 'flow';
  if (/^\/conversations\/[^/]+\/attribute-writes\//.test(pathname)) return 'flow';
  if (/^\/conversations\/[^/]+\/attributes(\/|$)/.test(pathname)) return method === 'GET' ? 'agent-script' : 'flow';
  return 'operator';
}

/**
 * Headers that authenticate a request like its real caller: the signature of `body` for a
 * webhook, else the token of the route's scope. Headers passed in `headers` win.
 */
export function authHeaders(credentials: TestCredentials, method: string, url: string, body: string | undefined): Record<string, string> {
  const scope = scopeFor(method, url);
  if (scope === 'open') return {};
  if (scope === 'webhook') return { ...signedHeaders(credentials.webhookSecret, body ?? '') };
  return { authorization: `Bearer ${credentials.tokens[scope]}` };
}

export interface AuthedRequest {
  method?: string;
  /** Sent as given (a string) or as JSON. */
  body?: unknown;
  headers?: Record<string, string>;
}

/** fetch with the caller's credentials added. */
export async function authedFetch(credentials: TestCredentials, url: string, init: AuthedRequest = {}): Promise<Response> {
  const method = init.method ?? 'GET';
  const body = init.body === undefined ? undefined : typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
  const { pathname, search } = new URL(url);
  const headers: Record<string, string> = {
    ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...authHeaders(credentials, method, pathname + search, body),
    ...init.headers,
  };
  return fetch(url, { method, headers, body });
}
