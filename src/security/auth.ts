// Bearer tokens with scopes, and the operator's browser session cookie for the codec server.
// Route permissions are declared where the routes are (src/api/server.ts) with `requireScope`.
import crypto from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const SCOPES = ['flow', 'agent-script', 'operator'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** One configured bearer token. `name` says whose it is in logs and errors; the token itself is never shown. */
export interface TokenEntry {
  name: string;
  scopes: Scope[];
  token: string;
}

/** What the API needs to authenticate callers (loaded by src/security/secrets.ts). */
export interface AuthSettings {
  /** Standard Webhooks secrets (`whsec_<base64>`); a signature made with any of them is accepted, so they can rotate. */
  webhookSecrets: string[];
  tokens: TokenEntry[];
}

/** The caller a valid credential identified. */
export interface Caller {
  /** The token's configured name (never the token). */
  name: string;
  scopes: ReadonlySet<Scope>;
  via: 'bearer' | 'cookie';
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Scopes of the authenticated caller; set by `requireScope` on the routes that take a bearer token. */
    parleyScopes?: ReadonlySet<Scope>;
    parleyCaller?: Caller;
  }
}

/** The HttpOnly cookie the codec server's sign-in sets, so the Temporal UI (which sends only cookies) can decode. */
export const OPERATOR_COOKIE = 'parley_operator';
/** How long an operator's browser session lasts before signing in again. */
export const OPERATOR_SESSION_SECONDS = 12 * 60 * 60;

const sha256 = (text: string): Buffer => crypto.createHash('sha256').update(text, 'utf8').digest();

interface KnownToken {
  name: string;
  scopes: ReadonlySet<Scope>;
  token: string;
  digest: Buffer;
}

export class TokenAuthenticator {
  private readonly known: KnownToken[];

  constructor(tokens: readonly TokenEntry[]) {
    this.known = tokens.map((t) => ({ name: t.name, scopes: new Set(t.scopes), token: t.token, digest: sha256(t.token) }));
  }

  /**
   * The caller holding `token`, or undefined. Both sides are hashed to equal length and every
   * configured token is compared, so neither the length nor the position of a match shows in timing.
   */
  identify(token: string): Omit<Caller, 'via'> | undefined {
    const presented = sha256(token);
    let match: KnownToken | undefined;
    for (const entry of this.known) {
      if (crypto.timingSafeEqual(presented, entry.digest) && !match) match = entry;
    }
    return match && { name: match.name, scopes: match.scopes };
  }

  /**
   * The value of the operator session cookie for `token` (an operator token), or undefined when the
   * token is not one. The cookie holds an expiry and an HMAC keyed by the token itself, never the
   * token: every API replica can check it without shared state, and retiring the token ends its sessions.
   */
  operatorSession(token: string, nowMs: number = Date.now()): { value: string; maxAgeSeconds: number } | undefined {
    const caller = this.identify(token);
    if (!caller?.scopes.has('operator')) return undefined;
    const expires = Math.floor(nowMs / 1000) + OPERATOR_SESSION_SECONDS;
    return { value: `v1.${expires}.${sessionMac(token, expires)}`, maxAgeSeconds: OPERATOR_SESSION_SECONDS };
  }

  /** The operator a session cookie value was issued to, if it is well-formed, unexpired and its token still configured. */
  fromOperatorSession(value: string, nowMs: number = Date.now()): Omit<Caller, 'via'> | undefined {
    const match = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!match) return undefined;
    const expires = Number(match[1]);
    if (expires * 1000 <= nowMs) return undefined;
    // Compared as text: base64 has several spellings of the same bytes, a cookie has one.
    const presented = Buffer.from(match[2], 'latin1');
    let found: KnownToken | undefined;
    for (const entry of this.known) {
      if (!entry.scopes.has('operator')) continue;
      const expected = Buffer.from(sessionMac(entry.token, expires), 'latin1');
      if (crypto.timingSafeEqual(presented, expected) && !found) found = entry;
    }
    return found && { name: found.name, scopes: found.scopes };
  }
}

function sessionMac(token: string, expires: number): string {
  return crypto.createHmac('sha256', token).update(`parley-operator-session.${expires}`).digest('base64url');
}

/** The token of an `Authorization: Bearer <token>` header; undefined when there is none or it is another scheme. */
export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header);
  return match?.[1];
}

function cookieValue(request: FastifyRequest, name: string): string | undefined {
  const header = request.headers.cookie;
  if (typeof header !== 'string') return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The caller of a bearer-token request, or undefined without a valid token. */
export function callerFromBearer(request: FastifyRequest, auth: TokenAuthenticator): Caller | undefined {
  const token = bearerToken(request);
  const caller = token === undefined ? undefined : auth.identify(token);
  return caller && { ...caller, via: 'bearer' };
}

/**
 * For the codec routes: a bearer token (scripts, `temporal` CLI) or the operator session cookie
 * (the Temporal UI in a browser). A bearer header, when present, decides alone.
 */
export function operatorFromCookieOrBearer(request: FastifyRequest, auth: TokenAuthenticator): Caller | undefined {
  if (request.headers.authorization !== undefined) return callerFromBearer(request, auth);
  const session = cookieValue(request, OPERATOR_COOKIE);
  const caller = session === undefined ? undefined : auth.fromOperatorSession(session);
  return caller && { ...caller, via: 'cookie' };
}

/** A route hook (onRequest or preValidation); written without Fastify's generic `this` so it fits any instance. */
export type AuthHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

function describe(scopes: readonly Scope[]): string {
  return scopes.map((s) => `"${s}"`).join(' or ');
}

async function answer(reply: FastifyReply, status: 401 | 403, scopes: readonly Scope[]): Promise<FastifyReply> {
  // RFC 6750: the challenge tells a client which scheme to use, and on 403 which scope was missing.
  if (status === 401) {
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="parley"')
      .send({ error: 'unauthorized', message: `a bearer token with the scope ${describe(scopes)} is required` });
  }
  return reply
    .code(403)
    .header('www-authenticate', `Bearer realm="parley", error="insufficient_scope", scope="${scopes.join(' ')}"`)
    .send({ error: 'forbidden', message: `this token lacks the scope ${describe(scopes)}` });
}

/**
 * An onRequest hook (before the body is read): 401 without a valid credential, 403 when it has none
 * of `scopes`. The caller's scopes are then on `request.parleyScopes` for the handler.
 */
export function requireScope(
  auth: TokenAuthenticator,
  scopes: readonly Scope[],
  identify: (request: FastifyRequest, auth: TokenAuthenticator) => Caller | undefined = callerFromBearer,
): AuthHook {
  return async (request, reply) => {
    const caller = identify(request, auth);
    if (!caller) return answer(reply, 401, scopes);
    if (!scopes.some((s) => caller.scopes.has(s))) return answer(reply, 403, scopes);
    request.parleyCaller = caller;
    request.parleyScopes = caller.scopes;
    return undefined;
  };
}

/** The hook for the codec routes: `operator`, by bearer token or by the session cookie. */
export function requireOperator(auth: TokenAuthenticator): AuthHook {
  return requireScope(auth, ['operator'], operatorFromCookieOrBearer);
}
