// The codec server for the Temporal UI, on the API process: `POST /codec/encode` and `/codec/decode`
// in Temporal's codec-server format, a sign-in page on this origin that turns an operator token into
// an HttpOnly session cookie (the UI can only present a credential as a cookie), and CORS for the
// UI's exact origins. What the codec removes is the namespace-key layer only: secured attribute
// values were encrypted at the API edge with another key and stay ciphertext in what it returns.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError, type Env, list, oneOf } from '../platform/env';
import { OPERATOR_COOKIE, type TokenAuthenticator, operatorFromCookieOrBearer } from './auth';
import type { SignInLimiter } from './sign-in-limit';

export type OperatorAuthorization = 'ok' | 'unauthorized' | 'forbidden';

export interface OperatorSession {
  /** The cookie's value (never the token itself). */
  value: string;
  maxAgeSeconds: number;
}

export type CookieSameSite = 'Strict' | 'Lax' | 'None';

export interface CodecServerOptions {
  /**
   * The namespace's payload codec: the same one the worker and every client use. With
   * `decodeForNamespace`, decoding checks the payloads belong to the namespace the request names.
   */
  codec: PayloadCodec & { decodeForNamespace?(payloads: Payload[], namespace: string): Promise<Payload[]> };
  /** Whether the request carries an `operator` credential (bearer token or the session cookie). */
  authorizeOperator: (request: FastifyRequest) => OperatorAuthorization;
  /** The session cookie value for an operator token; undefined for any other token. */
  startOperatorSession: (token: string) => OperatorSession | undefined;
  /** Origins (scheme://host[:port]) whose pages may call the codec with credentials: exact matches only. */
  corsOrigins: readonly string[];
  /**
   * `Secure` on the session cookie: always, never, or 'auto' (when this request came over HTTPS).
   * SameSite=None forces it, as browsers require.
   */
  cookieSecure?: boolean | 'auto';
  /**
   * Strict suits a UI on the same site as the API (same host, any port: the dev server's UI);
   * a UI on another site (Temporal Cloud's) needs None, which needs HTTPS.
   */
  cookieSameSite?: CookieSameSite;
  /** When set, a request naming another namespace in X-Namespace is refused: the codec key is this namespace's. */
  namespace?: string;
  limits?: Partial<CodecLimits>;
  /**
   * Bounds sign-in attempts per client address (request.ip: the socket's, or X-Forwarded-For's when
   * TRUST_PROXY names the proxy) and in all. Absent: unbounded (tests of other behaviour).
   */
  signInLimiter?: SignInLimiter;
}

export interface CodecLimits {
  /** Payloads in one request. */
  maxPayloads: number;
  /** Bytes of one payload's data (decoded). Temporal refuses payloads over 2 MB; encryption adds a header. */
  maxPayloadBytes: number;
  /** Bytes of one request body (JSON, base64 inside). */
  bodyLimitBytes: number;
}

export const DEFAULT_CODEC_LIMITS: CodecLimits = {
  maxPayloads: 1000,
  maxPayloadBytes: 4 * 1024 * 1024,
  bodyLimitBytes: 16 * 1024 * 1024,
};

/** Headers a UI (or script) may send cross-origin: the UI sends Content-Type and X-Namespace. */
const ALLOWED_HEADERS = 'content-type, x-namespace, authorization';
const PREFLIGHT_MAX_AGE_SECONDS = 600;

class CodecRequestError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * A Fastify plugin (register it without fastify-plugin: its hooks and parsers stay on its own routes).
 * Routes: POST /codec/encode, POST /codec/decode (+ OPTIONS preflight), GET/POST /codec/login, POST /codec/logout.
 */
export async function codecServer(app: FastifyInstance, opts: CodecServerOptions): Promise<void> {
  const limits: CodecLimits = { ...DEFAULT_CODEC_LIMITS, ...opts.limits };
  const allowedOrigins = new Set(opts.corsOrigins.map(normalizeOrigin));
  const sameSite = opts.cookieSameSite ?? 'Strict';

  const isOwnOrigin = (request: FastifyRequest, origin: string): boolean =>
    origin === `${request.protocol}://${request.host}`;

  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (status >= 500) request.log.error({ err: { type: err.name } }, 'codec request failed');
    return reply.status(status).send({ error: errorName(status), message: status >= 500 && status !== 503 ? 'internal error' : err.message });
  });

  // The sign-in form posts url-encoded; bounded, since it only ever carries a token.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // CORS first, so that even a 401 reaches the UI's code (which then shows the payloads still encoded)
  // rather than surfacing as a network error it retries.
  app.addHook('onRequest', async (request, reply) => {
    reply.header('vary', 'Origin');
    reply.header('cache-control', 'no-store');
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || !allowedOrigins.has(origin)) return undefined;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    return undefined;
  });

  const preflight = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && allowedOrigins.has(origin)) {
      reply.header('access-control-allow-methods', 'POST, OPTIONS');
      reply.header('access-control-allow-headers', ALLOWED_HEADERS);
      reply.header('access-control-max-age', String(PREFLIGHT_MAX_AGE_SECONDS));
      // Chrome's Private Network Access asks this when a public page calls a private address.
      if (request.headers['access-control-request-private-network'] === 'true') reply.header('access-control-allow-private-network', 'true');
    }
    return reply.code(204).send();
  };

  /**
   * A page on an origin that is neither allowed nor this one never gets to use the operator's
   * cookie, even for the responses it cannot read (scripts send no Origin and are not affected).
   */
  const requireOperator = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    const origin = request.headers.origin;
    if (typeof origin === 'string' && !allowedOrigins.has(origin) && !isOwnOrigin(request, origin)) {
      return reply.code(403).send({ error: 'forbidden', message: `origin ${origin.slice(0, 200)} is not allowed to call the codec (CODEC_CORS_ORIGINS)` });
    }
    const verdict = opts.authorizeOperator(request);
    if (verdict === 'unauthorized') {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="parley"')
        .send({ error: 'unauthorized', message: 'an operator credential is required: a bearer token with the scope "operator", or sign in at /codec/login' });
    }
    if (verdict === 'forbidden') {
      return reply.code(403).send({ error: 'forbidden', message: 'this credential lacks the scope "operator"' });
    }
    const namespace = request.headers['x-namespace'];
    if (opts.namespace !== undefined && typeof namespace === 'string' && namespace !== '' && namespace !== opts.namespace) {
      return reply.code(400).send({ error: 'bad_request', message: `this codec serves the namespace "${opts.namespace}", not "${namespace.slice(0, 200)}"` });
    }
    return undefined;
  };

  for (const direction of ['encode', 'decode'] as const) {
    app.options(`/codec/${direction}`, preflight);
    app.post(`/codec/${direction}`, { bodyLimit: limits.bodyLimitBytes, onRequest: requireOperator }, async (request) => {
      const payloads = parsePayloads(request.body, limits);
      const header = request.headers['x-namespace'];
      const namespace = typeof header === 'string' && header !== '' ? header : opts.namespace;
      const { codec } = opts;
      let result: Payload[];
      try {
        if (direction === 'encode') result = await codec.encode(payloads);
        else result = namespace !== undefined && codec.decodeForNamespace ? await codec.decodeForNamespace(payloads, namespace) : await codec.decode(payloads);
      } catch (err) {
        throw codecFailure(err, direction);
      }
      return { payloads: result.map(payloadToJson) };
    });
  }

  app.get('/codec/login', async (request, reply) => {
    return htmlPage(reply, 200, loginPage(request.query as Record<string, unknown>));
  });

  app.post('/codec/login', async (request, reply) => {
    const origin = request.headers.origin;
    // Only this origin's own form may sign a browser in (no login forced on an operator by another site).
    // The pages' Referrer-Policy (same-origin) keeps a real Origin on that form's POST, so "null" is refused too.
    if (typeof origin === 'string' && !isOwnOrigin(request, origin)) {
      return htmlPage(reply, 403, loginPage({}, 'Sign in from this page only.'));
    }
    const limiter = opts.signInLimiter;
    const client = request.ip;
    try {
      const retryAfter = await limiter?.refusal(client);
      if (retryAfter !== undefined) {
        request.log.warn({ client, retryAfterSeconds: retryAfter }, 'codec sign-in refused: too many attempts');
        reply.header('retry-after', String(retryAfter));
        return htmlPage(reply, 429, loginPage({}, `Too many sign-in attempts; try again in ${retryAfter} seconds.`));
      }
    } catch (err) {
      return signInUnavailable(request, reply, err);
    }
    const body = request.body as Record<string, unknown> | undefined;
    const token = typeof body?.token === 'string' ? body.token.trim() : '';
    const session = token ? opts.startOperatorSession(token) : undefined;
    try {
      if (!session) await limiter?.failed(client);
      else await limiter?.succeeded(client);
    } catch (err) {
      // An attempt that cannot be counted is not answered: a guesser must not get free tries during an outage.
      return signInUnavailable(request, reply, err);
    }
    if (!session) return htmlPage(reply, 401, loginPage({}, 'That is not an operator token.'));
    reply.header('set-cookie', sessionCookie(session.value, session.maxAgeSeconds, cookieSecurity(request)));
    return htmlPage(reply, 200, signedInPage(session.maxAgeSeconds));
  });

  app.post('/codec/logout', async (request, reply) => {
    reply.header('set-cookie', sessionCookie('', 0, cookieSecurity(request)));
    return htmlPage(reply, 200, loginPage({}, 'Signed out.'));
  });

  function cookieSecurity(request: FastifyRequest): { secure: boolean; sameSite: CookieSameSite } {
    const secure = sameSite === 'None' || (opts.cookieSecure === 'auto' || opts.cookieSecure === undefined ? request.protocol === 'https' : opts.cookieSecure);
    return { secure, sameSite };
  }
}

/** The attempt counters cannot be reached: 503, the attempt neither judged nor counted. */
function signInUnavailable(request: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  request.log.error({ err: { type: err instanceof Error ? err.name : typeof err, message: err instanceof Error ? err.message : undefined } }, 'codec sign-in: attempt counters unavailable');
  reply.header('retry-after', '5');
  return htmlPage(reply, 503, loginPage({}, 'Sign-in is unavailable for a moment; try again.'));
}

function sessionCookie(value: string, maxAgeSeconds: number, security: { secure: boolean; sameSite: CookieSameSite }): string {
  return [
    `${OPERATOR_COOKIE}=${value}`,
    'Path=/codec',
    `Max-Age=${maxAgeSeconds}`,
    'HttpOnly',
    `SameSite=${security.sameSite}`,
    ...(security.secure ? ['Secure'] : []),
  ].join('; ');
}

/** Temporal's JSON form of a Payload (protobuf JSON): base64 metadata values and data. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function base64Bytes(value: unknown, where: string): Uint8Array {
  if (typeof value !== 'string' || !BASE64.test(value) || value.replace(/=+$/, '').length % 4 === 1) {
    throw new CodecRequestError(400, `${where} must be a base64 string`);
  }
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/** The request's payloads, checked for shape and bounds; the message says what is wrong and where. */
export function parsePayloads(body: unknown, limits: CodecLimits = DEFAULT_CODEC_LIMITS): Payload[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { payloads?: unknown }).payloads)) {
    throw new CodecRequestError(400, 'the body must be JSON {"payloads": [{"metadata": {"key": "<base64>"}, "data": "<base64>"}]}');
  }
  const list = (body as { payloads: unknown[] }).payloads;
  if (list.length > limits.maxPayloads) {
    throw new CodecRequestError(413, `at most ${limits.maxPayloads} payloads per request, got ${list.length}`);
  }
  return list.map((item, i): Payload => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new CodecRequestError(400, `payloads[${i}] must be an object`);
    const { metadata, data } = item as { metadata?: unknown; data?: unknown };
    const decodedMetadata: Record<string, Uint8Array> = {};
    if (metadata !== undefined && metadata !== null) {
      if (typeof metadata !== 'object' || Array.isArray(metadata)) throw new CodecRequestError(400, `payloads[${i}].metadata must be an object of base64 strings`);
      for (const [key, value] of Object.entries(metadata as Record<string, unknown>)) {
        decodedMetadata[key] = base64Bytes(value, `payloads[${i}].metadata[${JSON.stringify(key.slice(0, 100))}]`);
      }
    }
    // protobuf JSON leaves out empty fields: no data is empty data.
    const bytes = data === undefined || data === null ? new Uint8Array(0) : base64Bytes(data, `payloads[${i}].data`);
    if (bytes.length > limits.maxPayloadBytes) {
      throw new CodecRequestError(413, `payloads[${i}].data is ${bytes.length} bytes; at most ${limits.maxPayloadBytes}`);
    }
    return { metadata: decodedMetadata, data: bytes };
  });
}

export function payloadToJson(payload: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(payload.metadata ?? {})) {
    if (value) metadata[key] = Buffer.from(value).toString('base64');
  }
  return { metadata, data: Buffer.from(payload.data ?? new Uint8Array(0)).toString('base64') };
}

/**
 * A payload the codec cannot take (tampered, another namespace's key, a retired key): 422 without
 * detail, so nothing about keys or contents leaks. A key service that cannot be reached is a 503.
 */
function codecFailure(err: unknown, direction: 'encode' | 'decode'): CodecRequestError {
  const name = err instanceof Error ? err.name : '';
  const ctor = err instanceof Error ? err.constructor.name : '';
  if (name === 'KeyServiceUnavailableError' || ctor === 'KeyServiceUnavailableError') {
    return new CodecRequestError(503, 'the key service cannot be reached; try again');
  }
  return new CodecRequestError(422, direction === 'decode' ? 'a payload could not be decoded with this namespace’s keys' : 'the payloads could not be encoded');
}

function errorName(status: number): string {
  return (
    { 400: 'bad_request', 401: 'unauthorized', 403: 'forbidden', 404: 'not_found', 413: 'payload_too_large', 415: 'unsupported_media_type', 422: 'undecodable', 503: 'unavailable' }[status] ??
    (status >= 500 ? 'internal_error' : 'bad_request')
  );
}

function normalizeOrigin(origin: string): string {
  let url: URL;
  try {
    url = new URL(origin.trim());
  } catch {
    throw new ConfigError(`CODEC_CORS_ORIGINS: "${origin}" is not an origin such as http://127.0.0.1:8233`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.pathname !== '/' || url.search || url.hash || url.username) {
    throw new ConfigError(`CODEC_CORS_ORIGINS: "${origin}" is not an origin (scheme://host[:port], no path)`);
  }
  // URL.origin is what a browser sends in Origin: lower-case host, default port left out.
  return url.origin;
}

export type CodecSettings = Pick<CodecServerOptions, 'corsOrigins' | 'cookieSecure' | 'cookieSameSite'>;

/** The codec server's settings from the environment. */
export function codecSettingsFromEnv(env: Env = process.env): CodecSettings {
  const corsOrigins = list(env, 'CODEC_CORS_ORIGINS');
  corsOrigins.forEach(normalizeOrigin);
  const secure = oneOf(env, 'CODEC_COOKIE_SECURE', ['true', 'false', 'auto'], 'auto');
  return {
    corsOrigins,
    cookieSecure: secure === 'auto' ? 'auto' : secure === 'true',
    cookieSameSite: oneOf<CookieSameSite>(env, 'CODEC_COOKIE_SAMESITE', ['Strict', 'Lax', 'None'], 'Strict'),
  };
}

/** The plugin's credential checks, on the API's bearer tokens and operator sessions. */
export function operatorAccess(tokens: TokenAuthenticator): Pick<CodecServerOptions, 'authorizeOperator' | 'startOperatorSession'> {
  return {
    authorizeOperator: (request) => {
      const caller = operatorFromCookieOrBearer(request, tokens);
      if (!caller) return 'unauthorized';
      return caller.scopes.has('operator') ? 'ok' : 'forbidden';
    },
    startOperatorSession: (token) => tokens.operatorSession(token),
  };
}

// --- The sign-in pages: static markup, no script; the only dynamic text is escaped. ---

function htmlPage(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply
    .code(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .send(body);
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const STYLE = 'body{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;line-height:1.5}input[type=password]{width:100%;padding:.4rem;font-family:monospace}button{margin-top:.8rem;padding:.4rem 1rem}.note{color:#a40}';

function layout(title: string, content: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${content}</body></html>`;
}

function loginPage(_query: Record<string, unknown>, note?: string): string {
  return layout(
    'Parley codec: operator sign-in',
    `<h1>Parley codec server</h1>
<p>Sign in with an operator token so that the Temporal UI in this browser can decode Parley’s payloads.
The token is exchanged for a session cookie that only this server can read.</p>
${note ? `<p class="note" id="note">${escapeHtml(note)}</p>` : ''}
<form method="post" action="/codec/login">
<label for="token">Operator token</label>
<input type="password" id="token" name="token" autocomplete="off" required>
<button type="submit" id="sign-in">Sign in</button>
</form>
<form method="post" action="/codec/logout"><button type="submit" id="sign-out">Sign out</button></form>`,
  );
}

function signedInPage(maxAgeSeconds: number): string {
  return layout(
    'Parley codec: signed in',
    `<h1 id="signed-in">Signed in</h1>
<p>For the next ${Math.round(maxAgeSeconds / 3600)} hours, this browser may decode Parley’s payloads in the Temporal UI.
In the UI’s <b>Codec Server</b> settings, the endpoint is this server’s <code>/codec</code> and
<b>Include cross-origin credentials</b> must be on. Secured attribute values stay encrypted there.</p>
<form method="post" action="/codec/logout"><button type="submit" id="sign-out">Sign out</button></form>`,
  );
}
