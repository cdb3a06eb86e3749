// The codec sign-in limit's rule, on this process's counters (the PostgreSQL ones are exercised
// across two API processes in test/api/multi-replica.test.ts).
import { LocalWindowCounters, SignInLimiter, signInLimitsFromEnv, DEFAULT_SIGN_IN_LIMITS } from '../../src/security/sign-in-limit';
import { ConfigError } from '../../src/platform/env';

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
