// Tokens and the operator session on their own, and the hooks on a small Fastify app over real
// HTTP (the API's own routes are covered in test/api/auth.test.ts).
import Fastify from 'fastify';
import { OPERATOR_COOKIE, OPERATOR_SESSION_SECONDS, TokenAuthenticator, requireOperator, requireScope } from '../../src/security/auth';
import { generateToken } from '../../src/security/secrets';

const flow = generateToken('flow');
const both = generateToken('agent-script');
const operator = generateToken('operator');
const auth = new TokenAuthenticator([
  { name: 'flow', scopes: ['flow'], token: flow },
  { name: 'script', scopes: ['agent-script', 'flow'], token: both },
  { name: 'ops', scopes: ['operator'], token: operator },
]);

test('a token carries exactly its scopes; an unknown, shortened or extended token is nobody', () => {
  expect(auth.identify(flow)).toEqual({ name: 'flow', scopes: new Set(['flow']) });
  expect(auth.identify(both)?.scopes).toEqual(new Set(['agent-script', 'flow']));
  for (const wrong of ['', flow.slice(0, -1), `${flow}x`, flow.toUpperCase(), generateToken('flow')]) expect(auth.identify(wrong)).toBeUndefined();
});

test('generated tokens differ and show their scope', () => {
  expect(generateToken('agent-script')).toMatch(/^parley_agent_script_[A-Za-z0-9_-]{32}$/);
  expect(generateToken('flow')).not.toBe(generateToken('flow'));
});

describe('operator session cookie', () => {
  test('issued only for an operator token, valid until it expires, bound to that token', () => {
    const now = Date.UTC(2026, 0, 1);
    expect(auth.operatorSession(flow, now)).toBeUndefined();
    const session = auth.operatorSession(operator, now)!;
    expect(session.maxAgeSeconds).toBe(OPERATOR_SESSION_SECONDS);
    expect(session.value).not.toContain(operator);
    expect(auth.fromOperatorSession(session.value, now + 1000)).toEqual({ name: 'ops', scopes: new Set(['operator']) });
    expect(auth.fromOperatorSession(session.value, now + OPERATOR_SESSION_SECONDS * 1000)).toBeUndefined();
    // A later expiry with the old MAC, a changed MAC, or a retired token: refused.
    const [, expires, mac] = session.value.split('.');
    expect(auth.fromOperatorSession(`v1.${Number(expires) + 3600}.${mac}`, now)).toBeUndefined();
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    expect(auth.fromOperatorSession(`v1.${expires}.${mac.slice(0, 20)}${flip(mac[20])}${mac.slice(21)}`, now)).toBeUndefined();
    // Another base64 spelling of the same bytes (the last character's unused bits) is not the cookie either.
    const lastSixBits = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(mac[42]);
    const sameBytes = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[lastSixBits ^ 1];
    expect(Buffer.from(`${mac.slice(0, 42)}${sameBytes}`, 'base64url')).toEqual(Buffer.from(mac, 'base64url'));
    expect(auth.fromOperatorSession(`v1.${expires}.${mac.slice(0, 42)}${sameBytes}`, now)).toBeUndefined();
    expect(new TokenAuthenticator([{ name: 'new ops', scopes: ['operator'], token: generateToken('operator') }]).fromOperatorSession(session.value, now)).toBeUndefined();
    expect(auth.fromOperatorSession('garbage', now)).toBeUndefined();
  });
});

describe('hooks', () => {
  const app = Fastify();
  app.get('/flow', { onRequest: requireScope(auth, ['flow']) }, async (request) => ({ scopes: [...(request.parleyScopes ?? [])].sort() }));
  app.post('/codec/decode', { onRequest: requireOperator(auth) }, async (request) => ({ via: request.parleyCaller?.via }));
  let base: string;
  beforeAll(async () => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  });
  afterAll(() => app.close());
  const call = async (url: string, init: { method?: string; headers?: Record<string, string> } = {}) => {
    const res = await fetch(`${base}${url}`, init);
    return { statusCode: res.status, headers: Object.fromEntries(res.headers), body: (await res.json()) as Record<string, unknown> };
  };

  test('401 with a Bearer challenge, 403 naming the scope, and the scopes for the handler', async () => {
    const none = await call('/flow');
    expect([none.statusCode, none.headers['www-authenticate'], none.body.error]).toEqual([401, 'Bearer realm="parley"', 'unauthorized']);
    const wrong = await call('/flow', { headers: { authorization: `Bearer ${operator}` } });
    expect([wrong.statusCode, wrong.body.error]).toEqual([403, 'forbidden']);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="parley", error="insufficient_scope", scope="flow"');
    const lowercase = await call('/flow', { headers: { authorization: `bearer ${both}` } });
    expect([lowercase.statusCode, lowercase.body]).toEqual([200, { scopes: ['agent-script', 'flow'] }]);
  });

  test('the codec routes take an operator bearer or the session cookie; a bearer header decides alone', async () => {
    const session = auth.operatorSession(operator)!.value;
    const cases: Array<[Record<string, string>, number, string | undefined]> = [
      [{ authorization: `Bearer ${operator}` }, 200, 'bearer'],
      [{ cookie: `theme=dark; ${OPERATOR_COOKIE}=${session}` }, 200, 'cookie'],
      [{ cookie: `${OPERATOR_COOKIE}=${operator}` }, 401, undefined],
      [{ authorization: `Bearer ${flow}`, cookie: `${OPERATOR_COOKIE}=${session}` }, 403, undefined],
      [{}, 401, undefined],
    ];
    for (const [headers, status, via] of cases) {
      const res = await call('/codec/decode', { method: 'POST', headers });
      expect([res.statusCode, status === 200 ? res.body.via : undefined]).toEqual([status, via]);
    }
  });
});
