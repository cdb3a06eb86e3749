// Figures the bench's phases share: quantiles of latencies, rounding, a bounded parallel map.

export interface Quantiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function quantiles(xs: number[], digits = 1): Quantiles | undefined {
  if (xs.length === 0) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => round(s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)], digits);
  return { count: s.length, p50: q(0.5), p95: q(0.95), p99: q(0.99), max: round(s[s.length - 1], digits) };
}

export const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const ratio = (a: number | undefined, b: number | undefined): number | undefined => (a !== undefined && b ? round(a / b, 2) : undefined);

export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  }));
  return out;
}

/** Counts a failed request under its kind and status: `{"message": {"503": 2}}`. */
export function countError(errors: Record<string, Record<string, number>>, kind: string, status: string): void {
  (errors[kind] ??= {})[status] = (errors[kind][status] ?? 0) + 1;
}

/** Where requests' time went: the bench's own measure, the API's (Server-Timing `app`) and of that, Temporal's. */
export interface RequestSplit {
  /** Requests whose answer carried the split. */
  count: number;
  app: Quantiles | undefined;
  temporal: Quantiles | undefined;
  /** The slowest 1 % (at least one) as the bench measured them: mean ms of each part. */
  slowest: { requests: number; ms: number; app: number; temporal: number };
}

export function requestSplit(requests: { ms: number; timing?: { app: number; temporal: number } }[]): RequestSplit | undefined {
  const split = requests.filter((r): r is { ms: number; timing: { app: number; temporal: number } } => r.timing !== undefined);
  if (split.length === 0) return undefined;
  const slowest = [...split].sort((a, b) => b.ms - a.ms).slice(0, Math.max(1, Math.ceil(split.length / 100)));
  const mean = (xs: number[]) => round(xs.reduce((a, b) => a + b, 0) / xs.length);
  return {
    count: split.length,
    app: quantiles(split.map((r) => r.timing.app)),
    temporal: quantiles(split.map((r) => r.timing.temporal)),
    slowest: {
      requests: slowest.length,
      ms: mean(slowest.map((r) => r.ms)),
      app: mean(slowest.map((r) => r.timing.app)),
      temporal: mean(slowest.map((r) => r.timing.temporal)),
    },
  };
}
