// Reading settings from environment variables. Every refusal is a ConfigError that names the
// variable, so a process that will not start says which setting to fix. Imports nothing of Parley:
// any module may parse its own settings without pulling in another's.

/** The environment a loader reads: process.env in production, a plain object in tests. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A setting Parley refuses to start with. Its message names the variable (or file and field), never a secret's value. */
export class ConfigError extends Error {}

/** The variable's value, or undefined when unset or empty (an empty `NAME=` in an env file counts as unset). */
export function optional(env: Env, name: string): string | undefined {
  return env[name] || undefined;
}

/** As `optional`, with surrounding white space removed first. */
export function trimmed(env: Env, name: string): string | undefined {
  return env[name]?.trim() || undefined;
}

/** A variable the process cannot start without; `hint` says what to put in it. */
export function required(env: Env, name: string, hint?: string): string {
  const value = trimmed(env, name);
  if (value === undefined) throw new ConfigError(`${name} is required${hint ? `: ${hint}` : ''}`);
  return value;
}

/** A whole number of 0 or more, `fallback` when unset. */
export function integer(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  return Number(raw);
}

/** A whole number from `min` to `max`, `fallback` when unset. */
export function integerInRange(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${env[name]}"`);
  }
  return Number(raw);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds ("1500") or a number with a unit ("90s", "30m", "2h"); positive unless `allowZero`. */
export function duration(env: Env, name: string, fallback: number, opts: { allowZero?: boolean } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const match = /^(\d+)(ms|s|m|h)?$/.exec(raw.trim());
  if (!match) throw new ConfigError(`${name} must be milliseconds or a duration like 90s, 30m, 2h; got "${raw}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 'ms'];
  if (ms === 0 && !opts.allowZero) throw new ConfigError(`${name} must be positive`);
  return ms;
}

/** `true` or `false` in any case; undefined when unset, so the caller can tell "not said" from "false". */
export function flag(env: Env, name: string): boolean | undefined {
  const raw = env[name]?.trim().toLowerCase();
  if (!raw) return undefined;
  if (raw !== 'true' && raw !== 'false') throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
  return raw === 'true';
}

/** One of `choices`, matched without regard to case and returned as spelled in `choices`; `fallback` when unset. */
export function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const match = choices.find((choice) => choice.toLowerCase() === raw.toLowerCase());
  if (match === undefined) throw new ConfigError(`${name} must be ${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]}, got "${env[name]}"`);
  return match;
}

/** Entries separated by `separator` (default: commas and/or white space), each trimmed; empty entries dropped. */
export function list(env: Env, name: string, separator: string | RegExp = /[\s,]+/): string[] {
  return (env[name] ?? '')
    .split(separator)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

/** An absolute http:// or https:// URL, as written; undefined when unset. */
export function httpUrl(env: Env, name: string): string | undefined {
  const raw = trimmed(env, name);
  if (raw === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`${name} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`${name} must be an http:// or https:// URL`);
  return raw;
}

/** Refuses a number above `max`; `unit` is shown after the numbers (e.g. "ms"). */
export function atMost(name: string, value: number, max: number, unit = ''): number {
  const u = unit ? ` ${unit}` : '';
  if (value > max) throw new ConfigError(`${name} must be at most ${max}${u}, got ${value}`);
  return value;
}

/** Refuses a number below `min`. */
export function atLeast(name: string, value: number, min: number): number {
  if (value < min) throw new ConfigError(`${name} must be at least ${min}, got ${value}`);
  return value;
}
