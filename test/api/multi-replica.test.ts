// Several API replicas behind one proxy, as deploy/compose.scale-api.yml runs them: real API
// processes (dist/) on one Temporal dev server and one PostgreSQL store. What one replica learnt
// must hold on the others: a Standard Webhooks delivery taken by one is a replay on another; an
// operator signed in on one is signed in on all; sign-in attempts count across all; and a process
// whose CRM registry or keys differ from the running ones' does not join.
import fs from 'node:fs';
import path from 'node:path';
import { startPostgres, type ThrowawayPostgres } from '../../rigs/postgres';
import { startHeadlessDevServer } from '../../rigs/dev-server';
import { type ApiProcess, spawnApiProcess, waitUntilListening } from '../../rigs/api-process';
import { credentialsEnv, signedHeaders, testCredentials } from '../../rigs/credentials';
import { freePort } from '../../rigs/ports';
import { tempDir, uniqueId } from '../../rigs/temp';
import { ensureWorkerBuilt, spawnWorker, type WorkerProcess } from '../../rigs/worker-process';
import type { DevServer } from '../../src/platform/dev-server';
import { OPERATOR_COOKIE } from '../../src/security/auth';

const credentials = testCredentials();
const dir = tempDir('multi-replica');
const taskQueue = uniqueId('multi-replica');
/** Small limits so the test reaches them; the window is long enough not to roll over mid-test. */
const SIGN_IN_LIMITS = { CODEC_SIGNIN_MAX_FAILURES_PER_CLIENT: '4', CODEC_SIGNIN_MAX_FAILURES: '10', CODEC_SIGNIN_WINDOW: '1h' };

let postgres: ThrowawayPostgres;
let devServer: DevServer;
let a: ApiProcess;
let b: ApiProcess;
const spawned: ApiProcess[] = [];
const workers: WorkerProcess[] = [];

async function replica(name: string, env: NodeJS.ProcessEnv = {}, opts: { wait?: boolean } = {}): Promise<ApiProcess> {
  const api = await spawnApiProcess({
    name,
    temporalAddress: devServer.address,
    taskQueue,
    databaseUrl: postgres.url,
    logFile: path.join(dir, `${name}.log`),
    env: { ...credentialsEnv(credentials), TEMPORAL_REQUEST_TIMEOUT: '3s', ...SIGN_IN_LIMITS, TRUST_PROXY: '127.0.0.1', ...env },
  });
  spawned.push(api);
  if (opts.wait !== false) await waitUntilListening(api);
  return api;
}

beforeAll(async () => {
  ensureWorkerBuilt();
  [postgres, devServer] = await Promise.all([startPostgres({ logFile: path.join(dir, 'postgres.log') }), startHeadlessDevServer(path.join(dir, 'temporal.sqlite'))]);
  [a, b] = await Promise.all([replica('api-a'), replica('api-b')]);
}, 180_000);

afterAll(async () => {
  await Promise.all([...spawned.map((api) => api.stop()), ...workers.map((worker) => worker.stop())]);
  await devServer?.stop();
  await postgres?.stop();
});

function routingEvent(conversationId: string): string {
  return JSON.stringify({ eventId: uniqueId('evt'), eventType: 'CREATED', conversationId, taskId: 'task-1', channel: 'chat', occurredAt: new Date().toISOString() });
}

async function deliver(api: ApiProcess, body: string, headers: Record<string, string>): Promise<{ status: number; body: { message?: string }; headers: Headers }> {
  const res = await fetch(`${api.baseUrl}/webhooks/routing-events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as { message?: string }) : {}, headers: res.headers };
}

async function signIn(api: ApiProcess, token: string, client: string): Promise<Response> {
  return fetch(`${api.baseUrl}/codec/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client },
    body: `token=${encodeURIComponent(token)}`,
    redirect: 'manual',
  });
}

describe('Standard Webhooks replay protection across replicas', () => {
  test('a delivery taken by replica A and replayed to replica B within the tolerance is refused by B, as a replay to A is', async () => {
    const body = routingEvent(uniqueId('conv'));
    const headers = signedHeaders(credentials.webhookSecret, body);
    expect((await deliver(a, body, headers)).status).toBe(202);
    const onB = await deliver(b, body, headers);
    expect(onB.status).toBe(401);
    expect(onB.body.message).toMatch(/already received/);
    const onA = await deliver(a, body, headers);
    expect(onA.status).toBe(401);
    expect(onA.body.message).toMatch(/already received/);
  });

  test('a delivery that failed on our side (5xx: a replica without Temporal) is taken when the sender retries it on another replica', async () => {
    // A replica that cannot reach Temporal answers 503: the delivery changed nothing, so its retry is no replay.
    const cut = await replica('api-no-temporal', { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, TEMPORAL_REQUEST_TIMEOUT: '1s' });
    const body = routingEvent(uniqueId('conv'));
    const headers = signedHeaders(credentials.webhookSecret, body);
    const failed = await deliver(cut, body, headers);
    expect(failed.status).toBeGreaterThanOrEqual(500);
    expect((await deliver(b, body, headers)).status).toBe(202);
    // Taken now: a replay anywhere is refused again.
    expect((await deliver(a, body, headers)).status).toBe(401);
    expect((await deliver(cut, body, headers)).status).toBe(401);
    await cut.stop();
  });
});

describe('codec sign-in across replicas', () => {
  test('the operator session cookie set by replica A decodes on replica B', async () => {
    const signedIn = await signIn(a, credentials.tokens.operator, '198.51.100.1');
    expect(signedIn.status).toBe(200);
    const cookie = /^([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1];
    expect(cookie).toMatch(new RegExp(`^${OPERATOR_COOKIE}=v1\\.`));
    const onB = await fetch(`${b.baseUrl}/codec/encode`, { method: 'POST', headers: { 'content-type': 'application/json', cookie: cookie as string }, body: JSON.stringify({ payloads: [] }) });
    expect(onB.status).toBe(200);
    expect(await onB.json()).toEqual({ payloads: [] });
    // And without it B refuses, so the 200 above is the cookie's doing.
    const without = await fetch(`${b.baseUrl}/codec/encode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ payloads: [] }) });
    expect(without.status).toBe(401);
  });

  test('failed sign-ins count across replicas: past the per-client limit the next attempt on either is 429 with Retry-After', async () => {
    const guesser = '203.0.113.7';
    for (const api of [a, a, b, b]) expect((await signIn(api, `prly_operator_guess-${uniqueId('g')}`, guesser)).status).toBe(401);
    const refused = await signIn(a, 'prly_operator_one-more-guess', guesser);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    // Even the right token, from that client, on the other replica: the limit is per client, not per guess.
    const rightToken = await signIn(b, credentials.tokens.operator, guesser);
    expect(rightToken.status).toBe(429);
    expect(rightToken.headers.get('set-cookie')).toBeNull();
    // Another client (X-Forwarded-For from the trusted proxy) is not held back by the guesser.
    expect((await signIn(b, credentials.tokens.operator, '198.51.100.2')).status).toBe(200);
  });

  test('failed sign-ins from many clients together are bounded too (the overall limit), across replicas', async () => {
    // 4 failures so far; 6 more from fresh clients, alternating replicas, reach the overall 10.
    for (let i = 0; i < 6; i++) expect((await signIn(i % 2 ? a : b, 'prly_operator_spray', `203.0.113.${20 + i}`)).status).toBe(401);
    const next = await signIn(a, 'prly_operator_spray', '203.0.113.99');
    expect(next.status).toBe(429);
    expect(Number(next.headers.get('retry-after'))).toBeGreaterThan(0);
  });
});

describe('the same CRM registry and keys in every process', () => {
  test('an API replica with another CRM registry refuses to start, naming the setting group and not its values', async () => {
    const registry = path.join(dir, 'crm-other.json');
    fs.writeFileSync(registry, JSON.stringify({ configurations: { 'crm-elsewhere': { baseUrl: 'https://crm-canary.example.com', auth: { header: 'X-Api-Key', secretEnv: 'CANARY_CRM_SECRET' }, workflows: ['lookup'], defaultTimeoutMs: 5000, maxTimeoutMs: 10000 } } }));
    const stray = await replica('api-other-crm', { CRM_INTEGRATIONS_FILE: registry, CANARY_CRM_SECRET: 'crm-secret-canary-value' }, { wait: false });
    const exit = await stray.exited;
    expect(exit.code).toBe(1);
    const output = stray.output();
    expect(output).toMatch(/settings differ from a running api process/);
    expect(output).toMatch(/the CRM integrations registry/);
    expect(output).not.toMatch(/payload codec key|secured-data key/);
    for (const value of ['crm-canary.example.com', 'crm-secret-canary-value']) expect(output).not.toContain(value);
  });

  test('a worker with another payload codec key (its own key file) refuses to start, naming the key', async () => {
    const worker = spawnWorker({
      name: 'worker-other-keys',
      temporalAddress: devServer.address,
      databaseUrl: postgres.url,
      taskQueue,
      logFile: path.join(dir, 'worker-other-keys.log'),
      env: { PARLEY_KEY_FILE: path.join(dir, 'other-keys.json') },
    });
    workers.push(worker);
    const exit = await worker.exited;
    expect(exit.code).toBe(1);
    expect(worker.output()).toMatch(/settings differ from a running api process[^\n]*the payload codec key/);
    expect(worker.output()).not.toMatch(/CRM integrations registry/);
  });

  test('a declared rollout: the new settings start with PARLEY_SETTINGS_GENERATION raised, and then an old-generation process may not join', async () => {
    const registry = path.join(dir, 'crm-next.json');
    fs.writeFileSync(registry, JSON.stringify({ configurations: { next: { baseUrl: 'https://crm-next.example.com', auth: { header: 'X-Api-Key', secretEnv: 'NEXT_CRM_SECRET' }, workflows: ['lookup'], defaultTimeoutMs: 5000, maxTimeoutMs: 10000 } } }));
    const next = await replica('api-next-generation', { CRM_INTEGRATIONS_FILE: registry, NEXT_CRM_SECRET: 'x', PARLEY_SETTINGS_GENERATION: '1' });
    expect(next.isRunning()).toBe(true);
    // An old replica restarting mid-rollout (generation 0, old settings) is refused by the new generation.
    const old = await replica('api-old-restarting', {}, { wait: false });
    expect((await old.exited).code).toBe(1);
    expect(old.output()).toMatch(/settings differ from a running api process \([^)]*PARLEY_SETTINGS_GENERATION=1\)/);
    await next.stop();
  });
});

test('nothing secret in any replica log: tokens and the webhook secret never appear', () => {
  for (const api of spawned) {
    const log = api.output();
    for (const secret of [credentials.tokens.operator, credentials.tokens.flow, credentials.webhookSecret]) expect(log).not.toContain(secret);
  }
});

test('PostgreSQL out of reach: a webhook is answered 503 with Retry-After (not taken unchecked), and sign-in 503 too', async () => {
  await postgres.stop();
  const body = routingEvent(uniqueId('conv'));
  const answer = await deliver(a, body, signedHeaders(credentials.webhookSecret, body));
  expect(answer.status).toBe(503);
  expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(answer.body.message).toMatch(/replays/);
  const signInAnswer = await signIn(b, credentials.tokens.operator, '198.51.100.3');
  expect(signInAnswer.status).toBe(503);
  expect(signInAnswer.headers.get('set-cookie')).toBeNull();
});
