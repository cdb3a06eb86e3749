// The codec server over real HTTP, with the real payload codec (local key file) and the API's real
// token checks: credentials, CORS for allowed origins only, preflight, the sign-in cookie, the
// codec-server format both ways, and the answers to bad bodies.
import http from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import { ConfigError } from '../../src/platform/config';
import { OPERATOR_COOKIE, TokenAuthenticator } from '../../src/security/auth';
import { type CodecServerOptions, codecServer, codecSettingsFromEnv, operatorAccess } from '../../src/security/codec-server';
import { createKeyServices } from '../../src/security/key-services';
import { generateToken } from '../../src/security/secrets';
import { localKeyConfig } from '../../rigs/keys';

const UI_ORIGIN = 'http://127.0.0.1:8233';
const OTHER_ORIGIN = 'http://127.0.0.1:9999';
const operator = generateToken('operator');
const flow = generateToken('flow');
const tokens = new TokenAuthenticator([
  { name: 'ops', scopes: ['operator'], token: operator },
  { name: 'flow', scopes: ['flow'], token: flow },
]);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json: () => Record<string, unknown>;
}

/** node:http rather than fetch: the test sets Origin and Cookie as a browser would, with nothing added. */
function request(base: string, method: string, url: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${url}`, { method, headers: { ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const b64 = (text: string): string => Buffer.from(text, 'utf8').toString('base64');
const jsonPayload = (value: unknown) => ({ metadata: { encoding: b64('json/plain') }, data: b64(JSON.stringify(value)) });

async function startCodecServer(overrides: Partial<CodecServerOptions> = {}): Promise<{ app: FastifyInstance; base: string }> {
  const keys = createKeyServices(localKeyConfig(), { namespace: 'default' });
  const app = Fastify();
  await app.register(codecServer, { codec: keys.codec, ...operatorAccess(tokens), corsOrigins: [UI_ORIGIN], namespace: 'default', ...overrides });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, base: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

describe('codec server', () => {
  let app: FastifyInstance;
  let base: string;
  beforeAll(async () => ({ app, base } = await startCodecServer({ limits: { maxPayloads: 5, maxPayloadBytes: 1024 } })));
  afterAll(() => app.close());

  const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
    request(base, 'POST', url, { 'content-type': 'application/json', ...headers }, typeof body === 'string' ? body : JSON.stringify(body));
  const asOperator = { authorization: `Bearer ${operator}` };

  test('401 without a credential or with a wrong one, 403 with a token lacking "operator"', async () => {
    for (const url of ['/codec/encode', '/codec/decode']) {
      const none = await post(url, { payloads: [] });
      expect(none.status).toBe(401);
      expect(none.json()).toMatchObject({ error: 'unauthorized' });
      expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
      expect((await post(url, { payloads: [] }, { authorization: `Bearer ${operator}x` })).status).toBe(401);
      expect((await post(url, { payloads: [] }, { cookie: `${OPERATOR_COOKIE}=v1.9999999999.${'A'.repeat(43)}` })).status).toBe(401);
      const flowAnswer = await post(url, { payloads: [] }, { authorization: `Bearer ${flow}` });
      expect(flowAnswer.status).toBe(403);
      expect(flowAnswer.json()).toMatchObject({ error: 'forbidden' });
    }
  });

  test('encode then decode gives back the payloads, in Temporal’s JSON form', async () => {
    const original = [jsonPayload({ plain: 'codec-round-trip-canary' }), { metadata: { encoding: b64('binary/null') } }];
    const encoded = await post('/codec/encode', { payloads: original }, { ...asOperator, 'x-namespace': 'default' });
    expect(encoded.status).toBe(200);
    const encodedPayloads = encoded.json().payloads as { metadata: Record<string, string>; data: string }[];
    expect(encodedPayloads).toHaveLength(2);
    for (const p of encodedPayloads) expect(Buffer.from(p.metadata.encoding, 'base64').toString()).toBe('binary/parley-encrypted');
    expect(encoded.text).not.toContain(b64(JSON.stringify({ plain: 'codec-round-trip-canary' })));
    expect(Buffer.from(encodedPayloads[0].data, 'base64').toString('latin1')).not.toContain('codec-round-trip-canary');

    const decoded = await post('/codec/decode', { payloads: encodedPayloads }, { ...asOperator, 'x-namespace': 'default' });
    expect(decoded.status).toBe(200);
    expect(decoded.headers['cache-control']).toBe('no-store');
    expect(decoded.json()).toEqual({ payloads: [original[0], { metadata: original[1].metadata, data: '' }] });

    // Payloads that were never encoded (written before encryption was on) pass through.
    expect((await post('/codec/decode', { payloads: [original[0]] }, asOperator)).json()).toEqual({ payloads: [original[0]] });
  });

  test('bad bodies: 400 saying what is wrong; too many or too big: 413; undecodable: 422', async () => {
    const cases: [unknown, number, RegExp][] = [
      ['{not json', 400, /JSON/i],
      [{}, 400, /"payloads"/],
      [{ payloads: 'x' }, 400, /"payloads"/],
      [{ payloads: [42] }, 400, /payloads\[0\] must be an object/],
      [{ payloads: [{ metadata: { encoding: 'not base64!' } }] }, 400, /payloads\[0\]\.metadata\["encoding"\] must be a base64 string/],
      [{ payloads: [{ metadata: [] }] }, 400, /payloads\[0\]\.metadata must be an object/],
      [{ payloads: [jsonPayload(1), { data: 7 }] }, 400, /payloads\[1\]\.data must be a base64 string/],
      [{ payloads: Array.from({ length: 6 }, () => jsonPayload(1)) }, 413, /at most 5 payloads/],
      [{ payloads: [{ data: Buffer.alloc(2000).toString('base64') }] }, 413, /at most 1024/],
    ];
    for (const [body, status, message] of cases) {
      const answer = await post('/codec/decode', body, asOperator);
      expect({ body, status: answer.status }).toEqual({ body, status });
      expect(answer.json().message).toMatch(message);
    }
    const notJson = await request(base, 'POST', '/codec/decode', { ...asOperator, 'content-type': 'text/plain' }, '{"payloads":[]}');
    expect(notJson.status).toBe(400);
    expect(notJson.json().message).toMatch(/must be JSON/);

    // A tampered ciphertext: refused without detail.
    const encoded = (await post('/codec/encode', { payloads: [jsonPayload('x')] }, asOperator)).json().payloads as { metadata: Record<string, string>; data: string }[];
    const bytes = Buffer.from(encoded[0].data, 'base64');
    bytes[bytes.length - 40] ^= 1;
    const tampered = await post('/codec/decode', { payloads: [{ ...encoded[0], data: bytes.toString('base64') }] }, asOperator);
    expect(tampered.status).toBe(422);
    expect(tampered.json()).toEqual({ error: 'undecodable', message: expect.stringMatching(/could not be decoded/) });
    // Another namespace than the codec's.
    const other = await post('/codec/decode', { payloads: encoded }, { ...asOperator, 'x-namespace': 'elsewhere' });
    expect(other.status).toBe(400);
    expect(other.json().message).toMatch(/namespace "default"/);
  });

  test('CORS: the allowed origin gets its own origin back with credentials; any other origin gets no CORS headers', async () => {
    const allowed = await post('/codec/decode', { payloads: [] }, { ...asOperator, origin: UI_ORIGIN });
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
    expect(allowed.headers['access-control-allow-credentials']).toBe('true');
    expect(allowed.headers.vary).toMatch(/Origin/);
    // Also on a 401, so the UI's code sees the answer (and shows the payloads still encoded).
    const unauthorized = await post('/codec/decode', { payloads: [] }, { origin: UI_ORIGIN });
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.headers['access-control-allow-origin']).toBe(UI_ORIGIN);

    for (const origin of [OTHER_ORIGIN, 'http://localhost:8233', 'https://127.0.0.1:8233', 'null']) {
      const refused = await post('/codec/decode', { payloads: [] }, { ...asOperator, origin });
      expect(refused.status).toBe(403);
      expect(refused.headers['access-control-allow-origin']).toBeUndefined();
      expect(refused.headers['access-control-allow-credentials']).toBeUndefined();
    }
    // No Origin at all (a script, the CLI): no CORS headers, and the token decides.
    const script = await post('/codec/decode', { payloads: [] }, asOperator);
    expect(script.status).toBe(200);
    expect(script.headers['access-control-allow-origin']).toBeUndefined();
  });

  test('preflight: 204, methods and headers for the allowed origin only, no credential needed', async () => {
    const preflightHeaders = (origin: string) => ({ origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' });
    for (const url of ['/codec/decode', '/codec/encode']) {
      const allowed = await request(base, 'OPTIONS', url, preflightHeaders(UI_ORIGIN));
      expect(allowed.status).toBe(204);
      expect(allowed.headers['access-control-allow-origin']).toBe(UI_ORIGIN);
      expect(allowed.headers['access-control-allow-credentials']).toBe('true');
      expect(allowed.headers['access-control-allow-methods']).toMatch(/POST/);
      const headers = (allowed.headers['access-control-allow-headers'] as string).split(/,\s*/);
      expect(headers).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
      const refused = await request(base, 'OPTIONS', url, preflightHeaders(OTHER_ORIGIN));
      expect(refused.status).toBe(204);
      expect(Object.keys(refused.headers).filter((h) => h.startsWith('access-control-'))).toEqual([]);
    }
  });

  test('sign-in: an operator token becomes an HttpOnly SameSite cookie on /codec that decodes; sign-out clears it', async () => {
    const page = await request(base, 'GET', '/codec/login');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.text).toContain('<form method="post" action="/codec/login">');
    expect(page.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);

    const form = (token: string, headers: Record<string, string> = {}) =>
      request(base, 'POST', '/codec/login', { 'content-type': 'application/x-www-form-urlencoded', ...headers }, new URLSearchParams({ token }).toString());
    const wrong = await form(flow);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    expect((await form(operator, { origin: OTHER_ORIGIN })).status).toBe(403);

    const signedIn = await form(operator, { origin: base });
    expect(signedIn.status).toBe(200);
    const [cookie] = signedIn.headers['set-cookie'] as string[];
    const attributes = cookie.split('; ');
    expect(attributes[0]).toMatch(new RegExp(`^${OPERATOR_COOKIE}=v1\\.`));
    expect(attributes).toEqual(expect.arrayContaining(['Path=/codec', 'HttpOnly', 'SameSite=Strict']));
    expect(attributes).not.toContain('Secure');
    expect(cookie).not.toContain(operator);

    const decoded = await post('/codec/decode', { payloads: [] }, { cookie: attributes[0], origin: UI_ORIGIN });
    expect(decoded.status).toBe(200);
    // A page on an origin that is not allowed cannot use the operator's cookie.
    expect((await post('/codec/decode', { payloads: [] }, { cookie: attributes[0], origin: OTHER_ORIGIN })).status).toBe(403);

    const signedOut = await request(base, 'POST', '/codec/logout', { origin: base });
    expect((signedOut.headers['set-cookie'] as string[])[0]).toMatch(new RegExp(`^${OPERATOR_COOKIE}=; Path=/codec; Max-Age=0; HttpOnly`));
  });

  test('the cookie is Secure when configured, and always with SameSite=None', async () => {
    for (const overrides of [{ cookieSecure: true }, { cookieSameSite: 'None' as const, cookieSecure: false }]) {
      const server = await startCodecServer(overrides);
      try {
        const answer = await request(server.base, 'POST', '/codec/login', { 'content-type': 'application/json' }, JSON.stringify({ token: operator }));
        expect(answer.status).toBe(200);
        expect((answer.headers['set-cookie'] as string[])[0].split('; ')).toContain('Secure');
      } finally {
        await server.app.close();
      }
    }
  });
});

test('settings from the environment: exact origins, cookie flags, refusals', () => {
  expect(codecSettingsFromEnv({})).toEqual({ corsOrigins: [], cookieSecure: 'auto', cookieSameSite: 'Strict' });
  expect(codecSettingsFromEnv({ CODEC_CORS_ORIGINS: 'http://127.0.0.1:8233, https://ui.example.com', CODEC_COOKIE_SECURE: 'true', CODEC_COOKIE_SAMESITE: 'none' })).toEqual({
    corsOrigins: ['http://127.0.0.1:8233', 'https://ui.example.com'],
    cookieSecure: true,
    cookieSameSite: 'None',
  });
  for (const env of [{ CODEC_CORS_ORIGINS: 'http://ui.example.com/path' }, { CODEC_CORS_ORIGINS: '*' }, { CODEC_COOKIE_SECURE: 'yes' }, { CODEC_COOKIE_SAMESITE: 'sometimes' }]) {
    expect(() => codecSettingsFromEnv(env)).toThrow(ConfigError);
  }
});
