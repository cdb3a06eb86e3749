// How `npm run bench` folds several rounds of a level into one figure per system, and its ratios.
import { medianRatio, mergeRounds } from '../../scripts/bench/rounds';

const round = (conversationsPerSecond: number, p99: number, errors: Record<string, Record<string, number>>, peak: number) => ({
  system: 'parley',
  concurrency: 20,
  conversations: 200,
  closed: 199,
  terminated: 1,
  conversationsPerSecond,
  latencyMs: { write: { count: 800, p50: p99 / 2, p95: p99 - 10, p99, max: p99 + 100 } },
  errors,
  peakRssMiB: { api: peak },
});

describe('bench rounds', () => {
  it('one round is returned as it is', () => {
    const only = round(10, 500, {}, 150);
    expect(mergeRounds([only])).toBe(only);
  });

  it('adds up what counts, keeps the median of rates and latencies, the highest of peaks, and every error', () => {
    const merged = mergeRounds([
      round(9, 800, { write: { '503': 2 } }, 150),
      round(13, 400, {}, 190),
      round(10, 600, { write: { '503': 1 }, event: { '502': 4 } }, 160),
    ]);
    expect(merged.system).toBe('parley');
    expect(merged.concurrency).toBe(20);
    expect(merged.conversations).toBe(600);
    expect(merged.closed).toBe(597);
    expect(merged.terminated).toBe(3);
    expect(merged.conversationsPerSecond).toBe(10);
    expect(merged.latencyMs.write).toEqual({ count: 2400, p50: 300, p95: 590, p99: 600, max: 900 });
    expect(merged.errors).toEqual({ write: { '503': 3 }, event: { '502': 4 } });
    expect(merged.peakRssMiB).toEqual({ api: 190 });
  });

  it('takes each ratio round by round, then the median: a slow minute for both systems does not move it', () => {
    const floor = [{ rate: 16 }, { rate: 13 }, { rate: 17.7 }];
    const parley = [{ rate: 10 }, { rate: 8.1 }, { rate: 11.2 }];
    // Round by round 0.625, 0.623 and 0.633: the median is 0.625, printed 0.63.
    expect(medianRatio(parley, floor, (r) => r.rate)).toBe(0.63);
    expect(medianRatio(parley, floor, () => undefined)).toBeUndefined();
    expect(medianRatio(parley, [], (r) => r.rate)).toBeUndefined();
  });
});
