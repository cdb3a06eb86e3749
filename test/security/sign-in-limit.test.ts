// The codec sign-in limit's rule, on this process's counters (the PostgreSQL ones are exercised
// across two API processes in test/api/multi-replica.test.ts), and over HTTP whose address it counts.
import { LocalWindowCounters, SignInLimiter, signInLimitsFromEnv, DEFAULT_SIGN_IN_LIMITS } from '../../src/security/sign-in-limit';
import path from 'node:path';
import { ConfigError } from '../../src/platform/env';
import { SqliteParticipantDataStore } from '../../src/store';
import { type RunningApi, startApi } from '../../rigs/api';
import { freePort } from '../../rigs/ports';
import { tempDir } from '../../rigs/temp';

const limits = { windowMs: 60_000, maxFailuresPerClient: 3, maxFailures: 5, maxSuccessesPerClient: 4 };

test('failures per client: at the limit that client waits for the window to end; another client does not', async () => {
  let now = 1_000_000_020_000 + 15_000; // 15 s into a window
  const limiter = new SignInLimiter(limits, new LocalWindowCounters(), () => now);
  for (let i = 0; i < 3; i++) {
    expect(await limiter.refusal('10.0.0.1')).toBeUndefined();
    await limiter.failed('10.0.0.1');
  }
  expect(await limiter.refusal('10.0.0.1')).toBe(45);
  expect(await limiter.refusal('10.0.0.2')).toBeUndefined();
  now += 45_000; // the next window
  expect(await limiter.refusal('10.0.0.1')).toBeUndefined();
});

test('failures from every client together are bounded: then everyone waits', async () => {
  const limiter = new SignInLimiter(limits, new LocalWindowCounters(), () => 1_000_000_020_000);
  for (let i = 0; i < 5; i++) await limiter.failed(`10.0.1.${i}`);
  expect(await limiter.refusal('10.0.9.9')).toBe(60);
});

test('successful sign-ins count only against their own generous ceiling, not the failure limits', async () => {
  const limiter = new SignInLimiter(limits, new LocalWindowCounters(), () => 1_000_000_020_000);
  for (let i = 0; i < 4; i++) {
    expect(await limiter.refusal('10.0.0.1')).toBeUndefined();
    await limiter.succeeded('10.0.0.1');
  }
  expect(await limiter.refusal('10.0.0.1')).toBe(60);
  // Nobody else is held back by one client's sign-ins.
  expect(await limiter.refusal('10.0.0.2')).toBeUndefined();
});

test('the limits from the environment; nonsense refused by name', () => {
  expect(signInLimitsFromEnv({})).toEqual(DEFAULT_SIGN_IN_LIMITS);
  expect(signInLimitsFromEnv({ CODEC_SIGNIN_WINDOW: '5m', CODEC_SIGNIN_MAX_FAILURES_PER_CLIENT: '3', CODEC_SIGNIN_MAX_FAILURES: '50', CODEC_SIGNIN_MAX_SUCCESSES_PER_CLIENT: '20' })).toEqual({
    windowMs: 300_000,
    maxFailuresPerClient: 3,
    maxFailures: 50,
    maxSuccessesPerClient: 20,
  });
  expect(() => signInLimitsFromEnv({ CODEC_SIGNIN_MAX_FAILURES: '0' })).toThrow(/CODEC_SIGNIN_MAX_FAILURES/);
  expect(() => signInLimitsFromEnv({ CODEC_SIGNIN_WINDOW: '500ms' })).toThrow(ConfigError);
});

describe('over HTTP: whose address is counted', () => {
  const dir = tempDir('sign-in-limit');
  const store = new SqliteParticipantDataStore(path.join(dir, 'store.sqlite'));
  const apis: RunningApi[] = [];
  const small = { ...DEFAULT_SIGN_IN_LIMITS, maxFailuresPerClient: 2 };

  beforeAll(() => store.init());
  afterAll(async () => {
    await Promise.all(apis.map((api) => api.close()));
    await store.close();
  });

  async function api(trustProxy?: string[]): Promise<RunningApi> {
    // Sign-in never reaches Temporal: an address nobody listens on will do.
    const started = await startApi({ temporalAddress: `127.0.0.1:${await freePort()}`, taskQueue: 'unused', store, signInLimits: small, trustProxy });
    apis.push(started);
    return started;
  }

  const signIn = (base: string, token: string, forwardedFor: string): Promise<Response> =>
    fetch(`${base}/codec/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': forwardedFor }, body: `token=${encodeURIComponent(token)}` });

  test('without TRUST_PROXY, X-Forwarded-For is ignored: a guesser cannot pick a fresh address per guess', async () => {
    const { baseUrl, credentials } = await api();
    expect((await signIn(baseUrl, 'prly_operator_guess', '203.0.113.1')).status).toBe(401);
    expect((await signIn(baseUrl, 'prly_operator_guess', '203.0.113.2')).status).toBe(401);
    const third = await signIn(baseUrl, credentials.tokens.operator, '203.0.113.3');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  test('behind a proxy named in TRUST_PROXY, each forwarded client is counted apart', async () => {
    const { baseUrl, credentials } = await api(['127.0.0.1']);
    expect((await signIn(baseUrl, 'prly_operator_guess', '203.0.113.1')).status).toBe(401);
    expect((await signIn(baseUrl, 'prly_operator_guess', '203.0.113.1')).status).toBe(401);
    expect((await signIn(baseUrl, credentials.tokens.operator, '203.0.113.1')).status).toBe(429);
    expect((await signIn(baseUrl, credentials.tokens.operator, '203.0.113.2')).status).toBe(200);
  });
});
