// A property-based fuzz (fast-check) of every route of the API (src/api/server.ts) and its codec
// server (src/security/codec-server.ts): generated requests, most with the right credential (a
// signed webhook, the route's token), some with a wrong, unknown or missing one. The property: every
// answer is 2xx or 4xx while Temporal is up — never a 5xx, never no answer — and afterwards the API
// and the worker still run and /healthz is 200. The requests are sampled from a random start value
// printed in the facts as `replay` (DRILLS_FUZZ_REPLAY=<it> draws the same requests again) and sent 8
// at a time; a 5xx is reported with its request.
import fc from 'fast-check';
import { CHANNELS, ROUTING_EVENT_TYPES } from '../../src/conversation';
import { signWebhook } from '../../src/security/webhook-signature';
import type { Drill } from './drill';
import { Stack } from './stack';
import { ApiClient, mapLimit } from './traffic';
import { scaled } from './util';

type Credential = 'right' | 'wrong-scope' | 'unknown' | 'none';

interface FuzzRequest {
  route: string;
  method: string;
  path: string;
  /** Body text as sent; a webhook's signature is computed over it. */
  body?: string;
  contentType?: string;
  credential: Credential;
  /** For a webhook with the right credential: a signature that does not match, or a stale timestamp. */
  tamper?: 'signature' | 'stale';
  headers?: Record<string, string>;
}

const text = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength }) },
    { weight: 1, arbitrary: fc.string({ maxLength, unit: 'grapheme' }) },
    { weight: 1, arbitrary: fc.string({ maxLength, unit: 'binary' }) },
  );

function arbitraries(pool: string[]) {
  const conversationId = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...pool) }, { weight: 2, arbitrary: text(80) }, { weight: 1, arbitrary: fc.string({ minLength: 120, maxLength: 300 }) });
  const pathSegment = conversationId.map((id) => encodeURIComponent(id));
  const credential = fc.constantFrom<Credential>('right', 'right', 'right', 'right', 'right', 'right', 'right', 'wrong-scope', 'unknown', 'none');
  const occurredAt = fc.oneof(
    { weight: 6, arbitrary: fc.date({ min: new Date('1990-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString()) },
    { weight: 1, arbitrary: fc.constantFrom('2026-02-30T10:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T10:00:00+14:00', '2026-01-01T10:00:00.123456789-03:30', '2026-01-01', '') },
    { weight: 1, arbitrary: text(40) },
  );
  const contextValue = fc.oneof(text(60), fc.integer(), fc.boolean(), fc.double(), fc.constant(null));
  const event = fc.record(
    {
      eventId: fc.oneof(fc.constantFrom('e1', 'e2', 'e3', 'e4'), text(40), fc.string({ minLength: 190, maxLength: 260 })),
      eventType: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...ROUTING_EVENT_TYPES) }, { weight: 1, arbitrary: text(12) }),
      conversationId: fc.oneof({ weight: 8, arbitrary: conversationId }, { weight: 1, arbitrary: fc.jsonValue() }),
      taskId: fc.oneof(fc.constant('task-1'), text(40)),
      channel: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...CHANNELS) }, { weight: 1, arbitrary: text(10) }),
      occurredAt,
      queue: text(220),
      agentId: text(220),
      destination: text(220),
      estimatedWaitTime: fc.oneof(fc.integer({ min: -3, max: 2 ** 40 }), fc.constantFrom('45', '-1', ' 7 ', '1e3', 'x'), fc.double()),
      dispositionCode: fc.oneof(fc.integer(), text(220), fc.boolean()),
      taskContext: fc.oneof(
        { weight: 4, arbitrary: fc.dictionary(fc.oneof(text(20), fc.constantFrom('cv_1', 'cv_10', 'cv_0', 'cv_11', 'cv_x')), contextValue, { maxKeys: 12 }) },
        { weight: 1, arbitrary: fc.jsonValue() },
      ),
    },
    { requiredKeys: [] },
  );
  // Events a routing platform would send: valid in every field, so most reach Temporal.
  const validEvent = fc.record(
    {
      eventId: fc.stringMatching(/^[a-z0-9-]{1,12}$/),
      // CLOSED rarely, so most of the pool stays open and writes and reads reach running conversations.
      eventType: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...ROUTING_EVENT_TYPES.filter((t) => t !== 'CLOSED')) }, { weight: 1, arbitrary: fc.constant('CLOSED' as const) }),
      conversationId: fc.constantFrom(...pool),
      taskId: fc.constantFrom('task-1', 'task-2'),
      channel: fc.constantFrom(...CHANNELS),
      occurredAt: fc.date({ min: new Date('2026-01-01'), max: new Date('2026-01-02'), noInvalidDate: true }).map((d) => d.toISOString()),
      queue: fc.constantFrom('sales', 'support'),
      agentId: fc.constantFrom('agent-1', 'agent-2'),
      destination: fc.constantFrom('billing', 'agent-3'),
      estimatedWaitTime: fc.oneof(fc.integer({ min: -1, max: 3600 }), fc.constantFrom('45', '-1')),
      dispositionCode: fc.oneof(fc.integer({ min: 0, max: 999 }), fc.constantFrom('resolved', 'abandoned')),
      taskContext: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean()), { maxKeys: 4 }),
    },
    { requiredKeys: ['eventId', 'eventType', 'conversationId', 'taskId', 'channel', 'occurredAt'] },
  );
  const required = ['eventId', 'eventType', 'conversationId', 'taskId', 'channel', 'occurredAt'] as const;
  // Mostly complete events (the schema's required fields present), so validation past the schema is reached too.
  const eventBody = fc.oneof(
    { weight: 6, arbitrary: validEvent },
    { weight: 3, arbitrary: fc.tuple(event, event.filter((e) => required.every((k) => k in e))).map(([partial, full]) => ({ ...partial, ...full })) },
    { weight: 1, arbitrary: event },
    { weight: 1, arbitrary: fc.jsonValue() },
  ).map((b) => JSON.stringify(b) ?? 'null');
  const rawBody = fc.oneof(fc.constant(''), text(200), fc.constant('{"attributes":'), fc.constant('[]'), fc.constant('null'));
  const attributeName = fc.oneof(fc.constantFrom('intent', 'w1_1', 'last', 'Tier'), text(40), fc.string({ minLength: 250, maxLength: 300 }));
  const validWrite = fc.record({ attributes: fc.dictionary(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.-]{0,15}$/), fc.string({ maxLength: 60 }), { minKeys: 1, maxKeys: 4 }), secured: fc.boolean() }, { requiredKeys: ['attributes'] });
  const writeBody = fc.oneof(
    { weight: 6, arbitrary: validWrite },
    { weight: 3, arbitrary: fc.record({ attributes: fc.dictionary(attributeName, fc.oneof(text(100), fc.string({ minLength: 1990, maxLength: 2100 })), { minKeys: 0, maxKeys: 6 }), secured: fc.boolean() }, { requiredKeys: ['attributes'] }) },
    { weight: 1, arbitrary: fc.record({ attributes: fc.jsonValue(), secured: fc.jsonValue(), extra: fc.jsonValue() }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.jsonValue() },
  ).map((b) => JSON.stringify(b) ?? 'null');
  const base64 = fc.oneof(fc.base64String({ maxLength: 200 }), text(30));
  const codecBody = fc.oneof(
    { weight: 4, arbitrary: fc.record({ payloads: fc.array(fc.record({ metadata: fc.dictionary(fc.constantFrom('encoding', 'encryption-key-id', 'x'), base64, { maxKeys: 3 }), data: base64 }, { requiredKeys: [] }), { maxLength: 5 }) }) },
    { weight: 1, arbitrary: fc.jsonValue() },
  ).map((b) => JSON.stringify(b) ?? 'null');

  const request: fc.Arbitrary<FuzzRequest> = fc.oneof(
    { weight: 8, arbitrary: fc.record({ body: fc.oneof({ weight: 8, arbitrary: eventBody }, { weight: 1, arbitrary: rawBody }), credential, tamper: fc.constantFrom<'signature' | 'stale' | null>(null, null, null, null, null, null, null, null, 'signature', 'stale') }).map(({ body, credential: c, tamper }) => ({ route: 'POST /webhooks/routing-events', method: 'POST', path: '/webhooks/routing-events', body, credential: c, tamper: tamper ?? undefined })) },
    { weight: 8, arbitrary: fc.record({ id: pathSegment, body: fc.oneof({ weight: 8, arbitrary: writeBody }, { weight: 1, arbitrary: rawBody }), credential, key: fc.option(fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,20}$/), text(20)), { freq: 3 }) }).map(({ id, body, credential: c, key }) => ({ route: 'POST /conversations/:id/attributes', method: 'POST', path: `/conversations/${id}/attributes`, body, credential: c, headers: key === null ? undefined : { 'idempotency-key': encodeURIComponent(key) } })) },
    // `secured` is the explicit secured read (Get Secured Data): its two spellings, and junk.
    { weight: 4, arbitrary: fc.record({ id: pathSegment, name: attributeName.map(encodeURIComponent), credential, secured: fc.option(fc.oneof(fc.constantFrom('true', 'false'), text(10).map(encodeURIComponent)), { freq: 2 }) }).map(({ id, name, credential: c, secured }) => ({ route: 'GET /conversations/:id/attributes/:name', method: 'GET', path: `/conversations/${id}/attributes/${name}${secured === null ? '' : `?secured=${secured}`}`, credential: c })) },
    { weight: 4, arbitrary: fc.record({ id: pathSegment, credential }).map(({ id, credential: c }) => ({ route: 'GET /conversations/:id', method: 'GET', path: `/conversations/${id}`, credential: c })) },
    { weight: 3, arbitrary: fc.record({ direction: fc.constantFrom('encode', 'decode'), body: fc.oneof({ weight: 6, arbitrary: codecBody }, { weight: 1, arbitrary: rawBody }), credential, namespace: fc.option(fc.oneof(fc.constant('default'), text(20)), { freq: 3 }) }).map(({ direction, body, credential: c, namespace }) => ({ route: `POST /codec/${direction}`, method: 'POST', path: `/codec/${direction}`, body, credential: c, headers: namespace === null ? undefined : { 'x-namespace': encodeURIComponent(namespace) } })) },
    { weight: 1, arbitrary: fc.record({ direction: fc.constantFrom('encode', 'decode'), origin: fc.oneof(fc.constant('http://127.0.0.1:8233'), text(30).map(encodeURIComponent)) }).map(({ direction, origin }) => ({ route: `OPTIONS /codec/${direction}`, method: 'OPTIONS', path: `/codec/${direction}`, credential: 'none' as const, headers: { origin, 'access-control-request-method': 'POST' } })) },
    { weight: 1, arbitrary: fc.record({ query: text(40).map(encodeURIComponent) }).map(({ query }) => ({ route: 'GET /codec/login', method: 'GET', path: `/codec/login?next=${query}`, credential: 'none' as const })) },
    { weight: 1, arbitrary: fc.record({ credential, form: fc.boolean(), junk: text(40) }).map(({ credential: c, form, junk }) => ({ route: 'POST /codec/login', method: 'POST', path: '/codec/login', credential: c, body: form ? `token=${encodeURIComponent(junk)}` : JSON.stringify({ token: junk }), contentType: form ? 'application/x-www-form-urlencoded' : 'application/json' })) },
    { weight: 1, arbitrary: fc.constant({ route: 'POST /codec/logout', method: 'POST', path: '/codec/logout', credential: 'none' as const }) },
    { weight: 1, arbitrary: fc.record({ credential, which: fc.constantFrom('/healthz', '/livez', '/metrics') }).map(({ credential: c, which }) => ({ route: `GET ${which}`, method: 'GET', path: which, credential: c })) },
    { weight: 1, arbitrary: fc.record({ method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'), path: fc.webSegment().map((s) => `/${s}`), credential }).map(({ method, path, credential: c }) => ({ route: 'other', method, path, credential: c, body: method === 'GET' || method === 'DELETE' ? undefined : '{}' })) },
  );
  return request;
}

export const fuzz: Drill = {
  name: 'fuzz',
  summary: 'fast-check requests over every route with right, wrong and missing credentials: only 2xx/4xx, no crash, health green after',
  fast: true,
  async run({ scale, workDir, log }) {
    const stack = await Stack.start({ workDir, log });
    try {
      const count = scaled(10_000, scale, 500);
      const replay = process.env.DRILLS_FUZZ_REPLAY ? Number(process.env.DRILLS_FUZZ_REPLAY) : Math.floor(Math.random() * 2 ** 31);
      const run = Date.now().toString(36);
      const pool = Array.from({ length: 50 }, (_, i) => `fz-${run}-${i}`);
      const requests = fc.sample(arbitraries(pool), { numRuns: count, seed: replay });
      const api = new ApiClient(() => stack.apiBase, stack.credentials);
      const { tokens } = stack.credentials;
      const byRoute: Record<string, Record<string, number>> = {};
      const violations: string[] = [];
      const scopeOf = (route: string): 'flow' | 'agent-script' | 'operator' | undefined =>
        route.includes('/attributes') ? (route.startsWith('GET') ? 'agent-script' : 'flow') : route.includes('/codec/') || route === 'GET /metrics' || route === 'GET /conversations/:id' || route === 'other' ? 'operator' : undefined;
      let sent = 0;
      await mapLimit(requests, 8, async (r) => {
        const headers: Record<string, string> = { ...(r.body !== undefined ? { 'content-type': r.contentType ?? 'application/json' } : {}), ...r.headers };
        if (r.route.startsWith('POST /webhooks')) {
          if (r.credential === 'right' || r.credential === 'wrong-scope') {
            const signed = signWebhook(stack.credentials.webhookSecret, r.body ?? '', r.tamper === 'stale' ? { timestamp: new Date(Date.now() - 3_600_000) } : {});
            if (r.tamper === 'signature' || r.credential === 'wrong-scope') signed['webhook-signature'] = `v1,${Buffer.alloc(32, 7).toString('base64')}`;
            Object.assign(headers, signed);
          } else if (r.credential === 'unknown') {
            Object.assign(headers, signWebhook(`whsec_${Buffer.alloc(24, 1).toString('base64')}`, r.body ?? ''));
          }
        } else {
          const scope = scopeOf(r.route);
          if (r.credential === 'right' && scope) headers.authorization = `Bearer ${tokens[scope]}`;
          else if (r.credential === 'wrong-scope') headers.authorization = `Bearer ${scope === 'operator' ? tokens.flow : tokens.operator}`;
          else if (r.credential === 'unknown') headers.authorization = 'Bearer prly_flow_not-a-real-token';
        }
        if (r.route === 'POST /codec/login' && r.credential === 'right' && r.body?.startsWith('{')) r.body = JSON.stringify({ token: tokens.operator });
        const a = await api.request(r.route, r.method, r.path, { body: r.body, headers, scope: 'none' });
        const status = a.status === 0 ? 'no answer' : String(a.status);
        (byRoute[r.route] ??= {})[status] = (byRoute[r.route][status] ?? 0) + 1;
        if (a.status === 0 || a.status >= 500) violations.push(`${r.method} ${r.path.slice(0, 120)} (${r.credential}) answered ${status} ${JSON.stringify(a.body ?? a.error).slice(0, 200)}; body ${(r.body ?? '').slice(0, 200)}`);
        if (++sent % 1000 === 0) log(`${sent}/${count} requests sent`);
      });
      const health = await api.request('health', 'GET', '/healthz');
      if (health.status !== 200) violations.push(`/healthz answered ${health.status} after the fuzz`);
      for (const crash of stack.crashes()) violations.push(`${crash} exited unexpectedly (a crash) during the fuzz`);
      const total: Record<string, number> = {};
      for (const statuses of Object.values(byRoute)) for (const [s, n] of Object.entries(statuses)) total[s] = (total[s] ?? 0) + n;
      const fmt = (m: Record<string, number>) => Object.entries(m).sort().map(([k, v]) => `${k}: ${v}`).join(', ');
      return {
        accepted: { requests: count },
        reflected: { requests: count - violations.filter((v) => v.includes(' answered ')).length },
        lost: 0,
        doubled: 0,
        facts: {
          replay,
          requests: count,
          'answers by status': fmt(total),
          ...Object.fromEntries(Object.entries(byRoute).sort().map(([route, statuses]) => [`  ${route}`, fmt(statuses)])),
          '/healthz after': health.status,
        },
        violations,
      };
    } finally {
      await stack.stop();
    }
  },
};
