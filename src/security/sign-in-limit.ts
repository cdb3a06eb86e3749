// A bound on guessing operator tokens at the codec server's sign-in: failed attempts per client
// address and in all, and a generous ceiling on successful ones per address, each counted in a
// fixed window. The counters live in PostgreSQL when the API replicas share one (every replica then
// sees every attempt), else in this process.
import { type Env, ConfigError, duration, integerInRange } from '../platform/env';

export interface SignInLimits {
  /** CODEC_SIGNIN_WINDOW: the fixed window the counts below are per. */
  windowMs: number;
  /** CODEC_SIGNIN_MAX_FAILURES_PER_CLIENT: failed sign-ins from one client address. */
  maxFailuresPerClient: number;
  /** CODEC_SIGNIN_MAX_FAILURES: failed sign-ins from every address together (a guesser with many addresses). */
  maxFailures: number;
  /** CODEC_SIGNIN_MAX_SUCCESSES_PER_CLIENT: successful sign-ins from one address; far above what an operator needs. */
  maxSuccessesPerClient: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { windowMs: 15 * 60_000, maxFailuresPerClient: 10, maxFailures: 100, maxSuccessesPerClient: 60 };

export function signInLimitsFromEnv(env: Env): SignInLimits {
  const windowMs = duration(env, 'CODEC_SIGNIN_WINDOW', DEFAULT_SIGN_IN_LIMITS.windowMs);
  if (windowMs < 1000) throw new ConfigError('CODEC_SIGNIN_WINDOW must be at least 1s');
  return {
    windowMs,
    maxFailuresPerClient: integerInRange(env, 'CODEC_SIGNIN_MAX_FAILURES_PER_CLIENT', DEFAULT_SIGN_IN_LIMITS.maxFailuresPerClient, 1, 1_000_000),
    maxFailures: integerInRange(env, 'CODEC_SIGNIN_MAX_FAILURES', DEFAULT_SIGN_IN_LIMITS.maxFailures, 1, 1_000_000),
    maxSuccessesPerClient: integerInRange(env, 'CODEC_SIGNIN_MAX_SUCCESSES_PER_CLIENT', DEFAULT_SIGN_IN_LIMITS.maxSuccessesPerClient, 1, 1_000_000),
  };
}

/** Fixed-window counters, shared (PostgreSQL) or local. */
export interface WindowCounters {
  /** Adds one to each key's count in the window; returns the new counts. */
  increment(keys: readonly string[], windowStartMs: number, windowMs: number): Promise<number[]>;
  counts(keys: readonly string[], windowStartMs: number): Promise<number[]>;
}

/** This process's counters: only the current window is kept, so memory is bounded by one window's clients. */
export class LocalWindowCounters implements WindowCounters {
  private windowStart = Number.NEGATIVE_INFINITY;
  private readonly current = new Map<string, number>();

  async increment(keys: readonly string[], windowStartMs: number): Promise<number[]> {
    this.enter(windowStartMs);
    return keys.map((key) => {
      const count = (this.current.get(key) ?? 0) + 1;
      this.current.set(key, count);
      return count;
    });
  }

  async counts(keys: readonly string[], windowStartMs: number): Promise<number[]> {
    if (windowStartMs !== this.windowStart) return keys.map(() => 0);
    return keys.map((key) => this.current.get(key) ?? 0);
  }

  private enter(windowStartMs: number): void {
    if (windowStartMs === this.windowStart) return;
    this.windowStart = windowStartMs;
    this.current.clear();
  }
}

export class SignInLimiter {
  constructor(
    readonly limits: SignInLimits,
    private readonly counters: WindowCounters = new LocalWindowCounters(),
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds until the client may try again, or undefined when it may now. */
  async refusal(client: string): Promise<number | undefined> {
    const { start, retryAfterSeconds } = this.window();
    const [clientFailures, failures, clientSuccesses] = await this.counters.counts([failuresOf(client), ALL_FAILURES, successesOf(client)], start);
    const limited =
      clientFailures >= this.limits.maxFailuresPerClient || failures >= this.limits.maxFailures || clientSuccesses >= this.limits.maxSuccessesPerClient;
    return limited ? retryAfterSeconds : undefined;
  }

  async failed(client: string): Promise<void> {
    const { start } = this.window();
    await this.counters.increment([failuresOf(client), ALL_FAILURES], start, this.limits.windowMs);
  }

  async succeeded(client: string): Promise<void> {
    const { start } = this.window();
    await this.counters.increment([successesOf(client)], start, this.limits.windowMs);
  }

  private window(): { start: number; retryAfterSeconds: number } {
    const now = this.now();
    const start = now - (now % this.limits.windowMs);
    return { start, retryAfterSeconds: Math.max(1, Math.ceil((start + this.limits.windowMs - now) / 1000)) };
  }
}

const ALL_FAILURES = 'codec-sign-in:failures';
const failuresOf = (client: string): string => `codec-sign-in:failures:${client}`;
const successesOf = (client: string): string => `codec-sign-in:successes:${client}`;
