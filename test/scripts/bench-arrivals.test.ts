// The bench's open-loop levels (BENCH_ARRIVALS): Poisson arrivals on a seeded schedule, started
// whatever happens to the conversations already started.
import { KEPT_UP_GROWTH, arrivalOffsetsMs, arrivalRates, arrive, backlogGrowth } from '../../scripts/bench/arrivals';
import { mergeRounds } from '../../scripts/bench/rounds';

describe('bench arrivals', () => {
  it('spaces arrivals at the asked rate on average, the first at 0, never going back in time', () => {
    const offsets = arrivalOffsetsMs(5000, 10, 7);
    expect(offsets[0]).toBe(0);
    for (let i = 1; i < offsets.length; i++) expect(offsets[i]).toBeGreaterThanOrEqual(offsets[i - 1]);
    // 4,999 gaps of mean 100 ms: the mean lands within a few percent of it.
    const meanGapMs = offsets[offsets.length - 1] / (offsets.length - 1);
    expect(meanGapMs).toBeGreaterThan(95);
    expect(meanGapMs).toBeLessThan(105);
    // Exponential gaps: about 37 % of them longer than the mean (e^-1), unlike an evenly spaced schedule.
    const gaps = offsets.slice(1).map((at, i) => at - offsets[i]);
    const longer = gaps.filter((g) => g > 100).length / gaps.length;
    expect(longer).toBeGreaterThan(0.33);
    expect(longer).toBeLessThan(0.41);
  });

  it('gives both systems the same schedule for the same seed, and another for another seed', () => {
    expect(arrivalOffsetsMs(50, 4, 3)).toEqual(arrivalOffsetsMs(50, 4, 3));
    expect(arrivalOffsetsMs(50, 4, 4)).not.toEqual(arrivalOffsetsMs(50, 4, 3));
  });

  it('starts each conversation at its time without waiting for the earlier ones, and counts how many overlapped', async () => {
    const startedAt: number[] = [];
    let firstEndedAt: number | undefined;
    const t0 = Date.now();
    // Twenty arrivals 10 ms apart, each lasting a second: an open loop has all twenty in progress
    // before the first ends (a closed loop of one would take twenty seconds).
    const run = await arrive(
      Array.from({ length: 20 }, (_, i) => i * 10),
      async (i) => {
        startedAt[i] = Date.now() - t0;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
        firstEndedAt ??= Date.now() - t0;
      },
      () => false,
    );
    expect(startedAt).toHaveLength(20);
    expect(Math.max(...startedAt)).toBeLessThan(firstEndedAt!);
    expect(run.inFlightMax).toBe(20);
  });

  it('stops starting conversations once halted, and waits for the ones started', async () => {
    let started = 0;
    let ended = 0;
    await arrive(
      [0, 10, 20, 30, 40],
      async () => {
        started++;
        await new Promise((resolve) => setTimeout(resolve, 30));
        ended++;
      },
      () => started >= 2,
    );
    expect(started).toBe(2);
    expect(ended).toBe(2);
  });

  /** Time in system of each arrival at one first-come-first-served server taking `serviceMs` for each. */
  function singleServer(offsetsMs: number[], serviceMs: number): number[] {
    let freeAt = 0;
    return offsetsMs.map((arrival) => {
      const start = Math.max(arrival, freeAt);
      freeAt = start + serviceMs;
      return freeAt - arrival;
    });
  }

  it('tells a system that kept up from one that fell behind by its conversations\' time, first fifth against last', () => {
    // 300 Poisson arrivals at 10/s into a server that takes 60 ms each (60 % busy) or 120 ms (over capacity).
    const offsets = arrivalOffsetsMs(300, 10, 11);
    const keeping = backlogGrowth(singleServer(offsets, 60));
    const behind = backlogGrowth(singleServer(offsets, 120));
    expect(keeping).toBeDefined();
    expect(keeping!).toBeLessThanOrEqual(KEPT_UP_GROWTH);
    // Over capacity the backlog grows for the whole level: the last fifth waits behind all of it.
    expect(behind!).toBeGreaterThan(5);
  });

  it('reads no verdict from too few conversations, and leaves out the ones that did not finish', () => {
    expect(backlogGrowth([100, 100, 100])).toBeUndefined();
    const times: (number | undefined)[] = Array.from({ length: 20 }, () => 100);
    times[18] = undefined;
    times[19] = 300;
    // Last fifth: 100, 100, 300 (one left out): median 100.
    expect(backlogGrowth(times)).toBe(1);
    expect(backlogGrowth(Array.from({ length: 20 }, (_, i) => (i >= 16 ? undefined : 100)))).toBeUndefined();
  });

  it('keeps the worst round\'s verdict when rounds are merged', () => {
    expect(mergeRounds([{ backlogGrowth: 1.1, inFlightMax: 30 }, { backlogGrowth: 3.4, inFlightMax: 90 }])).toEqual({ backlogGrowth: 3.4, inFlightMax: 90 });
  });

  it('reads BENCH_ARRIVALS as rates above 0, decimals allowed, and refuses anything else', () => {
    expect(arrivalRates(undefined)).toBeUndefined();
    expect(arrivalRates(' ')).toBeUndefined();
    expect(arrivalRates('2.5, 8')).toEqual([2.5, 8]);
    expect(() => arrivalRates('0')).toThrow(/above 0/);
    expect(() => arrivalRates('5,fast')).toThrow(/BENCH_ARRIVALS/);
    expect(() => arrivalOffsetsMs(3, 0, 1)).toThrow(/above 0/);
  });
});
