// BENCH_ARRIVALS: open-loop levels. A closed-loop level (BENCH_LEVELS) keeps N conversations going
// and starts the next one when one ends, so a slower system is offered less traffic and its callers
// queue behind one another: it measures what the system can carry. Customers do not wait for the
// previous call to end before calling: a contact center's conversations arrive at a rate, and a
// system either keeps up with it or falls behind. An open-loop level starts conversations at a
// given rate, as a Poisson process (independent arrivals, as call-center traffic models assume),
// whatever happens to the ones already started; both systems get the same schedule.

import { median, round } from './stats';

/** A small seeded generator (mulberry32): the same seed gives both systems the same arrivals. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * When each of `count` conversations starts, in ms from the level's start: exponential gaps of mean
 * 1/ratePerSecond, the first at 0.
 */
export function arrivalOffsetsMs(count: number, ratePerSecond: number, seed: number): number[] {
  if (!(ratePerSecond > 0)) throw new Error(`an arrival rate must be above 0, got ${ratePerSecond}`);
  const random = seeded(seed);
  const offsets: number[] = [];
  let at = 0;
  for (let i = 0; i < count; i++) {
    offsets.push(at);
    // 1 - random() is in (0, 1]: the log is finite.
    at += (-Math.log(1 - random()) / ratePerSecond) * 1000;
  }
  return offsets;
}

export interface OpenLoopRun {
  /** The most conversations that were in progress at once. */
  inFlightMax: number;
  /** Conversations whose start came later than scheduled by more than `lateMs` (the bench process itself fell behind). */
  startedLate: number;
}

/**
 * Starts `one(i)` at each offset, without waiting for the earlier ones, and resolves once every
 * started one ended. `halted` stops further starts.
 */
export async function arrive(offsetsMs: number[], one: (i: number) => Promise<void>, halted: () => boolean, lateMs = 50): Promise<OpenLoopRun> {
  const t0 = performance.now();
  const running: Promise<void>[] = [];
  let inFlight = 0;
  let inFlightMax = 0;
  let startedLate = 0;
  for (const [i, offset] of offsetsMs.entries()) {
    const wait = offset - (performance.now() - t0);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    if (halted()) break;
    if (performance.now() - t0 - offset > lateMs) startedLate++;
    inFlight++;
    inFlightMax = Math.max(inFlightMax, inFlight);
    running.push(
      one(i).finally(() => {
        inFlight--;
      }),
    );
  }
  await Promise.all(running);
  return { inFlightMax, startedLate };
}

/** A conversation's time in the last fifth of arrivals within this many times the first fifth's: the level was kept up. */
export const KEPT_UP_GROWTH = 1.5;

/** The verdict the bench prints for a backlogGrowth figure. */
export function keptUpVerdict(growth: number): 'kept up' | 'fell behind' {
  return growth <= KEPT_UP_GROWTH ? 'kept up' : 'fell behind';
}

/**
 * Whether a system kept up with an open-loop level, from its conversations' times (first request to
 * CLOSED answered) in the order they were started: the median of the last fifth over the median of
 * the first fifth. A system that keeps up takes as long for the last conversations as for the first
 * (about 1); one that falls behind queues each new conversation behind the backlog, so the last take
 * longer and longer. Conversations/s cannot tell: it counts the drain after the last arrival, and a
 * rate both systems miss reads as a ratio near 1. Undefined below ten conversations, or when a fifth
 * has no finished conversation.
 */
export function backlogGrowth(msByStart: ReadonlyArray<number | undefined>): number | undefined {
  if (msByStart.length < 10) return undefined;
  const fifth = Math.floor(msByStart.length / 5);
  const finished = (xs: ReadonlyArray<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));
  const first = median(finished(msByStart.slice(0, fifth)));
  const last = median(finished(msByStart.slice(msByStart.length - fifth)));
  // median() is NaN for an empty list.
  if (!(first > 0) || Number.isNaN(last)) return undefined;
  return round(last / first, 2);
}

/** BENCH_ARRIVALS: conversations started per second, one level each (decimals allowed); undefined when unset. */
export function arrivalRates(raw: string | undefined): number[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const rates = raw.split(',').map((s) => Number(s.trim()));
  if (rates.some((r) => !Number.isFinite(r) || r <= 0)) throw new Error(`BENCH_ARRIVALS must list conversations per second above 0, got "${raw}"`);
  return rates;
}
