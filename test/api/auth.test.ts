// Authentication over real HTTP against a real dev server and worker: every route refuses a
// missing, wrong or under-scoped credential and changes nothing; webhooks are refused unsigned,
// badly signed, tampered, stale or replayed; secrets rotate; no credential reaches a log line.
import type { Client } from '@temporalio/client';
import type { Scope } from '../../src/security/auth';
import { generateWebhookSecret } from '../../src/security/webhook-signature';
import { workflowIdFor } from '../../src/conversation/messages';
import { type ApiStack, startApiStack } from '../../rigs/api-stack';
import { authedFetch, signedHeaders, testCredentials } from '../../rigs/credentials';
import { captureLogs } from '../../rigs/logs';
import { freePort } from '../../rigs/ports';
import { uniqueId } from '../../rigs/temp';
import { webhookEvents } from '../support/conversation';

let stack: ApiStack;
let client: Client;
let baseUrl: string;
const credentials = testCredentials();
// Known to nobody but the test: a token and a secret the API was never given.
const stranger = testCredentials();

// Everything the API logs, at its most verbose and without the redaction net, for the leak check.
const { logger, lines: logLines } = captureLogs('trace');

async function startApi(auth = credentials.settings, opts: { address?: string; timeoutMs?: number } = {}): Promise<string> {
  return (await stack.startApi({ auth, temporalAddress: opts.address, requestTimeoutMs: opts.timeoutMs })).baseUrl;
}

beforeAll(async () => {
  stack = await startApiStack({ name: 'auth-tests', logger, credentials });
  ({ client, baseUrl } = stack);
});

afterAll(() => stack?.stop());

const event = webhookEvents('auth-evt', 'task-1');

interface Answer {
  status: number;
  body: { error?: string; message?: string; [key: string]: unknown } | undefined;
  headers: Headers;
}

async function send(url: string, init: { method?: string; body?: string; headers?: Record<string, string> }, base = baseUrl): Promise<Answer> {
  const res = await fetch(`${base}${url}`, { method: init.method ?? 'GET', body: init.body, headers: init.headers });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

/** A request authenticated as its real caller (signed webhook, right token). */
async function asCaller(method: string, url: string, body?: unknown, base = baseUrl): Promise<Answer> {
  const res = await authedFetch(credentials, `${base}${url}`, { method, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

const postWebhook = (body: string, headers: Record<string, string>, base = baseUrl) =>
  send('/webhooks/routing-events', { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } }, base);

/** The conversation as an operator sees it, or 404. */
const stateOf = (id: string) => asCaller('GET', `/conversations/${id}`);

/** The error kind of an answer: `error` on most routes, `errors[0].code` on the data actions (their contract's format). */
function errorCode(body: Record<string, unknown> | undefined): unknown {
  return body?.error ?? (body?.errors as Array<{ code?: string }> | undefined)?.[0]?.code;
}

describe('bearer routes: no credential 401, wrong token 401, token without the scope 403, right scope 2xx', () => {
  let id: string;
  beforeAll(async () => {
    id = uniqueId('bearer');
    expect((await asCaller('POST', '/webhooks/routing-events', event(id, 'CREATED', 0))).status).toBe(202);
    const known = await authedFetch(credentials, `${baseUrl}/conversations/${id}/attributes`, { method: 'POST', body: { attributes: { Known: 'yes' } }, headers: { 'idempotency-key': 'known-write' } });
    expect(known.status).toBe(200);
  });

  const routes: Array<{ name: string; method: string; url: () => string; body?: () => unknown; headers?: Record<string, string>; allowed: Scope[]; ok: number }> = [
    { name: 'POST /conversations/:id/attributes', method: 'POST', url: () => `/conversations/${id}/attributes`, body: () => ({ attributes: { Written: 'by-test' } }), allowed: ['flow', 'agent-script'], ok: 200 },
    // Confirmed at the edge: the same scopes; a refused caller's write is not sent to Temporal.
    { name: 'POST /conversations/:id/attributes (Prefer: respond-async)', method: 'POST', url: () => `/conversations/${id}/attributes`, body: () => ({ attributes: { Written: 'at-the-edge' } }), headers: { prefer: 'respond-async' }, allowed: ['flow', 'agent-script'], ok: 202 },
    { name: 'GET /conversations/:id/attribute-writes/:writeId', method: 'GET', url: () => `/conversations/${id}/attribute-writes/known-write`, allowed: ['flow', 'agent-script'], ok: 200 },
    { name: 'GET /conversations/:id/attributes/:name', method: 'GET', url: () => `/conversations/${id}/attributes/Known`, allowed: ['flow', 'agent-script'], ok: 200 },
    { name: 'GET /conversations/:id', method: 'GET', url: () => `/conversations/${id}`, allowed: ['operator'], ok: 200 },
    { name: 'POST /data-actions/participant-data/set', method: 'POST', url: () => '/data-actions/participant-data/set', body: () => ({ inputs: { conversationId: id, attributes: { ByAction: 'x' } } }), allowed: ['flow', 'agent-script'], ok: 200 },
    { name: 'POST /data-actions/participant-data/get', method: 'POST', url: () => '/data-actions/participant-data/get', body: () => ({ inputs: { conversationId: id, name: 'Known' } }), allowed: ['flow', 'agent-script'], ok: 200 },
    // Get Secured Data, the explicit secured read: the same scopes, never an operator.
    { name: 'GET /conversations/:id/attributes/:name?secured=true', method: 'GET', url: () => `/conversations/${id}/attributes/Known?secured=true`, allowed: ['flow', 'agent-script'], ok: 200 },
    { name: 'POST /data-actions/participant-data/get (secured)', method: 'POST', url: () => '/data-actions/participant-data/get', body: () => ({ inputs: { conversationId: id, name: 'Known', secured: true } }), allowed: ['flow', 'agent-script'], ok: 200 },
    // No CRM integration is configured here: NotConfigured (400) is the answer once the token is accepted.
    { name: 'POST /data-actions/workflow-execute', method: 'POST', url: () => '/data-actions/workflow-execute', body: () => ({ inputs: { conversationId: id, configurationId: 'none', workflowId: 'w', payload: {} } }), allowed: ['flow', 'agent-script'], ok: 400 },
    { name: 'GET /data-actions/workflow-execute/schema', method: 'GET', url: () => '/data-actions/workflow-execute/schema', allowed: ['flow', 'agent-script', 'operator'], ok: 200 },
  ];

  describe.each(routes)('$name', (route) => {
    const request = (headers: Record<string, string>) => {
      const body = route.body ? JSON.stringify(route.body()) : undefined;
      return send(route.url(), { method: route.method, body, headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...route.headers, ...headers } });
    };

    test.each<[string, Record<string, string>]>([
      ['no credential', {}],
      ['a token nobody was given', { authorization: `Bearer ${stranger.tokens.operator}` }],
      ['a token of another scheme (Basic)', { authorization: `Basic ${Buffer.from(`x:${credentials.tokens.operator}`).toString('base64')}` }],
      ['an empty bearer', { authorization: 'Bearer ' }],
      ['a valid token with a character changed', { authorization: `Bearer ${credentials.tokens.operator.slice(0, -1)}${credentials.tokens.operator.endsWith('A') ? 'B' : 'A'}` }],
      ['a webhook signature instead of a token', { ...signedHeaders(credentials.webhookSecret, '') }],
    ])('401 with %s', async (_case, headers) => {
      const res = await request(headers);
      expect([res.status, errorCode(res.body)]).toEqual([401, 'unauthorized']);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });

    test('403 for each token without the scope, 2xx for each with it', async () => {
      for (const scope of ['flow', 'agent-script', 'operator'] as Scope[]) {
        const res = await request({ authorization: `Bearer ${credentials.tokens[scope]}` });
        if (route.allowed.includes(scope)) {
          expect([scope, res.status]).toEqual([scope, route.ok]);
        } else {
          expect([scope, res.status, errorCode(res.body)]).toEqual([scope, 403, 'forbidden']);
          expect(res.headers.get('www-authenticate')).toMatch(/insufficient_scope/);
        }
      }
    });
  });

  test('a refused write changes nothing: no update reached the conversation', async () => {
    const cid = uniqueId('refused-write');
    expect((await asCaller('POST', '/webhooks/routing-events', event(cid, 'CREATED', 0))).status).toBe(202);
    const write = (headers: Record<string, string>) =>
      send(`/conversations/${cid}/attributes`, { method: 'POST', body: JSON.stringify({ attributes: { Sneaky: 'x' } }), headers: { 'content-type': 'application/json', ...headers } });
    expect((await write({})).status).toBe(401);
    expect((await write({ authorization: `Bearer ${stranger.tokens.flow}` })).status).toBe(401);
    expect((await write({ authorization: `Bearer ${credentials.tokens.operator}` })).status).toBe(403);
    expect((await asCaller('GET', `/conversations/${cid}/attributes/Sneaky`)).status).toBe(404);
    const history = await client.workflow.getHandle(workflowIdFor(cid)).fetchHistory();
    expect((history.events ?? []).filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes || e.workflowExecutionUpdateAdmittedEventAttributes)).toHaveLength(0);
  });

  test('HEAD follows its GET: no credential is 401', async () => {
    expect((await send(`/conversations/${id}`, { method: 'HEAD' })).status).toBe(401);
    expect((await send(`/conversations/${id}`, { method: 'HEAD', headers: { authorization: `Bearer ${credentials.tokens.flow}` } })).status).toBe(403);
  });

  test('/healthz and /livez are open', async () => {
    expect(await send('/healthz', {})).toMatchObject({ status: 200, body: { status: 'ok', temporal: 'reachable' } });
    expect(await send('/livez', {})).toMatchObject({ status: 200, body: { status: 'ok' } });
  });
});

describe('webhooks: unsigned, badly signed, tampered, stale or replayed requests get 401 and change nothing', () => {
  const minutes = (n: number) => new Date(Date.now() + n * 60_000);

  test.each<[string, (body: string, id: string) => { body: string; headers: Record<string, string> }]>([
    ['unsigned', (body) => ({ body, headers: {} })],
    ['signed with a secret nobody configured', (body) => ({ body, headers: { ...signedHeaders(stranger.webhookSecret, body) } })],
    ['a tampered body (signed for another conversation)', (body, id) => ({ body, headers: { ...signedHeaders(credentials.webhookSecret, body.replace(id, `${id}-x`)) } })],
    ['a body with one byte added after signing', (body) => ({ body: `${body} `, headers: { ...signedHeaders(credentials.webhookSecret, body) } })],
    ['a timestamp 6 minutes old', (body) => ({ body, headers: { ...signedHeaders(credentials.webhookSecret, body, { timestamp: minutes(-6) }) } })],
    ['a timestamp 6 minutes in the future', (body) => ({ body, headers: { ...signedHeaders(credentials.webhookSecret, body, { timestamp: minutes(6) }) } })],
    ['a timestamp that is not a number', (body) => ({ body, headers: { ...signedHeaders(credentials.webhookSecret, body), 'webhook-timestamp': 'yesterday' } })],
    ['the webhook-id changed after signing', (body) => ({ body, headers: { ...signedHeaders(credentials.webhookSecret, body), 'webhook-id': 'msg_other' } })],
    ['a signature of another version (v1a)', (body) => {
      const headers = signedHeaders(credentials.webhookSecret, body);
      return { body, headers: { ...headers, 'webhook-signature': headers['webhook-signature'].replace(/^v1,/, 'v1a,') } };
    }],
    ['a bearer token instead of a signature', (body) => ({ body, headers: { authorization: `Bearer ${credentials.tokens.operator}` } })],
  ])('%s', async (_case, build) => {
    const id = uniqueId('wh-refused');
    const { body, headers } = build(JSON.stringify(event(id, 'CREATED', 0)), id);
    const res = await postWebhook(body, headers);
    expect([res.status, res.body?.error]).toEqual([401, 'unauthorized']);
    expect(res.body?.message).toEqual(expect.any(String));
    expect((await stateOf(id)).status).toBe(404);
    expect((await stateOf(`${id}-x`)).status).toBe(404);
  });

  test('an invalid body that is unsigned gets 401, not a description of what is wrong with it', async () => {
    const res = await postWebhook(JSON.stringify({ eventId: 'x' }), {});
    expect([res.status, res.body?.message]).toEqual([401, expect.not.stringMatching(/eventType|conversationId/)]);
  });

  test('the same delivery (webhook-id and timestamp) replayed is refused and changes nothing', async () => {
    const id = uniqueId('wh-replay');
    const body = JSON.stringify(event(id, 'CREATED', 0, { queue: 'sales' }));
    const headers = signedHeaders(credentials.webhookSecret, body);
    expect((await postWebhook(body, headers)).status).toBe(202);
    const before = await stateOf(id);
    expect(before.status).toBe(200);
    const replay = await postWebhook(body, headers);
    expect([replay.status, replay.body?.message]).toEqual([401, expect.stringMatching(/already received/)]);
    // A replay on a second connection is the same replay.
    expect((await postWebhook(body, { ...headers })).status).toBe(401);
    expect((await stateOf(id)).body).toEqual(before.body);
    // The sender's own redelivery is a new delivery (new signature timestamp or id) and is de-duplicated by eventId as before.
    expect((await postWebhook(body, signedHeaders(credentials.webhookSecret, body))).status).toBe(202);
    expect((await stateOf(id)).body).toEqual(before.body);
  });

  test('a delivery answered 503 (not recorded) may be retried with the same headers', async () => {
    const downUrl = await startApi(credentials.settings, { address: `127.0.0.1:${await freePort()}`, timeoutMs: 1000 });
    const body = JSON.stringify(event(uniqueId('wh-down'), 'CREATED', 0));
    const headers = signedHeaders(credentials.webhookSecret, body);
    expect((await postWebhook(body, headers, downUrl)).status).toBe(503);
    expect((await postWebhook(body, headers, downUrl)).status).toBe(503);
  });
});

describe('rotation: several secrets and tokens are accepted at once, so they change without downtime', () => {
  const oldSecret = generateWebhookSecret();
  const newSecret = generateWebhookSecret();
  const retiredSecret = generateWebhookSecret();
  const oldOperator = testCredentials().tokens.operator;
  let rotatingUrl: string;

  beforeAll(async () => {
    rotatingUrl = await startApi({
      webhookSecrets: [newSecret, oldSecret],
      tokens: [...credentials.settings.tokens, { name: 'operator (old)', scopes: ['operator'], token: oldOperator }],
    });
  });

  test('a request signed with either secret passes; with a retired one it does not', async () => {
    for (const [secret, expected] of [[oldSecret, 202], [newSecret, 202], [retiredSecret, 401]] as const) {
      const id = uniqueId('rotate');
      const body = JSON.stringify(event(id, 'CREATED', 0));
      expect(await postWebhook(body, signedHeaders(secret, body), rotatingUrl)).toMatchObject({ status: expected });
    }
  });

  test('a header with two signatures, one made with a retired secret, passes on the other', async () => {
    const id = uniqueId('rotate-two');
    const body = JSON.stringify(event(id, 'CREATED', 0));
    const at = new Date();
    const msgId = `msg_${id}`;
    const retired = signedHeaders(retiredSecret, body, { id: msgId, timestamp: at });
    const current = signedHeaders(newSecret, body, { id: msgId, timestamp: at });
    const both = { ...current, 'webhook-signature': `${retired['webhook-signature']} ${current['webhook-signature']}` };
    expect((await postWebhook(body, both, rotatingUrl)).status).toBe(202);
    expect((await asCaller('GET', `/conversations/${id}`, undefined, rotatingUrl)).status).toBe(200);
  });

  test('the old and the new operator token both work while both are configured', async () => {
    for (const token of [oldOperator, credentials.tokens.operator]) {
      expect((await send('/conversations/nobody-here', { headers: { authorization: `Bearer ${token}` } }, rotatingUrl)).status).toBe(404);
    }
    // The first API, which never had the old token, refuses it.
    expect((await send('/conversations/nobody-here', { headers: { authorization: `Bearer ${oldOperator}` } })).status).toBe(401);
  });
});

test('no token, webhook secret or signature appears in any log line', () => {
  const all = logLines.join('');
  // Runs last: the refusals above were logged, with their reasons.
  expect(all).toContain('webhook refused');
  expect(all).toContain('already received');
  const secrets = [credentials.webhookSecret, stranger.webhookSecret, ...Object.values(credentials.tokens), ...Object.values(stranger.tokens)];
  for (const secret of secrets) {
    expect(all).not.toContain(secret);
    // The random part alone too (a secret without its whsec_ prefix, a token's last 32 characters).
    expect(all).not.toContain(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret.slice(-32));
  }
  expect(all).not.toMatch(/v1,[A-Za-z0-9+/]{43}=/);
});
